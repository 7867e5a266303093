"""The approval step machine: which transitions exist and what decisions add up to.

Pure rules, no storage: a step's outcome follows from its mode and its assignments'
decisions. Countersign (``all``) needs every approval; or-sign (``any``) and ``single``
take the first decision; any return sends the step back.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.domain.vocabulary import Decision, StepMode, StepState

# Every transition a step may take; anything else is a bug or a forged request.
TRANSITIONS: dict[StepState, frozenset[StepState]] = {
    StepState.WAITING: frozenset({StepState.OPEN}),
    StepState.OPEN: frozenset({StepState.APPROVED, StepState.RETURNED}),
    StepState.APPROVED: frozenset(),
    StepState.RETURNED: frozenset(),
}


class TransitionError(ValueError):
    pass


def check_transition(current: StepState, target: StepState) -> None:
    if target not in TRANSITIONS[current]:
        raise TransitionError(f"a step cannot go from {current} to {target}")


def outcome(mode: StepMode, decisions: Iterable[Decision | None]) -> StepState:
    """What a step's state becomes given each assignment's decision (None = undecided)."""
    made = list(decisions)
    if not made:
        raise ValueError("a step needs at least one assignment")
    if Decision.RETURN in made:
        return StepState.RETURNED
    if mode is StepMode.ALL:
        return StepState.APPROVED if all(d is Decision.APPROVE for d in made) else StepState.OPEN
    return StepState.APPROVED if Decision.APPROVE in made else StepState.OPEN


def closes_other_assignments(mode: StepMode) -> bool:
    """Whether one decision ends everyone else's turn (or-sign and single)."""
    return mode is not StepMode.ALL
