"""The sandbox clock: real time plus an offset a visitor can move forward (never backwards).

The bot reads time only through its :class:`~bot.domain.rules.clock.Clock`, so jumping the offset
ahead by a working day makes deadlines come closer exactly as if that day had passed: the next
sweep turns the lights yellow or red and sends the nudges. The offset is kept in a small JSON
file next to the sandbox database, so a restart does not take the bureau back in time.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.clock import Clock, SystemClock

log = logging.getLogger(__name__)

ZERO = timedelta(0)


class OffsetClock:
    """``base.now() + shift + offset``; :meth:`advance` only ever moves the offset forward.

    ``shift`` is where the sandbox starts relative to real time (zero: now; the tests pin a
    working morning so that what they see does not depend on the hour they run at).
    ``history`` lists ``(unix time, seconds to add)`` from each change on, so a real moment
    (e.g. an emulated message's ``date``) can be shown in sandbox time.
    """

    def __init__(self, base: Clock | None = None, offset: timedelta = ZERO,
                 shift: timedelta = ZERO) -> None:
        if offset < ZERO:
            raise ValueError("the sandbox clock never goes backwards: the offset must be >= 0")
        self._base = base or SystemClock()
        self._offset, self._shift = offset, shift
        self.history: list[tuple[float, float]] = [(time.time(), (shift + offset).total_seconds())]

    @classmethod
    def starting_at(cls, start: datetime, offset: timedelta = ZERO) -> OffsetClock:
        """A sandbox clock that reads ``start`` (plus ``offset``) now and runs on from it."""
        return cls(offset=offset, shift=start - SystemClock().now())

    @property
    def offset(self) -> timedelta:
        return self._offset

    def now(self) -> datetime:
        return self._base.now() + self._shift + self._offset

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` (>= 0) and return the new now."""
        if delta < ZERO:
            raise ValueError("the sandbox clock never goes backwards")
        if delta > ZERO:
            self._offset += delta
            self.history.append((time.time(), (self._shift + self._offset).total_seconds()))
        return self.now()

    def advance_to(self, instant: datetime) -> datetime:
        """Move forward to ``instant``; a moment already past leaves the clock as it is."""
        return self.advance(max(instant - self.now(), ZERO))


def working_days_later(now: datetime, calendar: WorkCalendar, days: int,
                       at: clock_time | None = None) -> datetime:
    """The ``days``-th working day after ``now``'s local date (holidays and make-up workdays
    included, via the bureau's calendar), at ``at`` local time (default: ``now``'s)."""
    if days < 0:
        raise ValueError("working days must be >= 0")
    local = now.astimezone(calendar.tz)
    day = local.date()
    for _ in range(days):
        day += timedelta(days=1)
        while not calendar.is_workday(day):
            day += timedelta(days=1)
    return datetime.combine(day, at if at is not None else local.time(), tzinfo=calendar.tz)


def load_offset(path: Path) -> timedelta:
    """The offset saved by an earlier run (zero when none, or unreadable)."""
    try:
        seconds = float(json.loads(path.read_text(encoding="utf-8"))["offset_seconds"])
    except FileNotFoundError:
        return ZERO
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("ignoring unreadable sandbox clock file %s", path)
        return ZERO
    return timedelta(seconds=max(seconds, 0.0))


def save_offset(path: Path, offset: timedelta) -> None:
    path.write_text(json.dumps({"offset_seconds": offset.total_seconds()}) + "\n",
                    encoding="utf-8")
