"""Named queries for exports: each kind of record in a period, read a part at a time in id
order (a year of nudges or of the audit trail does not fit a worker's memory), with people,
projects and sections by name. The first column of every row is its id."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select
from sqlmodel import col

from bot.domain.rules.scope import WHOLE, Scope
from storage.models import (
    AuditEvent,
    Case,
    Inquiry,
    Nudge,
    Person,
    Project,
    Section,
    Step,
    SupervisionItem,
    UrgeNotice,
)
from storage.scoping import project_in

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


def _ledger(start: datetime, end: datetime) -> Query:
    asked, owner, closer = aliased(Person), aliased(Person), aliased(Person)
    return (select(col(Inquiry.id), col(Inquiry.created_at), col(asked.name),
                   col(Inquiry.asker), col(Inquiry.question), col(owner.name),
                   col(Inquiry.due_at), col(Inquiry.closed_at), col(closer.name),
                   col(Inquiry.outcome))
            .join(asked, col(asked.id) == col(Inquiry.asked_id))
            .join(owner, col(owner.id) == col(Inquiry.owner_id))
            .outerjoin(closer, col(closer.id) == col(Inquiry.closed_by_id))
            .where(col(Inquiry.created_at) >= start, col(Inquiry.created_at) < end))


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
    "ledger": (_ledger, Inquiry.id),
    "items": (_items, SupervisionItem.id),
}
# The audit trail is the whole organisation's chain, and supervision items are the
# organisation's supervision office's: no unit to narrow them to.
UNSCOPED = frozenset({"audit", "items"})


def _in(kind: str, scope: Scope) -> ColumnElement[bool]:
    """A kind's rows within a scope: a project's, or (nudges) a person's unit."""
    if scope.unit_ids is None:
        return true()
    if kind in UNSCOPED:
        raise ValueError(f"{kind} records have no unit")
    if kind == "nudges":
        return col(Person.unit_id).in_(sorted(scope.unit_ids))
    if kind == "ledger":
        return col(Inquiry.unit_id).in_(sorted(scope.unit_ids))
    return project_in(scope)


class Records:
    def __init__(self, session: AsyncSession, scope: Scope = WHOLE) -> None:
        self.session, self.scope = session, scope

    def _query(self, kind: str, start: datetime, end: datetime) -> Query:
        build, _ = QUERIES[kind]
        return build(start, end).where(_in(kind, self.scope))

    async def count(self, kind: str, start: datetime, end: datetime) -> int:
        query = select(func.count()).select_from(self._query(kind, start, end).subquery())
        return int((await self.session.execute(query)).scalar_one())

    async def rows(self, kind: str, start: datetime, end: datetime
                   ) -> AsyncIterator[tuple[Any, ...]]:
        _, key = QUERIES[kind]
        after = 0
        while True:
            query = (self._query(kind, start, end).where(col(key) > after).order_by(col(key))
                     .limit(PART))
            part = [tuple(row) for row in await self.session.execute(query)]
            for row in part:
                yield row
            if len(part) < PART:
                return
            after = part[-1][0]
