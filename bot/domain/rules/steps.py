"""The approval step machine: which transitions exist and what decisions add up to.

Pure rules, no storage. A step has one lane, or several for a joint step (departments in
parallel). A lane's outcome follows from its mode and its assignments:

- ``single`` and ``any`` (or-sign 或签): the first approval of an original assignee counts;
- ``all`` (countersign 会签): every original assignee must approve;
- signers *added* to a lane must approve as well, whatever the mode;
- any return sends the lane, and so the step, back.

A step is approved when every lane is; it is returned when any lane is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.domain.rules.vocabulary import AssignmentState, Decision, LaneState, StepMode, StepState

# Every transition a step may take; anything else is a bug or a forged request.
TRANSITIONS: dict[StepState, frozenset[StepState]] = {
    StepState.WAITING: frozenset({StepState.OPEN, StepState.WITHDRAWN}),
    StepState.OPEN: frozenset({
        StepState.APPROVED,  # every lane approved (or deemed approved on timeout)
        StepState.PAUSED,  # returned to the submitter for supplement: the clock stops
        StepState.RETURNED,  # returned to an earlier step: a new round starts there
        StepState.WITHDRAWN,  # the submitter took the case back
    }),
    StepState.PAUSED: frozenset({StepState.OPEN, StepState.WITHDRAWN}),
    StepState.APPROVED: frozenset(),
    StepState.RETURNED: frozenset(),
    StepState.WITHDRAWN: frozenset(),
}

# Assignments that still take part in deciding a lane.
LIVE = frozenset({AssignmentState.PENDING, AssignmentState.WAITING, AssignmentState.DECIDED})


class TransitionError(ValueError):
    pass


def check_transition(current: StepState, target: StepState) -> None:
    if target not in TRANSITIONS[current]:
        raise TransitionError(f"a step cannot go from {current} to {target}")


@dataclass(frozen=True)
class Vote:
    """One assignment as the lane rule sees it."""

    state: AssignmentState
    decision: Decision | None = None
    added: bool = False


def lane_outcome(mode: StepMode, votes: Iterable[Vote]) -> LaneState:
    live = [v for v in votes if v.state in LIVE]
    if not live:
        raise ValueError("a lane needs at least one assignment")
    if any(v.decision is Decision.RETURN for v in live):
        return LaneState.RETURNED
    original = [v for v in live if not v.added]
    added = [v for v in live if v.added]
    approved = [v.decision is Decision.APPROVE for v in original]
    if mode is StepMode.ALL:
        originals_done = bool(original) and all(approved)
    else:
        originals_done = any(approved) or not original
    if originals_done and all(v.decision is Decision.APPROVE for v in added):
        return LaneState.APPROVED
    return LaneState.OPEN


def step_outcome(lanes: Iterable[LaneState]) -> StepState:
    states = list(lanes)
    if not states:
        raise ValueError("a step needs at least one lane")
    if LaneState.RETURNED in states:
        return StepState.RETURNED
    if all(s is LaneState.APPROVED for s in states):
        return StepState.APPROVED
    return StepState.OPEN


def outcome(mode: StepMode, decisions: Iterable[Decision | None]) -> StepState:
    """A one-lane step of original assignees (the common case), for callers and tests."""
    votes = [Vote(AssignmentState.DECIDED if d else AssignmentState.PENDING, d)
             for d in decisions]
    return step_outcome([lane_outcome(mode, votes)])


def others_released(mode: StepMode, decision: Decision, added: bool) -> bool:
    """After this decision, do the lane's other undecided original assignees stop mattering?

    An approval by an original assignee of an or-sign lane settles it for the others; a
    return settles the whole step for everyone.
    """
    return decision is Decision.RETURN or (mode is not StepMode.ALL and not added)
