"""Deadline nudges along the escalation ladder, for steps, milestones and missing materials.

Each reached rung is *claimed* for each person it concerns (a row under a unique key:
subject, person, level) and committed before anything is sent, so a level reaches a
person once, whatever restarts or a second process do. A claim that was never marked
sent (the process died in between) is delivered by a later sweep once it is older than
:data:`ABANDONED_AFTER`. An urge notice (催办通知书) is claimed once per late subject.

A sweep costs what is due, not what is open: each step, milestone and missing material
keeps its next moment (``next_at``: the next rung its ladder reaches, the due, or the end of
quiet hours holding a rung back; see ``ladder.next_moment``), and any change to its timing
hands it back to the next sweep (``storage.models.AT_ONCE``). Planning reads the ids of
the subjects whose moment has come only, then their timing a window at a time (and their
cases' ladders, once per case and process), so that a catch-up after a long outage plans
and delivers a bounded part before reading the next. It works out which rungs are in force,
loads the claims already made in one query, and touches the details of a subject only when
it has something new to claim. Those are handled in batches, each a few queries and one
short write; then each subject looked at gets its next moment. The use cases here flush;
the job runner (``bot.jobs.plan_windows``) ends each transaction, so the sweep never holds
SQLite's write lock for long.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from bot.domain.rules.calendar import DayCount, WorkCalendar
from bot.domain.rules.casetypes import TimeoutPolicy
from bot.domain.rules.ladder import (
    DEFAULT_LADDER,
    Audience,
    Ladder,
    Reached,
    RungKind,
    escalated,
    next_moment,
    reached,
)
from bot.domain.rules.policy import Policy
from bot.domain.rules.supervision import ITEM_LADDER, WAITING
from bot.domain.rules.turns import turn_holders
from bot.domain.rules.vocabulary import (
    CaseState,
    Channel,
    MemberRole,
    ProjectStatus,
    Role,
    StepState,
)
from bot.domain.usecases.approvals import case_type_from
from bot.domain.usecases.scope import nearest_with_role
from storage.models import (
    Assignment,
    Case,
    Milestone,
    MissingItem,
    Nudge,
    Person,
    Project,
    Section,
    Step,
    SupervisionItem,
    UrgeNotice,
)
from storage.store import Store

ABANDONED_AFTER = timedelta(minutes=5)
BATCH = 200  # subjects claimed per transaction
STEP, MILESTONE, MISSING, CALENDAR = "step", "milestone", "missing", "calendar"
ITEM = "item"  # a supervision item's nudges: planned and retaken by ``supervision_items``
MISSING_LADDER = Ladder(tuple(r for r in DEFAULT_LADDER.rungs
                              if r.kind in (RungKind.YELLOW, RungKind.RED)))
DONE_PROJECTS = (ProjectStatus.DONE, ProjectStatus.DONE_FOLLOW_UP)


@dataclass
class Subject:
    """What a nudge is about, with what its message needs."""

    kind: str  # step | milestone | missing
    id: int
    project: Project
    title: str  # the case's title, the milestone's, or the missing material's name
    due: datetime
    limit_days: int
    ladder: Ladder
    urgent: bool = False  # a green-channel case may break quiet hours
    case: Case | None = None
    step: Step | None = None
    milestone: Milestone | None = None
    missing: MissingItem | None = None


@dataclass
class PlannedNudge:
    nudge: Nudge
    person: Person
    subject: Subject
    reached: Reached
    left: DayCount
    late: bool


@dataclass
class PlannedUrge:
    urge: UrgeNotice
    subject: Subject
    head: Person | None
    late: bool


@dataclass
class Plan:
    nudges: list[PlannedNudge] = field(default_factory=list)
    urges: list[PlannedUrge] = field(default_factory=list)
    uncertain_years: list[tuple[Nudge, Person, int]] = field(default_factory=list)
    looked_at: list[tuple[int, datetime]] = field(default_factory=list)  # open steps, dues


@lru_cache(maxsize=128)
def ladder_of(definition: str) -> Ladder:
    """The ladder of the case type a case was submitted under, else the bureau's default."""
    return case_type_from(definition).ladder or DEFAULT_LADDER


