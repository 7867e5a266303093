"""Working-day calendar: expectations are literal dates taken from the State Council notices
(as encoded in chinese_calendar.constants), never computed by the code under test."""

from __future__ import annotations

import time as systime
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.rules.calendar import (
    CalendarFileError,
    DayInfo,
    DayOverride,
    OfficeHours,
    WorkCalendar,
    parse_calendar_csv,
    parse_calendar_file,
    parse_calendar_yaml,
)

SH = ZoneInfo("Asia/Shanghai")


def sh(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SH)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


# --------------------------------------------------------------------------- days

OFF = [
    # Spring Festival 2024: Feb 10–17
    *(date(2024, 2, d) for d in range(10, 18)),
    # National Day + Mid-autumn 2025: Oct 1–8
    *(date(2025, 10, d) for d in range(1, 9)),
    # Spring Festival 2026: Feb 15–23 (Feb 16–20, 23 are weekdays)
    *(date(2026, 2, d) for d in range(15, 24)),
    # Mid-autumn 2026 (Fri Sep 25) and National Day 2026: Oct 1–7
    date(2026, 9, 25),
    *(date(2026, 10, d) for d in range(1, 8)),
    # New Year 2026: Jan 1–3
    date(2026, 1, 1),
    date(2026, 1, 2),
    # plain weekend
    date(2026, 3, 7),
    date(2026, 3, 8),
]
WORK = [
    date(2024, 2, 4),  # Sunday make-up
    date(2024, 2, 9),  # 除夕 2024 was officially a working day
    date(2024, 2, 18),  # Sunday make-up
    date(2025, 9, 28),  # Sunday make-up
    date(2025, 10, 11),  # Saturday make-up
    date(2026, 1, 4),  # Sunday make-up
    date(2026, 2, 14),  # Saturday make-up
    date(2026, 2, 28),  # Saturday make-up
    date(2026, 5, 9),  # Saturday make-up
    date(2026, 9, 20),  # Sunday make-up
    date(2026, 10, 10),  # Saturday make-up
    date(2026, 3, 9),  # plain Monday
]


@pytest.mark.parametrize("day", OFF, ids=str)
def test_official_days_off(cal: WorkCalendar, day: date) -> None:
    assert cal.is_workday(day) is False


@pytest.mark.parametrize("day", WORK, ids=str)
def test_official_working_days(cal: WorkCalendar, day: date) -> None:
    assert cal.is_workday(day) is True


def test_agrees_with_package_for_every_covered_day(cal: WorkCalendar) -> None:
    import chinese_calendar

    day, differing = date(2004, 1, 1), []
    while day <= date(2026, 12, 31):
        if cal.is_workday(day) != chinese_calendar.is_workday(day):
            differing.append(day)
        day += timedelta(days=1)
    assert differing == []


def test_day_info_names_and_sources(cal: WorkCalendar) -> None:
    assert cal.day_info(date(2024, 2, 12)) == DayInfo(
        date(2024, 2, 12), False, "春节", "package", True
    )
    assert cal.day_info(date(2024, 2, 18)) == DayInfo(
        date(2024, 2, 18), True, "春节调休", "package", True
    )
    assert cal.day_info(date(2025, 10, 6)).name == "中秋"
    assert cal.day_info(date(2026, 3, 9)) == DayInfo(date(2026, 3, 9), True, "", "package", True)
    assert cal.day_info(date(2027, 1, 1)) == DayInfo(
        date(2027, 1, 1), True, "", "weekend-rule", False
    )


def test_override_wins_over_package() -> None:
    cal = WorkCalendar(
        overrides=[
            DayOverride(date(2026, 3, 10), False, "临时停工"),  # a Tuesday
            DayOverride(date(2026, 2, 23), True, "更正"),  # package holiday → workday
        ]
    )
    assert cal.is_workday(date(2026, 3, 10)) is False
    assert cal.is_workday(date(2026, 2, 23)) is True
    assert cal.day_info(date(2026, 3, 10)) == DayInfo(
        date(2026, 3, 10), False, "临时停工", "override", True
    )


