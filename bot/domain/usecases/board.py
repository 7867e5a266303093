"""The lights board (a Telegram Mini App): every project and open step of the viewer's scope
with its light, grouped by unit and section, late first; and a case's timeline.

Lights are the ones ``/projects`` shows: a step's from its due (``rules/lights.py``), a
project's the worst of its current milestone's and its open steps' (none once it is done).
The store reads a fixed number of statements per board, whatever its size.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.lights import light, milestone_due, worst
from bot.domain.rules.policy import Policy
from bot.domain.rules.scope import WHOLE, Scope
from bot.domain.rules.vocabulary import AssignmentState, Light, ProjectStatus, StepState
from bot.domain.usecases.scope import unit_scope
from storage.board import CaseHead, DueGroup, DueWindow, ListedSteps
from storage.store import Store

DONE = frozenset({ProjectStatus.DONE, ProjectStatus.DONE_FOLLOW_UP})
STEPS_SHOWN = 5  # open steps listed per project, the most urgent first: a phone, not a report
# Beyond this many projects (a city's whole province) the first view lists the projects and
# their lights only; picking a unit or a section lists their steps.
MANY_PROJECTS = 100
_ORDER = {Light.RED: 0, Light.YELLOW: 1, Light.GREEN: 2, None: 3}


@dataclass(frozen=True)
class BoardFilter:
    unit_id: int | None = None
    section_id: int | None = None
    person_id: int | None = None  # holds an open turn, or handles the project
    light: Light | None = None


@dataclass
class StepLine:
    id: int
    case_id: int
    case_title: str
    query_code: str
    name: str
    due_at: datetime | None
    light: Light | None  # None: no due (a step without a limit)
    holders: list[str]


@dataclass
class MilestoneLine:
    title: str
    due_on: date
    light: Light


@dataclass
class ProjectCard:
    id: int
    code: str
    name: str
    status: ProjectStatus
    unit_id: int | None
    unit_name: str | None
    section_id: int | None
    light: Light | None  # None for a finished project
    milestone: MilestoneLine | None
    steps: list[StepLine]
    steps_by_light: Counter[Light]
    steps_more: int = 0  # open steps beyond those listed


@dataclass
class SectionGroup:
    section_id: int | None
    name: str | None
    projects: list[ProjectCard]


@dataclass
class UnitGroup:
    unit_id: int | None
    name: str | None
    sections: list[SectionGroup]


@dataclass
class Board:
    groups: list[UnitGroup]
    projects_by_light: Counter[Light]
    steps_by_light: Counter[Light]
    sections: list[tuple[int, str]]  # the filter's choices
    people: list[tuple[int, str]]
    units: list[tuple[int, str | None]]  # offered as a filter only when more than one
    steps_hidden: bool = False  # too many projects to list their steps: pick a unit first


def _worst_first(lights: list[Light | None]) -> int:
    return min((_ORDER[found] for found in lights), default=_ORDER[None])


async def board(store: Store, scope: Scope, now: datetime, calendar: WorkCalendar,
                policy: Policy, wanted: BoardFilter = BoardFilter(), *,
                english: bool = False) -> Board:
    """The board in nine statements (one more with a person filter, two with a unit), whatever
    its size: open steps
    are counted by due in the database, lit once per due, and only the listed ones read."""
    # A unit asked for is its subtree (a district with its townships), read as the scope.
    if wanted.unit_id is not None:
        scope = scope.within(await unit_scope(store, wanted.unit_id))
    rows = await store.board.overview(scope)
    within = WHOLE
    lit: dict[tuple[datetime, int], Light] = {}

    def lit_at(due_at: datetime | None, limit_days: int) -> Light | None:
        if due_at is None:
            return None
        key = (due_at, limit_days)
        if key not in lit:
            lit[key] = light(now, due_at, calendar, policy, limit_days)
        return lit[key]

    many = sum(1 for p in rows.projects
               if wanted.section_id in (None, p.section_id)) > MANY_PROJECTS
    current: dict[int, MilestoneLine] = {}
    for milestone_row in rows.milestones:  # by project, then order: the first is current
        if milestone_row.project_id not in current:
            current[milestone_row.project_id] = MilestoneLine(
                milestone_row.title, milestone_row.due_on,
                light(now, milestone_due(milestone_row.due_on, calendar), calendar, policy))
    handlers: dict[int, set[int]] = defaultdict(set)
    for member in rows.handlers:
        handlers[member.project_id].add(member.person_id)

    # A project's light is /projects': its current milestone's and every open step's. What
    # the filters keep: the person's steps (held, or of a project they handle), and of
    # those, the ones of the light asked for.
    step_lights: dict[int, set[Light]] = defaultdict(set)
    counts: dict[int, Counter[Light]] = defaultdict(Counter)
    if many:  # a province: lights counted in the database, no step listed
        yellow_until: dict[int, datetime] = {}
        for due, limit in await store.board.due_pairs(scope):
            if lit_at(due, limit) is Light.YELLOW:
                yellow_until[limit] = max(due, yellow_until.get(limit, due))
        everyone = await store.board.light_counts(scope, now, yellow_until)
        for row in everyone:
            step_lights[row.project_id].add(Light(row.light))
        for row in everyone if wanted.person_id is None else \
                await store.board.light_counts(scope, now, yellow_until,
                                               person_id=wanted.person_id):
            if wanted.light in (None, Light(row.light)):
                counts[row.project_id][Light(row.light)] += row.steps
        listed = ListedSteps([], [], [])
    else:
        every = await store.board.due_groups(scope)
        for group in every:
            found = lit_at(group.due_at, group.limit_days)
            if found is not None:
                step_lights[group.project_id].add(found)
        dues = every if wanted.person_id is None else await store.board.due_groups(
            scope, person_id=wanted.person_id)
        windows: dict[int, tuple[datetime, datetime]] = {}
        for group in dues:
            found = lit_at(group.due_at, group.limit_days)
            if found is None or wanted.light not in (None, found):
                continue
            counts[group.project_id][found] += group.steps
            if wanted.light is not None and group.due_at is not None:
                first, last = windows.get(group.limit_days, (group.due_at, group.due_at))
                windows[group.limit_days] = (min(first, group.due_at), max(last, group.due_at))
        until, undated = _first_dues(dues, lit_at, wanted.light)
        listed = await store.board.listed_steps(
            scope, per_project=STEPS_SHOWN, person_id=wanted.person_id,
            windows=None if wanted.light is None else [
                DueWindow(limit, first, last) for limit, (first, last) in windows.items()],
            until=until, undated=undated)
    names = {row.id: row.name for row in (*rows.people, *listed.names)}
    holders: dict[int, list[int]] = defaultdict(list)
    for holder in listed.holders:
        holders[holder.step_id].append(holder.person_id)
    steps: dict[int, list[StepLine]] = defaultdict(list)
    for step in listed.steps:
        steps[step.project_id].append(StepLine(
            step.id, step.case_id, step.case_title, step.query_code,
            step.name_en if english and step.name_en else step.name, step.due_at,
            lit_at(step.due_at, step.limit_days),
            [names.get(p, "?") for p in holders.get(step.id, [])]))

    cards: list[ProjectCard] = []
    for project in rows.projects:
        status = ProjectStatus(project.status)
        milestone = current.get(project.id)
        project_light = None if status in DONE else worst(
            [*step_lights.get(project.id, ()), *([milestone.light] if milestone else [])])
        if not within.covers(project.unit_id):
            continue
        if wanted.section_id is not None and project.section_id != wanted.section_id:
            continue
        if wanted.light is not None and project_light != wanted.light:
            continue
        counted = counts.get(project.id, Counter())
        if wanted.person_id is not None and not counted \
                and wanted.person_id not in handlers.get(project.id, ()):
            continue
        shown = steps.get(project.id, [])
        shown.sort(key=lambda line: (_ORDER[line.light], line.due_at or now, line.id))
        cards.append(ProjectCard(
            project.id, project.code, project.name, status, project.unit_id,
            project.unit_name, project.section_id, project_light, milestone, shown, counted,
            max(0, sum(counted.values()) - len(shown))))
    cards.sort(key=lambda card: (_ORDER[card.light], card.code))

    section_names = {row.id: row.name for row in rows.sections}
    by_unit: dict[int | None, dict[int | None, list[ProjectCard]]] = defaultdict(
        lambda: defaultdict(list))
    for card in cards:
        by_unit[card.unit_id][card.section_id].append(card)
    unit_names = {p.unit_id: p.unit_name for p in rows.projects if p.unit_id is not None}
    groups = []
    for unit_id, by_section in by_unit.items():
        sections = [SectionGroup(section_id, section_names.get(section_id) if section_id
                                 else None, projects)
                    for section_id, projects in by_section.items()]
        sections.sort(key=lambda group: (
            _worst_first([card.light for card in group.projects]), group.name or "\uffff"))
        groups.append(UnitGroup(unit_id, unit_names.get(unit_id) if unit_id is not None
                                else None, sections))
    groups.sort(key=lambda group: (
        _worst_first([card.light for section in group.sections for card in section.projects]),
        group.name or ""))

    in_scope_sections = {project.section_id for project in rows.projects}
    return Board(
        groups,
        Counter(card.light for card in cards if card.light is not None),
        sum((card.steps_by_light for card in cards), Counter()),
        [(row.id, row.name) for row in rows.sections if row.id in in_scope_sections],
        sorted(((row.id, row.name) for row in rows.people), key=lambda p: p[1]),
        sorted(unit_names.items(), key=lambda unit: unit[0]),
        steps_hidden=many,
    )


def _first_dues(dues: list[DueGroup],
                lit_at: Callable[[datetime | None, int], Light | None],
                wanted: Light | None) -> tuple[datetime | None, bool]:
    """The latest due among every project's first :data:`STEPS_SHOWN` steps (earliest due
    first), and whether steps without a due are among them: the store ranks only those."""
    until: datetime | None = None
    undated = False
    seen: Counter[int] = Counter()
    for group in sorted((g for g in dues if g.due_at is not None),
                        key=lambda g: (g.project_id, g.due_at)):
        if wanted is not None and lit_at(group.due_at, group.limit_days) != wanted:
            continue
        if seen[group.project_id] < STEPS_SHOWN:
            seen[group.project_id] += group.steps
            assert group.due_at is not None
            until = group.due_at if until is None else max(until, group.due_at)
    if wanted is None:
        undated = any(g.due_at is None and seen[g.project_id] < STEPS_SHOWN for g in dues)
    return until, undated


# -- a case's timeline ----------------------------------------------------------------------


@dataclass
class TimelineDecisionLine:
    who: str
    state: AssignmentState
    decision: str | None  # approve | return (a Decision's value); None while undecided
    reason: str | None
    comment: str | None
    at: datetime | None


@dataclass
class TimelineNudgeLine:
    who: str
    level: str
    at: datetime  # sent (or, not sent yet, claimed)
    sent: bool
    late: bool


@dataclass
class TimelineStepLine:
    round: int
    seq: int
    name: str
    state: StepState
    started_at: datetime | None
    due_at: datetime | None
    closed_at: datetime | None
    light: Light | None  # an open step's only
    deemed: bool
    decisions: list[TimelineDecisionLine] = field(default_factory=list)
    nudges: list[TimelineNudgeLine] = field(default_factory=list)


@dataclass
class Timeline:
    case: CaseHead
    submitter: str
    steps: list[TimelineStepLine]


async def timeline(store: Store, scope: Scope, case_id: int, now: datetime,
                   calendar: WorkCalendar, policy: Policy, *,
                   english: bool = False) -> Timeline | None:
    """A case's steps with their decisions and nudges; None when it is not in ``scope``."""
    rows = await store.board.case_timeline(case_id, scope)
    if rows is None:
        return None
    names = {row.id: row.name for row in rows.people}
    lines: dict[int, TimelineStepLine] = {}
    for step in rows.steps:
        step_state = StepState(step.state)
        lines[step.id] = TimelineStepLine(
            step.round, step.seq, step.name_en if english and step.name_en else step.name,
            step_state, step.started_at, step.due_at, step.closed_at,
            light(now, step.due_at, calendar, policy, step.limit_days)
            if step_state == StepState.OPEN and step.due_at is not None else None,
            step.deemed)
    for turn in rows.assignments:
        turn_state = AssignmentState(turn.state)
        # Who decided, returned, handed on, and who holds the turn now; not what was dropped.
        if turn_state in (AssignmentState.CANCELLED, AssignmentState.SUPERSEDED,
                          AssignmentState.WAITING):
            continue
        lines[turn.step_id].decisions.append(TimelineDecisionLine(
            names.get(turn.person_id, "?"), turn_state, turn.decision, turn.reason, turn.comment,
            turn.decided_at))
    for nudge in rows.nudges:
        if nudge.step_id in lines:
            lines[nudge.step_id].nudges.append(TimelineNudgeLine(
                names.get(nudge.person_id, "?"), nudge.level, nudge.sent_at or nudge.created_at,
                nudge.sent_at is not None, nudge.late))
    return Timeline(rows.case, names.get(rows.case.submitter_id, "?"), list(lines.values()))