class CaseLadders:
    """The ladders of the cases the sweep has looked at, kept from sweep to sweep: a case
    keeps the snapshot of its type for life, so its definition is read once per process,
    not every time one of its steps comes due."""

    def __init__(self) -> None:
        self.by_case: dict[int, Ladder] = {}

    async def load(self, store: Store, case_ids: set[int]) -> None:
        """Know the ladders of these cases."""
        missing = [case_id for case_id in case_ids if case_id not in self.by_case]
        for case_id, definition in (await store.case_definitions(missing)).items():
            self.by_case[case_id] = ladder_of(definition)

    def forget(self, case_ids: set[int]) -> None:
        for case_id in case_ids:
            self.by_case.pop(case_id, None)

    def of(self, case: Case) -> Ladder:
        known = self.by_case.get(case.id)
        return known or ladder_of(case.definition)


@dataclass
class _Due:
    """A step, milestone or missing material whose next moment has come, as the sweep saw it."""

    kind: str
    id: int
    seen: tuple[Any, ...]  # its timing when read (Store.set_next_moments compares it)
    due: datetime | None = None  # None: closed, nothing more will happen
    limit_days: int = 0
    ladder: Ladder = DEFAULT_LADDER
    rungs: dict[str, Reached] = field(default_factory=dict)
    uncertain: bool = False  # its due rests on weekends alone (a year the calendar lacks)


Candidate = tuple[str, int, dict[str, Reached]]
Window = dict[str, list[int]]  # the ids of subjects, by kind
NEXT_MOMENTS_PART = 500  # rows whose next moment is written per (short) write transaction
WINDOW = 1000  # subjects planned, then delivered, before the next are read: after a long
# outage everything is due at once, and a whole plan would hold every claim in memory


async def due_windows(store: Store, now: datetime) -> list[Window]:
    """The subjects whose next moment has come, in windows of at most :data:`WINDOW` (one
    window unless a catch-up: a person's nudges then come in a digest per window)."""
    subjects = [(kind, target_id) for kind, ids in (await store.due_ids(now, DONE_PROJECTS)
                                                    ).items() for target_id in ids]
    windows: list[Window] = []
    for start in range(0, len(subjects), WINDOW):
        window: Window = {}
        for kind, target_id in subjects[start:start + WINDOW]:
            window.setdefault(kind, []).append(target_id)
        windows.append(window)
    return windows