def test_coverage() -> None:
    cal = WorkCalendar(overrides=[DayOverride(date(2028, 1, 3), False, "x")], covered_years=[2027])
    assert [cal.is_covered(y) for y in (2003, 2004, 2026, 2027, 2028)] == [
        False,
        True,
        True,
        True,
        False,  # an ad-hoc override does not cover its year
    ]
    assert cal.day_info(date(2027, 3, 1)) == DayInfo(
        date(2027, 3, 1), True, "", "weekend-rule", True
    )
    assert cal.day_info(date(2028, 1, 3)).certain is False


# --------------------------------------------------------------------------- deadlines

DEADLINES = [
    # (accepted, N, due day) — due is always 17:30 local on the due day
    # 30 working days across Mid-autumn + National Day 2026 (Sep 25–27, Oct 1–7 off,
    # Oct 10 Saturday worked): Sep 22–24 (3), Sep 28–30 (6), Oct 8–10 (9), Oct 12–16 (14),
    # Oct 19–23 (19), Oct 26–30 (24), Nov 2–6 (29), Nov 9 (30).
    (sh(2026, 9, 21), 30, date(2026, 11, 9)),
    # Spring Festival 2024: Feb 6–9 (4), Sunday Feb 18 worked (5), Feb 19 (6)
    (sh(2024, 2, 5), 5, date(2024, 2, 18)),
    (sh(2024, 2, 5), 6, date(2024, 2, 19)),
    # Spring Festival 2026: Fri Feb 13 (1), Sat Feb 14 worked (2), Feb 15–23 off, Feb 24 (3)
    (sh(2026, 2, 12, 16, 0), 3, date(2026, 2, 24)),
    # … Feb 24–27 (3–6), Sat Feb 28 worked (7), Mar 2–4 (8–10)
    (sh(2026, 2, 12, 16, 0), 10, date(2026, 3, 4)),
    # N = 0 and N = 1; the acceptance day itself is not counted
    (sh(2026, 3, 9), 0, date(2026, 3, 9)),
    (sh(2026, 3, 9), 1, date(2026, 3, 10)),
    (sh(2026, 3, 9, 17, 29), 1, date(2026, 3, 10)),
    (sh(2026, 3, 9, 7, 0), 1, date(2026, 3, 10)),  # before opening: still that day
    # after hours: effective day is the next working day
    (sh(2026, 3, 9, 17, 30), 0, date(2026, 3, 10)),
    (sh(2026, 3, 9, 20, 0), 1, date(2026, 3, 11)),
    (sh(2025, 9, 30, 18, 0), 0, date(2025, 10, 9)),  # after hours before National Day
    (sh(2025, 9, 30, 18, 0), 1, date(2025, 10, 10)),
    (sh(2025, 9, 26, 17, 30), 1, date(2025, 9, 29)),  # Fri close → Sun Sep 28 is effective
    # on a holiday: effective day is Sunday Feb 18 2024 (make-up)
    (sh(2024, 2, 12), 0, date(2024, 2, 18)),
    (sh(2024, 2, 12), 1, date(2024, 2, 19)),
    # on a make-up Sunday: that Sunday is the (uncounted) acceptance day
    (sh(2024, 2, 4), 1, date(2024, 2, 5)),
    (sh(2025, 10, 11, 9, 0), 2, date(2025, 10, 14)),  # Sat Oct 11 2025 worked; Oct 13 Mon (1)
    # on a plain weekend
    (sh(2026, 3, 7), 0, date(2026, 3, 9)),
]


@pytest.mark.parametrize(("accepted", "n", "due_day"), DEADLINES, ids=str)
def test_deadline(cal: WorkCalendar, accepted: datetime, n: int, due_day: date) -> None:
    result = cal.deadline(accepted, n)
    assert result.due_day == due_day
    assert result.due == datetime.combine(due_day, time(17, 30), tzinfo=SH)
    assert result.due.tzinfo is UTC
    assert result.uncertain is False and result.uncertain_years == ()


