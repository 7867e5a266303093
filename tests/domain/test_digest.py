"""When the weekly digest is due: the configured weekday and time, moved past days off."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.digest import DigestTime, due_digest, parse_digest_time

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()
MONDAY_0830 = DigestTime(0, time(8, 30))


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


def test_the_digest_is_due_from_monday_0830_for_the_week_before() -> None:
    assert due_digest(at(11, 30, 8, 29), MONDAY_0830, CAL) is None
    due = due_digest(at(11, 30, 8, 30), MONDAY_0830, CAL)
    assert due is not None and due.week == "2026-W49" and due.day == date(2026, 11, 30)
    assert due.period == (date(2026, 11, 23), date(2026, 11, 30))
    # Still that week's on Wednesday (a process down on Monday sends it then, once).
    assert due_digest(at(12, 2, 15), MONDAY_0830, CAL) == due
    # Sunday evening: the week's digest, not yet the next one.
    assert due_digest(at(12, 6, 20), MONDAY_0830, CAL) == due


def test_a_holiday_monday_moves_it_to_the_first_working_day() -> None:
    # National Day 2026: Monday 10-5 to Wednesday 10-7 are off, Thursday 10-8 is back.
    for moment in (at(10, 5, 9), at(10, 7, 16), at(10, 8, 8, 29)):
        assert due_digest(moment, MONDAY_0830, CAL) is None, moment
    due = due_digest(at(10, 8, 8, 30), MONDAY_0830, CAL)
    assert due is not None and due.week == "2026-W41" and due.day == date(2026, 10, 5)


def test_the_time_setting_reads_a_weekday_and_a_time_or_off() -> None:
    assert parse_digest_time("mon 08:30") == MONDAY_0830
    assert parse_digest_time("  FRI   17:05 ") == DigestTime(4, time(17, 5))
    assert parse_digest_time("off") is None
    for bad in ("monday 8:30", "mon 25:00", "mon", "8:30", ""):
        with pytest.raises(ValueError, match="weekday and a time"):
            parse_digest_time(bad)
