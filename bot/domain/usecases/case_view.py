"""What a case looks like now, for its cards and lists: steps of every round, their lanes,
who holds which turn, lights, CC and comments. Read-only."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.rules.calendar import DayCount, WorkCalendar
from bot.domain.rules.casetypes import CaseType
from bot.domain.rules.lights import light
from bot.domain.rules.policy import Policy
from bot.domain.rules.turns import holds_turn
from bot.domain.rules.vocabulary import AssignmentState, CaseState, LaneState, Light, StepState
from bot.domain.usecases.approvals import case_type_of
from storage.models import (
    Assignment,
    Attachment,
    Case,
    Comment,
    Lane,
    MissingItem,
    Person,
    Project,
    Step,
)
from storage.store import Store


@dataclass
class AssignmentView:
    assignment: Assignment
    person: Person
    on_behalf_of: Person | None = None

    @property
    def state(self) -> AssignmentState:
        return self.assignment.state


@dataclass
class LaneView:
    lane: Lane
    assignments: list[AssignmentView]
    light: Light | None  # open lanes of an open step only

    def live(self) -> list[AssignmentView]:
        return [a for a in self.assignments
                if a.state not in (AssignmentState.TRANSFERRED, AssignmentState.CANCELLED)
                or a.assignment.decision]


@dataclass
class StepView:
    step: Step
    lanes: list[LaneView]
    light: Light | None
    left: DayCount | None
    cc: list[Person] = field(default_factory=list)

    @property
    def joint(self) -> bool:
        return len(self.lanes) > 1

    @property
    def state(self) -> StepState:
        return self.step.state

    def pending(self) -> list[AssignmentView]:
        """Whoever holds a turn in this step now (:func:`holds_turn`)."""
        return [a for lane in self.lanes for a in lane.assignments
                if holds_turn(self.step, a.assignment)]


@dataclass
class CaseView:
    case: Case
    case_type: CaseType
    project: Project
    submitter: Person
    steps: list[StepView]
    attachments: list[Attachment] = field(default_factory=list)
    comments: list[tuple[Comment, Person]] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)
    missing: list[MissingItem] = field(default_factory=list)  # 容缺受理: owed by a date

    @property
    def state(self) -> CaseState:
        return self.case.state

    @property
    def current(self) -> StepView | None:
        """The open or paused step of the current round."""
        return next((s for s in self.steps if s.step.round == self.case.round
                     and s.state in (StepState.OPEN, StepState.PAUSED)), None)

    def rounds(self) -> list[int]:
        return sorted({s.step.round for s in self.steps})


async def case_view(store: Store, case_id: int, now: datetime, calendar: WorkCalendar,
                    policy: Policy) -> CaseView:
    """The case as its cards show it, read in a fixed number of queries (``Store.case_rows``
    and one for the people in it)."""
    rows = await store.case_rows(case_id)
    assert rows is not None
    wanted = {a.person_id for a in rows.assignments}
    wanted |= {a.on_behalf_of_id for a in rows.assignments if a.on_behalf_of_id}
    wanted |= {c.author_id for c in rows.comments}
    cc_of = {s.id: [int(i) for i in json.loads(s.cc or "[]")] for s in rows.steps}
    wanted |= {i for ids in cc_of.values() for i in ids}
    people = await store.by_ids(Person, sorted(wanted - {rows.submitter.id}))
    people[rows.submitter.id] = rows.submitter
    lanes_of: dict[int, list[Lane]] = {}
    for lane in rows.lanes:
        lanes_of.setdefault(lane.step_id, []).append(lane)
    steps = []
    for step in rows.steps:
        is_open = step.state == StepState.OPEN
        lanes = []
        for lane in lanes_of.get(step.id or 0, []):
            views = [AssignmentView(a, people[a.person_id],
                                    people.get(a.on_behalf_of_id) if a.on_behalf_of_id else None)
                     for a in rows.assignments if a.lane_id == lane.id]
            lane_light = (light(now, lane.due_at, calendar, policy, lane.limit_days)
                          if is_open and lane.state == LaneState.OPEN and lane.due_at else None)
            lanes.append(LaneView(lane, views, lane_light))
        step_light = left = None
        if is_open and step.due_at is not None:
            step_light = light(now, step.due_at, calendar, policy, step.limit_days)
            left = calendar.remaining_working_days(now, step.due_at)
        cc = [people[i] for i in cc_of[step.id] if i in people]
        steps.append(StepView(step, lanes, step_light, left, cc))
    steps.sort(key=lambda s: (s.step.round, s.step.seq))
    comments = [(comment, people[comment.author_id]) for comment in rows.comments]
    return CaseView(rows.case, case_type_of(rows.case), rows.project, rows.submitter, steps,
                    rows.attachments, comments, json.loads(rows.case.details or "{}"),
                    rows.missing)


@dataclass
class PendingItem:
    view: CaseView
    step: StepView
    assignment: AssignmentView


async def pending_for(store: Store, person_id: int, now: datetime, calendar: WorkCalendar,
                      policy: Policy) -> list[PendingItem]:
    """Every open turn of this person, oldest first (newest last)."""
    mine = await store.pending_assignments(person_id)
    items = []
    views: dict[int, CaseView] = {}
    for assignment in mine:
        step = await store.get(Step, assignment.step_id)
        if step is None or not holds_turn(step, assignment):
            continue
        if step.case_id not in views:
            views[step.case_id] = await case_view(store, step.case_id, now, calendar, policy)
        view = views[step.case_id]
        step_view = next(s for s in view.steps if s.step.id == step.id)
        held = next(a for lane in step_view.lanes for a in lane.assignments
                    if a.assignment.id == assignment.id)
        items.append(PendingItem(view, step_view, held))
    return items