def test_deadline_in_utc_and_effective_day(cal: WorkCalendar) -> None:
    # 2026-09-20 17:00 UTC is 2026-09-21 01:00 in Shanghai (a Monday)
    result = cal.deadline(datetime(2026, 9, 20, 17, 0, tzinfo=UTC), 30)
    assert result.accepted_day == date(2026, 9, 21)
    assert result.due == datetime(2026, 11, 9, 9, 30, tzinfo=UTC)


def test_deadline_override_weekday_holiday() -> None:
    cal = WorkCalendar(overrides=[DayOverride(date(2026, 3, 10), False, "临时停工")])
    assert cal.deadline(sh(2026, 3, 9), 1).due_day == date(2026, 3, 11)
    assert cal.deadline(sh(2026, 3, 10), 0).due_day == date(2026, 3, 11)


def test_deadline_rejects_bad_input(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="negative"):
        cal.deadline(sh(2026, 3, 9), -1)
    with pytest.raises(ValueError, match="naive"):
        cal.deadline(datetime(2026, 3, 9, 10, 0), 1)


def test_custom_office_hours_and_zone() -> None:
    cal = WorkCalendar(office_hours=OfficeHours(((time(9), time(17)),)), tz="Asia/Urumqi")
    urumqi = ZoneInfo("Asia/Urumqi")  # UTC+6
    result = cal.deadline(datetime(2026, 3, 9, 16, 59, tzinfo=urumqi), 0)
    assert result.due == datetime(2026, 3, 9, 11, 0, tzinfo=UTC)
    assert cal.deadline(datetime(2026, 3, 9, 17, 0, tzinfo=urumqi), 0).due_day == date(2026, 3, 10)


def test_office_hours_validation() -> None:
    hours = OfficeHours()
    assert (hours.opening, hours.closing) == (time(8, 30), time(17, 30))
    with pytest.raises(ValueError):
        OfficeHours(())
    with pytest.raises(ValueError):
        OfficeHours(((time(12), time(9)),))
    with pytest.raises(ValueError):
        OfficeHours(((time(8), time(12)), (time(11), time(17))))


# --------------------------------------------------------------------------- uncovered years


def test_uncovered_year_is_uncertain(cal: WorkCalendar) -> None:
    # 2027-03-01 is a Monday; weekend rule only: Mar 2–5 (4), Mar 8 (5)
    result = cal.deadline(sh(2027, 3, 1), 5)
    assert result.due_day == date(2027, 3, 8)
    assert result.uncertain_years == (2027,)
    assert result.uncertain is True


def test_year_covered_by_caller_is_certain() -> None:
    cal = WorkCalendar(covered_years=[2027])
    result = cal.deadline(sh(2027, 3, 1), 5)
    assert result.due_day == date(2027, 3, 8)
    assert result.uncertain is False


def test_range_into_uncovered_year_names_only_that_year(cal: WorkCalendar) -> None:
    # Mon 2026-12-28: Dec 29–31 (3), Fri 2027-01-01 counts by the weekend rule (4), Jan 4 (5)
    result = cal.deadline(sh(2026, 12, 28), 5)
    assert result.due_day == date(2027, 1, 4)
    assert result.uncertain_years == (2027,)


def test_uncovered_acceptance_year_before_a_covered_year() -> None:
    # 2028 imported, 2027 not. Thu 2027-12-30: Dec 31 (1), Jan 3–6 2028 (2–5)
    cal = WorkCalendar(covered_years=[2028])
    result = cal.deadline(sh(2027, 12, 30), 5)
    assert result.due_day == date(2028, 1, 6)
    assert result.uncertain_years == (2027,)
    count = cal.remaining_working_days(sh(2027, 12, 30), result.due)
    assert (count.days, count.uncertain_years) == (5, (2027,))


