"""The escalation ladder: which rungs are in force, and since when, in working days."""

from __future__ import annotations

from datetime import datetime
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
    reached,
)

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()
DUE = datetime(2026, 11, 26, 17, 30, tzinfo=SH)  # Thursday: 3 working days from Monday


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


ONE_DAY = Thresholds()


def keys(now: datetime, *, due: datetime = DUE, limit: int = 3,
         thresholds: Thresholds = ONE_DAY, ladder: Ladder = DEFAULT_LADDER
         ) -> list[tuple[str, datetime]]:
    return [(r.key, r.since.astimezone(SH)) for r in
            reached(now, due, limit, CAL, thresholds, ladder)]


def test_green_then_yellow_from_the_close_of_the_day_before_the_last_day() -> None:
    assert keys(at(11, 24)) == []  # Tuesday: 2 working days left
    assert keys(at(11, 24, 17, 29)) == []
    assert keys(at(11, 24, 17, 30)) == [("yellow", at(11, 24, 17, 30))]
    assert keys(at(11, 26, 17, 29)) == [("yellow", at(11, 24, 17, 30))]


def test_red_at_the_due_then_the_urge_notice_after_five_working_days() -> None:
    assert keys(DUE) == [("red", DUE)]
    # Working days after Thu 26: Fri 27, Mon 30, Tue 1, Wed 2, Thu 3 (the 5th).
    assert keys(at(12, 3, 17, 29)) == [("red", DUE), ("repeat-1", at(12, 1, 17, 30))]
    assert keys(at(12, 3, 17, 30)) == [("red", DUE), ("urge", at(12, 3, 17, 30)),
                                       ("repeat-1", at(12, 1, 17, 30))]


def test_reminders_repeat_every_three_working_days_only_the_latest_in_force() -> None:
    # Fri 4 is the 6th working day after the due: the second reminder.
    assert keys(at(12, 4, 18)) == [("red", DUE), ("urge", at(12, 3, 17, 30)),
                                   ("repeat-2", at(12, 4, 17, 30))]
    assert keys(at(12, 7, 9)) == keys(at(12, 4, 18))  # the weekend adds nothing


def test_yellow_by_a_share_of_a_long_limit() -> None:
    due = CAL.deadline(at(11, 2), 20).due  # 20 working days
    share = Thresholds(working_days=1, share=0.2)  # 4 days left is yellow
    assert share.days_for(20) == 4 and Thresholds(2, 0.05).days_for(20) == 2
    [(key, since)] = keys(CAL.close_of(CAL.working_day_before(due.date(), 4)), due=due,
                          limit=20, thresholds=share)
    assert key == "yellow"
    assert since == CAL.close_of(CAL.working_day_before(due.astimezone(SH).date(), 5))
    assert keys(since.replace(minute=29), due=due, limit=20, thresholds=share) == []


def test_across_national_day_the_holiday_does_not_count() -> None:
    due = datetime(2026, 10, 9, 17, 30, tzinfo=SH)  # Friday after the holiday week
    # Yellow from the close of the working day before Oct 9's eve: Sep 30.
    assert keys(datetime(2026, 10, 5, 10, tzinfo=SH), due=due) == [
        ("yellow", datetime(2026, 9, 30, 17, 30, tzinfo=SH))]
    # Saturday Oct 10 is a make-up workday: the first working day after the due.
    assert keys(datetime(2026, 10, 15, 18, tzinfo=SH), due=due)[1][0] == "urge"


def test_a_ladder_without_rungs_reaches_nothing_and_custom_rungs_apply() -> None:
    assert keys(at(12, 10), ladder=Ladder(())) == []
    only_red = Ladder((Rung(RungKind.RED, (Audience.HOLDERS,)),))
    assert keys(at(12, 10), ladder=only_red) == [("red", DUE)]
    with pytest.raises(ValueError):
        Rung(RungKind.URGE, (Audience.SUPERVISION,))
    with pytest.raises(ValueError):
        Rung(RungKind.REPEAT, (Audience.HANDLER,), every_days=0)


def test_the_default_ladder_reminds_whoever_holds_the_turn_on_yellow_red_and_reminders() -> None:
    audience = {rung.kind: rung.audience for rung in DEFAULT_LADDER.rungs}
    assert audience == {
        RungKind.YELLOW: (Audience.HANDLER, Audience.GUIDE, Audience.HOLDERS),
        RungKind.RED: (Audience.HANDLER, Audience.LEADER, Audience.SECTION_HEAD,
                       Audience.HOLDERS),
        RungKind.URGE: (Audience.SECTION_HEAD, Audience.SUPERVISION),  # a formal notice
        RungKind.REPEAT: (Audience.HANDLER, Audience.SECTION_HEAD, Audience.HOLDERS),
    }
    assert Audience.DIRECTOR not in {a for rung in DEFAULT_LADDER.rungs for a in rung.audience}
