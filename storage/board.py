"""The lights board's reads: a fixed number of statements per board load, whatever its size.

Every query takes the viewer's :class:`Scope`, applied in one place
(:func:`storage.scoping.project_in`, as every roll-up's), so a project outside it can never
reach the board by a query that forgot the check. Rows come back as plain named tuples of
the columns the board shows (no ORM objects: a city's board has 100 000 open steps, and
building an entity per step costs more than the query).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Select,
    and_,
    case,
    false,
    func,
    or_,
    select,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.domain.rules.scope import Scope
from bot.domain.rules.vocabulary import (
    AssignmentState,
    CaseState,
    MemberRole,
    StepState,
)
from storage.models import (
    Assignment,
    Case,
    Milestone,
    Nudge,
    Person,
    Project,
    ProjectMember,
    Section,
    Step,
    Unit,
)
from storage.scoping import project_in

STEP_TARGET = "step"  # Nudge.target_kind of a step's nudges (bot.domain.usecases.nudging.STEP)


class ProjectRow(NamedTuple):
    id: int
    code: str
    name: str
    status: str
    section_id: int | None
    unit_id: int | None
    unit_name: str | None


class MilestoneRow(NamedTuple):
    project_id: int
    seq: int
    title: str
    due_on: date


class OpenStepRow(NamedTuple):
    id: int
    case_id: int
    name: str
    name_en: str | None
    due_at: datetime | None
    limit_days: int
    case_title: str
    query_code: str
    project_id: int
    submitter_id: int


class HolderRow(NamedTuple):
    step_id: int
    person_id: int


class MemberRow(NamedTuple):
    project_id: int
    person_id: int


class NameRow(NamedTuple):
    id: int
    name: str


class LightCount(NamedTuple):
    """How many open steps of a project show a light."""

    project_id: int
    light: str
    steps: int


class DueGroup(NamedTuple):
    """Open steps of a project sharing a due and a limit (so a light): dues fall at the close
    of office hours, so a city's 100 000 open steps make a few thousand groups."""

    project_id: int
    due_at: datetime | None
    limit_days: int
    steps: int


class DueWindow(NamedTuple):
    """Open steps of this limit due within [first, last]: what one light covers (a light is
    monotonic in the due for a given limit)."""

    limit_days: int
    first: datetime
    last: datetime


class BoardRows(NamedTuple):
    projects: list[ProjectRow]
    milestones: list[MilestoneRow]  # not done yet, by project then order
    handlers: list[MemberRow]  # the projects' handlers
    sections: list[NameRow]
    people: list[NameRow]  # who holds an open turn or handles a project: the person filter


class ListedSteps(NamedTuple):
    steps: list[OpenStepRow]  # at most ``per_project`` a project, earliest due first
    holders: list[HolderRow]  # their pending turns
    names: list[NameRow]  # of those holders


class CaseHead(NamedTuple):
    id: int
    title: str
    query_code: str
    state: str
    created_at: datetime
    closed_at: datetime | None
    submitter_id: int
    project_id: int
    project_code: str
    project_name: str


class TimelineStep(NamedTuple):
    id: int
    round: int
    seq: int
    name: str
    name_en: str | None
    state: str
    limit_days: int
    started_at: datetime | None
    due_at: datetime | None
    closed_at: datetime | None
    paused_at: datetime | None
    deemed: bool


class TimelineDecision(NamedTuple):
    step_id: int
    person_id: int
    state: str
    decision: str | None
    reason: str | None
    comment: str | None
    decided_at: datetime | None


class TimelineNudge(NamedTuple):
    step_id: int
    person_id: int
    level: str
    created_at: datetime
    sent_at: datetime | None
    channel: str | None
    late: bool


class CaseTimelineRows(NamedTuple):
    case: CaseHead
    steps: list[TimelineStep]
    assignments: list[TimelineDecision]
    nudges: list[TimelineNudge]
    people: list[NameRow]


