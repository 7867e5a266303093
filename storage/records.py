"""Named queries for exports: each kind of record in a period, read a part at a time in id
order (a year of nudges or of the audit trail does not fit a worker's memory), with people,
projects and sections by name. The first column of every row is its id."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select
from sqlmodel import col

from storage.models import (
    AuditEvent,
    Case,
    Nudge,
    Person,
    Project,
    Section,
    Step,
    SupervisionItem,
    UrgeNotice,
)

PART = 1000
Query = Select[*tuple[Any, ...]]  # each kind its own columns


def _cases(start: datetime, end: datetime) -> Query:
    submitter = aliased(Person)
    return (select(col(Case.id), col(Case.query_code), col(Project.code), col(Case.title),
                   col(Case.type_code), col(submitter.name), col(Case.state),
                   col(Case.green_channel), col(Case.created_at), col(Case.closed_at))
            .join(Project, col(Project.id) == col(Case.project_id))
            .join(submitter, col(submitter.id) == col(Case.submitter_id))
            .where(col(Case.created_at) >= start, col(Case.created_at) < end))


def _steps(start: datetime, end: datetime) -> Query:
    return (select(col(Step.id), col(Case.id), col(Project.code), col(Case.title),
                   col(Step.name), col(Step.round), col(Step.mode), col(Step.limit_days),
                   col(Step.state), col(Step.started_at), col(Step.due_at), col(Step.closed_at))
            .join(Case, col(Case.id) == col(Step.case_id))
            .join(Project, col(Project.id) == col(Case.project_id))
            .where(col(Step.started_at) >= start, col(Step.started_at) < end))


def _nudges(start: datetime, end: datetime) -> Query:
    return (select(col(Nudge.id), col(Nudge.target_kind), col(Nudge.target_id),
                   col(Nudge.level), col(Person.name), col(Nudge.channel),
                   col(Nudge.created_at), col(Nudge.sent_at), col(Nudge.late),
                   col(Nudge.error))
            .join(Person, col(Person.id) == col(Nudge.person_id))
            .where(col(Nudge.created_at) >= start, col(Nudge.created_at) < end))


def _audit(start: datetime, end: datetime) -> Query:
    return (select(col(AuditEvent.id), col(AuditEvent.at), col(Person.name),
                   col(AuditEvent.action), col(AuditEvent.subject), col(AuditEvent.data),
                   col(AuditEvent.hash))
            .outerjoin(Person, col(Person.id) == col(AuditEvent.actor_id))
            .where(col(AuditEvent.at) >= start, col(AuditEvent.at) < end))


def _supervision(start: datetime, end: datetime) -> Query:
    head, answered = aliased(Person), aliased(Person)
    return (select(col(UrgeNotice.id), col(Project.code), col(Section.name), col(head.name),
                   col(UrgeNotice.target_kind), col(UrgeNotice.target_id),
                   col(UrgeNotice.due_at), col(UrgeNotice.issued_at),
                   col(UrgeNotice.answered_at), col(answered.name), col(UrgeNotice.cause),
                   col(UrgeNotice.plan))
            .join(Project, col(Project.id) == col(UrgeNotice.project_id))
            .outerjoin(Section, col(Section.id) == col(UrgeNotice.section_id))
            .outerjoin(head, col(head.id) == col(UrgeNotice.head_id))
            .outerjoin(answered, col(answered.id) == col(UrgeNotice.answered_by_id))
            .where(col(UrgeNotice.issued_at) >= start, col(UrgeNotice.issued_at) < end))


def _items(start: datetime, end: datetime) -> Query:
    """Supervision items registered in the period; who answers: the person, else the
    section's head (the state, due and answer time come last, for the lateness)."""
    person, head, registrar = aliased(Person), aliased(Person), aliased(Person)
    return (select(col(SupervisionItem.id), col(SupervisionItem.code),
                   col(SupervisionItem.title), col(Section.name),
                   func.coalesce(col(person.name), col(head.name)), col(registrar.name),
                   col(SupervisionItem.registered_at), col(SupervisionItem.assigned_at),
                   col(SupervisionItem.closed_at), col(SupervisionItem.state),
                   col(SupervisionItem.due_at), col(SupervisionItem.feedback_at))
            .outerjoin(Section, col(Section.id) == col(SupervisionItem.section_id))
            .outerjoin(person, col(person.id) == col(SupervisionItem.assignee_id))
            .outerjoin(head, col(head.id) == col(Section.head_id))
            .join(registrar, col(registrar.id) == col(SupervisionItem.registered_by_id))
            .where(col(SupervisionItem.registered_at) >= start,
                   col(SupervisionItem.registered_at) < end))


QUERIES: dict[str, tuple[Callable[[datetime, datetime], Query], Any]] = {
    "cases": (_cases, Case.id), "steps": (_steps, Step.id), "nudges": (_nudges, Nudge.id),
    "audit": (_audit, AuditEvent.id), "supervision": (_supervision, UrgeNotice.id),
    "items": (_items, SupervisionItem.id),
}


class Records:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def count(self, kind: str, start: datetime, end: datetime) -> int:
        build, _ = QUERIES[kind]
        query = select(func.count()).select_from(build(start, end).subquery())
        return int((await self.session.execute(query)).scalar_one())

    async def rows(self, kind: str, start: datetime, end: datetime
                   ) -> AsyncIterator[tuple[Any, ...]]:
        build, key = QUERIES[kind]
        after = 0
        while True:
            query = build(start, end).where(col(key) > after).order_by(col(key)).limit(PART)
            part = [tuple(row) for row in await self.session.execute(query)]
            for row in part:
                yield row
            if len(part) < PART:
                return
            after = part[-1][0]
