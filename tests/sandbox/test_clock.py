"""The sandbox clock: real time plus an offset that only moves forward."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.clock import ManualClock
from sandbox.clock import OffsetClock, load_offset, save_offset, working_days_later

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 22, 13, 0, tzinfo=SHANGHAI)  # a Sunday


def test_the_offset_adds_to_the_base_and_only_grows() -> None:
    base = ManualClock(START)
    clock = OffsetClock(base)
    assert clock.now() == START and clock.offset == timedelta(0)
    assert clock.advance(timedelta(hours=2)) == START + timedelta(hours=2)
    base.advance(timedelta(minutes=5))  # real time keeps running under the offset
    assert clock.now() == START + timedelta(hours=2, minutes=5)
    with pytest.raises(ValueError, match="never goes backwards"):
        clock.advance(timedelta(seconds=-1))
    assert clock.advance_to(START) == START + timedelta(hours=2, minutes=5)  # past: no move
    clock.advance_to(START + timedelta(days=1))
    assert clock.offset == timedelta(days=1, minutes=-5)
    assert [offset for _, offset in clock.history] == [0, 7200, 86100]
    with pytest.raises(ValueError):
        OffsetClock(base, timedelta(hours=-1))


def test_the_system_clock_is_the_default_base() -> None:
    clock = OffsetClock(offset=timedelta(days=3))
    expected = datetime.now(UTC) + timedelta(days=3)
    assert abs((clock.now() - expected).total_seconds()) < 5
    assert clock.now().tzinfo is not None


def test_a_sandbox_can_start_at_a_given_moment_and_runs_on_from_it() -> None:
    start = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    clock = OffsetClock.starting_at(start, timedelta(hours=1))
    assert abs((clock.now() - (start + timedelta(hours=1))).total_seconds()) < 5
    assert clock.offset == timedelta(hours=1)  # what the page shows as moved: only the offset
    shift = (start - datetime.now(UTC)).total_seconds()
    assert abs(clock.history[0][1] - (shift + 3600)) < 5  # real message times map onto it
    clock.advance(timedelta(hours=2))
    assert abs(clock.history[-1][1] - (shift + 3 * 3600)) < 5


def test_working_days_skip_weekends_and_holidays() -> None:
    calendar = WorkCalendar()
    assert working_days_later(START, calendar, 0) == START
    assert working_days_later(START, calendar, 1) == datetime(2026, 11, 23, 13, 0,
                                                              tzinfo=SHANGHAI)
    assert working_days_later(START, calendar, 1, time(8, 30)) == datetime(
        2026, 11, 23, 8, 30, tzinfo=SHANGHAI)  # at the office's opening
    friday_evening = datetime(2026, 11, 20, 18, 0, tzinfo=SHANGHAI)
    assert working_days_later(friday_evening, calendar, 1).date().isoformat() == "2026-11-23"
    before_national_day = datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)
    assert working_days_later(before_national_day, calendar, 1) == datetime(
        2026, 10, 8, 10, 0, tzinfo=SHANGHAI)
    utc = START.astimezone(UTC)  # counted in the calendar's zone, whatever the input's
    assert working_days_later(utc, calendar, 1) == datetime(2026, 11, 23, 13, 0,
                                                            tzinfo=SHANGHAI)
    with pytest.raises(ValueError):
        working_days_later(START, calendar, -1)


def test_the_offset_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "clock.json"
    assert load_offset(path) == timedelta(0)
    save_offset(path, timedelta(hours=30))
    assert load_offset(path) == timedelta(hours=30)
    path.write_text("not json")
    assert load_offset(path) == timedelta(0)
    path.write_text('{"offset_seconds": -50}')
    assert load_offset(path) == timedelta(0)
