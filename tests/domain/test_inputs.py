"""What people type, read strictly: ids, years, days and absences."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.rules.errors import BadDate, BadRange
from bot.domain.rules.inputs import MAX_ID, parse_id, parse_year
from bot.domain.usecases.delegation import parse_day, parse_range
from bot.views.keyboards import DecideCb, TypeCb

TODAY = date(2026, 12, 2)  # a Wednesday


@pytest.mark.parametrize(("word", "expected"), [
    ("12", 12), ("#12", 12), (str(MAX_ID), MAX_ID),
    (str(MAX_ID + 1), None), ("99999999999999999999", None), ("#", None), ("", None),
    ("0", None), ("-3", None), ("²", None), ("１２", None), ("12a", None), ("1e3", None),
])
def test_ids(word: str, expected: int | None) -> None:
    assert parse_id(word) == expected


@pytest.mark.parametrize(("word", "expected"), [
    ("2026", 2026), (" 2027 ", 2027), ("1999", None), ("2101", None), ("99999999999999", None),
    ("²⁰²⁶", None), ("26", None), ("year", None),
])
def test_years(word: str, expected: int | None) -> None:
    assert parse_year(word) == expected


@pytest.mark.parametrize("data", [
    "dc:99999999999999999999:a", f"dc:{MAX_ID + 1}:a", "dc:-1:a", "dc:²:a", "ty:5000:-1",
    "ty:0:7",
])
def test_callback_data_out_of_range_does_not_unpack(data: str) -> None:
    kind = DecideCb if data.startswith("dc") else TypeCb
    with pytest.raises(ValueError):
        kind.unpack(data)


def test_callback_data_in_range_unpacks() -> None:
    assert DecideCb.unpack(f"dc:{MAX_ID}:a").step == MAX_ID


@pytest.mark.parametrize("text", ["13-01", "02-30", "0001-01-01", "9999-12-31", "12-1x", ""])
def test_days_that_do_not_exist_or_are_out_of_reach(text: str) -> None:
    with pytest.raises(BadDate):
        parse_day(text, TODAY)


def test_an_absence_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(BadRange):
        parse_range("12-10", "12-05", TODAY)  # both ahead this year: not a year-long absence
    with pytest.raises(BadRange):
        parse_range("2026-12-10", "2026-12-05", TODAY)


def test_an_absence_that_began_before_today_starts_this_year() -> None:
    assert parse_range("11-27", "12-04", TODAY) == (date(2026, 11, 27), date(2026, 12, 4))
    # Over new year: from late December to early January.
    assert parse_range("12-28", "01-05", TODAY) == (date(2026, 12, 28), date(2027, 1, 5))