class Planning:
    """The planning of one window of a sweep (:func:`due_windows`), a step at a time: the
    caller (the job runner) ends each step's transaction, so that reads hold no lock and
    every batch's claims are committed before anything is sent.

    1. :meth:`read_due` (a reading transaction): the window's subjects whose next moment has
       still come, the rungs in force for each, and the claims already made;
    2. for each of :meth:`batches`: :meth:`want` (reading), then :meth:`claim` (writing);
    3. for each of :meth:`next_moments`: :meth:`settle` (writing): each subject looked at
       gets its next moment, once its claims are kept.

    Once every window is planned and delivered, a last planning's :meth:`finish` retakes
    abandoned claims and undelivered urge notices, and warns of uncertain calendar years.
    """

    def __init__(self, store: Store, now: datetime, calendar: WorkCalendar, policy: Policy,
                 ladders: CaseLadders) -> None:
        self.store, self.now, self.calendar, self.policy = store, now, calendar, policy
        self.ladders = ladders
        self.result = Plan()
        self.planner = _Planner(store, now, calendar, policy, self.result, ladders)
        self.due: list[_Due] = []
        self.claimed: set[tuple[str, int, str]] = set()
        self.new: list[Candidate] = []
        self.held: dict[tuple[str, int], datetime | None] = {}  # skipped: look again then

    async def read_due(self, window: Window) -> None:
        self.due = await _due(self.store, self.now, self.calendar, self.policy, self.ladders,
                              window)
        candidates = [(d.kind, d.id, d.rungs) for d in self.due if d.rungs]
        self.claimed = await self.store.nudge_keys([(kind, target) for kind, target, _
                                                    in candidates])
        self.new = [(kind, target_id, rungs) for kind, target_id, rungs in candidates
                    if not all((kind, target_id, key) in self.claimed for key in rungs)]
        self.result.looked_at = [(d.id, d.due) for d in self.due
                                 if d.kind == STEP and d.due is not None]

    def batches(self) -> list[list[Candidate]]:
        return [self.new[start:start + BATCH] for start in range(0, len(self.new), BATCH)]

    async def want(self, batch: list[Candidate]) -> None:
        """Note what the batch's subjects call for (reads only)."""
        planner, now, calendar = self.planner, self.now, self.calendar
        await planner.prefetch(batch)
        for kind, target_id, rungs in batch:
            subject = await planner.subject(kind, target_id)
            if subject is None:
                self.held[kind, target_id] = None
                continue
            if not self.policy.may_nudge(now, calendar, subject.urgent):
                self.held[kind, target_id] = self.policy.first_sendable(now, calendar,
                                                                        subject.urgent)
                continue
            for rung in rungs.values():
                await planner.want(subject, rung, self.claimed)

    async def claim(self) -> None:
        """Claim what :meth:`want` noted, in one short write."""
        self.claimed |= await self.planner.claim_wanted()

    @property
    def uncertain_years(self) -> set[int]:
        """Years of the dues looked at that rest on weekends alone."""
        return {due.due.year for due in self.due if due.uncertain and due.due is not None}

    async def finish(self, due_years: set[int] | None) -> None:
        """``due_years``: the windows' :attr:`uncertain_years`, or None for every open step's."""
        planner = self.planner
        await planner.retake_abandoned({p.nudge.id for p in self.result.nudges})
        await planner.finish_urges({u.urge.id for u in self.result.urges})
        # A due in an uncovered year is computed when a step opens or resumes, which hands the
        # step to this sweep: its looked-at steps are enough, but for the first sweep of a
        # process (an admin may have been named since).
        await planner.warn_uncertain_years(
            await self.store.uncertain_due_years() if due_years is None else due_years)
        await self.store.flush()

    def next_moments(self) -> list[tuple[str, list[tuple[int, tuple[Any, ...],
                                                         datetime | None]]]]:
        """Each subject looked at with its next moment, in parts of a kind each."""
        by_kind: dict[str, list[tuple[int, tuple[Any, ...], datetime | None]]] = {}
        for due in self.due:
            by_kind.setdefault(due.kind, []).append((due.id, due.seen, self._next(due)))
        return [(kind, rows[start:start + NEXT_MOMENTS_PART]) for kind, rows in by_kind.items()
                for start in range(0, len(rows), NEXT_MOMENTS_PART)]

    async def settle(self, kind: str,
                     rows: list[tuple[int, tuple[Any, ...], datetime | None]]) -> None:
        await self.store.set_next_moments(kind, rows)

    def _next(self, due: _Due) -> datetime | None:
        if due.due is None:
            return None
        moment = next_moment(self.now, due.due, due.limit_days, self.calendar,
                             self.policy.thresholds, due.ladder)
        if all((due.kind, due.id, key) in self.claimed for key in due.rungs):
            return moment
        # A rung in force is still unclaimed: held by quiet hours (until they end), or
        # nobody to tell (looked at again every sweep, in case someone is named meanwhile).
        again = self.held.get((due.kind, due.id), self.now)
        if again is None:
            return moment
        return again if moment is None else min(moment, again)


async def _due(store: Store, now: datetime, calendar: WorkCalendar, policy: Policy,
               ladders: CaseLadders, window: Window) -> list[_Due]:
    """The window's subjects whose next moment has still come, with the rungs in force for
    each (from their timing alone)."""
    found: list[_Due] = []
    if ids := window.get(STEP):
        steps = await store.due_steps(now, ids)
        live = {case_id for _, case_id, state, _, due, *_ in steps
                if state == StepState.OPEN and due is not None}
        ladders.forget({case_id for _, case_id, *_ in steps} - live)
        await ladders.load(store, live)
        for step_id, case_id, state, timeout, due, limit, next_at, uncertain in steps:
            seen: tuple[Any, ...] = (next_at, state, due, limit, timeout)
            if state != StepState.OPEN or due is None:
                found.append(_Due(STEP, step_id, seen))
                continue
            ladder = ladders.by_case.get(case_id, DEFAULT_LADDER)
            rungs = reached(now, due, limit, calendar, policy.thresholds, ladder)
            found.append(_Due(STEP, step_id, seen, due, limit, ladder, _keyed(rungs),
                              uncertain))
    if ids := window.get(MILESTONE):
        for milestone_id, due_on, done_on, next_at in await store.due_milestones(now, ids):
            seen = (next_at, due_on, done_on)
            if done_on is not None:
                found.append(_Due(MILESTONE, milestone_id, seen))
                continue
            due = calendar.close_of(due_on)
            rungs = reached(now, due, 0, calendar, policy.thresholds, DEFAULT_LADDER)
            found.append(_Due(MILESTONE, milestone_id, seen, due, 0, DEFAULT_LADDER,
                              _keyed(rungs)))
    if ids := window.get(MISSING):
        for item_id, supply_by, supplied_at, case_state, next_at in await store.due_missing(
                now, ids):
            seen = (next_at, supply_by, supplied_at)
            if supplied_at is not None or case_state == CaseState.WITHDRAWN:  # for good
                found.append(_Due(MISSING, item_id, seen))
                continue
            due = calendar.close_of(supply_by)
            rungs = reached(now, due, 0, calendar, policy.thresholds, MISSING_LADDER)
            found.append(_Due(MISSING, item_id, seen, due, 0, MISSING_LADDER, _keyed(rungs)))
    return found


