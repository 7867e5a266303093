"""The rules the sweep plans by: quiet hours, when a held nudge may first go out (and so
whether it is late), and who the escalate policy adds to the ladder."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.ladder import DEFAULT_LADDER, Audience, Ladder, Rung, RungKind, escalated
from bot.domain.rules.policy import Policy

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()
POLICY = Policy(late_after=timedelta(minutes=2))


def at(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


@pytest.mark.parametrize(("when", "open_"), [
    (at(11, 26, 8, 29), False), (at(11, 26, 8, 30), True), (at(11, 26, 11, 59), True),
    (at(11, 26, 12, 0), False), (at(11, 26, 13, 59), False), (at(11, 26, 14, 0), True),
    (at(11, 26, 17, 29), True), (at(11, 26, 17, 30), False), (at(11, 26, 23), False),
    (at(11, 28, 10), False),  # Saturday
    (at(10, 5, 10), False),  # National Day
    (at(10, 10, 10), True),  # Saturday, a make-up working day
])
def test_quiet_hours_hold_nudges_outside_office_hours(when: datetime, open_: bool) -> None:
    assert POLICY.may_nudge(when, CAL, urgent=False) is open_
    assert POLICY.may_nudge(when, CAL, urgent=True)  # the green channel breaks quiet hours
    assert Policy(quiet_hours=False).may_nudge(when, CAL, urgent=False)
    assert Policy(urgent_breaks_quiet=False).may_nudge(when, CAL, urgent=True) is open_


@pytest.mark.parametrize(("since", "first"), [
    (at(11, 26, 17, 30), at(11, 27, 8, 30)),  # Thursday's close: Friday's opening
    (at(11, 27, 17, 30), at(11, 30, 8, 30)),  # Friday's close: Monday's
    (at(11, 26, 12, 0), at(11, 26, 14, 0)),  # lunch: the afternoon
    (at(11, 26, 10, 0), at(11, 26, 10, 0)),  # in office hours: at once
    (at(9, 30, 17, 30), at(10, 8, 8, 30)),  # before National Day: after it
])
def test_a_held_nudge_first_goes_out_at_the_next_office_hour(since: datetime,
                                                              first: datetime) -> None:
    assert POLICY.first_sendable(since, CAL, urgent=False) == first
    assert POLICY.first_sendable(since, CAL, urgent=True) == since


def test_late_means_more_than_late_after_past_the_first_moment_it_could_go_out() -> None:
    since = at(11, 26, 17, 30)
    first = POLICY.first_sendable(since, CAL, urgent=False)
    assert first - since > POLICY.late_after  # held overnight is not late by itself…
    assert first + POLICY.late_after == at(11, 27, 8, 32)  # … a sweep after 08:32 is


def test_escalate_adds_the_director_to_red_and_the_reminders_only() -> None:
    ladder = escalated(DEFAULT_LADDER)
    audience = {rung.kind: rung.audience for rung in ladder.rungs}
    assert audience[RungKind.RED] == (Audience.HANDLER, Audience.LEADER,
                                      Audience.SECTION_HEAD, Audience.HOLDERS,
                                      Audience.DIRECTOR)
    assert audience[RungKind.REPEAT] == (Audience.HANDLER, Audience.SECTION_HEAD,
                                         Audience.HOLDERS, Audience.DIRECTOR)
    assert audience[RungKind.YELLOW] == DEFAULT_LADDER.rung(RungKind.YELLOW).audience  # type: ignore[union-attr]
    assert audience[RungKind.URGE] == DEFAULT_LADDER.rung(RungKind.URGE).audience  # type: ignore[union-attr]
    assert ladder.rung(RungKind.REPEAT).every_days == 3  # type: ignore[union-attr]
    assert escalated(ladder) == ladder  # nobody twice
    # A case type's own ladder is followed as written: escalating it adds the director, not
    # the holders it leaves out.
    own = Ladder((Rung(RungKind.RED, (Audience.LEADER,)),))
    assert escalated(own) == Ladder((Rung(RungKind.RED, (Audience.LEADER, Audience.DIRECTOR)),))