def test_imported_year_makes_new_year_a_holiday() -> None:
    data = parse_calendar_yaml("year: 2027\nholidays:\n  - {date: 2027-01-01, name: 元旦}\n")
    cal = WorkCalendar(data.overrides, data.covered_years)
    result = cal.deadline(sh(2026, 12, 28), 5)
    assert result.due_day == date(2027, 1, 5)
    assert result.uncertain is False


def test_ad_hoc_override_does_not_make_year_certain() -> None:
    cal = WorkCalendar(overrides=[DayOverride(date(2027, 1, 1), False, "元旦")])
    result = cal.deadline(sh(2026, 12, 28), 5)
    assert result.due_day == date(2027, 1, 5)
    assert result.uncertain_years == (2027,)


# --------------------------------------------------------------------------- remaining / between

DUE = sh(2026, 11, 9, 17, 30)  # 30 working days from 2026-09-21 10:00

REMAINING = [
    (sh(2026, 9, 21), 30),
    (sh(2026, 9, 21, 17, 30), 29),  # after close the effective day is Sep 22
    (sh(2026, 9, 30), 24),  # Oct 8–10 (3), 12–16, 19–23, 26–30, Nov 2–6 (23), Nov 9 (24)
    (sh(2026, 10, 3), 23),  # holiday: effective day Oct 8
    (sh(2026, 11, 6, 18, 0), 0),  # Friday evening: effective day is the due day
    (sh(2026, 11, 7), 0),  # Saturday
    (sh(2026, 11, 9, 8, 0), 0),
    (sh(2026, 11, 9, 17, 29), 0),
    (sh(2026, 11, 9, 17, 30), -1),  # the due instant has passed
    (sh(2026, 11, 9, 23, 0), -1),
    (sh(2026, 11, 10, 10, 0), -1),
    (sh(2026, 11, 10, 17, 30), -2),
    (sh(2026, 11, 16, 10, 0), -5),  # Nov 10–13 and 16
]


@pytest.mark.parametrize(("now", "expected"), REMAINING, ids=str)
def test_remaining_working_days(cal: WorkCalendar, now: datetime, expected: int) -> None:
    count = cal.remaining_working_days(now, DUE)
    assert count.days == expected
    assert count.uncertain is False


@pytest.mark.parametrize(
    "paused_at", [sh(2026, 9, 21), sh(2026, 9, 30, 20), sh(2026, 10, 3), sh(2026, 11, 6, 18)]
)
def test_resume_with_remaining_gives_same_due(cal: WorkCalendar, paused_at: datetime) -> None:
    remaining = cal.remaining_working_days(paused_at, DUE).days
    assert cal.deadline(paused_at, remaining).due == DUE


def test_resume_later_shifts_due(cal: WorkCalendar) -> None:
    # paused Wed 2026-09-23 10:00 with 28 left (Sep 24, 28–30, then 24); resumed Mon Oct 12:
    # Oct 13–16 (4), 19–23 (9), 26–30 (14), Nov 2–6 (19), 9–13 (24), 16–19 (28)
    remaining = cal.remaining_working_days(sh(2026, 9, 23), DUE).days
    assert remaining == 28
    assert cal.deadline(sh(2026, 10, 12), remaining).due_day == date(2026, 11, 19)


def test_remaining_for_a_due_not_at_the_close(cal: WorkCalendar) -> None:
    # the sign always tells whether the due has passed
    assert cal.remaining_working_days(sh(2026, 3, 9, 9), sh(2026, 3, 9, 10)).days == 0
    assert cal.remaining_working_days(sh(2026, 3, 9, 11), sh(2026, 3, 9, 10)).days == -1
    saturday_noon = sh(2026, 3, 7, 12)
    assert cal.remaining_working_days(sh(2026, 3, 7, 10), saturday_noon).days == 0
    assert cal.remaining_working_days(sh(2026, 3, 7, 13), saturday_noon).days == -1
    assert cal.remaining_working_days(sh(2026, 3, 9, 18), saturday_noon).days == -2