class BoardQueries:
    """The board's named queries over one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def due_groups(self, scope: Scope, *, person_id: int | None = None
                         ) -> list[DueGroup]:
        """The open steps counted by project, due and limit (in the database: the steps
        themselves are never all read); with ``person_id``, only the steps that person holds
        a turn of or whose project they handle."""
        return [DueGroup._make(row) for row in await self.session.execute(
            _open_steps(scope, person_id)
            .with_only_columns(col(Case.project_id), col(Step.due_at), col(Step.limit_days),
                               func.count())
            .group_by(col(Case.project_id), col(Step.due_at), col(Step.limit_days))
            .order_by(col(Case.project_id), col(Step.due_at)))]

    async def due_pairs(self, scope: Scope) -> list[tuple[datetime, int]]:
        """Every distinct (due, limit in days) of the scope's open steps: a light each, and
        a city's 100 000 steps have a few dozen."""
        query = (_open_steps(scope).with_only_columns(col(Step.due_at), col(Step.limit_days))
                 .where(col(Step.due_at).is_not(None)).distinct())
        return [(due, limit) for due, limit in await self.session.execute(query)
                if due is not None]

    async def light_counts(self, scope: Scope, now: datetime,
                           yellow_until: dict[int, datetime], *,
                           person_id: int | None = None) -> list[LightCount]:
        """The open steps counted by project and light, the light worked out in the database
        from the moments :meth:`due_pairs`' lights give: red from the due on, yellow up to the
        latest yellow due of the step's limit, else green. A few rows per project."""
        lit = case((col(Step.due_at) <= now, "red"),
                   *((and_(col(Step.limit_days) == limit, col(Step.due_at) <= until), "yellow")
                     for limit, until in sorted(yellow_until.items())),
                   else_="green").label("light")
        query = (_open_steps(scope, person_id)
                 .with_only_columns(col(Case.project_id), lit, func.count())
                 .where(col(Step.due_at).is_not(None))
                 .group_by(col(Case.project_id), lit))
        return [LightCount._make(row) for row in await self.session.execute(query)]

    async def overview(self, scope: Scope) -> BoardRows:
        """What a board load shows but its steps, in five statements."""
        inside = project_in(scope)
        execute = self.session.execute
        projects = [ProjectRow._make(row) for row in await execute(
            select(col(Project.id), col(Project.code), col(Project.name), col(Project.status),
                   col(Project.section_id), col(Project.unit_id), col(Unit.name))
            .outerjoin(Unit, col(Unit.id) == col(Project.unit_id))
            .where(inside).order_by(col(Project.code)))]
        milestones = [MilestoneRow._make(row) for row in await execute(
            select(col(Milestone.project_id), col(Milestone.seq), col(Milestone.title),
                   col(Milestone.due_on))
            .join(Project, col(Project.id) == col(Milestone.project_id))
            .where(inside, col(Milestone.done_on).is_(None))
            .order_by(col(Milestone.project_id), col(Milestone.seq)))]
        handlers = [MemberRow._make(row) for row in await execute(
            select(col(ProjectMember.project_id), col(ProjectMember.person_id))
            .join(Project, col(Project.id) == col(ProjectMember.project_id))
            .where(inside, col(ProjectMember.role) == MemberRole.HANDLER)
            .order_by(col(ProjectMember.id)))]
        sections = [NameRow._make(row) for row in await execute(
            select(col(Section.id), col(Section.name)).order_by(col(Section.code)))]
        holding = select(col(Assignment.person_id)).where(
            col(Assignment.step_id).in_(
                _open_steps(scope).with_only_columns(col(Step.id)).scalar_subquery()),
            col(Assignment.state) == AssignmentState.PENDING)
        handling = (select(col(ProjectMember.person_id))
                    .join(Project, col(Project.id) == col(ProjectMember.project_id))
                    .where(inside, col(ProjectMember.role) == MemberRole.HANDLER))
        people = [NameRow._make(row) for row in await execute(
            select(col(Person.id), col(Person.name))
            .where(col(Person.id).in_(union(holding, handling).scalar_subquery()))
            .order_by(col(Person.id)))]
        return BoardRows(projects, milestones, handlers, sections, people)

    async def listed_steps(self, scope: Scope, *, per_project: int,
                           person_id: int | None = None,
                           windows: Sequence[DueWindow] | None = None,
                           until: datetime | None = None,
                           undated: bool = True) -> ListedSteps:
        """The open steps a board lists, ``per_project`` at most per project, earliest due
        first (late first), with their holders, in three statements; ``windows`` keeps only
        the steps due within one of them (a light). ``until`` and ``undated`` say where
        every project's first ``per_project`` lie (known from :meth:`due_groups`), so only
        those are ranked, not a city's every open step."""
        query = _open_steps(scope, person_id)
        if until is not None:
            query = query.where(col(Step.due_at) <= until if not undated else or_(
                col(Step.due_at) <= until, col(Step.due_at).is_(None)))
        elif not undated:
            query = query.where(col(Step.due_at).is_not(None))
        if windows is not None:
            query = query.where(or_(false(), *(
                and_(col(Step.limit_days) == window.limit_days,
                     col(Step.due_at).between(window.first, window.last))
                for window in windows)))
        rank = func.row_number().over(
            partition_by=col(Case.project_id),
            order_by=(col(Step.due_at).is_(None), col(Step.due_at), col(Step.id)))
        ranked = query.with_only_columns(col(Step.id).label("step_id"),
                                         rank.label("rank")).subquery()
        listed = select(ranked.c.step_id).where(ranked.c.rank <= per_project)
        execute = self.session.execute
        steps = [OpenStepRow._make(row) for row in await execute(
            select(col(Step.id), col(Step.case_id), col(Step.name), col(Step.name_en),
                   col(Step.due_at), col(Step.limit_days), col(Case.title),
                   col(Case.query_code), col(Case.project_id), col(Case.submitter_id))
            .join(Case, col(Case.id) == col(Step.case_id))
            .where(col(Step.id).in_(listed.scalar_subquery()))
            .order_by(col(Step.due_at).is_(None), col(Step.due_at), col(Step.id)))]
        turns = select(col(Assignment.step_id), col(Assignment.person_id)).where(
            col(Assignment.step_id).in_(listed.scalar_subquery()),
            col(Assignment.state) == AssignmentState.PENDING)
        holders = [HolderRow._make(row) for row in await execute(
            turns.order_by(col(Assignment.id)))]
        names = [NameRow._make(row) for row in await execute(
            select(col(Person.id), col(Person.name)).where(col(Person.id).in_(
                turns.with_only_columns(col(Assignment.person_id)).scalar_subquery())))]
        return ListedSteps(steps, holders, names)

    async def case_timeline(self, case_id: int, scope: Scope) -> CaseTimelineRows | None:
        """A case's steps (every round), turns and nudges; None when there is no such case
        inside ``scope`` (the two look the same to the viewer)."""
        execute = self.session.execute
        head = (await execute(
            select(col(Case.id), col(Case.title), col(Case.query_code), col(Case.state),
                   col(Case.created_at), col(Case.closed_at), col(Case.submitter_id),
                   col(Project.id), col(Project.code), col(Project.name))
            .join(Project, col(Project.id) == col(Case.project_id))
            .where(col(Case.id) == case_id, project_in(scope)))).first()
        if head is None:
            return None
        steps = [TimelineStep._make(row) for row in await execute(
            select(col(Step.id), col(Step.round), col(Step.seq), col(Step.name),
                   col(Step.name_en), col(Step.state), col(Step.limit_days),
                   col(Step.started_at), col(Step.due_at), col(Step.closed_at),
                   col(Step.paused_at), col(Step.deemed))
            .where(col(Step.case_id) == case_id)
            .order_by(col(Step.round), col(Step.seq)))]
        of_case = select(col(Step.id)).where(col(Step.case_id) == case_id).scalar_subquery()
        assignments = [TimelineDecision._make(row) for row in await execute(
            select(col(Assignment.step_id), col(Assignment.person_id), col(Assignment.state),
                   col(Assignment.decision), col(Assignment.reason), col(Assignment.comment),
                   col(Assignment.decided_at))
            .where(col(Assignment.step_id).in_(of_case))
            .order_by(col(Assignment.id)))]
        nudges = [TimelineNudge._make(row) for row in await execute(
            select(col(Nudge.target_id), col(Nudge.person_id), col(Nudge.level),
                   col(Nudge.created_at), col(Nudge.sent_at), col(Nudge.channel),
                   col(Nudge.late))
            .where(col(Nudge.target_kind) == STEP_TARGET, col(Nudge.target_id).in_(of_case))
            .order_by(col(Nudge.created_at), col(Nudge.id)))]
        named = ({head[6]} | {row.person_id for row in assignments}
                 | {row.person_id for row in nudges})
        people = [NameRow._make(row) for row in await execute(
            select(col(Person.id), col(Person.name)).where(col(Person.id).in_(sorted(named))))]
        return CaseTimelineRows(CaseHead._make(head), steps, assignments, nudges, people)


def _open_steps(scope: Scope, person_id: int | None = None) -> Select[Any]:
    """The open steps of pending cases inside ``scope`` (joined with their case), those
    ``person_id`` holds a turn of or handles the project of when given."""
    query = (select(col(Step.id)).join(Case, col(Case.id) == col(Step.case_id))
             .join(Project, col(Project.id) == col(Case.project_id))
             .where(project_in(scope), col(Case.state) == CaseState.PENDING,
                    col(Step.state) == StepState.OPEN))
    if person_id is not None:
        held = select(col(Assignment.step_id)).where(
            col(Assignment.person_id) == person_id,
            col(Assignment.state) == AssignmentState.PENDING)
        handled = select(col(ProjectMember.project_id)).where(
            col(ProjectMember.person_id) == person_id,
            col(ProjectMember.role) == MemberRole.HANDLER)
        query = query.where(or_(col(Step.id).in_(held.scalar_subquery()),
                                col(Project.id).in_(handled.scalar_subquery())))
    return query

