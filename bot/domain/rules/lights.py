"""Traffic lights for steps and milestones: green, yellow before the limit, red when late."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from bot.domain.rules.calendar import DayCount, WorkCalendar
from bot.domain.rules.policy import Policy
from bot.domain.rules.vocabulary import Light

_SEVERITY = {Light.GREEN: 0, Light.YELLOW: 1, Light.RED: 2}


def light(now: datetime, due: datetime, calendar: WorkCalendar, policy: Policy,
          limit_days: int = 0) -> Light:
    """Red from the due on; yellow when the working days left fall to the threshold (a number
    of days, or a share of ``limit_days``), exactly as the escalation ladder counts."""
    if now >= due:
        return Light.RED
    left = calendar.remaining_working_days(now, due)
    threshold = policy.thresholds.days_for(limit_days)
    return Light.YELLOW if left.days <= threshold else Light.GREEN


def milestone_due(due_on: date, calendar: WorkCalendar) -> datetime:
    """A milestone due on a date is due at the close of office hours that day."""
    return calendar.close_of(due_on)


def time_left(now: datetime, due: datetime, calendar: WorkCalendar) -> DayCount:
    return calendar.remaining_working_days(now, due)


def worst(lights: Iterable[Light]) -> Light:
    return max(lights, key=_SEVERITY.__getitem__, default=Light.GREEN)
