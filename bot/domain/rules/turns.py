"""Who holds a turn now: the one rule behind an accepted press, the /pending list, the cards'
buttons and "waiting for", and the deadline reminders to the holders (Audience.HOLDERS).

A turn is held by each pending assignment of an open step: both posts of an or-sign (the A
and the B post) until one of them decides, each countersigner who has not signed yet, the
pending holder of each joint lane still open, an added signer whose turn has come. The
assignment names whoever acts: when the person the rule named was away (/away) as the turn
opened, it went to their delegate ("B for A"), who holds it. A waiting, paused (back with
the handler) or closed step has no holders.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

from bot.domain.rules.vocabulary import AssignmentState, StepState


class Step(Protocol):
    @property
    def id(self) -> int | None: ...
    @property
    def state(self) -> str: ...


class Assignment(Protocol):
    @property
    def step_id(self) -> int: ...
    @property
    def state(self) -> str: ...


A = TypeVar("A", bound=Assignment)


def holds_turn(step: Step, assignment: Assignment) -> bool:
    """Whether the assignment's person may decide ``step`` now."""
    return (step.state == StepState.OPEN and assignment.step_id == step.id
            and assignment.state == AssignmentState.PENDING)


def turn_holders(step: Step, assignments: Iterable[A]) -> list[A]:
    """The assignments of ``step`` whose people may decide it now, in the order given."""
    return [a for a in assignments if holds_turn(step, a)]
