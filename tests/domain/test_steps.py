"""The approval step machine: allowed transitions, lanes, modes, added signers."""

from __future__ import annotations

import itertools

import pytest

from bot.domain.rules.steps import (
    TRANSITIONS,
    TransitionError,
    Vote,
    check_transition,
    lane_outcome,
    others_released,
    outcome,
    step_outcome,
)
from bot.domain.rules.vocabulary import AssignmentState, Decision, LaneState, StepMode, StepState

A, R, U = Decision.APPROVE, Decision.RETURN, None
P, W, D = AssignmentState.PENDING, AssignmentState.WAITING, AssignmentState.DECIDED
T, C = AssignmentState.TRANSFERRED, AssignmentState.CANCELLED


def test_transition_table_is_exactly_this() -> None:
    allowed = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    S = StepState
    assert allowed == {
        (S.WAITING, S.OPEN), (S.WAITING, S.WITHDRAWN),
        (S.OPEN, S.APPROVED), (S.OPEN, S.PAUSED), (S.OPEN, S.RETURNED), (S.OPEN, S.WITHDRAWN),
        (S.PAUSED, S.OPEN), (S.PAUSED, S.WITHDRAWN),
    }


@pytest.mark.parametrize(("current", "target"), list(itertools.product(StepState, StepState)))
def test_every_other_transition_is_refused(current: StepState, target: StepState) -> None:
    if target in TRANSITIONS[current]:
        check_transition(current, target)
    else:
        with pytest.raises(TransitionError):
            check_transition(current, target)


@pytest.mark.parametrize(("mode", "decisions", "expected"), [
    (StepMode.SINGLE, [U], StepState.OPEN),
    (StepMode.SINGLE, [A], StepState.APPROVED),
    (StepMode.SINGLE, [R], StepState.RETURNED),
    # or-sign: the first decision counts
    (StepMode.ANY, [U, U], StepState.OPEN),
    (StepMode.ANY, [A, U], StepState.APPROVED),
    (StepMode.ANY, [U, A], StepState.APPROVED),
    (StepMode.ANY, [U, R], StepState.RETURNED),
    # countersign: every approval, and any return sends it back
    (StepMode.ALL, [A, U, U], StepState.OPEN),
    (StepMode.ALL, [A, A, U], StepState.OPEN),
    (StepMode.ALL, [A, A, A], StepState.APPROVED),
    (StepMode.ALL, [A, R, U], StepState.RETURNED),
])
def test_one_lane_outcome(mode: StepMode, decisions: list[Decision | None],
                          expected: StepState) -> None:
    assert outcome(mode, decisions) is expected


@pytest.mark.parametrize(("mode", "votes", "expected"), [
    # an added signer must approve too, in any mode
    (StepMode.ANY, [Vote(D, A), Vote(W, None, True)], LaneState.OPEN),
    (StepMode.ANY, [Vote(D, A), Vote(D, A, True)], LaneState.APPROVED),
    (StepMode.SINGLE, [Vote(W), Vote(P, None, True)], LaneState.OPEN),
    (StepMode.SINGLE, [Vote(D, A), Vote(D, R, True)], LaneState.RETURNED),
    (StepMode.ALL, [Vote(D, A), Vote(D, A), Vote(P, None, True)], LaneState.OPEN),
    # transferred and cancelled assignments no longer count
    (StepMode.ALL, [Vote(T), Vote(D, A), Vote(D, A)], LaneState.APPROVED),
    (StepMode.ANY, [Vote(C), Vote(D, A)], LaneState.APPROVED),
    # a lane of added signers only (everyone original transferred away)
    (StepMode.SINGLE, [Vote(T), Vote(D, A, True)], LaneState.APPROVED),
])
def test_lane_outcome(mode: StepMode, votes: list[Vote], expected: LaneState) -> None:
    assert lane_outcome(mode, votes) is expected


def test_a_joint_step_needs_every_department() -> None:
    assert step_outcome([LaneState.APPROVED, LaneState.OPEN]) is StepState.OPEN
    assert step_outcome([LaneState.APPROVED, LaneState.APPROVED]) is StepState.APPROVED
    assert step_outcome([LaneState.APPROVED, LaneState.RETURNED]) is StepState.RETURNED


def test_empty_lanes_and_steps_are_bugs() -> None:
    with pytest.raises(ValueError, match="at least one assignment"):
        lane_outcome(StepMode.SINGLE, [Vote(T)])
    with pytest.raises(ValueError, match="at least one lane"):
        step_outcome([])


def test_which_decisions_release_the_others() -> None:
    assert others_released(StepMode.ANY, A, added=False)
    assert not others_released(StepMode.ALL, A, added=False)
    assert not others_released(StepMode.ANY, A, added=True)
    assert others_released(StepMode.ALL, R, added=False)
