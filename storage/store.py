"""The queries the domain needs, over one session (one unit of work).

The domain receives a :class:`Store` and never touches SQLAlchemy itself. Methods that
guard against concurrent clicks use compare-and-set updates; methods that must happen
once use unique constraints inside a savepoint, so a lost race is an answer, not an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from storage import audit
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
    UrgeNotice,
)

M = TypeVar("M", bound=SQLModel)
CHUNK = 500  # ids per IN (...) list: well under SQLite's and asyncpg's parameter limits


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    unique = sorted(set(ids))
    return [unique[start:start + CHUNK] for start in range(0, len(unique), CHUNK)]


class Store:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

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
                found[row.id] = row
        return found

    async def one(self, model: type[M], **equals: Any) -> M | None:
        return (await self._fresh(select(model).filter_by(**equals).limit(1))).first()

    async def all(self, model: type[M], order_by: Any = None, **equals: Any) -> list[M]:
        query = select(model).filter_by(**equals)
        if order_by is not None:
            query = query.order_by(order_by)
        return list(await self._fresh(query))

    async def _fresh(self, query: Any) -> Any:
        result = await self.session.execute(query.execution_options(populate_existing=True))
        return result.scalars()

    async def count(self, model: type[SQLModel], **equals: Any) -> int:
        query = select(func.count()).select_from(model).filter_by(**equals)
        return int((await self.session.execute(query)).scalar_one())

    # -- people and roles -----------------------------------------------------------------
    async def person_by_tg(self, tg_user_id: int) -> Person | None:
        return await self.one(Person, tg_user_id=tg_user_id)

    async def roles_of(self, person_id: int) -> set[str]:
        query = select(col(RoleGrant.role)).where(col(RoleGrant.person_id) == person_id)
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
                self.session.add(RoleGrant(person_id=person_id, role=role))
        await self.session.flush()

    # -- chats and projects ----------------------------------------------------------------
    async def chat_by_tg(self, tg_chat_id: int) -> Chat | None:
        return await self.one(Chat, tg_chat_id=tg_chat_id)

    async def project_by_code(self, code: str) -> Project | None:
        query = select(Project).where(func.upper(col(Project.code)) == code.upper())
        return (await self._fresh(query)).first()

    async def project_by_tg_chat(self, tg_chat_id: int) -> Project | None:
        query = (
            select(Project)
            .join(Chat, col(Chat.id) == col(Project.chat_id))
            .where(col(Chat.tg_chat_id) == tg_chat_id)
        )
        return (await self._fresh(query)).first()

    async def projects(self) -> list[Project]:
        return await self.all(Project, order_by=Project.code)

    async def milestones(self, project_id: int) -> list[Milestone]:
        return await self.all(Milestone, order_by=Milestone.seq, project_id=project_id)

    async def members(self, project_id: int, role: str) -> list[Person]:
        query = (
            select(Person)
            .join(ProjectMember, col(ProjectMember.person_id) == col(Person.id))
            .where(col(ProjectMember.project_id) == project_id, col(ProjectMember.role) == role)
            .order_by(col(ProjectMember.id))
        )
        return list(await self._fresh(query))

    async def is_member(self, project_id: int, person_id: int) -> bool:
        return await self.one(ProjectMember, project_id=project_id, person_id=person_id) is not None

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

    async def has_turn_in(self, case_id: int, person_id: int) -> bool:
        """Whether the person holds or held a turn in any step of the case."""
        query = (select(col(Assignment.id)).join(Step, col(Step.id) == col(Assignment.step_id))
                 .where(col(Step.case_id) == case_id, col(Assignment.person_id) == person_id)
                 .limit(1))
        return (await self.session.execute(query)).first() is not None

    async def open_steps(self) -> list[Step]:
        return await self.all(Step, order_by=Step.id, state="open")

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
        await self.get(Step, step.id)  # reload the identity-mapped row
        return True

    async def cards(self, case_id: int) -> list[Card]:
        return await self.all(Card, order_by=Card.id, case_id=case_id)

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
                       col(Step.limit_days)).where(col(Step.state) == "open",
                                                   col(Step.due_at).is_not(None))
        return [(int(a), int(b), c, int(d)) for a, b, c, d in await self.session.execute(query)
                if a is not None and c is not None]

    async def open_milestone_timing(self, done: tuple[str, ...]) -> list[tuple[int, date]]:
        """(milestone id, due date) of milestones not done, in projects not finished."""
        query = (select(col(Milestone.id), col(Milestone.due_on))
                 .join(Project, col(Project.id) == col(Milestone.project_id))
                 .where(col(Milestone.done_on).is_(None), col(Project.status).not_in(done)))
        return [(int(a), b) for a, b in await self.session.execute(query) if a is not None]

    async def open_missing_timing(self) -> list[tuple[int, date]]:
        """(item id, supply-by date) of missing materials still owed on live cases."""
        query = (select(col(MissingItem.id), col(MissingItem.supply_by))
                 .join(Case, col(Case.id) == col(MissingItem.case_id))
                 .where(col(MissingItem.supplied_at).is_(None),
                        col(Case.state).not_in(["withdrawn"])))
        return [(int(a), b) for a, b in await self.session.execute(query) if a is not None]

    # -- what the sweep must look at now (``next_at``, see storage.models) -------------------
    async def due_steps(self, now: datetime) -> list[tuple[int, int, str, str, datetime | None,
                                                           int, datetime | None, bool]]:
        """(id, case id, state, timeout policy, due, limit, next_at, due uncertain) of the
        steps whose next moment has come, whatever their state (a closed one is seen once,
        to be let go)."""
        # next_at alone in the WHERE and no ORDER BY (sorted here): SQLite's planner then takes
        # its index, never the state's nor the primary key's (which would read every row).
        query = select(col(Step.id), col(Step.case_id), col(Step.state),
                       col(Step.timeout_policy), col(Step.due_at), col(Step.limit_days),
                       col(Step.next_at), col(Step.due_uncertain)).where(col(Step.next_at) <= now)
        return sorted((int(a), int(b), c, d, e, int(f), g, bool(h))
                      for a, b, c, d, e, f, g, h in await self.session.execute(query)
                      if a is not None)

    async def due_milestones(self, now: datetime, done: tuple[str, ...]
                             ) -> list[tuple[int, date, date | None, datetime | None]]:
        """(id, due date, done date, next_at) of the milestones whose next moment has come, in
        projects not finished (those wait, untouched, in case a project is taken up again)."""
        query = (select(col(Milestone.id), col(Milestone.due_on), col(Milestone.done_on),
                        col(Milestone.next_at))
                 .join(Project, col(Project.id) == col(Milestone.project_id))
                 .where(col(Milestone.next_at) <= now, col(Project.status).not_in(done)))
        return sorted((int(a), b, c, d) for a, b, c, d in await self.session.execute(query)
                      if a is not None)

    async def due_missing(self, now: datetime
                          ) -> list[tuple[int, date, datetime | None, str, datetime | None]]:
        """(id, supply-by date, supplied at, case state, next_at) of the missing materials
        whose next moment has come."""
        query = (select(col(MissingItem.id), col(MissingItem.supply_by),
                        col(MissingItem.supplied_at), col(Case.state), col(MissingItem.next_at))
                 .join(Case, col(Case.id) == col(MissingItem.case_id))
                 .where(col(MissingItem.next_at) <= now))
        return sorted((int(a), b, c, d, e) for a, b, c, d, e in await self.session.execute(query)
                      if a is not None)

    async def set_next_moments(self, kind: str, rows: Sequence[tuple[int, tuple[Any, ...],
                                                                     datetime | None]]) -> None:
        """Set next_at for (id, timing seen, next_at) in one statement, each only where the
        row's timing (:data:`storage.models.TIMING`, and next_at) is still what the sweep saw:
        a row changed meanwhile was handed back (:data:`AT_ONCE`) and stays so."""
        if not rows:
            return
        model: Any = {"step": Step, "milestone": Milestone, "missing": MissingItem}[kind]
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

    async def uncertain_due_years(self) -> set[int]:
        """Years holding the due of an open step computed without official holidays."""
        query = select(col(Step.due_at)).where(col(Step.state) == "open",
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
        await self.get(Nudge, nudge.id)
        return True

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
        return sorted((await self.session.execute(query)).scalars(), key=lambda n: n.id or 0)

    # -- audit -----------------------------------------------------------------------------
    async def audit(self, *, at: datetime, actor_id: int | None, action: str, subject: str,
                    data: dict[str, Any] | None = None) -> AuditEvent:
        return await audit.append(self.session, at=at, actor_id=actor_id, action=action,
                                  subject=subject, data=data)

    async def audit_trail(self, subject: str | None = None) -> list[AuditEvent]:
        if subject is None:
            return await self.all(AuditEvent, order_by=AuditEvent.id)
        return await self.all(AuditEvent, order_by=AuditEvent.id, subject=subject)

    async def verify_audit_chain(self) -> int | None:
        return await audit.verify_chain(self.session)

    # -- calendar ----------------------------------------------------------------------------
    async def calendar_overrides(self) -> list[CalendarOverride]:
        return await self.all(CalendarOverride, order_by=CalendarOverride.day)

    async def calendar_years(self) -> list[CalendarYear]:
        return await self.all(CalendarYear, order_by=CalendarYear.year)

    # -- organisation ------------------------------------------------------------------------
    async def section_by_code(self, code: str) -> Section | None:
        return await self.one(Section, code=code)

    async def person_by_key(self, key: str) -> Person | None:
        return await self.one(Person, key=key)
