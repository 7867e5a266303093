"""The approval step machine: allowed transitions and what decisions add up to."""

from __future__ import annotations

import itertools

import pytest

from bot.domain.steps import TRANSITIONS, TransitionError, check_transition, outcome
from bot.domain.vocabulary import Decision, StepMode, StepState

A, R, U = Decision.APPROVE, Decision.RETURN, None


def test_transition_table_is_exactly_this() -> None:
    allowed = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert allowed == {
        (StepState.WAITING, StepState.OPEN),
        (StepState.OPEN, StepState.APPROVED),
        (StepState.OPEN, StepState.RETURNED),
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
def test_outcome(mode: StepMode, decisions: list[Decision | None], expected: StepState) -> None:
    assert outcome(mode, decisions) is expected


def test_a_step_without_assignments_is_a_bug() -> None:
    with pytest.raises(ValueError, match="at least one"):
        outcome(StepMode.SINGLE, [])
