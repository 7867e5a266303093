"""Cases moving through their steps: submit, decide, return, resubmit, withdraw, transfer,
add a signer.

Every change to a step goes through compare-and-set on the step's version, so of two
simultaneous presses exactly one lands and the other is re-checked against what the
first did. Every press is re-checked against the database: the presser must hold a
pending assignment in a step that is still open. Each function writes an audit event and
flushes (the update's edge commits), or raises a refusal and changes nothing.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from bot.domain.rules import steps as machine
from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.casetypes import (
    AssigneeRule,
    CaseType,
    LaneSpec,
    StepSpec,
    TimeoutPolicy,
    from_snapshot,
    to_snapshot,
)
from bot.domain.rules.errors import (
    AlreadyDecided,
    BadReturnTarget,
    CaseClosed,
    EmptyText,
    MissingField,
    NoApprover,
    NotAllowed,
    NotYetYourTurn,
    NotYourTurn,
    StaleCard,
    TooLong,
    Transferred,
)
from bot.domain.rules.policy import Policy
from bot.domain.rules.turns import turn_holders
from bot.domain.rules.vocabulary import (
    AssignmentState,
    CaseState,
    Decision,
    LaneState,
    OutcomeEvent,
    Role,
    StepMode,
    StepState,
)
from bot.domain.usecases.assignees import Assignee, resolve_all, with_delegation
from bot.domain.usecases.colleagues import check_candidate
from bot.domain.usecases.people import Actor, require_submitter
from bot.domain.usecases.reporting import FileRef
from storage.models import Assignment, Attachment, Case, Comment, Lane, Person, Project, Step
from storage.store import Store

QUERY_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CAS_ATTEMPTS = 8  # decisions on one step may race; each retry re-reads everything
ACTIVE = (AssignmentState.PENDING, AssignmentState.WAITING)
# When a step's own rule names nobody any more, it falls to the leader in charge, then admins.
FALLBACK_RULES = (AssigneeRule("project_leader", None),)


@dataclass(frozen=True)
class Outcome:
    """What a change did, for the bot to announce (cards are re-synced from the database)."""

    case_id: int
    step_id: int | None
    event: OutcomeEvent


def new_query_code() -> str:
    return "".join(secrets.choice(QUERY_CODE_ALPHABET) for _ in range(8))


# Cases stored before case types existed carry no snapshot; they were all this kind.
LEGACY_ITEM = CaseType(
    code="item", name="一般事项审批", name_en="Item for approval",
    steps=(StepSpec("leader", "Leader in charge", (LaneSpec(
        "leader", "Leader in charge", StepMode.ANY,
        (AssigneeRule("project_leader"), AssigneeRule("leader_backup")), 3),)),))


def case_type_of(case: Case) -> CaseType:
    """The case type as it was when the case was submitted."""
    return case_type_from(case.definition)


def case_type_from(definition: str) -> CaseType:
    """The case type a stored definition (a case's snapshot) describes."""
    try:
        return from_snapshot(json.loads(definition or "{}"))
    except ValueError:
        return LEGACY_ITEM


# -- submitting -------------------------------------------------------------------------------


async def submit_case(store: Store, actor: Actor, project: Project, case_type: CaseType, *,
                      title: str, details: dict[str, str], files: list[FileRef],
                      green_channel: bool, now: datetime, calendar: WorkCalendar,
                      policy: Policy) -> Case:
    """Create a case of ``case_type`` and open its first step. Flushes; the edge commits."""
    await require_submitter(store, actor, project)
    title = " ".join(title.split())
    if not title:
        raise EmptyText(what="title")
    if len(title) > policy.title_max_chars:
        raise TooLong(length=len(title), limit=policy.title_max_chars)
    details = _check_details(case_type, details)
    case = Case(project_id=project.id, type_code=case_type.code,
                definition=json.dumps(to_snapshot(case_type), ensure_ascii=False),
                details=json.dumps(details, ensure_ascii=False), title=title,
                green_channel=green_channel, submitter_id=actor.id, state=CaseState.PENDING,
                query_code=new_query_code(), created_at=now)
    # Who decides the first step must be known before anything is written.
    first = case_type.steps[0]
    lanes = [await _assignees(store, lane.assignees, case, project, now, calendar)
             for lane in first.lanes]
    if any(not people for people in lanes):
        raise NoApprover(project=project.code, step=first.name)
    await store.save(case)
    steps = await _create_round(store, case, case_type, 1, 1)
    await _open_step(store, case, project, steps[0], first, now, calendar, chosen=lanes)
    for ref in files:
        store.add(_attachment(case.id, ref))
    await store.flush()
    await store.audit(at=now, actor_id=actor.id, action="case.submitted", subject=f"case:{case.id}",
                      data={"project": project.code, "type": case_type.code, "title": title,
                            "green_channel": green_channel, "due": _iso(steps[0].due_at)})
    await store.flush()
    return case


def _check_details(case_type: CaseType, details: dict[str, str]) -> dict[str, str]:
    clean: dict[str, str] = {}
    for field in case_type.fields:
        value = " ".join(details.get(field.key, "").split())
        if field.required and not value:
            raise MissingField(field=field.label)
        if len(value) > field.max_length:
            raise TooLong(length=len(value), limit=field.max_length)
        if value:
            clean[field.key] = value
    return clean


async def _create_round(store: Store, case: Case, case_type: CaseType, round_: int,
                        from_seq: int) -> list[Step]:
    """Step rows (waiting) for steps ``from_seq``… of the type, in round ``round_``."""
    created = []
    for seq, spec in enumerate(case_type.steps, start=1):
        if seq < from_seq:
            continue
        created.append(await store.save(Step(
            case_id=case.id, round=round_, seq=seq, name=spec.name, name_en=spec.name_en,
            mode=StepMode.JOINT if spec.joint else spec.lanes[0].mode,
            limit_days=case_type.limit_for(max(spec.lanes, key=lambda lane: lane.limit_days),
                                           case.green_channel),
            timeout_policy=spec.timeout, state=StepState.WAITING)))
    return created


async def _assignees(store: Store, rules: tuple[AssigneeRule, ...], case: Case,
                     project: Project, now: datetime, calendar: WorkCalendar) -> list[Assignee]:
    people = await resolve_all(store, rules, case, project)
    return await with_delegation(store, people, now.astimezone(calendar.tz).date())


async def _open_step(store: Store, case: Case, project: Project, step: Step, spec: StepSpec,
                     now: datetime, calendar: WorkCalendar,
                     chosen: list[list[Assignee]] | None = None) -> None:
    """Open a waiting step: its lanes, their assignments and due times, its CC list."""
    case_type = case_type_of(case)
    dues = []
    for index, lane_spec in enumerate(spec.lanes):
        people = chosen[index] if chosen else await _assignees(
            store, lane_spec.assignees, case, project, now, calendar)
        if not people:  # nobody matches the rule any more: the leader in charge, then admins
            fallback = await resolve_all(store, FALLBACK_RULES, case, project)
            fallback += await store.people_with_role(Role.ADMIN)
            people = await with_delegation(store, fallback[:1],
                                           now.astimezone(calendar.tz).date())
        if not people:
            raise NoApprover(project=project.code, step=spec.name)
        limit = case_type.limit_for(lane_spec, case.green_channel)
        deadline = calendar.deadline(now, limit)
        dues.append(deadline)
        lane = await store.save(Lane(
            step_id=step.id, seq=index + 1, name=lane_spec.name, name_en=lane_spec.name_en,
            mode=lane_spec.mode, limit_days=limit, state=LaneState.OPEN, due_at=deadline.due,
            due_uncertain=deadline.uncertain))
        for assignee in people:
            store.add(_assignment(step, lane, assignee, now))
    latest = max(dues, key=lambda d: d.due)  # a joint step is due with its slowest department
    cc = await resolve_all(store, spec.cc, case, project)
    step.state, step.started_at = StepState.OPEN, now
    step.due_at, step.due_uncertain = latest.due, any(d.uncertain for d in dues)
    step.cc = json.dumps([p.id for p in cc])
    await store.save(step)


def _assignment(step: Step, lane: Lane, assignee: Assignee, now: datetime, **values: object
                ) -> Assignment:
    on_behalf = assignee.on_behalf_of.id if assignee.on_behalf_of else None
    return Assignment(step_id=step.id, lane_id=lane.id, person_id=assignee.id,
                      on_behalf_of_id=on_behalf, created_at=now, **values)  # type: ignore[arg-type]


def _attachment(case_id: int, ref: FileRef) -> Attachment:
    return Attachment(case_id=case_id, kind=ref.kind, file_id=ref.file_id,
                      file_unique_id=ref.file_unique_id, file_name=ref.file_name,
                      mime_type=ref.mime_type, file_size=ref.file_size)


# -- deciding ---------------------------------------------------------------------------------


async def check_press(store: Store, actor: Actor, step_id: int) -> tuple[Step, Assignment]:
    """Re-check a press against the database; raises a refusal saying why it can't count."""
    step, _, held, _ = await _held_turn(store, actor, step_id)
    return step, held


async def _held_turn(store: Store, actor: Actor,
                     step_id: int) -> tuple[Step, Case, Assignment, list[Assignment]]:
    """:func:`check_press`, with the step's case and every assignment of the step as read."""
    found = await store.step_with_case(step_id)
    if found is None:
        raise StaleCard()
    step, case = found
    everyone = await store.assignments(step_id)
    mine = [a for a in everyone if a.person_id == actor.id]
    if step.state in (StepState.PAUSED, StepState.WITHDRAWN):
        raise CaseClosed(state=case.state)
    if step.state != StepState.OPEN:
        raise await _already_decided(store, step)
    held = turn_holders(step, mine)
    if held:
        return step, case, held[-1], everyone
    by_state = {a.state: a for a in mine}
    if AssignmentState.WAITING in by_state:
        waiting = by_state[AssignmentState.WAITING]
        first = await store.get(Assignment, waiting.waits_for_id) if waiting.waits_for_id else None
        who = await store.get(Person, first.person_id) if first else None
        raise NotYetYourTurn(waiting_for=who.name if who else "?")
    if AssignmentState.TRANSFERRED in by_state and not (
            by_state.keys() & {AssignmentState.DECIDED, AssignmentState.CANCELLED}):
        gone = by_state[AssignmentState.TRANSFERRED]
        successor = await store.successor_of(gone.id or 0)
        to = await store.get(Person, successor.person_id) if successor else None
        raise Transferred(to=to.name if to else "?")
    if mine:
        raise await _already_decided(store, step)
    raise NotYourTurn()


async def decide(store: Store, actor: Actor, step_id: int, decision: Decision, *,
                 reason: str | None = None, comment: str | None = None,
                 return_to: int | None = None, now: datetime, calendar: WorkCalendar,
                 policy: Policy) -> Outcome:
    """Record ``actor``'s decision once. A return goes to the submitter for supplement (the
    clock stops) or, with ``return_to``, to that earlier step of the case. Flushes; the edge
    commits."""
    reason, comment = _checked_text(reason, policy), _checked_text(comment, policy)
    if decision is Decision.RETURN and not reason:
        raise EmptyText(what="reason")
    for _attempt in range(CAS_ATTEMPTS):
        step, case, mine, everyone = await _held_turn(store, actor, step_id)
        if return_to is not None and not 1 <= return_to < step.seq:
            raise BadReturnTarget()
        lanes = {lane.id: lane for lane in await store.lanes(step_id)}
        lane_states = {}
        for lane_id, lane in lanes.items():
            votes = [_vote(a, decision if a.id == mine.id else None) for a in everyone
                     if a.lane_id == lane_id]
            lane_states[lane_id] = machine.lane_outcome(lane.mode, votes)
        state = machine.step_outcome(lane_states.values())
        if state is StepState.RETURNED and return_to is None:
            state = StepState.PAUSED
        values: dict[str, object] = {}
        if state is not StepState.OPEN:
            machine.check_transition(step.state, state)
            values["state"] = state
            values["paused_at" if state is StepState.PAUSED else "closed_at"] = now
        if await store.compare_and_set_step(step, **values):
            break
    else:
        raise StaleCard()
    mine.state, mine.decision, mine.decided_at = AssignmentState.DECIDED, decision, now
    mine.reason, mine.comment, mine.version = reason, comment, mine.version + 1
    lane = lanes[mine.lane_id]
    lane.state = lane_states[mine.lane_id]
    mode = lane.mode
    opened: list[Assignment] = []
    for other in everyone:
        if other.id == mine.id or other.state not in ACTIVE:
            continue
        same_lane = other.lane_id == mine.lane_id
        if state in (StepState.APPROVED, StepState.RETURNED):
            other.state = AssignmentState.CANCELLED  # the step is over for everyone
        elif decision is Decision.RETURN and same_lane:
            other.state = AssignmentState.CANCELLED  # the lane starts afresh on resubmission
        elif other.waits_for_id == mine.id:
            opened.append(other)  # an added signer's turn comes
        elif same_lane and not other.added and machine.others_released(mode, decision,
                                                                          mine.added):
            other.state = AssignmentState.CANCELLED  # or-sign: someone already decided
    # A turn that waited on one no longer needed (the or-sign was settled) is due now too.
    ended = {a.id for a in everyone if a.state == AssignmentState.CANCELLED}
    opened += [a for a in everyone if a.state == AssignmentState.WAITING
               and a.waits_for_id in ended and a not in opened]
    for turn in opened:
        turn.state = AssignmentState.PENDING
        turn.version += 1  # a turn that (re)opens is announced afresh
    event = OutcomeEvent.APPROVED
    if state is StepState.APPROVED:
        event = await _after_step(store, case, step, now, calendar)
    elif state is StepState.PAUSED:
        event = OutcomeEvent.RETURNED
        for open_lane in lanes.values():
            if open_lane.state != LaneState.APPROVED and open_lane.due_at is not None:
                left = calendar.remaining_working_days(now, open_lane.due_at).days
                open_lane.remaining_days = max(left, 0)
        case.state = CaseState.SUPPLEMENT
    elif state is StepState.RETURNED:
        event = OutcomeEvent.RETURNED_TO_STEP
        assert return_to is not None
        case.round += 1
        case_type = case_type_of(case)
        new_steps = await _create_round(store, case, case_type, case.round, return_to)
        await _open_step(store, case, await _project_of(store, case), new_steps[0],
                         case_type.steps[return_to - 1], now, calendar)
    case.version += 1
    await store.flush()
    await store.audit(at=now, actor_id=actor.id, action=f"case.{decision.value}",
                      subject=f"case:{case.id}",
                      data={"step": step.id, "assignment": mine.id, "reason": reason,
                            "comment": comment, "return_to": return_to, "step_state": state,
                            "on_behalf_of": mine.on_behalf_of_id})
    await store.flush()
    return Outcome(case.id, step.id, event)


async def _after_step(store: Store, case: Case, step: Step, now: datetime,
                      calendar: WorkCalendar) -> OutcomeEvent:
    """A step was approved: open the next one, or approve the case."""
    case_type = case_type_of(case)
    # A round holds every step from where it began to the last, so the last needs no look.
    following = (await store.step_at(step.case_id, case.round, step.seq + 1)
                 if step.seq < len(case_type.steps) else None)
    if following is None:
        case.state, case.closed_at = CaseState.APPROVED, now
        return OutcomeEvent.APPROVED_CASE
    spec = case_type.steps[following.seq - 1]
    await _open_step(store, case, await _project_of(store, case), following, spec, now,
                     calendar)
    return OutcomeEvent.APPROVED_STEP


async def _project_of(store: Store, case: Case) -> Project:
    project = await store.get(Project, case.project_id)
    assert project is not None
    return project


def _vote(assignment: Assignment, decision: Decision | None) -> machine.Vote:
    if decision is not None:
        return machine.Vote(AssignmentState.DECIDED, decision, assignment.added)
    return machine.Vote(assignment.state, assignment.decision, assignment.added)


def _checked_text(text: str | None, policy: Policy) -> str | None:
    text = (text or "").strip() or None
    if text is not None and len(text) > policy.reason_max_chars:
        raise TooLong(length=len(text), limit=policy.reason_max_chars)
    return text


async def _already_decided(store: Store, step: Step) -> AlreadyDecided | StaleCard:
    """Who settled this: the newest decision in the step (or the withdrawal)."""
    decided = [a for a in await store.assignments(step.id) if a.decision]
    if decided:
        last = max(decided, key=lambda a: (a.decided_at or step.started_at, a.id or 0))
        person = await store.get(Person, last.person_id)
        return AlreadyDecided(by=person.name if person else "?", decision=last.decision,
                              at=last.decided_at)
    return StaleCard()


async def deemable_steps(store: Store, now: datetime) -> list[int]:
    """Open steps past their due whose type says silence means approval (超时默许)."""
    return await store.deemable_step_ids(now)


async def deem_approved(store: Store, step_id: int, *, now: datetime,
                        calendar: WorkCalendar) -> Outcome | None:
    """Approve a step by its timeout policy: nobody decided in time. Flushes; None when the
    step was decided (or deemed by another process) meanwhile."""
    step = await store.get(Step, step_id)
    if step is None or step.state != StepState.OPEN or step.due_at is None or step.due_at > now:
        return None
    if step.timeout_policy != TimeoutPolicy.DEEMED_APPROVAL:
        return None
    if not await store.compare_and_set_step(step, state=StepState.APPROVED,
                                            closed_at=now, deemed=True):
        return None
    for lane in await store.lanes(step_id):
        if lane.state == LaneState.OPEN:
            lane.state = LaneState.APPROVED
    for assignment in await store.assignments(step_id):
        if assignment.state in ACTIVE:
            assignment.state = AssignmentState.CANCELLED
    case = await store.get(Case, step.case_id)
    assert case is not None
    event = await _after_step(store, case, step, now, calendar)
    case.version += 1
    await store.flush()
    await store.audit(at=now, actor_id=None, action="case.deemed_approved",
                      subject=f"case:{case.id}",
                      data={"step": step_id, "due": _iso(step.due_at), "then": event})
    await store.flush()
    return Outcome(case.id, step_id, event)


async def record_refused_press(store: Store, *, actor_id: int | None, tg_user_id: int,
                               data: str, why: str, now: datetime) -> None:
    """Forged, stale or foreign presses leave a trace in the audit trail."""
    await store.audit(at=now, actor_id=actor_id, action="press.refused", subject="callback",
                      data={"tg_user_id": tg_user_id, "data": data, "why": why})
    await store.flush()


# -- the submitter: supplement and withdraw ------------------------------------------------


async def resubmit(store: Store, actor: Actor, case_id: int, *, note: str | None,
                   files: list[FileRef], now: datetime, calendar: WorkCalendar,
                   policy: Policy) -> Outcome:
    """The supplement is in: the paused step runs again with the working days it had left."""
    case = await own_case(store, actor, case_id)
    if case.state != CaseState.SUPPLEMENT:
        raise CaseClosed(state=case.state)
    note = _checked_text(note, policy)
    step = await store.paused_step(case_id, case.round)
    if step is None or not await store.compare_and_set_step(
            step, state=StepState.OPEN, paused_at=None):
        raise StaleCard()
    everyone = await store.assignments(step.id)
    dues = []
    for lane in await store.lanes(step.id):
        if lane.state == LaneState.APPROVED:
            continue
        deadline = calendar.deadline(now, lane.remaining_days or 0)
        lane.due_at, lane.due_uncertain = deadline.due, deadline.uncertain
        lane.remaining_days = None
        dues.append(deadline)
        if lane.state == LaneState.RETURNED:  # everyone of the lane looks again
            lane.state = LaneState.OPEN
            again = [a for a in everyone if a.lane_id == lane.id and a.state in (
                AssignmentState.DECIDED, AssignmentState.CANCELLED)]
            await _run_lane_again(store, step, lane, again, now, calendar)
    if dues:
        step.due_at = max(d.due for d in dues)
        step.due_uncertain = any(d.uncertain for d in dues)
    case.state = CaseState.PENDING
    case.version += 1
    # The clock runs against a new due: yellow and red may come again for it.
    await store.retire_claims("step", step.id, f"v{step.version}")
    for ref in files:
        store.add(_attachment(case_id, ref))
    if note:  # what the submitter says with the supplement is shown on the card
        store.add(Comment(case_id=case_id, author_id=actor.id, text=note, created_at=now))
    await store.flush()
    await store.audit(at=now, actor_id=actor.id, action="case.resubmitted",
                      subject=f"case:{case_id}",
                      data={"step": step.id, "note": note, "files": len(files),
                            "due": _iso(step.due_at)})
    await store.flush()
    return Outcome(case_id, step.id, OutcomeEvent.RESUBMITTED)


async def _run_lane_again(store: Store, step: Step, lane: Lane, again: list[Assignment],
                          now: datetime, calendar: WorkCalendar) -> None:
    """Everyone of a returned lane looks again, in the same order: added signers stay added
    and keep waiting on whom they waited on (or on that person's new turn)."""
    day = now.astimezone(calendar.tz).date()
    renewed: dict[int | None, Assignment] = {}
    for old in again:
        original = await store.get(Person, old.on_behalf_of_id or old.person_id)
        if original is None:
            continue
        [assignee] = await with_delegation(store, [original], day)
        old.state = AssignmentState.SUPERSEDED  # its decision stays on the record
        renewed[old.id] = await store.save(_assignment(step, lane, assignee, now,
                                                       added=old.added))
    for old in again:
        new = renewed.get(old.id)
        if new is not None and old.waits_for_id in renewed:
            new.waits_for_id = renewed[old.waits_for_id].id
            new.state = AssignmentState.WAITING


async def withdraw(store: Store, actor: Actor, case_id: int, *, now: datetime) -> Outcome:
    """The submitter takes a pending case back; every open turn ends."""
    case = await own_case(store, actor, case_id)
    if case.state not in (CaseState.PENDING, CaseState.SUPPLEMENT):
        raise CaseClosed(state=case.state)
    current = [s for s in await store.round_steps(case_id, case.round)
               if s.state in (StepState.OPEN, StepState.PAUSED, StepState.WAITING)]
    for step in current:
        if not await store.compare_and_set_step(step, state=StepState.WITHDRAWN,
                                                closed_at=now):
            raise StaleCard()
        for assignment in await store.assignments(step.id):
            if assignment.state in ACTIVE:
                assignment.state = AssignmentState.CANCELLED
    case.state, case.closed_at, case.version = CaseState.WITHDRAWN, now, case.version + 1
    await store.flush()
    await store.audit(at=now, actor_id=actor.id, action="case.withdrawn",
                      subject=f"case:{case_id}", data={})
    await store.flush()
    return Outcome(case_id, None, OutcomeEvent.WITHDRAWN)


async def own_case(store: Store, actor: Actor, case_id: int) -> Case:
    case = await store.get(Case, case_id)
    if case is None:
        raise StaleCard()
    if case.submitter_id != actor.id and not actor.has(Role.ADMIN):
        raise NotAllowed(action="own_case")
    return case


# -- assignees: transfer and add a signer -------------------------------------------------------


async def transfer(store: Store, actor: Actor, step_id: int, to_person_id: int, *,
                   reason: str | None, now: datetime, calendar: WorkCalendar,
                   policy: Policy) -> Outcome:
    """Hand my turn in this step to someone else, with a reason."""
    reason = _checked_text(reason, policy)
    if not reason:
        raise EmptyText(what="reason")
    step, mine = await _my_turn_for_change(store, actor, step_id, to_person_id)
    target = await _target(store, to_person_id, now, calendar)
    mine.state, mine.reason = AssignmentState.TRANSFERRED, reason
    successor = await store.save(Assignment(
        step_id=step.id, lane_id=mine.lane_id, person_id=target.id,
        on_behalf_of_id=target.on_behalf_of.id if target.on_behalf_of else None,
        added=mine.added, waits_for_id=mine.waits_for_id, transferred_from_id=mine.id,
        created_at=now))
    for waiting in await store.waiting_on(step_id, mine.id or 0):
        waiting.waits_for_id = successor.id
    await store.flush()
    await store.audit(at=now, actor_id=actor.id, action="case.transferred",
                      subject=f"case:{step.case_id}",
                      data={"step": step_id, "from": actor.id, "to": target.id, "reason": reason})
    await store.flush()
    return Outcome(step.case_id, step_id, OutcomeEvent.TRANSFERRED)


async def add_signer(store: Store, actor: Actor, step_id: int, person_id: int, *, before: bool,
                     now: datetime, calendar: WorkCalendar) -> Outcome:
    """Someone else must approve too: before me (I wait for them) or after me."""
    step, mine = await _my_turn_for_change(store, actor, step_id, person_id)
    target = await _target(store, person_id, now, calendar)
    signer = Assignment(
        step_id=step.id, lane_id=mine.lane_id, person_id=target.id, added=True,
        on_behalf_of_id=target.on_behalf_of.id if target.on_behalf_of else None,
        state=AssignmentState.PENDING if before else AssignmentState.WAITING,
        waits_for_id=None if before else mine.id, created_at=now)
    await store.save(signer)
    if before:
        mine.state, mine.waits_for_id = AssignmentState.WAITING, signer.id
    await store.flush()
    await store.audit(at=now, actor_id=actor.id, action="case.signer_added",
                      subject=f"case:{step.case_id}",
                      data={"step": step_id, "signer": target.id, "before": before})
    await store.flush()
    return Outcome(step.case_id, step_id, OutcomeEvent.SIGNER_ADDED)


async def _my_turn_for_change(store: Store, actor: Actor, step_id: int,
                              other_id: int) -> tuple[Step, Assignment]:
    """My pending turn, locked against concurrent decisions by bumping the step's version."""
    for _attempt in range(CAS_ATTEMPTS):
        step, mine = await check_press(store, actor, step_id)
        await check_candidate(store, actor, step, mine, other_id)  # the picker's rule too
        if await store.compare_and_set_step(step):
            return step, mine
    raise StaleCard()


async def _target(store: Store, person_id: int, now: datetime,
                  calendar: WorkCalendar) -> Assignee:
    person = await store.get(Person, person_id)
    if person is None or not person.active:
        raise NotAllowed(action="unknown_person")
    [assignee] = await with_delegation(store, [person], now.astimezone(calendar.tz).date())
    return assignee


def _iso(instant: datetime | None) -> str | None:
    return instant.isoformat() if instant else None

