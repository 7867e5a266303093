"""Supervision items (督查事项) along the seven steps (督查七步: 登记、交办、督办、反馈、复核、
通报、归档), as a pure state machine: which act each state allows, what state it leads to,
and who may do it. Everything else (rows, messages) is the use case's.

- register → ``registered``; assign (交办) sends it to a section (its head answers) or a
  person, with a due: ``assigned``; it may be assigned again (another assignee or due)
  until it has been answered;
- urge (催办) while waiting for the answer: ``urged`` (again and again);
- feedback (反馈) by the assignee: ``reviewing``;
- review (复核): accept → ``accepted``, or send back with a reason → ``sent_back`` (the
  assignee answers again; it can be urged meanwhile);
- bulletin (通报): a notice to the supervision chat naming the item, the late step, the
  section and the working days late; of an open item it changes nothing but the record,
  of an accepted one it is the step before archiving → ``bulletined``;
- archive (归档) once accepted (bulletined or not): ``archived``, for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.ladder import Audience, Ladder, Rung, RungKind
from bot.domain.rules.vocabulary import ItemAct, ItemState

S, A = ItemState, ItemAct

#: (state, act) → the state it leads to. Anything not here is refused.
TRANSITIONS: dict[tuple[ItemState, ItemAct], ItemState] = {
    (S.REGISTERED, A.ASSIGN): S.ASSIGNED,
    (S.ASSIGNED, A.ASSIGN): S.ASSIGNED,
    (S.URGED, A.ASSIGN): S.ASSIGNED,
    (S.ASSIGNED, A.URGE): S.URGED,
    (S.URGED, A.URGE): S.URGED,
    (S.SENT_BACK, A.URGE): S.SENT_BACK,
    (S.ASSIGNED, A.FEEDBACK): S.REVIEWING,
    (S.URGED, A.FEEDBACK): S.REVIEWING,
    (S.SENT_BACK, A.FEEDBACK): S.REVIEWING,
    (S.REVIEWING, A.ACCEPT): S.ACCEPTED,
    (S.REVIEWING, A.SEND_BACK): S.SENT_BACK,
    (S.ASSIGNED, A.BULLETIN): S.ASSIGNED,
    (S.URGED, A.BULLETIN): S.URGED,
    (S.SENT_BACK, A.BULLETIN): S.SENT_BACK,
    (S.REVIEWING, A.BULLETIN): S.REVIEWING,
    (S.ACCEPTED, A.BULLETIN): S.BULLETINED,
    (S.ACCEPTED, A.ARCHIVE): S.ARCHIVED,
    (S.BULLETINED, A.ARCHIVE): S.ARCHIVED,
}

#: Waiting for the assignee's answer: the clock runs, the sweep nudges.
WAITING = frozenset({S.ASSIGNED, S.URGED, S.SENT_BACK})
#: Not archived: listed by ``/dc list``.
OPEN = frozenset(set(ItemState) - {S.ARCHIVED})
#: Done by the assignee; every other act is the supervision office's.
ASSIGNEE_ACTS = frozenset({A.FEEDBACK})


class Refused(Exception):
    """An act the item's state does not allow (``state``: where it is now)."""

    def __init__(self, state: ItemState, act: ItemAct) -> None:
        super().__init__(state, act)
        self.state, self.act = state, act


def after(state: ItemState, act: ItemAct) -> ItemState:
    """The state ``act`` leads to from ``state``; :class:`Refused` if it is not allowed."""
    found = TRANSITIONS.get((state, act))
    if found is None:
        raise Refused(state, act)
    return found


def allowed(state: ItemState) -> list[ItemAct]:
    """The acts ``state`` allows, in the order of the seven steps."""
    return [act for act in ItemAct if (state, act) in TRANSITIONS]


#: An item's lights and nudges: yellow before the due and red at it to the assignee (the
#: office hears of red too), then a reminder every three working days while still late.
ITEM_LADDER = Ladder((
    Rung(RungKind.YELLOW, (Audience.HOLDERS,)),
    Rung(RungKind.RED, (Audience.HOLDERS, Audience.SUPERVISION)),
    Rung(RungKind.REPEAT, (Audience.HOLDERS,), every_days=3),
))


@dataclass(frozen=True)
class Lateness:
    """Where an item ran late: the step (``feedback`` awaited from the assignee, or
    ``review`` of an answer that came late) and by how many whole working days."""

    step: str  # feedback | review
    days: int
    waiting: bool  # still waiting (the days are counted to now)


def lateness(state: ItemState, due: datetime | None, feedback_at: datetime | None,
             now: datetime, calendar: WorkCalendar) -> Lateness | None:
    """How late the item is (or was, for its answer); None when on time or no due yet."""
    if due is None:
        return None
    if state in WAITING:
        if now < due:
            return None
        return Lateness("feedback", calendar.remaining_working_days(now, due).late, True)
    if feedback_at is not None and feedback_at > due:
        return Lateness("feedback", calendar.remaining_working_days(feedback_at, due).late,
                        False)
    return None


def item_code(year: int, seq: int) -> str:
    """DC-2026-001: the year's items numbered in order."""
    return f"DC-{year}-{seq:03d}"
