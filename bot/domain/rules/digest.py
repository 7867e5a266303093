"""When the leaders' weekly digest is due (a pure rule: plain values in and out).

The bureau names a weekday and a time (default Monday 08:30). A week's digest is due from
that time on the first working day on or after that weekday: a holiday Monday sends it on
Tuesday (or after the Spring Festival, on the first day back). Each week's digest has a key
(its ISO week) so that it is claimed, and sent, once whatever restarts or workers do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.domain.rules.calendar import WorkCalendar

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WHEN = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)\s+([01]?\d|2[0-3]):([0-5]\d)$")
OFF = "off"


@dataclass(frozen=True)
class DigestTime:
    weekday: int  # 0 = Monday
    at: time


@dataclass(frozen=True)
class DueDigest:
    week: str  # e.g. "2026-W49": the ISO week of ``day``
    day: date  # the configured weekday this digest belongs to
    period: tuple[date, date]  # the seven days it covers: [start, end)


def parse_digest_time(text: str) -> DigestTime | None:
    """``mon 08:30`` (a weekday and HH:MM), or ``off`` (None); anything else a ValueError."""
    words = " ".join(text.lower().split())
    if words == OFF:
        return None
    match = _WHEN.match(words)
    if match is None:
        raise ValueError(f"expected a weekday and a time such as 'mon 08:30', or 'off';"
                         f" got {text!r}")
    return DigestTime(WEEKDAYS.index(match[1]), time(int(match[2]), int(match[3])))


def due_digest(now_local: datetime, when: DigestTime, calendar: WorkCalendar
               ) -> DueDigest | None:
    """The digest due at ``now_local`` (the bureau's local time), if any: that of the latest
    configured weekday on or before today, once its first working day has reached the time."""
    today = now_local.date()
    day = today - timedelta(days=(today.weekday() - when.weekday) % 7)
    send_on = day
    while not calendar.is_workday(send_on):
        send_on += timedelta(days=1)
    if send_on > today or (send_on == today and now_local.time() < when.at):
        return None
    year, week, _ = day.isocalendar()
    return DueDigest(f"{year}-W{week:02d}", day, (day - timedelta(days=7), day))
