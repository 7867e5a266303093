"""The queries the domain needs, over one session (one unit of work).

The domain receives a :class:`Store` and never touches SQLAlchemy itself. Methods that
guard against concurrent clicks use compare-and-set updates; methods that must happen
once use unique constraints inside a savepoint, so a lost race is an answer, not an error.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ScalarResult,
    Select,
    bindparam,
    delete,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import SQLModel, col

from bot.domain.rules.casetypes import TimeoutPolicy
from bot.domain.rules.scope import WHOLE, Scope
from bot.domain.rules.vocabulary import (
    AssignmentState,
    CardKind,
    CaseState,
    MemberRole,
    Role,
    StepState,
)
from storage import audit
from storage.audit import Verdict
from storage.board import BoardQueries
from storage.db import READ_ONLY
from storage.models import (
    AT_ONCE,
    TIMING,
    Assignment,
    Attachment,
    AuditEvent,
    CalendarOverride,
    CalendarYear,
    Card,
    Case,
    Chat,
    Comment,
    Delegation,
    HandledUpdate,
    Inquiry,
    ItemEvent,
    ItemFile,
    Lane,
    Milestone,
    MissingItem,
    Nudge,
    Person,
    Project,
    ProjectMember,
    Report,
    RoleGrant,
    Section,
    Step,
    SupervisionItem,
    Unit,
    UrgeCopy,
    UrgeNotice,
    WeeklyDigest,
)
from storage.scoping import project_in

log = logging.getLogger(__name__)

# What the sweep's repair looks for, each matching its partial index's condition.
_CARDS_BEHIND = col(Case.shown) < col(Case.changes)
_NO_CARD = col(Report.card_message_id).is_(None)

M = TypeVar("M", bound=SQLModel)
R = TypeVar("R")


@dataclass
class CaseRows:
    case: Case
    project: Project
    submitter: Person
    steps: list[Step]
    lanes: list[Lane]
    assignments: list[Assignment]
    comments: list[Comment]
    missing: list[MissingItem]
    attachments: list[Attachment]


CHUNK = 500  # ids per IN (...) list: well under SQLite's and asyncpg's parameter limits


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    unique = sorted(set(ids))
    return [unique[start:start + CHUNK] for start in range(0, len(unique), CHUNK)]


# Statements every update runs, built once: building a select and its cache key costs the
# bot more CPU than SQLite takes to run it. Reads return the database's current values.
_FRESH = {"populate_existing": True}
_PERSON_WITH_ROLES = (
    select(Person, col(RoleGrant.role))
    .outerjoin(RoleGrant, col(RoleGrant.person_id) == col(Person.id))
    .where(col(Person.tg_user_id) == bindparam("tg"))
    .execution_options(**_FRESH)
)
_ROLES_OF = select(col(RoleGrant.role)).where(col(RoleGrant.person_id) == bindparam("person"))
_PROJECT_BY_TG_CHAT = (
    select(Project)
    .join(Chat, col(Chat.id) == col(Project.chat_id))
    .where(col(Chat.tg_chat_id) == bindparam("chat"))
    .execution_options(**_FRESH)
)
_MILESTONES = (select(Milestone).where(col(Milestone.project_id) == bindparam("project"))
               .order_by(col(Milestone.seq)).execution_options(**_FRESH))
_IS_MEMBER = select(col(ProjectMember.id)).where(
    col(ProjectMember.project_id) == bindparam("project"),
    col(ProjectMember.person_id) == bindparam("person")).limit(1)


class Store:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def board(self) -> BoardQueries:
        """The lights board's reads (``storage/board.py``), each taking the viewer's scope."""
        return BoardQueries(self.session)

    # -- unit of work -------------------------------------------------------------------
    async def begin_reading(self) -> None:
        """Begin a transaction that only reads (call it with none open). On SQLite it holds
        no lock, so presses are not kept waiting while it runs; a write in it may fail
        ("database is locked"), so end it before writing."""
        await self.session.connection(execution_options={READ_ONLY: True})

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()

    async def flush(self) -> None:
        await self.session.flush()

    def add(self, row: SQLModel) -> None:
        self.session.add(row)

    async def save(self, row: M) -> M:
        self.session.add(row)
        await self.session.flush()
        return row

    async def insert_once(self, row: SQLModel) -> bool:
        """Insert unless a unique key says it exists (then False); the transaction goes on."""
        try:
            async with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError:
            return False
        return True

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A part of the unit of work that an error undoes alone (the error goes on)."""
        async with self.session.begin_nested():
            yield

    async def delete(self, row: SQLModel) -> None:
        await self.session.delete(row)

    # Reads always return the database's current values (pending changes are flushed
    # first), so a row another transaction just changed is never seen stale.
    async def get(self, model: type[M], ident: Any) -> M | None:
        return await self.session.get(model, ident, populate_existing=True)

    async def by_ids(self, model: type[M], ids: Sequence[int]) -> dict[int, M]:
        """Rows of ``model`` by primary key, a few queries for any number of ids."""
        found: dict[int, M] = {}
        key = col(model.id)  # type: ignore[attr-defined]
        for chunk in _chunks(ids):
            for row in await self._fresh(select(model).where(key.in_(chunk))):
                found[row.id] = row  # type: ignore[attr-defined]
        return found

    async def one(self, model: type[M], **equals: Any) -> M | None:
        return (await self._fresh(select(model).filter_by(**equals).limit(1))).first()

    async def all(self, model: type[M], order_by: Any = None, **equals: Any) -> list[M]:
        query = select(model).filter_by(**equals)
        if order_by is not None:
            query = query.order_by(order_by)
        return list(await self._fresh(query))

    async def _fresh(self, query: Select[R]) -> ScalarResult[R]:
        result = await self.session.execute(query.execution_options(populate_existing=True))
        return result.scalars()

    async def count(self, model: type[SQLModel], **equals: Any) -> int:
        query = select(func.count()).select_from(model).filter_by(**equals)
        return int((await self.session.execute(query)).scalar_one())

    # -- people and roles -----------------------------------------------------------------
    async def person_by_tg(self, tg_user_id: int) -> Person | None:
        return await self.one(Person, tg_user_id=tg_user_id)

    async def person_with_roles(self, tg_user_id: int) -> tuple[Person, set[str]] | None:
        """The person with this Telegram id and their roles, in one query."""
        rows = (await self.session.execute(_PERSON_WITH_ROLES, {"tg": tg_user_id})).all()
        if not rows:
            return None
        return rows[0][0], {role for _, role in rows if role is not None}

    async def roles_of(self, person_id: int) -> set[str]:
        return set((await self.session.execute(_ROLES_OF, {"person": person_id})).scalars())

    async def people_holding_roles(self) -> set[int]:
        """Ids of everyone who holds any role."""
        query = select(col(RoleGrant.person_id)).distinct()
        return set((await self.session.execute(query)).scalars())

    async def people_with_role(self, role: str) -> list[Person]:
        query = (
            select(Person)
            .join(RoleGrant, col(RoleGrant.person_id) == col(Person.id))
            .where(col(RoleGrant.role) == role, col(Person.active))
            .order_by(col(Person.id))
        )
        return list(await self._fresh(query))

    async def set_roles(self, person_id: int, roles: Sequence[str]) -> None:
        await self.session.execute(
            delete(RoleGrant).where(
                col(RoleGrant.person_id) == person_id,
                col(RoleGrant.role).not_in(list(roles)),
            )
        )
        have = await self.roles_of(person_id)
        for role in roles:
            if role not in have:
                self.session.add(RoleGrant(person_id=person_id, role=Role(role)))
        await self.session.flush()

    # -- chats and projects ----------------------------------------------------------------
    async def chat_by_tg(self, tg_chat_id: int) -> Chat | None:
        return await self.one(Chat, tg_chat_id=tg_chat_id)

    async def project_by_code(self, code: str) -> Project | None:
        query = select(Project).where(func.upper(col(Project.code)) == code.upper())
        return (await self._fresh(query)).first()

    async def project_by_tg_chat(self, tg_chat_id: int) -> Project | None:
        found = await self.session.execute(_PROJECT_BY_TG_CHAT, {"chat": tg_chat_id})
        return found.scalars().first()

    async def projects(self, scope: Scope | None = None) -> list[Project]:
        """Every project, or a scope's, by code."""
        query = select(Project).order_by(col(Project.code))
        if scope is not None:
            query = query.where(project_in(scope))
        return list(await self._fresh(query))

    # -- units ---------------------------------------------------------------------------
    async def units(self) -> list[Unit]:
        """The organisation's units, each parent before its children."""
        return await self.all(Unit, order_by=Unit.path)

    async def unit_by_code_or_name(self, word: str) -> Unit | None:
        query = select(Unit).where((func.lower(col(Unit.code)) == word.lower())
                                   | (col(Unit.name) == word)).order_by(col(Unit.id))
        return (await self._fresh(query)).first()

    async def subtree_ids(self, unit_id: int) -> frozenset[int]:
        """A unit and every unit below it: one query on the materialized path."""
        top = select(col(Unit.path)).where(col(Unit.id) == unit_id).scalar_subquery()
        query = select(col(Unit.id)).where(col(Unit.path).startswith(top, autoescape=False))
        return frozenset((await self.session.execute(query)).scalars())

    async def unit_chain(self, unit_id: int | None) -> list[Unit]:
        """A unit and its ancestors, nearest first (just the root for None)."""
        unit = await self.get(Unit, unit_id) if unit_id is not None else None
        if unit is None:
            return await self.all(Unit, parent_id=None)
        ids = [int(part) for part in unit.path.strip("/").split("/") if part]
        rows = {row.id: row for row in await self._fresh(
            select(Unit).where(col(Unit.id).in_(ids)))}
        return [rows[i] for i in reversed(ids) if i in rows]

    async def milestones(self, project_id: int) -> list[Milestone]:
        return list((await self.session.execute(_MILESTONES, {"project": project_id})).scalars())

    async def members(self, project_id: int, role: str) -> list[Person]:
        query = (
            select(Person)
            .join(ProjectMember, col(ProjectMember.person_id) == col(Person.id))
            .where(col(ProjectMember.project_id) == project_id, col(ProjectMember.role) == role)
            .order_by(col(ProjectMember.id))
        )
        return list(await self._fresh(query))

    async def is_member(self, project_id: int, person_id: int) -> bool:
        found = await self.session.execute(_IS_MEMBER, {"project": project_id, "person": person_id})
        return found.first() is not None

    async def chat_of(self, project: Project) -> Chat | None:
        return await self.get(Chat, project.chat_id) if project.chat_id else None

    # -- reports ---------------------------------------------------------------------------
    async def report_by_media_group(self, tg_chat_id: int, media_group_id: str) -> Report | None:
        return await self.one(Report, tg_chat_id=tg_chat_id, media_group_id=media_group_id)

    async def attachments(self, *, report_id: int | None = None,
                          case_id: int | None = None) -> list[Attachment]:
        if report_id is not None:
            return await self.all(Attachment, order_by=Attachment.id, report_id=report_id)
        return await self.all(Attachment, order_by=Attachment.id, case_id=case_id)

    # -- cases, steps, assignments -----------------------------------------------------------
    async def steps(self, case_id: int) -> list[Step]:
        return await self.all(Step, order_by=Step.seq, case_id=case_id)

    async def assignments(self, step_id: int) -> list[Assignment]:
        return await self.all(Assignment, order_by=Assignment.id, step_id=step_id)

    async def step_with_case(self, step_id: int) -> tuple[Step, Case] | None:
        row = (await self.session.execute(
            select(Step, Case).join(Case, col(Case.id) == col(Step.case_id))
            .where(col(Step.id) == step_id)
            .execution_options(populate_existing=True))).first()
        return None if row is None else (row[0], row[1])

    async def lanes(self, step_id: int) -> list[Lane]:
        return await self.all(Lane, order_by=Lane.seq, step_id=step_id)

    async def round_steps(self, case_id: int, round_: int) -> list[Step]:
        """The steps of one round of a case, in their order."""
        return await self.all(Step, order_by=Step.seq, case_id=case_id, round=round_)

    async def step_at(self, case_id: int, round_: int, seq: int) -> Step | None:
        return await self.one(Step, case_id=case_id, round=round_, seq=seq)

    async def paused_step(self, case_id: int, round_: int) -> Step | None:
        return await self.one(Step, case_id=case_id, round=round_, state=StepState.PAUSED)

    # -- the first-question ledger ---------------------------------------------------------
    async def inquiries(self, scope: Scope, person_id: int | None, *, open_only: bool
                        ) -> list[Inquiry]:
        """The ledger of a scope (or only what ``person_id`` recorded or owns), oldest due
        first."""
        query = select(Inquiry).order_by(col(Inquiry.due_at), col(Inquiry.id))
        if scope.unit_ids is not None:
            query = query.where(col(Inquiry.unit_id).in_(sorted(scope.unit_ids)))
        if person_id is not None:
            query = query.where((col(Inquiry.owner_id) == person_id)
                                | (col(Inquiry.asked_id) == person_id))
        if open_only:
            query = query.where(col(Inquiry.closed_at).is_(None))
        return list(await self._fresh(query))

    async def due_inquiries(self, now: datetime) -> list[Inquiry]:
        """Open entries whose next moment has come (the sweep's, by the indexed column)."""
        query = select(Inquiry).where(col(Inquiry.next_at) <= now)
        return sorted(await self._fresh(query), key=lambda row: row.id)

    # -- the roll-up: a fixed number of queries however many projects ---------------------
    async def open_milestones(self, scope: Scope) -> list[Milestone]:
        """The milestones not reached yet of the scope's projects, by project and order."""
        query = (select(Milestone).join(Project, col(Project.id) == col(Milestone.project_id))
                 .where(col(Milestone.done_on).is_(None), project_in(scope))
                 .order_by(col(Milestone.project_id), col(Milestone.seq)))
        return list(await self._fresh(query))

    async def open_step_dues(self, scope: Scope) -> list[tuple[int, datetime, int]]:
        """(project, earliest due, limit in days) of the open steps of pending cases, per
        project and limit: all a project's light needs (for one limit, an earlier due is
        never a better light), a few rows per project however many steps."""
        query = (select(col(Case.project_id), func.min(col(Step.due_at)), col(Step.limit_days))
                 .join(Case, col(Case.id) == col(Step.case_id))
                 .join(Project, col(Project.id) == col(Case.project_id))
                 .where(col(Case.state) == CaseState.PENDING, col(Step.state) == StepState.OPEN,
                        col(Step.due_at).is_not(None), project_in(scope))
                 .group_by(col(Case.project_id), col(Step.limit_days)))
        return [(a, b, c) for a, b, c in await self.session.execute(query) if b is not None]

    async def pending_case_counts(self, scope: Scope) -> dict[int, int]:
        """How many pending cases each of the scope's projects has (none: absent)."""
        query = (select(col(Case.project_id), func.count())
                 .join(Project, col(Project.id) == col(Case.project_id))
                 .where(col(Case.state) == CaseState.PENDING, project_in(scope))
                 .group_by(col(Case.project_id)))
        return {a: b for a, b in await self.session.execute(query)}

    async def successor_of(self, assignment_id: int) -> Assignment | None:
        """Whoever a turn was transferred to."""
        return await self.one(Assignment, transferred_from_id=assignment_id)

    async def waiting_on(self, step_id: int, assignment_id: int) -> list[Assignment]:
        """Turns of the step that wait for this one (added signers)."""
        return await self.all(Assignment, order_by=Assignment.id, step_id=step_id,
                              waits_for_id=assignment_id)

    async def pending_assignments(self, person_id: int) -> list[Assignment]:
        return await self.all(Assignment, order_by=Assignment.id, person_id=person_id,
                              state=AssignmentState.PENDING)

    async def open_missing(self, case_id: int) -> list[MissingItem]:
        return await self.all(MissingItem, order_by=MissingItem.id, case_id=case_id,
                              supplied_at=None)

    async def missing_items(self, case_id: int) -> list[MissingItem]:
        return await self.all(MissingItem, order_by=MissingItem.supply_by, case_id=case_id)

    async def has_turn_in(self, case_id: int, person_id: int) -> bool:
        """Whether the person holds or held a turn in any step of the case."""
        query = (select(col(Assignment.id)).join(Step, col(Step.id) == col(Assignment.step_id))
                 .where(col(Step.case_id) == case_id, col(Assignment.person_id) == person_id)
                 .limit(1))
        return (await self.session.execute(query)).first() is not None

    async def compare_and_set_step(self, step: Step, **values: Any) -> bool:
        """Update ``step`` only if nobody changed it since it was read; bumps its version."""
        result = await self.session.execute(
            update(Step)
            .where(col(Step.id) == step.id, col(Step.version) == step.version)
            .values(version=step.version + 1, next_at=AT_ONCE, **values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        for key, value in {"version": step.version + 1, **values}.items():
            set_committed_value(step, key, value)  # what the row now holds, without a re-read
        return True

    async def case_rows(self, case_id: int) -> CaseRows | None:
        """Everything a case's cards show, in a fixed number of queries whatever its size:
        the case with its project and submitter, then its steps, lanes, assignments, and
        its comments, missing materials and attachments where it has any, one query each."""
        # Most cases have no comment, missing material or attachment: whether they do comes
        # with the case, and only what exists is read.
        head = (await self.session.execute(
            select(Case, Project, Person,
                   exists().where(col(Comment.case_id) == case_id),
                   exists().where(col(MissingItem.case_id) == case_id),
                   exists().where(col(Attachment.case_id) == case_id))
            .join(Project, col(Project.id) == col(Case.project_id))
            .join(Person, col(Person.id) == col(Case.submitter_id))
            .where(col(Case.id) == case_id)
            .execution_options(populate_existing=True))).first()
        if head is None:
            return None
        case, project, submitter, has_comments, has_missing, has_attachments = head
        of_case = col(Step.case_id) == case_id
        steps = list(await self._fresh(select(Step).where(of_case).order_by(col(Step.id))))
        lanes = list(await self._fresh(
            select(Lane).join(Step, col(Step.id) == col(Lane.step_id)).where(of_case)
            .order_by(col(Lane.step_id), col(Lane.seq))))
        assignments = list(await self._fresh(
            select(Assignment).join(Step, col(Step.id) == col(Assignment.step_id))
            .where(of_case).order_by(col(Assignment.id))))
        comments = (await self.all(Comment, order_by=Comment.id, case_id=case_id)
                    if has_comments else [])
        missing = await self.missing_items(case_id) if has_missing else []
        attachments = await self.attachments(case_id=case_id) if has_attachments else []
        return CaseRows(case, project, submitter, steps, lanes, assignments, comments, missing,
                        attachments)

    async def group_card(self, case_id: int) -> Card | None:
        return await self.one(Card, case_id=case_id, kind=CardKind.GROUP)

    async def pending_case_ids(self) -> list[int]:
        query = (select(col(Case.id)).where(col(Case.state) == CaseState.PENDING)
                 .order_by(col(Case.id)))
        return list((await self.session.execute(query)).scalars())

    async def cards(self, case_id: int) -> list[Card]:
        return await self.all(Card, order_by=Card.id, case_id=case_id)

    async def cases_behind(self, limit: int) -> list[int]:
        """Cases whose cards do not show their newest change yet (through their partial
        index: few among many)."""
        query = select(col(Case.id)).where(_CARDS_BEHIND).limit(limit)
        return sorted((await self.session.execute(query)).scalars())

    async def left_to_mend(self) -> tuple[int, int]:
        """How many cases have cards behind, and how many reports no card."""
        behind = await self.session.scalar(
            select(func.count()).select_from(Case).where(_CARDS_BEHIND))
        no_card = await self.session.scalar(
            select(func.count()).select_from(Report).where(_NO_CARD))
        return int(behind or 0), int(no_card or 0)

    async def mark_shown(self, case_id: int, changes: int) -> None:
        """The case's cards show it as of its ``changes``-th change (never moved back)."""
        await self.session.execute(
            update(Case).where(col(Case.id) == case_id, col(Case.shown) < changes)
            .values(shown=changes).execution_options(synchronize_session=False))

    async def reports_without_card(self, created_by: datetime, limit: int) -> list[Report]:
        """Reports filed at or before ``created_by`` whose card was never posted."""
        query = (select(Report).where(_NO_CARD, col(Report.created_at) <= created_by)
                 .order_by(col(Report.created_at)).limit(limit))  # its partial index's order
        return list((await self.session.execute(query)).scalars())

    # -- nudges --------------------------------------------------------------------------
    async def claim_nudges(self, rows: Sequence[dict[str, Any]]) -> list[Nudge]:
        """Record many nudges before they are sent, in one statement; those whose unique key
        exists already (another process claimed them) are skipped, not returned."""
        if not rows:
            return []
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(Nudge).on_conflict_do_nothing().returning(Nudge)
        return list(await self.session.scalars(statement, list(rows)))

    # -- updates handled ------------------------------------------------------------------
    async def claim_update(self, update_id: int, now: datetime) -> bool:
        """Record ``update_id`` as handled; False when it already was."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (insert(HandledUpdate).values(update_id=update_id, handled_at=now)
                     .on_conflict_do_nothing(index_elements=["update_id"])
                     .returning(col(HandledUpdate.update_id)))
        return (await self.session.execute(statement)).first() is not None

    async def was_handled(self, update_id: int) -> bool:
        query = select(col(HandledUpdate.update_id)).where(
            col(HandledUpdate.update_id) == update_id)
        return (await self.session.execute(query)).first() is not None

    async def forget_handled_before(self, cutoff: datetime) -> int:
        result = await self.session.execute(
            delete(HandledUpdate).where(col(HandledUpdate.handled_at) < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)

    async def last_handled_update(self) -> int | None:
        found = await self.session.execute(select(func.max(col(HandledUpdate.update_id))))
        return found.scalar()

    async def nudge_keys(self, subjects: list[tuple[str, int]]) -> set[tuple[str, int, str]]:
        """(kind, id, level) of every nudge already claimed for these subjects."""
        found: set[tuple[str, int, str]] = set()
        by_kind: dict[str, list[int]] = {}
        for kind, target_id in subjects:
            by_kind.setdefault(kind, []).append(target_id)
        for kind, ids in by_kind.items():
            for chunk in _chunks(ids):
                query = select(col(Nudge.target_id), col(Nudge.level)).where(
                    col(Nudge.target_kind) == kind, col(Nudge.target_id).in_(chunk))
                found |= {(kind, target, level)
                          for target, level in await self.session.execute(query)}
        return found

    async def case_definitions(self, case_ids: Sequence[int]) -> dict[int, str]:
        """The case type snapshot each case was submitted under."""
        found: dict[int, str] = {}
        for chunk in _chunks(case_ids):
            query = select(col(Case.id), col(Case.definition)).where(col(Case.id).in_(chunk))
            found.update({int(a): b for a, b in await self.session.execute(query) if a})
        return found

    async def assignments_of(self, step_ids: Sequence[int]) -> dict[int, list[Assignment]]:
        """Each step's assignments in order, for many steps at once."""
        found: dict[int, list[Assignment]] = {step_id: [] for step_id in step_ids}
        for chunk in _chunks(step_ids):
            query = (select(Assignment).where(col(Assignment.step_id).in_(chunk))
                     .order_by(col(Assignment.id)))
            for row in await self._fresh(query):
                found[row.step_id].append(row)
        return found

    async def open_step_timing(self) -> list[tuple[int, int, datetime, int]]:
        """(step id, case id, due, limit) of every open step with a due time."""
        query = select(col(Step.id), col(Step.case_id), col(Step.due_at),
                       col(Step.limit_days)).where(col(Step.state) == StepState.OPEN,
                                                   col(Step.due_at).is_not(None))
        return [(int(a), int(b), c, int(d)) for a, b, c, d in await self.session.execute(query)
                if a is not None and c is not None]

    # -- what the sweep must look at now (``next_at``, see storage.models) -------------------
    async def due_ids(self, now: datetime, done: tuple[str, ...]) -> dict[str, list[int]]:
        """The ids of the steps, milestones (in projects not finished: those wait, untouched,
        in case a project is taken up again) and missing materials whose next moment has come,
        each kind in id order: the sweep reads their rows a window at a time."""
        # next_at alone in the WHERE and no ORDER BY (sorted here): SQLite's planner then takes
        # its index, never the state's nor the primary key's (which would read every row).
        steps = select(col(Step.id)).where(col(Step.next_at) <= now)
        milestones = (select(col(Milestone.id))
                      .join(Project, col(Project.id) == col(Milestone.project_id))
                      .where(col(Milestone.next_at) <= now, col(Project.status).not_in(done)))
        missing = select(col(MissingItem.id)).where(col(MissingItem.next_at) <= now)
        return {kind: sorted(await self.session.scalars(query)) for kind, query
                in (("step", steps), ("milestone", milestones), ("missing", missing))}

    async def due_steps(self, now: datetime, ids: Sequence[int]
                        ) -> list[tuple[int, int, str, str, datetime | None, int,
                                        datetime | None, bool]]:
        """(id, case id, state, timeout policy, due, limit, next_at, due uncertain) of these
        steps, those whose next moment has still come, whatever their state (a closed one is
        seen once, to be let go)."""
        query = select(col(Step.id), col(Step.case_id), col(Step.state),
                       col(Step.timeout_policy), col(Step.due_at), col(Step.limit_days),
                       col(Step.next_at), col(Step.due_uncertain)
                       ).where(col(Step.id).in_(ids), col(Step.next_at) <= now)
        return sorted((int(a), int(b), c, d, e, int(f), g, bool(h))
                      for a, b, c, d, e, f, g, h in await self.session.execute(query)
                      if a is not None)

    async def due_milestones(self, now: datetime, ids: Sequence[int]
                             ) -> list[tuple[int, date, date | None, datetime | None]]:
        """(id, due date, done date, next_at) of these milestones, where their next moment has
        still come."""
        query = (select(col(Milestone.id), col(Milestone.due_on), col(Milestone.done_on),
                        col(Milestone.next_at))
                 .where(col(Milestone.id).in_(ids), col(Milestone.next_at) <= now))
        return sorted((int(a), b, c, d) for a, b, c, d in await self.session.execute(query)
                      if a is not None)

    async def due_missing(self, now: datetime, ids: Sequence[int]
                          ) -> list[tuple[int, date, datetime | None, str, datetime | None]]:
        """(id, supply-by date, supplied at, case state, next_at) of these missing materials,
        where their next moment has still come."""
        query = (select(col(MissingItem.id), col(MissingItem.supply_by),
                        col(MissingItem.supplied_at), col(Case.state), col(MissingItem.next_at))
                 .join(Case, col(Case.id) == col(MissingItem.case_id))
                 .where(col(MissingItem.id).in_(ids), col(MissingItem.next_at) <= now))
        return sorted((int(a), b, c, d, e) for a, b, c, d, e in await self.session.execute(query)
                      if a is not None)

    async def earliest_next_moment(self, after: datetime, done: tuple[str, ...]
                                   ) -> tuple[str, int, datetime] | None:
        """(kind, id, next_at) of the step, milestone, missing material or supervision item
        whose next moment comes first after ``after`` (milestones of finished projects aside,
        as in the sweep)."""
        queries: list[tuple[str, Any]] = [
            ("step", select(col(Step.id), col(Step.next_at))
             .where(col(Step.next_at) > after)),
            ("milestone", select(col(Milestone.id), col(Milestone.next_at))
             .join(Project, col(Project.id) == col(Milestone.project_id))
             .where(col(Milestone.next_at) > after, col(Project.status).not_in(done))),
            ("missing", select(col(MissingItem.id), col(MissingItem.next_at))
             .where(col(MissingItem.next_at) > after)),
            ("item", select(col(SupervisionItem.id), col(SupervisionItem.next_at))
             .where(col(SupervisionItem.next_at) > after)),
        ]
        found: list[tuple[datetime, str, int]] = []
        for kind, query in queries:
            row = (await self.session.execute(
                query.order_by(query.selected_columns[1], query.selected_columns[0]).limit(1)
            )).first()
            if row is not None and row[0] is not None and row[1] is not None:
                found.append((row[1], kind, int(row[0])))
        if not found:
            return None
        at, kind, row_id = min(found)
        return kind, row_id, at

    async def deemable_step_ids(self, now: datetime) -> list[int]:
        """Open steps past their due whose timeout policy deems them approved, among those
        whose next moment has come (an open step's due is always one)."""
        # The state is not in the WHERE: SQLite would take its index (every open row).
        query = select(col(Step.id), col(Step.state)).where(
            col(Step.next_at) <= now, col(Step.timeout_policy) == TimeoutPolicy.DEEMED_APPROVAL,
            col(Step.due_at) <= now)
        return sorted(int(a) for a, state in await self.session.execute(query)
                      if a is not None and state == StepState.OPEN)

    async def set_next_moments(self, kind: str, rows: Sequence[tuple[int, tuple[Any, ...],
                                                                     datetime | None]]) -> None:
        """Set next_at for (id, timing seen, next_at) in one statement, each only where the
        row's timing (:data:`storage.models.TIMING`, and next_at) is still what the sweep saw:
        a row changed meanwhile was handed back (:data:`AT_ONCE`) and stays so."""
        if not rows:
            return
        model: Any = {"step": Step, "milestone": Milestone, "missing": MissingItem,
                      "item": SupervisionItem}[kind]
        table = model.__table__
        guard = ("next_at", *TIMING[model])
        statement = (update(table)
                     .where(table.c.id == bindparam("row_id"),
                            *(table.c[name].is_not_distinct_from(bindparam(f"seen_{name}"))
                              for name in guard))
                     .values(next_at=bindparam("new_next_at")))
        await self.session.execute(statement, [
            {"row_id": row_id, "new_next_at": next_at,
             **{f"seen_{name}": value for name, value in zip(guard, seen, strict=True)}}
            for row_id, seen, next_at in rows])

    async def due_items(self, now: datetime) -> list[SupervisionItem]:
        """Supervision items whose next moment has come (few: the sweep reads them whole)."""
        query = select(SupervisionItem).where(col(SupervisionItem.next_at) <= now)
        return sorted(await self._fresh(query), key=lambda item: item.id)

    async def uncertain_due_years(self) -> set[int]:
        """Years holding the due of an open step computed without official holidays."""
        query = select(col(Step.due_at)).where(col(Step.state) == StepState.OPEN,
                                               col(Step.due_uncertain))
        return {due.year for (due,) in await self.session.execute(query) if due is not None}

    async def retake_nudge(self, nudge: Nudge, now: datetime) -> bool:
        """Take over an abandoned claim, unless another process just did."""
        result = await self.session.execute(
            update(Nudge).where(col(Nudge.id) == nudge.id,
                                col(Nudge.created_at) == nudge.created_at,
                                col(Nudge.sent_at).is_(None))
            .values(created_at=now).execution_options(synchronize_session=False))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        if nudge.error is None:  # not a send that failed: one cut short by a stopped process
            log.warning("nudge %s (%s %s, %s) was claimed by a process that stopped before it "
                        "recorded it sent: sent again, it may arrive twice", nudge.id,
                        nudge.target_kind, nudge.target_id, nudge.level)
        await self.get(Nudge, nudge.id)
        return True

    async def urge_copies(self, urge_id: int) -> list[UrgeCopy]:
        """The messages showing this urge notice with its button."""
        return await self.all(UrgeCopy, order_by=UrgeCopy.id, urge_id=urge_id)

    async def answer_urge(self, urge: UrgeNotice, *, answered_by_id: int, cause: str,
                          plan: str, at: datetime) -> bool:
        """Record the written answer unless one was recorded meanwhile."""
        result = await self.session.execute(
            update(UrgeNotice).where(col(UrgeNotice.id) == urge.id,
                                     col(UrgeNotice.answered_at).is_(None))
            .values(answered_at=at, answered_by_id=answered_by_id, cause=cause, plan=plan)
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        await self.get(UrgeNotice, urge.id)
        return True

    async def retire_claims(self, target_kind: str, target_id: int, suffix: str) -> None:
        """Set a subject's claims aside (its due changed): each level can be claimed again,
        and the nudges already sent still count, under ``level~suffix``."""
        await self.session.execute(
            update(Nudge).where(col(Nudge.target_kind) == target_kind,
                                col(Nudge.target_id) == target_id,
                                col(Nudge.level).not_like("%~%"))
            .values(level=col(Nudge.level) + f"~{suffix}")
            .execution_options(synchronize_session=False))

    async def unsent_nudges(self, claimed_by: datetime) -> list[Nudge]:
        """Claims made at or before ``claimed_by`` and never marked sent."""
        # Sorted here: an ORDER BY id would have SQLite read every claim ever made by primary
        # key rather than the few unsent ones through their partial index.
        query = select(Nudge).where(col(Nudge.sent_at).is_(None),
                                    col(Nudge.created_at) <= claimed_by)
        return sorted((await self.session.execute(query)).scalars(), key=lambda n: n.id)

    async def unsent_urges(self) -> list[UrgeNotice]:
        """Urge notices with a copy still to deliver (sorted here, as for nudges)."""
        query = select(UrgeNotice).where(col(UrgeNotice.sent_at).is_(None))
        return sorted((await self.session.execute(query)).scalars(), key=lambda u: u.id)

    # -- audit -----------------------------------------------------------------------------
    async def audit(self, *, at: datetime, actor_id: int | None, action: str, subject: str,
                    data: dict[str, Any] | None = None) -> AuditEvent:
        return await audit.append(self.session, at=at, actor_id=actor_id, action=action,
                                  subject=subject, data=data)

    async def audit_trail(self, subject: str | None = None) -> list[AuditEvent]:
        if subject is None:
            return await self.all(AuditEvent, order_by=AuditEvent.id)
        return await self.all(AuditEvent, order_by=AuditEvent.id, subject=subject)

    async def audit_times(self, action: str, subject: str, *, since: datetime
                          ) -> list[datetime]:
        """When events of this action on this subject were recorded, since then."""
        query = select(col(AuditEvent.at)).where(col(AuditEvent.action) == action,
                                                 col(AuditEvent.subject) == subject,
                                                 col(AuditEvent.at) >= since)
        return list(await self.session.scalars(query))

    async def case_by_query_code(self, code: str) -> Case | None:
        return (await self.session.scalars(select(Case).where(col(Case.query_code) == code))
                ).one_or_none()

    async def verify_audit_chain(self) -> Verdict:
        return await audit.verify_chain(self.session)

    # -- calendar ----------------------------------------------------------------------------
    async def calendar_overrides(self) -> list[CalendarOverride]:
        return await self.all(CalendarOverride, order_by=CalendarOverride.day)

    async def calendar_years(self) -> list[CalendarYear]:
        return await self.all(CalendarYear, order_by=CalendarYear.year)

    # -- organisation ------------------------------------------------------------------------
    async def section_by_code(self, code: str) -> Section | None:
        return await self.one(Section, code=code)

    async def card_of_message(self, tg_chat_id: int, tg_message_id: int) -> Card | None:
        return await self.one(Card, tg_chat_id=tg_chat_id, tg_message_id=tg_message_id)

    async def handles_any_project(self, person_id: int) -> bool:
        member = await self.one(ProjectMember, person_id=person_id, role=MemberRole.HANDLER)
        return member is not None

    # -- /stats: what leaders read at a glance -------------------------------------------------

    async def steps_for_stats(self, since: datetime, scope: Scope = WHOLE
                              ) -> list[tuple[int | None, StepState, datetime, datetime | None]]:
        """(section of the project, state, due, closed at) of every step with a due that is
        open now or was closed since then."""
        query = (select(col(Project.section_id), col(Step.state), col(Step.due_at),
                        col(Step.closed_at))
                 .join(Case, col(Case.id) == col(Step.case_id))
                 .join(Project, col(Project.id) == col(Case.project_id))
                 .where(col(Step.due_at).is_not(None), project_in(scope),
                        (col(Step.state) == StepState.OPEN) | (col(Step.closed_at) >= since)))
        return [(a, b, c, d) for a, b, c, d in await self.session.execute(query)
                if c is not None]

    async def decisions_for_stats(self, since: datetime, scope: Scope = WHOLE
                                  ) -> list[tuple[int, datetime, datetime]]:
        """(person, decided at, the step's due) of every decision since then on a step with a
        due."""
        query = (select(col(Assignment.person_id), col(Assignment.decided_at), col(Step.due_at))
                 .join(Step, col(Step.id) == col(Assignment.step_id))
                 .join(Case, col(Case.id) == col(Step.case_id))
                 .join(Project, col(Project.id) == col(Case.project_id))
                 .where(col(Assignment.decided_at) >= since, col(Step.due_at).is_not(None),
                        project_in(scope)))
        return [(int(a), b, c) for a, b, c in await self.session.execute(query)
                if b is not None and c is not None]

    async def cases_closed_since(self, since: datetime, state: CaseState, scope: Scope = WHOLE
                                 ) -> list[tuple[datetime, datetime]]:
        """(created at, closed at) of the cases closed in ``state`` since then."""
        query = (select(col(Case.created_at), col(Case.closed_at))
                 .join(Project, col(Project.id) == col(Case.project_id))
                 .where(col(Case.state) == state, col(Case.closed_at) >= since,
                        project_in(scope)))
        return [(a, b) for a, b in await self.session.execute(query) if b is not None]

    async def urge_notices_between(self, start: datetime, end: datetime | None = None,
                                   scope: Scope = WHOLE) -> list[tuple[int | None, int | None]]:
        """(head addressed, their section) of each urge notice issued in [start, end), or
        since ``start`` when no end is given."""
        query = (select(col(UrgeNotice.head_id), col(UrgeNotice.section_id))
                 .join(Project, col(Project.id) == col(UrgeNotice.project_id))
                 .where(col(UrgeNotice.issued_at) >= start, project_in(scope)))
        if end is not None:
            query = query.where(col(UrgeNotice.issued_at) < end)
        return [(a, b) for a, b in await self.session.execute(query)]

    # -- the weekly digest ---------------------------------------------------------------------

    async def claim_digest(self, week: str, at: datetime) -> WeeklyDigest | None:
        """The week's digest claimed now, or None if it was claimed before (by anyone)."""
        digest = WeeklyDigest(week=week, claimed_at=at)
        return digest if await self.insert_once(digest) else None

    async def approved_between(self, start: datetime, end: datetime, scope: Scope = WHOLE
                               ) -> list[tuple[str, str]]:
        """(project code, title) of the cases approved in [start, end)."""
        query = (select(col(Project.code), col(Case.title))
                 .join(Project, col(Project.id) == col(Case.project_id))
                 .where(col(Case.state) == CaseState.APPROVED, col(Case.closed_at) >= start,
                        col(Case.closed_at) < end, project_in(scope))
                 .order_by(col(Case.closed_at)))
        return [(a, b) for a, b in await self.session.execute(query)]

    async def milestones_between(self, start: date, end: date, *, reached: bool,
                                 scope: Scope = WHOLE) -> list[tuple[str, str]]:
        """(project code, title) of the milestones reached in [start, end) (``reached``), or
        of those due then and not reached by their day."""
        day = col(Milestone.done_on) if reached else col(Milestone.due_on)
        query = (select(col(Project.code), col(Milestone.title))
                 .join(Project, col(Project.id) == col(Milestone.project_id))
                 .where(day >= start, day < end, project_in(scope)).order_by(day))
        if not reached:
            query = query.where(col(Milestone.done_on).is_(None)
                                | (col(Milestone.done_on) > col(Milestone.due_on)))
        return [(a, b) for a, b in await self.session.execute(query)]

    async def steps_turned_red(self, start: datetime, end: datetime, scope: Scope = WHOLE
                               ) -> list[tuple[str, str, str]]:
        """(project code, case title, step name) of the steps whose due fell in [start, end)
        while they were open: still open now, or closed after it."""
        query = (select(col(Project.code), col(Case.title), col(Step.name))
                 .join(Case, col(Case.id) == col(Step.case_id))
                 .join(Project, col(Project.id) == col(Case.project_id))
                 .where(col(Step.due_at) >= start, col(Step.due_at) < end, project_in(scope),
                        (col(Step.state) == StepState.OPEN)
                        | (col(Step.closed_at) > col(Step.due_at)))
                 .order_by(col(Step.due_at)))
        return [(a, b, c) for a, b, c in await self.session.execute(query)]

    async def late_steps(self, now: datetime, scope: Scope = WHOLE
                         ) -> list[tuple[str, str, str, datetime, str]]:
        """(project code, case title, step name, due, a name whose turn it is) of each open
        step past its due, one row per person it waits for, the longest late first."""
        query = (select(col(Project.code), col(Case.title), col(Step.name), col(Step.due_at),
                        col(Person.name))
                 .join(Case, col(Case.id) == col(Step.case_id))
                 .join(Project, col(Project.id) == col(Case.project_id))
                 .join(Assignment, col(Assignment.step_id) == col(Step.id))
                 .join(Person, col(Person.id) == col(Assignment.person_id))
                 .where(col(Step.state) == StepState.OPEN, col(Step.due_at) < now,
                        col(Assignment.state) == AssignmentState.PENDING, project_in(scope))
                 .order_by(col(Step.due_at), col(Step.id), col(Person.name)))
        return [(a, b, c, d, e) for a, b, c, d, e in await self.session.execute(query)
                if d is not None]

    async def heads_a_section(self, person_id: int) -> bool:
        return await self.one(Section, head_id=person_id) is not None

    async def sections(self) -> list[Section]:
        return await self.all(Section, order_by=Section.id)

    async def people(self) -> list[Person]:
        """Everyone, active or not, in the order they were added."""
        return await self.all(Person, order_by=Person.id)

    async def active_people(self) -> list[Person]:
        return await self.all(Person, order_by=Person.id, active=True)

    async def section_people(self, section_id: int) -> list[Person]:
        return await self.all(Person, order_by=Person.id, section_id=section_id)

    async def chats_of_kind(self, kind: str) -> list[Chat]:
        return await self.all(Chat, order_by=Chat.id, kind=kind)

    async def chats(self) -> list[Chat]:
        return await self.all(Chat, order_by=Chat.id)

    async def project_of_chat(self, chat_id: int) -> Project | None:
        return await self.one(Project, chat_id=chat_id)

    async def project_members(self, project_id: int) -> list[ProjectMember]:
        return await self.all(ProjectMember, order_by=ProjectMember.id, project_id=project_id)

    async def milestone_reports(self, milestone_id: int) -> list[Report]:
        return await self.all(Report, order_by=Report.id, milestone_id=milestone_id)

    async def absences(self, person_id: int) -> list[Delegation]:
        """A person's arrangements for being away that were not called off, oldest first."""
        return await self.all(Delegation, order_by=Delegation.id, person_id=person_id,
                              cancelled_at=None)

    async def nudges(self) -> list[Nudge]:
        return await self.all(Nudge, order_by=Nudge.id)

    # -- supervision items ---------------------------------------------------------------
    async def item_codes(self, prefix: str) -> list[str]:
        """The codes of the supervision items whose code starts with ``prefix``."""
        query = select(col(SupervisionItem.code)).where(
            col(SupervisionItem.code).startswith(prefix))
        return list(await self.session.scalars(query))

    async def item_by_code(self, code: str) -> SupervisionItem | None:
        return await self.one(SupervisionItem, code=code)

    async def open_items(self, scope: Scope = WHOLE) -> list[SupervisionItem]:
        """Every supervision item not archived of the scope's offices, in registration
        order."""
        query = (select(SupervisionItem).where(col(SupervisionItem.state) != "archived")
                 .order_by(col(SupervisionItem.id)))
        if scope.unit_ids is not None:
            query = query.where(col(SupervisionItem.unit_id).in_(sorted(scope.unit_ids)))
        return list(await self._fresh(query))

    async def items_assigned_to(self, person_id: int) -> list[SupervisionItem]:
        """Open items assigned to this person, or to a section they head."""
        headed = select(col(Section.id)).where(col(Section.head_id) == person_id)
        query = (select(SupervisionItem)
                 .where(col(SupervisionItem.state) != "archived",
                        (col(SupervisionItem.assignee_id) == person_id)
                        | col(SupervisionItem.section_id).in_(headed))
                 .order_by(col(SupervisionItem.id)))
        return list(await self._fresh(query))

    async def compare_and_set_item(self, item: SupervisionItem, **values: Any) -> bool:
        """Change the item only if its version is still the one read; bumps the version. A
        change of its timing hands it to the next sweep (as ``storage.models.TIMING`` does)."""
        if {"state", "due_at"} & values.keys():
            values["next_at"] = AT_ONCE
        result = await self.session.execute(
            update(SupervisionItem).where(col(SupervisionItem.id) == item.id,
                                          col(SupervisionItem.version) == item.version)
            .values(version=item.version + 1, **values)
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        await self.get(SupervisionItem, item.id)
        return True

    async def item_events(self, item_id: int) -> list[ItemEvent]:
        return await self.all(ItemEvent, order_by=ItemEvent.id, item_id=item_id)

    async def item_files(self, event_id: int) -> list[ItemFile]:
        return await self.all(ItemFile, order_by=ItemFile.id, event_id=event_id)

    async def person_by_key(self, key: str) -> Person | None:
        return await self.one(Person, key=key)
