"""When the sweep next looks at a subject: the first instant a new rung is reached."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.ladder import (
    DEFAULT_LADDER,
    Audience,
    Ladder,
    Rung,
    RungKind,
    Thresholds,
    next_moment,
    reached,
)

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()
DUE = datetime(2026, 11, 26, 17, 30, tzinfo=SH)  # Thursday: 3 working days from Monday
ONE_DAY = Thresholds()
RED_ONLY = Ladder((Rung(RungKind.RED, (Audience.HANDLER,)),))
NO_YELLOW = Ladder(tuple(r for r in DEFAULT_LADDER.rungs if r.kind is not RungKind.YELLOW))


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


@pytest.mark.parametrize(("now", "due", "limit", "thresholds", "ladder", "expected"), [
    # green: yellow from the close of the working day before the last one
    (at(11, 23), DUE, 3, ONE_DAY, DEFAULT_LADDER, at(11, 24, 17, 30)),
    # yellow: the due (red, and the timeout policy)
    (at(11, 26, 9), DUE, 3, ONE_DAY, DEFAULT_LADDER, DUE),
    # a share of a long limit brings yellow forward (3 of 10 working days)
    (at(11, 16), DUE, 10, Thresholds(1, 0.3), DEFAULT_LADDER, at(11, 20, 17, 30)),
    # no yellow rung: the due is next
    (at(11, 23), DUE, 3, ONE_DAY, NO_YELLOW, DUE),
    # red: the first reminder after 3 working days (before the urge after 5)
    (DUE, DUE, 3, ONE_DAY, DEFAULT_LADDER, at(12, 1, 17, 30)),
    (at(11, 30), DUE, 3, ONE_DAY, DEFAULT_LADDER, at(12, 1, 17, 30)),
    # after the first reminder: the urge notice
    (at(12, 2), DUE, 3, ONE_DAY, DEFAULT_LADDER, at(12, 3, 17, 30)),
    # after the urge: the second reminder, then the third
    (at(12, 4), DUE, 3, ONE_DAY, DEFAULT_LADDER, at(12, 4, 17, 30)),
    (at(12, 4, 17, 30), DUE, 3, ONE_DAY, DEFAULT_LADDER, at(12, 9, 17, 30)),
    # a ladder that ends at red: nothing more once red
    (at(11, 23), DUE, 3, ONE_DAY, RED_ONLY, DUE),
    (at(11, 27), DUE, 3, ONE_DAY, RED_ONLY, None),
    # national day: the holiday does not count
    (datetime(2026, 9, 28, 10, tzinfo=SH), datetime(2026, 10, 9, 17, 30, tzinfo=SH), 5,
     ONE_DAY, DEFAULT_LADDER, datetime(2026, 9, 30, 17, 30, tzinfo=SH)),
])
def test_the_next_moment(now: datetime, due: datetime, limit: int, thresholds: Thresholds,
                         ladder: Ladder, expected: datetime | None) -> None:
    assert next_moment(now, due, limit, CAL, thresholds, ladder) == expected


def keys(now: datetime, due: datetime, limit: int, thresholds: Thresholds,
         ladder: Ladder) -> set[str]:
    return {r.key for r in reached(now, due, limit, CAL, thresholds, ladder)}


@pytest.mark.parametrize("ladder", [DEFAULT_LADDER, NO_YELLOW, RED_ONLY])
@pytest.mark.parametrize(("due", "limit", "thresholds"), [
    (DUE, 3, ONE_DAY),
    (DUE, 10, Thresholds(1, 0.3)),
    (datetime(2026, 10, 9, 17, 30, tzinfo=SH), 5, Thresholds(2)),
    (datetime(2026, 11, 27, 12, 0, tzinfo=SH), 1, ONE_DAY),  # a due at noon
])
def test_nothing_new_is_reached_before_the_next_moment_and_something_is_at_it(
        due: datetime, limit: int, thresholds: Thresholds, ladder: Ladder) -> None:
    """Walked in half hours over five weeks around the due: between one moment and the
    next no rung appears, and at the next moment one does (or the due is reached)."""
    now = due - timedelta(days=21)
    while now < due + timedelta(days=21):
        before = keys(now, due, limit, thresholds, ladder)
        moment = next_moment(now, due, limit, CAL, thresholds, ladder)
        step = now + timedelta(minutes=30)
        while step < (moment or due + timedelta(days=21)):
            assert keys(step, due, limit, thresholds, ladder) <= before, (now, step)
            step += timedelta(minutes=30)
        if moment is None:
            break
        assert moment > now
        assert moment == due or keys(moment, due, limit, thresholds, ladder) - before
        now = moment