def test_remaining_uncertain_when_due_in_uncovered_year(cal: WorkCalendar) -> None:
    count = cal.remaining_working_days(sh(2026, 12, 30), sh(2027, 1, 4, 17, 30))
    assert count.days == 3  # Dec 31, Jan 1 (weekend rule), Jan 4
    assert count.uncertain_years == (2027,)


BETWEEN = [
    # red at Wed 2026-09-30 17:30; whole working days: Oct 8, 9, 10 (Sat), 12, 13
    (sh(2026, 9, 30, 17, 30), sh(2026, 10, 13, 17, 29), 4),
    (sh(2026, 9, 30, 17, 30), sh(2026, 10, 13, 17, 30), 5),
    (sh(2026, 9, 21), sh(2026, 9, 21, 17, 30), 0),  # Sep 21 only partly inside
    (sh(2026, 9, 21), sh(2026, 9, 22, 17, 30), 1),
    (sh(2026, 9, 21, 8, 30), sh(2026, 9, 21, 17, 30), 1),  # the whole of Sep 21
    (sh(2026, 9, 21), sh(2026, 9, 21, 9), 0),  # end before start
    (sh(2024, 2, 9, 12), sh(2024, 2, 19, 17, 30), 2),  # Spring Festival: Sun Feb 18, Mon Feb 19
]


@pytest.mark.parametrize(("start", "end", "expected"), BETWEEN, ids=str)
def test_working_days_between(
    cal: WorkCalendar, start: datetime, end: datetime, expected: int
) -> None:
    assert cal.working_days_between(start, end).days == expected


def test_working_days_between_uncertain(cal: WorkCalendar) -> None:
    count = cal.working_days_between(sh(2026, 12, 30, 8), sh(2027, 1, 4, 18))
    assert count.days == 4  # Dec 30, 31, Jan 1 (weekend rule), Jan 4
    assert count.uncertain_years == (2027,)


# --------------------------------------------------------------------------- office time

OFFICE_TIME = [
    (sh(2026, 3, 9, 8, 30), True),
    (sh(2026, 3, 9, 11, 59), True),
    (sh(2026, 3, 9, 12, 0), False),
    (sh(2026, 3, 9, 13, 59), False),
    (sh(2026, 3, 9, 14, 0), True),
    (sh(2026, 3, 9, 17, 30), False),
    (sh(2026, 3, 9, 8, 29), False),
    (sh(2024, 2, 18, 10), True),  # make-up Sunday
    (sh(2024, 2, 12, 10), False),  # Spring Festival
    (sh(2026, 3, 7, 10), False),  # Saturday
]


