"""The escalation ladder: who is pinged, and when, as a step (or milestone) runs late.

The default follows the bureau's lights-and-urging system (红黄灯督办), and reminds
whoever must decide: yellow before the limit → the handler, the guide and the holders of
the open turn; red when late → the handler, the leader in charge, the section head and the
holders; red for 5 working days → a formal urge notice (催办通知书) to the section head
and the supervision office; then a reminder every few working days while it stays red, to
the handler, the section head and the holders (the one whose decision ends the red). Case
types may define their own ladder, followed as written.

Pure rules: given a due instant and "now", which rungs have been reached and since when,
and when the next one will be (the deadline sweep looks at a subject only then).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.rules.calendar import WorkCalendar


class Audience(StrEnum):
    HANDLER = "handler"  # the case's submitter; for a milestone, the project's handlers
    GUIDE = "guide"  # the project's planning guides
    HOLDERS = "holders"  # who holds a turn of the step now (turns.py); else the handler
    LEADER = "leader"  # the project's leader in charge
    SECTION_HEAD = "section_head"  # the head of the project's responsible section
    DIRECTOR = "director"
    SUPERVISION = "supervision"  # the supervision office (its supervisors and its chat)


class RungKind(StrEnum):
    YELLOW = "yellow"
    RED = "red"
    URGE = "urge"  # the formal urge notice
    REPEAT = "repeat"  # reminders while still red


@dataclass(frozen=True)
class Rung:
    kind: RungKind
    audience: tuple[Audience, ...]
    after_red_days: int = 0  # URGE: working days after the due
    every_days: int = 0  # REPEAT: working days between reminders

    def __post_init__(self) -> None:
        if self.kind is RungKind.URGE and self.after_red_days < 1:
            raise ValueError("an urge rung needs after_red_days >= 1")
        if self.kind is RungKind.REPEAT and self.every_days < 1:
            raise ValueError("a repeat rung needs every_days >= 1")


@dataclass(frozen=True)
class Ladder:
    rungs: tuple[Rung, ...]

    def rung(self, kind: RungKind) -> Rung | None:
        return next((r for r in self.rungs if r.kind is kind), None)


DEFAULT_LADDER = Ladder((
    Rung(RungKind.YELLOW, (Audience.HANDLER, Audience.GUIDE, Audience.HOLDERS)),
    Rung(RungKind.RED, (Audience.HANDLER, Audience.LEADER, Audience.SECTION_HEAD,
                        Audience.HOLDERS)),
    Rung(RungKind.URGE, (Audience.SECTION_HEAD, Audience.SUPERVISION), after_red_days=5),
    Rung(RungKind.REPEAT, (Audience.HANDLER, Audience.SECTION_HEAD, Audience.HOLDERS),
         every_days=3),
))


def escalated(ladder: Ladder) -> Ladder:
    """The ``escalate`` timeout policy: once late, the director hears it too, on the red
    rung and every reminder (the holders hear what the case type's ladder says)."""
    extra = (Audience.DIRECTOR,)
    return Ladder(tuple(
        Rung(r.kind, r.audience + tuple(a for a in extra if a not in r.audience),
             r.after_red_days, r.every_days)
        if r.kind in (RungKind.RED, RungKind.REPEAT) else r for r in ladder.rungs))


@dataclass(frozen=True)
class Thresholds:
    """When yellow starts: this many working days left, or this share of the limit left,
    whichever comes first."""

    working_days: int = 1
    share: float | None = None

    def days_for(self, limit_days: int) -> int:
        by_share = math.floor(self.share * limit_days) if self.share else 0
        return max(self.working_days, by_share)


@dataclass(frozen=True)
class Reached:
    key: str  # yellow | red | urge | repeat-<n>: unique per target and person
    rung: Rung
    since: datetime  # when it was reached


def reached(now: datetime, due: datetime, limit_days: int, calendar: WorkCalendar,
            thresholds: Thresholds, ladder: Ladder) -> list[Reached]:
    """The rungs in force at ``now``: yellow until the due, then red, the urge notice once
    its day has come, and the latest reminder (never the ones it supersedes)."""
    found: list[Reached] = []
    due_day = due.astimezone(calendar.tz).date()
    if now < due:
        yellow = ladder.rung(RungKind.YELLOW)
        days = thresholds.days_for(limit_days)
        if yellow is not None and calendar.remaining_working_days(now, due).days <= days:
            found.append(Reached(RungKind.YELLOW.value, yellow,
                                 _yellow_since(due, days, calendar)))
        return found
    red = ladder.rung(RungKind.RED)
    if red is not None:
        found.append(Reached(RungKind.RED.value, red, due))
    late_days = calendar.working_days_between(due, now).days
    urge = ladder.rung(RungKind.URGE)
    if urge is not None and late_days >= urge.after_red_days:
        found.append(Reached(RungKind.URGE.value, urge, calendar.close_of(
            calendar.working_day_after(due_day, urge.after_red_days))))
    repeat = ladder.rung(RungKind.REPEAT)
    if repeat is not None and late_days >= repeat.every_days:
        n = late_days // repeat.every_days
        found.append(Reached(f"{RungKind.REPEAT.value}-{n}", repeat, calendar.close_of(
            calendar.working_day_after(due_day, n * repeat.every_days))))
    return found


def next_moment(now: datetime, due: datetime, limit_days: int, calendar: WorkCalendar,
                thresholds: Thresholds, ladder: Ladder) -> datetime | None:
    """The first instant after ``now`` at which :func:`reached` gives a rung it does not give
    at ``now``, or the due itself (the timeout policy acts then, whatever the ladder says);
    None when nothing more will be reached."""
    if now < due:
        yellow = ladder.rung(RungKind.YELLOW)
        if yellow is not None:
            since = _yellow_since(due, thresholds.days_for(limit_days), calendar)
            if since > now:
                return since
        return due
    due_day = due.astimezone(calendar.tz).date()
    late_days = calendar.working_days_between(due, now).days
    moments = []
    urge = ladder.rung(RungKind.URGE)
    if urge is not None and late_days < urge.after_red_days:
        moments.append(calendar.close_of(calendar.working_day_after(due_day,
                                                                    urge.after_red_days)))
    repeat = ladder.rung(RungKind.REPEAT)
    if repeat is not None:
        n = late_days // repeat.every_days + 1
        moments.append(calendar.close_of(calendar.working_day_after(due_day,
                                                                    n * repeat.every_days)))
    return min(moments, default=None)


def _yellow_since(due: datetime, days: int, calendar: WorkCalendar) -> datetime:
    """The instant from which at most ``days`` working days are left before ``due``: the close
    of the working day before the ``days``-th working day before the due day."""
    due_day = due.astimezone(calendar.tz).date()
    first_counted = calendar.working_day_before(due_day, days)
    return calendar.close_of(calendar.working_day_before(first_counted, 1))
