"""Approvals: a handler submits an item; the leader in charge (or the B post) decides.

A decision is recorded once: the step row is updated with compare-and-set on its
version, so of two simultaneous presses exactly one wins and the other is told who
decided. Every press is re-checked against the database: the presser must hold an
undecided assignment in a step that is still open.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain import steps as machine
from bot.domain.calendar import WorkCalendar
from bot.domain.errors import (
    AlreadyDecided,
    EmptyText,
    NoApprover,
    NotYourTurn,
    StaleCard,
    TooLong,
)
from bot.domain.lights import light
from bot.domain.people import Actor, require_submitter
from bot.domain.policy import Policy
from bot.domain.reporting import FileRef
from bot.domain.vocabulary import CaseState, Decision, Light, StepMode, StepState
from storage.models import Assignment, Attachment, Case, Person, Project, Step
from storage.store import Store

QUERY_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
DEFAULT_CASE_TYPE = "item"
CAS_ATTEMPTS = 5  # a countersign step may see several decisions race; each retry re-reads


@dataclass
class AssignmentView:
    assignment: Assignment
    person: Person
    on_behalf_of: Person | None = None


@dataclass
class StepView:
    step: Step
    assignments: list[AssignmentView]
    light: Light | None  # None once closed


@dataclass
class CaseView:
    case: Case
    project: Project
    submitter: Person
    steps: list[StepView]
    attachments: list[Attachment] = field(default_factory=list)

    @property
    def current(self) -> StepView | None:
        return next((s for s in self.steps if s.step.state == StepState.OPEN), None)

    def decided(self) -> list[AssignmentView]:
        return [a for s in self.steps for a in s.assignments if a.assignment.decision]


@dataclass(frozen=True)
class DecisionResult:
    case_id: int
    step_id: int
    decision: Decision
    case_closed: bool


def new_query_code() -> str:
    return "".join(secrets.choice(QUERY_CODE_ALPHABET) for _ in range(8))


async def approvers_for(store: Store, project: Project) -> list[Person]:
    """The leader in charge and, when set, their B post."""
    if project.leader_id is None:
        return []
    leader = await store.get(Person, project.leader_id)
    if leader is None or not leader.active:
        return []
    people = [leader]
    if leader.backup_id is not None:
        backup = await store.get(Person, leader.backup_id)
        if backup is not None and backup.active:
            people.append(backup)
    return people


async def submit_case(store: Store, actor: Actor, project: Project, *, title: str,
                      files: list[FileRef], now: datetime, calendar: WorkCalendar,
                      policy: Policy) -> CaseView:
    await require_submitter(store, actor, project)
    title = " ".join(title.split())
    if not title:
        raise EmptyText(what="title")
    if len(title) > policy.title_max_chars:
        raise TooLong(length=len(title), limit=policy.title_max_chars)
    approvers = await approvers_for(store, project)
    if not approvers:
        raise NoApprover(project=project.code)
    assert project.id is not None
    case = await store.save(Case(
        project_id=project.id, type_code=DEFAULT_CASE_TYPE, title=title, submitter_id=actor.id,
        state=CaseState.PENDING, query_code=new_query_code(), created_at=now,
    ))
    assert case.id is not None
    deadline = calendar.deadline(now, policy.approval_limit_days)
    step = await store.save(Step(
        case_id=case.id, seq=1, name="leader", limit_days=policy.approval_limit_days,
        mode=StepMode.ANY if len(approvers) > 1 else StepMode.SINGLE, state=StepState.OPEN,
        started_at=now, due_at=deadline.due, due_uncertain=deadline.uncertain,
    ))
    assert step.id is not None
    for person in approvers:
        assert person.id is not None
        store.add(Assignment(step_id=step.id, person_id=person.id))
    for ref in files:
        store.add(Attachment(case_id=case.id, kind=ref.kind, file_id=ref.file_id,
                             file_unique_id=ref.file_unique_id, file_name=ref.file_name,
                             mime_type=ref.mime_type, file_size=ref.file_size))
    await store.flush()
    await store.audit(at=now, actor_id=actor.id, action="case.submitted", subject=f"case:{case.id}",
                      data={"project": project.code, "title": title,
                            "approvers": [p.id for p in approvers],
                            "due": deadline.due.isoformat()})
    assert case.id is not None
    return await case_view(store, case.id, now, calendar, policy)


async def check_press(store: Store, actor: Actor, step_id: int) -> tuple[Step, Assignment]:
    """Re-check a press against the database; raises a refusal saying why it can't count."""
    step = await store.get(Step, step_id)
    if step is None:
        raise StaleCard()
    if step.state != StepState.OPEN:
        raise await _already_decided(store, step)
    mine = [a for a in await store.assignments(step_id) if a.person_id == actor.id]
    if not mine:
        raise NotYourTurn()
    pending = [a for a in mine if a.decision is None]
    if not pending:
        raise await _already_decided(store, step)
    return step, pending[0]