def test_close_of(cal: WorkCalendar) -> None:
    assert cal.close_of(date(2026, 3, 9)) == datetime(2026, 3, 9, 9, 30, tzinfo=UTC)
    assert cal.close_of(date(2026, 3, 9)).tzinfo is UTC
    assert cal.close_of(date(2026, 10, 3)) == datetime(2026, 10, 3, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(("instant", "expected"), OFFICE_TIME, ids=str)
def test_is_office_time(cal: WorkCalendar, instant: datetime, expected: bool) -> None:
    assert cal.is_office_time(instant) is expected


NEXT_OFFICE = [
    (sh(2026, 3, 9, 10, 0), sh(2026, 3, 9, 10, 0)),  # already in office time
    (sh(2026, 3, 9, 12, 30), sh(2026, 3, 9, 14, 0)),  # lunch
    (sh(2026, 3, 9, 12, 0), sh(2026, 3, 9, 14, 0)),  # intervals are [start, end)
    (sh(2026, 3, 9, 17, 30), sh(2026, 3, 10, 8, 30)),  # at the close
    (sh(2026, 3, 9, 7, 0), sh(2026, 3, 9, 8, 30)),  # early morning
    (sh(2026, 3, 9, 18, 0), sh(2026, 3, 10, 8, 30)),  # evening
    (sh(2026, 3, 13, 18, 0), sh(2026, 3, 16, 8, 30)),  # Friday evening → Monday
    (sh(2026, 9, 30, 18, 0), sh(2026, 10, 8, 8, 30)),  # before National Day week
    (sh(2024, 2, 9, 18, 0), sh(2024, 2, 18, 8, 30)),  # Friday before Spring Festival → Sunday
    (sh(2025, 9, 26, 18, 0), sh(2025, 9, 28, 8, 30)),  # Friday → make-up Sunday
    (sh(2026, 9, 24, 18, 0), sh(2026, 9, 28, 8, 30)),  # Thu; Fri Sep 25 is Mid-autumn
]


@pytest.mark.parametrize(("instant", "expected"), NEXT_OFFICE, ids=str)
def test_next_office_time(cal: WorkCalendar, instant: datetime, expected: datetime) -> None:
    result = cal.next_office_time(instant)
    assert result == expected
    assert result.tzinfo is UTC


# --------------------------------------------------------------------------- year listing


def test_year_listing_2026(cal: WorkCalendar) -> None:
    listing = cal.year_listing(2026)
    assert listing.covered is True
    holidays = [(i.day, i.name, i.source) for i in listing.holidays]
    expected_off = [
        *(date(2026, 1, d) for d in (1, 2, 3)),
        *(date(2026, 2, d) for d in range(15, 24)),
        *(date(2026, 4, d) for d in (4, 5, 6)),
        *(date(2026, 5, d) for d in range(1, 6)),
        *(date(2026, 6, d) for d in (19, 20, 21)),
        *(date(2026, 9, d) for d in (25, 26, 27)),
        *(date(2026, 10, d) for d in range(1, 8)),
    ]
    assert [d for d, _, _ in holidays] == expected_off
    assert holidays[0] == (date(2026, 1, 1), "元旦", "package")
    assert holidays[3] == (date(2026, 2, 15), "春节", "package")
    assert {s for _, _, s in holidays} == {"package"}
    assert [(i.day, i.name) for i in listing.workdays] == [
        (date(2026, 1, 4), "元旦调休"),
        (date(2026, 2, 14), "春节调休"),
        (date(2026, 2, 28), "春节调休"),
        (date(2026, 5, 9), "劳动节调休"),
        (date(2026, 9, 20), "国庆节调休"),
        (date(2026, 10, 10), "国庆节调休"),
    ]


def test_year_listing_with_overrides() -> None:
    cal = WorkCalendar(
        overrides=[
            DayOverride(date(2026, 3, 10), False, "临时停工"),
            DayOverride(date(2026, 2, 23), True, "更正"),
        ]
    )
    listing = cal.year_listing(2026)
    assert (date(2026, 3, 10), "临时停工", "override") in [
        (i.day, i.name, i.source) for i in listing.holidays
    ]
    assert date(2026, 2, 23) not in [i.day for i in listing.holidays]
    assert (date(2026, 2, 23), "更正", "override") in [
        (i.day, i.name, i.source) for i in listing.workdays
    ]


def test_year_listing_uncovered_and_imported() -> None:
    assert WorkCalendar().year_listing(2027).covered is False
    assert WorkCalendar().year_listing(2027).holidays == ()
    data = parse_calendar_yaml(YAML_2027)
    listing = WorkCalendar(data.overrides, data.covered_years).year_listing(2027)
    assert listing.covered is True
    assert [(i.day, i.source) for i in listing.holidays][:2] == [
        (date(2027, 1, 1), "override"),
        (date(2027, 2, 6), "override"),
    ]
    assert [(i.day, i.name) for i in listing.workdays] == [(date(2027, 2, 14), "春节调休")]


# --------------------------------------------------------------------------- override files

YAML_2027 = """\
year: 2027
source: 国务院办公厅关于2027年部分节假日安排的通知
holidays:
  - {date: 2027-01-01, name: 元旦}
  - {from: 2027-02-06, to: 2027-02-13, name: 春节}
workdays:
  - {date: 2027-02-14, name: 春节调休}
"""


def test_parse_yaml_single_block() -> None:
    data = parse_calendar_yaml(YAML_2027)
    assert data.covered_years == (2027,)
    assert data.year_sources == {2027: "国务院办公厅关于2027年部分节假日安排的通知"}
    holidays = [o.day for o in data.overrides if not o.is_workday]
    assert holidays == [date(2027, 1, 1), *(date(2027, 2, d) for d in range(6, 14))]
    assert [o for o in data.overrides if o.is_workday] == [
        DayOverride(
            date(2027, 2, 14), True, "春节调休", "国务院办公厅关于2027年部分节假日安排的通知"
        )
    ]
    assert data.overrides[1].name == "春节"


def test_parse_yaml_list_of_blocks() -> None:
    text = """\
- year: 2027
  holidays:
    - {date: 2027-01-01, name: 元旦}
- year: 2028
  source: notice 2028
  holidays:
    - date: 2028-01-01
      name: 元旦
  workdays: []
"""
    data = parse_calendar_yaml(text)
    assert data.covered_years == (2027, 2028)
    assert [(o.day, o.is_workday, o.source) for o in data.overrides] == [
        (date(2027, 1, 1), False, ""),
        (date(2028, 1, 1), False, "notice 2028"),
    ]


def test_parse_csv() -> None:
    text = "\ufeffdate,kind,name\n2027-01-01,holiday,元旦\n\n2027-02-14,workday,春节调休\n"
    data = parse_calendar_csv(text)
    assert data.covered_years == (2027,)
    assert data.overrides == (
        DayOverride(date(2027, 1, 1), False, "元旦"),
        DayOverride(date(2027, 2, 14), True, "春节调休"),
    )


def test_parse_file_dispatches_on_extension() -> None:
    assert parse_calendar_file(YAML_2027, "2027.YML").covered_years == (2027,)
    assert parse_calendar_file("date,kind,name\n2028-01-03,holiday,\n", "x.csv").overrides == (
        DayOverride(date(2028, 1, 3), False, ""),
    )
    with pytest.raises(CalendarFileError, match=r"expected a \.yaml"):
        parse_calendar_file("", "2027.txt")


YAML_ERRORS = [
    (
        "year: 2027\nholidays:\n  - {date: 2027-01-01}\n  - {date: 2027-02-30, name: x}\n",
        "line 4: 'date': not a date: 2027-02-30",
    ),
    (
        "year: 2027\nholidays:\n  - {from: 2027-02-13, to: 2027-02-06}\n",
        "line 3: 'to': 2027-02-06 is before 2027-02-13",
    ),
    ("year: 2027\nholidays:\n  - {day: 2027-02-13}\n", "line 3: unknown key 'day'"),
    ("year: 2027\nholiday:\n  - {date: 2027-02-13}\n", "line 2: unknown key 'holiday'"),
    ("holidays:\n  - {date: 2027-02-13}\n", "line 1: missing 'year'"),
    ("year: twenty\n", "line 1: 'year': not a year: twenty"),
    ("year: 2027\nholidays:\n  - {date: 2031-01-01}\n", "line 3: 'date': 2031-01-01 is not near"),
    ("year: 2027\nholidays:\n  - {name: x}\n", "line 3: give either 'date' or both"),
    ("year: 2027\nholidays: 2027-01-01\n", "line 2: 'holidays': expected a list"),
    ("year: 2027\nholidays:\n  - [2027-01-01]\n", "line 3: expected a day or a range"),
    ("year: 2027\nholidays: [\n", "line 3: invalid YAML"),
    ("", "line 1: the file is empty"),
    (
        "year: 2027\n"
        "holidays:\n"
        "  - {from: 2027-02-06, to: 2027-02-14, name: 春节}\n"
        "workdays:\n"
        "  - {date: 2027-02-14, name: 春节调休}\n",
        "line 5: 2027-02-14 is both a holiday and a workday (see line 3)",
    ),
]


@pytest.mark.parametrize(("text", "message"), YAML_ERRORS)
def test_parse_yaml_errors(text: str, message: str) -> None:
    with pytest.raises(CalendarFileError) as info:
        parse_calendar_yaml(text)
    assert str(info.value).startswith(message)


CSV_ERRORS = [
    (
        "date,kind,name\n2027-01-01,holiday,元旦\n2027-02-30,holiday,x\n",
        "line 3: 'date': not a date: 2027-02-30",
    ),
    (
        "date,kind,name\n2027-01-01,hols,元旦\n",
        "line 2: 'kind': expected holiday or workday, got: hols",
    ),
    ("day,type\n2027-01-01,holiday\n", "line 1: expected the header date,kind,name"),
    ("date,kind,name\n2027-01-01\n", "line 2: expected 3 fields, got 1"),
    (
        "date,kind,name\n2027-02-14,holiday,春节\n2027-02-14,workday,春节调休\n",
        "line 3: 2027-02-14 is both a holiday and a workday (see line 2)",
    ),
    ("", "line 1: expected the header date,kind,name"),
]


@pytest.mark.parametrize(("text", "message"), CSV_ERRORS)
def test_parse_csv_errors(text: str, message: str) -> None:
    with pytest.raises(CalendarFileError) as info:
        parse_calendar_csv(text)
    assert str(info.value) == message


# --------------------------------------------------------------------------- performance


def test_thirty_day_deadline_is_fast() -> None:
    cal = WorkCalendar()
    start = sh(2026, 9, 21)
    cal.deadline(start, 30)  # warm-up builds the year tables
    runs = 2000
    began = systime.perf_counter()
    for i in range(runs):
        cal.deadline(start + timedelta(minutes=i), 30)
    per_call = (systime.perf_counter() - began) / runs
    assert per_call < 0.0005  # well under a millisecond


def test_working_day_after_and_before_skip_holidays_and_make_up_days() -> None:
    cal = WorkCalendar()
    # National Day 2026: Oct 1-7 off, Sat Oct 10 a make-up workday.
    assert cal.working_day_after(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert cal.working_day_after(date(2026, 10, 8), 2) == date(2026, 10, 10)
    assert cal.working_day_before(date(2026, 10, 8), 1) == date(2026, 9, 30)
    assert cal.working_day_before(date(2026, 10, 12), 2) == date(2026, 10, 9)
    assert cal.working_day_before(date(2026, 10, 12), 0) == date(2026, 10, 12)
    # Across a year boundary, both ways (Sunday 2026-01-04 is a make-up workday).
    assert cal.working_day_before(date(2026, 1, 4), 1) == date(2025, 12, 31)
    assert cal.working_day_before(date(2026, 1, 5), 1) == date(2026, 1, 4)
    assert cal.working_day_after(date(2025, 12, 31), 1) == date(2026, 1, 4)
    for start in (date(2026, 2, 13), date(2026, 10, 9), date(2026, 12, 31)):
        for n in range(0, 40):
            assert cal.working_day_before(cal.working_day_after(start, n), n) == start or \
                not cal.is_workday(start)
    with pytest.raises(ValueError):
        cal.working_day_before(date(2026, 1, 5), -1)
    with pytest.raises(ValueError):
        cal.working_day_after(date(2026, 1, 5), -1)


def test_days_taken_counts_working_days_after_acceptance_through_the_closing_day() -> None:
    cal = WorkCalendar()
    monday = datetime(2026, 9, 28, 10, tzinfo=SH)  # National Day week follows
    assert cal.days_taken(monday, monday.replace(hour=16)) == 0  # done the same day
    assert cal.days_taken(monday, datetime(2026, 9, 29, 9, tzinfo=SH)) == 1
    # Tue 9-29 and Wed 9-30, the holiday 10-1 to 10-7, then Thu 10-8 and Fri 10-9.
    assert cal.days_taken(monday, datetime(2026, 10, 9, 11, tzinfo=SH)) == 4
    assert cal.days_taken(monday, monday - timedelta(days=1)) == 0
