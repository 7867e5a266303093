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

from collections.abc import Collection, Iterable
from dataclasses import dataclass
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


# -- who may be handed a turn (🔁 transfer, ➕ add a signer) ------------------------------------


class LaneAssignment(Protocol):
    @property
    def person_id(self) -> int: ...
    @property
    def lane_id(self) -> int: ...
    @property
    def state(self) -> str: ...


@dataclass(frozen=True)
class Colleague:
    """What the rule needs to know of someone who might be handed a turn."""

    id: int
    active: bool
    on_telegram: bool  # has a Telegram account the bot knows: the card can reach them
    has_role: bool  # holds some role in the bureau
    reaches: bool = True  # the case's project is within their unit's reach


def busy_in_lane(assignments: Iterable[LaneAssignment], lane_id: int) -> set[int]:
    """People who hold or wait for a turn in the lane already."""
    return {a.person_id for a in assignments if a.lane_id == lane_id
            and a.state in (AssignmentState.PENDING, AssignmentState.WAITING)}


def why_not_hand_turn(colleague: Colleague | None, *, actor_id: int, submitter_id: int | None,
                      busy: Collection[int]) -> str | None:
    """Why the actor may not hand (transfer) their turn to ``colleague`` or add them as a
    signer, or None when they may. The people picker lists exactly those with no reason; the
    press on a name and the final change refuse with the reason."""
    if (colleague is None or not colleague.active or not colleague.on_telegram
            or not colleague.has_role or not colleague.reaches):
        return "unknown_person"
    if colleague.id == actor_id:
        return "self"
    if colleague.id == submitter_id:
        return "submitter"  # nobody decides their own item
    if colleague.id in busy:
        return "already_assigned"
    return None