async def decide(store: Store, actor: Actor, step_id: int, decision: Decision, *,
                 reason: str | None, now: datetime, policy: Policy) -> DecisionResult:
    """Record ``actor``'s decision once; commits. Raises a refusal (nothing changed) otherwise."""
    if decision is Decision.RETURN:
        reason = (reason or "").strip()
        if not reason:
            raise EmptyText(what="reason")
        if len(reason) > policy.reason_max_chars:
            raise TooLong(length=len(reason), limit=policy.reason_max_chars)
    for _attempt in range(CAS_ATTEMPTS):
        # check_press re-reads: a step closed meanwhile raises "already decided".
        step, assignment = await check_press(store, actor, step_id)
        assignments = await store.assignments(step_id)
        decisions = [decision if a.id == assignment.id else _decision(a) for a in assignments]
        new_state = machine.outcome(StepMode(step.mode), decisions)
        values: dict[str, object] = {}
        if new_state != StepState.OPEN:
            machine.check_transition(StepState(step.state), new_state)
            values = {"state": new_state.value, "closed_at": now}
        if await store.compare_and_set_step(step, **values):
            break
    else:
        raise StaleCard()
    assignment.decision = decision.value
    assignment.reason = reason
    assignment.decided_at = now
    assignment.version += 1
    case = await store.get(Case, step.case_id)
    assert case is not None and case.id is not None and step.id is not None
    case_closed = new_state != StepState.OPEN
    if case_closed:
        case.state = CaseState.APPROVED if new_state == StepState.APPROVED else CaseState.RETURNED
        case.closed_at = now
        case.version += 1
    await store.audit(at=now, actor_id=actor.id, action=f"case.{decision.value}",
                      subject=f"case:{case.id}",
                      data={"step": step.id, "assignment": assignment.id, "reason": reason,
                            "step_state": new_state.value})
    await store.commit()
    return DecisionResult(case.id, step.id, decision, case_closed)


async def record_refused_press(store: Store, *, actor_id: int | None, tg_user_id: int,
                               data: str, why: str, now: datetime) -> None:
    """Forged, stale or foreign presses leave a trace in the audit trail."""
    await store.audit(at=now, actor_id=actor_id, action="press.refused", subject="callback",
                      data={"tg_user_id": tg_user_id, "data": data, "why": why})
    await store.commit()


async def case_view(store: Store, case_id: int, now: datetime, calendar: WorkCalendar,
                    policy: Policy) -> CaseView:
    case = await store.get(Case, case_id)
    assert case is not None
    project = await store.get(Project, case.project_id)
    submitter = await store.get(Person, case.submitter_id)
    assert project is not None and submitter is not None
    views = []
    for step in await store.steps(case_id):
        assert step.id is not None
        people = []
        for a in await store.assignments(step.id):
            person = await store.get(Person, a.person_id)
            assert person is not None
            behalf = await store.get(Person, a.on_behalf_of_id) if a.on_behalf_of_id else None
            people.append(AssignmentView(a, person, behalf))
        is_open = step.state == StepState.OPEN and step.due_at is not None
        step_light = light(now, step.due_at, calendar, policy) if is_open else None  # type: ignore[arg-type]
        views.append(StepView(step, people, step_light))
    return CaseView(case, project, submitter, views, await store.attachments(case_id=case_id))


async def _already_decided(store: Store, step: Step) -> AlreadyDecided | StaleCard:
    assert step.id is not None
    for a in await store.assignments(step.id):
        if a.decision is not None:
            person = await store.get(Person, a.person_id)
            return AlreadyDecided(by=person.name if person else "?", decision=a.decision,
                                  at=a.decided_at)
    return StaleCard()


def _decision(assignment: Assignment) -> Decision | None:
    return Decision(assignment.decision) if assignment.decision else None