@dataclass(frozen=True)
class Upcoming:
    """The next moment the sweep has something to do, and what: the rungs reached then
    (none: the due itself, when a timeout policy acts, or a look again)."""

    at: datetime
    subject: Subject | None  # None: its row went away meanwhile, or a supervision item
    rungs: tuple[RungKind, ...]
    item: SupervisionItem | None = None  # a supervision item's next moment


async def upcoming(store: Store, now: datetime, calendar: WorkCalendar, policy: Policy
                   ) -> Upcoming | None:
    """The earliest next moment after ``now`` among steps, milestones, missing materials and
    supervision items, as the last sweep set it (None: nothing more will happen)."""
    found = await store.earliest_next_moment(now, DONE_PROJECTS)
    if found is None:
        return None
    kind, target_id, at = found
    if kind == ITEM:  # a supervision item: its own ladder, no project
        item = await store.get(SupervisionItem, target_id)
        rungs: tuple[RungKind, ...] = ()
        if item is not None and item.due_at is not None and item.state in WAITING:
            timing = (item.due_at, item.limit_days or 0, calendar, policy.thresholds,
                      ITEM_LADDER)
            before = {r.key for r in reached(now, *timing)}
            rungs = tuple(r.rung.kind for r in reached(at, *timing) if r.key not in before)
        return Upcoming(at, None, rungs, item)
    planner = _Planner(store, now, calendar, policy, Plan(), CaseLadders())
    subject = await planner.subject(kind, target_id)
    if subject is None:
        return Upcoming(at, None, ())
    args = (subject.due, subject.limit_days, calendar, policy.thresholds, subject.ladder)
    before = {r.key for r in reached(now, *args)}
    return Upcoming(at, subject, tuple(r.rung.kind for r in reached(at, *args)
                                       if r.key not in before))


def _from_start(subject: Subject, rung: Reached) -> Reached:
    """A rung is not reached before its subject began: a step of one working day is yellow
    from the close of the working day before it started, yet its nudge is not late when it
    goes out just after the submission (nor does it say it fell due days before)."""
    start = subject.step.started_at if subject.step is not None else (
        subject.missing.created_at if subject.missing is not None else None)
    return replace(rung, since=start) if start is not None and rung.since < start else rung


def _settled(subject: Subject) -> bool:
    """Whether the subject needs no nudge any more: its step is no longer open, its
    milestone is done, its missing material supplied (a retaken claim must not go out)."""
    if subject.step is not None and subject.step.state != StepState.OPEN:
        return True
    if subject.milestone is not None and (subject.milestone.done_on is not None
                                          or subject.project.status in DONE_PROJECTS):
        return True
    return subject.missing is not None and subject.missing.supplied_at is not None


def _keyed(rungs: Iterable[Reached]) -> dict[str, Reached]:
    return {"urge" if r.rung.kind is RungKind.URGE else r.key: r for r in rungs}


@dataclass
class _Wanted:
    """A nudge to claim, waiting for its batch's single INSERT."""

    person: Person
    subject: Subject
    reached: Reached
    left: DayCount
    late: bool


class _Planner:
    """One sweep's claims, with the rows it has looked up (people, projects, and each
    batch's steps, cases and assignments, read in a few queries per batch)."""

    def __init__(self, store: Store, now: datetime, calendar: WorkCalendar, policy: Policy,
                 result: Plan, ladders: CaseLadders) -> None:
        self.store, self.now, self.calendar, self.policy = store, now, calendar, policy
        self.result = result
        self.ladders = ladders
        self.people: dict[int, Person | None] = {}
        self.projects: dict[int, Project | None] = {}
        self.members: dict[tuple[int, str], list[Person]] = {}
        self.heads: dict[int, int | None] = {}
        self.roles: dict[tuple[str, int | None], list[Person]] = {}
        self.steps: dict[int, Step] = {}
        self.cases: dict[int, Case] = {}
        self.assignments: dict[int, list[Assignment]] = {}
        self.wanted: dict[tuple[str, int, int, str], _Wanted] = {}
        self.wanted_urges: dict[tuple[str, int], tuple[Subject, bool]] = {}

    async def prefetch(self, batch: Sequence[tuple[str, int, Any]]) -> None:
        """Read the steps of a batch, their cases and assignments, in a few queries."""
        step_ids = [target_id for kind, target_id, _ in batch if kind == STEP]
        self.steps = await self.store.by_ids(Step, step_ids)
        self.cases = await self.store.by_ids(Case, [s.case_id for s in self.steps.values()])
        self.assignments = await self.store.assignments_of(step_ids)

    async def person(self, person_id: int | None) -> Person | None:
        if person_id is None:
            return None
        if person_id not in self.people:
            self.people[person_id] = await self.store.get(Person, person_id)
        found = self.people[person_id]
        return found if found is not None and found.active else None

    async def project(self, project_id: int) -> Project | None:
        if project_id not in self.projects:
            self.projects[project_id] = await self.store.get(Project, project_id)
        return self.projects[project_id]

    async def subject(self, kind: str, target_id: int) -> Subject | None:
        if kind == STEP:
            step = self.steps.get(target_id) or await self.store.get(Step, target_id)
            case = None if step is None else (
                self.cases.get(step.case_id) or await self.store.get(Case, step.case_id))
            project = await self.project(case.project_id) if case else None
            if step is None or case is None or project is None or step.due_at is None:
                return None
            ladder = self.ladders.of(case)
            if step.timeout_policy == TimeoutPolicy.ESCALATE:
                ladder = escalated(ladder)
            return Subject(STEP, target_id, project, case.title, step.due_at, step.limit_days,
                           ladder, case.green_channel, case=case, step=step)
        if kind == MILESTONE:
            milestone = await self.store.get(Milestone, target_id)
            project = await self.project(milestone.project_id) if milestone else None
            if milestone is None or project is None:
                return None
            return Subject(MILESTONE, target_id, project, milestone.title,
                           self.calendar.close_of(milestone.due_on), 0, DEFAULT_LADDER,
                           project.green_channel, milestone=milestone)
        item = await self.store.get(MissingItem, target_id)
        case = await self.store.get(Case, item.case_id) if item else None
        project = await self.project(case.project_id) if case else None
        if item is None or case is None or project is None:
            return None
        return Subject(MISSING, target_id, project, item.name,
                       self.calendar.close_of(item.supply_by), 0, MISSING_LADDER,
                       case.green_channel, case=case, missing=item)

    async def _members(self, project_id: int, role: str) -> list[Person]:
        if (project_id, role) not in self.members:
            self.members[project_id, role] = list(await self.store.members(project_id, role))
        return self.members[project_id, role]

    async def _with_role(self, role: str, unit_id: int | None = None) -> list[Person]:
        """The role's holders for a unit's project (the nearest level that has any)."""
        if (role, unit_id) not in self.roles:
            self.roles[role, unit_id] = await nearest_with_role(self.store, unit_id, role)
        return self.roles[role, unit_id]

    async def _assignments(self, step_id: int) -> list[Assignment]:
        if step_id not in self.assignments:
            self.assignments[step_id] = await self.store.assignments(step_id)
        return self.assignments[step_id]

    async def audience(self, subject: Subject, audience: tuple[Audience, ...]) -> list[Person]:
        """The people a rung speaks to, each once, in order."""
        project = subject.project
        found: dict[int, Person] = {}
        for who in audience:
            people: list[Person | None] = []
            if who is Audience.HANDLER or (who is Audience.HOLDERS and subject.step is None):
                if subject.case is not None:
                    people = [await self.person(subject.case.submitter_id)]
                else:
                    people = list(await self._members(project.id, MemberRole.HANDLER))
            elif who is Audience.GUIDE:
                people = list(await self._members(project.id, MemberRole.GUIDE))
            elif who is Audience.HOLDERS and subject.step is not None:
                people = [await self.person(a.person_id) for a in
                          turn_holders(subject.step, await self._assignments(subject.id))]
            elif who is Audience.LEADER:
                people = [await self.person(project.leader_id)]
            elif who is Audience.SECTION_HEAD:
                people = [await self.person(await self._head_id(project))]
            elif who is Audience.DIRECTOR:
                people = list(await self._with_role(Role.DIRECTOR, project.unit_id))
            elif who is Audience.SUPERVISION:
                people = list(await self._with_role(Role.SUPERVISOR, project.unit_id))
            for person in people:
                if person is not None and person.active:
                    found.setdefault(person.id, person)
        return list(found.values())

    async def _head_id(self, project: Project) -> int | None:
        if project.id not in self.heads:
            section = await self.store.get(Section, project.section_id) \
                if project.section_id else None
            self.heads[project.id] = section.head_id if section else None
        return self.heads[project.id]

    def _late(self, subject: Subject, since: datetime) -> bool:
        first = self.policy.first_sendable(since, self.calendar, subject.urgent)
        return self.now - first > self.policy.late_after

    async def want(self, subject: Subject, rung: Reached, claimed: set[tuple[str, int, str]]
                   ) -> None:
        """Note the nudges (and the urge notice) a rung in force calls for; nothing is
        written until :meth:`claim_wanted`."""
        # The candidate's rung comes from the case type's ladder; the subject's ladder may
        # widen its audience (``timeout: escalate``): speak to whom the subject's rung says.
        rung = _from_start(subject, replace(
            rung, rung=subject.ladder.rung(rung.rung.kind) or rung.rung))
        late = self._late(subject, rung.since)
        left = self.calendar.remaining_working_days(self.now, subject.due)
        if rung.rung.kind is RungKind.URGE and (subject.kind, subject.id, "urge") not in claimed:
            self.wanted_urges.setdefault((subject.kind, subject.id), (subject, late))
        for person in await self.audience(subject, rung.rung.audience):
            key = (subject.kind, subject.id, person.id, rung.key)
            self.wanted.setdefault(key, _Wanted(person, subject, rung, left, late))

    async def claim_wanted(self) -> set[tuple[str, int, str]]:
        """Claim the batch's urge notices, then its nudges in one statement (a key another
        process claimed first is left to it), and forget the batch's rows. Returns the
        levels now claimed (by this sweep or another)."""
        wanted, self.wanted = self.wanted, {}
        urges, self.wanted_urges = self.wanted_urges, {}
        self.steps, self.cases, self.assignments = {}, {}, {}
        for subject, late in urges.values():
            await self._claim_urge(subject, late)
        claimed = {(n.target_kind, n.target_id, n.person_id, n.level): n
                   for n in await self.store.claim_nudges([
                       {"target_kind": kind, "target_id": target_id, "person_id": person_id,
                        "level": level, "created_at": self.now, "late": item.late}
                       for (kind, target_id, person_id, level), item in wanted.items()])}
        for key, item in wanted.items():  # in the order they were planned
            if key in claimed:
                self.result.nudges.append(PlannedNudge(claimed[key], item.person, item.subject,
                                                       item.reached, item.left, item.late))
        return {(kind, target_id, level) for kind, target_id, _, level in wanted}

    async def _claim_urge(self, subject: Subject, late: bool) -> None:
        project = subject.project
        head_id = await self._head_id(project)
        urge = UrgeNotice(target_kind=subject.kind, target_id=subject.id,
                          project_id=project.id, section_id=project.section_id,
                          head_id=head_id, issued_at=self.now, due_at=subject.due)
        if await self.store.insert_once(urge):
            await self.store.audit(at=self.now, actor_id=None, action="urge.issued",
                                   subject=f"{subject.kind}:{subject.id}",
                                   data={"project": project.code, "head": head_id,
                                         "due": subject.due.isoformat()})
            self.result.urges.append(PlannedUrge(urge, subject, await self.person(head_id),
                                                 late))

    async def finish_urges(self, skip: set[int | None]) -> None:
        """Urge notices with a copy still undelivered (a failed send): delivered now, within
        office hours, as long as the subject is still late."""
        for urge in await self.store.unsent_urges():
            if urge.id in skip or urge.issued_at > self.now - ABANDONED_AFTER:
                continue
            subject = await self.subject(urge.target_kind, urge.target_id)
            if subject is None or not self.policy.may_nudge(self.now, self.calendar,
                                                            subject.urgent):
                continue
            if (subject.step is not None and subject.step.state != StepState.OPEN) or (
                    subject.milestone is not None and subject.milestone.done_on is not None):
                urge.sent_at = self.now  # settled meanwhile: nothing left to urge
                continue
            self.result.urges.append(PlannedUrge(urge, subject,
                                                 await self.person(urge.head_id), True))

    async def retake_abandoned(self, skip: set[int | None]) -> None:
        """Claims a dead process never sent: delivered now, once, by whoever retakes them."""
        for nudge in await self.store.unsent_nudges(claimed_by=self.now - ABANDONED_AFTER):
            if nudge.id in skip or nudge.target_kind not in (STEP, MILESTONE, MISSING, CALENDAR):
                continue  # another kind's claims (the ledger's) are retaken where they are made
            if nudge.target_kind == CALENDAR:
                # An admin's warning that never went out (the send failed): again, once,
                # while the year is still uncovered.
                admin = await self.person(nudge.person_id)
                if admin is None or self.calendar.is_covered(nudge.target_id):
                    nudge.channel, nudge.sent_at = Channel.NONE, self.now
                    nudge.error = "no longer due"
                elif await self.store.retake_nudge(nudge, self.now):
                    self.result.uncertain_years.append((nudge, admin, nudge.target_id))
                continue
            # The case type's own ladder, as when the claim was made (not the default).
            subject = await self.subject(nudge.target_kind, nudge.target_id)
            person = await self.person(nudge.person_id)
            if subject is None or person is None or _settled(subject):
                nudge.channel, nudge.sent_at, nudge.error = Channel.NONE, self.now, "no longer due"
                continue
            if not self.policy.may_nudge(self.now, self.calendar, subject.urgent):
                continue  # quiet hours hold a retaken claim too, like any nudge
            if not await self.store.retake_nudge(nudge, self.now):
                continue  # another process took it first
            rung = next((r for r in reached(self.now, subject.due, subject.limit_days,
                                            self.calendar, self.policy.thresholds,
                                            subject.ladder)
                         if r.key == nudge.level), None)
            if rung is None:
                nudge.channel, nudge.sent_at, nudge.error = Channel.NONE, self.now, "no longer due"
                continue
            rung = _from_start(subject, rung)
            left = self.calendar.remaining_working_days(self.now, subject.due)
            # Late like any nudge: when it could have gone out more than late_after ago.
            nudge.late = late = self._late(subject, rung.since)
            self.result.nudges.append(PlannedNudge(nudge, person, subject, rung, left, late))

    async def warn_uncertain_years(self, due_years: set[int]) -> None:
        """Admins hear once per year that due dates there rest on weekends alone."""
        years = sorted({y for y in due_years if not self.calendar.is_covered(y)})
        for year in years:
            for admin in await self._with_role(Role.ADMIN):
                for nudge in await self.store.claim_nudges([{
                        "target_kind": CALENDAR, "target_id": year, "person_id": admin.id,
                        "level": "uncertain", "created_at": self.now, "late": False}]):
                    self.result.uncertain_years.append((nudge, admin, year))


async def mark_sent(store: Store, nudge: Nudge, *, channel: Channel, at: datetime,
                    error: str | None = None) -> None:
    """Record how a claimed nudge went out (private, group, or none with the reason)."""
    nudge.channel, nudge.sent_at, nudge.error = channel, at, error
    await store.save(nudge)
    await store.audit(at=at, actor_id=None, action=f"nudge.{nudge.level}",
                      subject=f"{nudge.target_kind}:{nudge.target_id}",
                      data={"person": nudge.person_id, "channel": channel, "error": error,
                            "late": nudge.late})


async def mark_urge_delivered(store: Store, urge: UrgeNotice, at: datetime, *, head: bool,
                              office: bool) -> None:
    """Record which copies went out; the notice is done when both have."""
    if head and urge.head_sent_at is None:
        urge.head_sent_at = at
    if office and urge.office_sent_at is None:
        urge.office_sent_at = at
    if urge.office_sent_at is not None and (urge.head_sent_at is not None
                                            or urge.head_id is None):
        urge.sent_at = at
    await store.save(urge)

