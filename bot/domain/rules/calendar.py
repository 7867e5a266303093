"""Official Chinese working days, office hours and deadlines (Administrative Licensing Law style).

A day is a working day according to, in order of precedence:

1. the caller's override table (typed from a State Council notice, or an ad-hoc correction);
2. the ``chinesecalendar`` package (official holidays and 调休 make-up workdays), for the
   years it has data for;
3. the weekend rule (Monday to Friday work).

A year is *covered* when the package has data for it or the caller says it holds the official
notice for it. Results that depend on an uncovered year name those years in ``uncertain_years``.

Time always comes in as an aware ``datetime``; it is interpreted in the calendar's local zone.
Counting rules:

* *effective day* of an instant: its local date if that is a working day and the instant is
  before the close of office hours, else the next working day;
* a limit of N working days accepted at T ends at the close of the N-th working day after T's
  effective day (the acceptance day is not counted; N = 0 → close of the effective day).
"""

from __future__ import annotations

import csv
import io
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import chinese_calendar
import yaml

DaySource = Literal["package", "override", "weekend-rule"]


# --------------------------------------------------------------------------- package data


def _load_package() -> tuple[range, dict[date, tuple[bool, str]]]:
    """The package's explicit days as ``{day: (is_workday, Chinese name)}``, and its years."""
    days: dict[date, tuple[bool, str]] = {}
    for day, english in chinese_calendar.holidays.items():
        days[day] = (False, chinese_calendar.Holiday(english).chinese)
    for day, english in chinese_calendar.workdays.items():  # workdays win, as in the package
        days[day] = (True, chinese_calendar.Holiday(english).chinese + "调休")
    years = [d.year for d in chinese_calendar.holidays]
    return range(min(years), max(years) + 1), days


_PACKAGE_YEARS, _PACKAGE_DAYS = _load_package()


# --------------------------------------------------------------------------- value types


@dataclass(frozen=True)
class DayOverride:
    """Forces one day to be a working day or not. ``source``: where it came from (notice)."""

    day: date
    is_workday: bool
    name: str = ""
    source: str = ""


@dataclass(frozen=True)
class OfficeHours:
    """Ordered, non-overlapping local office intervals, each ``[start, end)``."""

    intervals: tuple[tuple[time, time], ...] = (
        (time(8, 30), time(12, 0)),
        (time(14, 0), time(17, 30)),
    )

    def __post_init__(self) -> None:
        intervals = tuple((start, end) for start, end in self.intervals)
        object.__setattr__(self, "intervals", intervals)
        if not intervals:
            raise ValueError("office hours need at least one interval")
        previous_end: time | None = None
        for start, end in intervals:
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("office hours are naive local times")
            if start >= end:
                raise ValueError(f"office interval {start}-{end} ends before it starts")
            if previous_end is not None and start < previous_end:
                raise ValueError(f"office interval {start}-{end} overlaps the one before it")
            previous_end = end

    @property
    def opening(self) -> time:
        return self.intervals[0][0]

    @property
    def closing(self) -> time:
        return self.intervals[-1][1]

    def contains(self, moment: time) -> bool:
        return any(start <= moment < end for start, end in self.intervals)


DEFAULT_OFFICE_HOURS = OfficeHours()


@dataclass(frozen=True)
class DayInfo:
    day: date
    is_workday: bool
    name: str
    source: DaySource
    certain: bool  # False when the year is not covered


@dataclass(frozen=True)
class Deadline:
    due: datetime  # aware, UTC: close of office hours on due_day
    due_day: date  # local date of the due
    accepted_day: date  # effective acceptance day (not counted)
    uncertain_years: tuple[int, ...] = ()

    @property
    def uncertain(self) -> bool:
        return bool(self.uncertain_years)


@dataclass(frozen=True)
class DayCount:
    """A number of working days, and the uncovered years it relied on."""

    days: int
    uncertain_years: tuple[int, ...] = ()

    @property
    def uncertain(self) -> bool:
        return bool(self.uncertain_years)


@dataclass(frozen=True)
class YearListing:
    year: int
    covered: bool
    holidays: tuple[DayInfo, ...]  # named days off (package or override), by date
    workdays: tuple[DayInfo, ...]  # make-up / forced working days, by date


@dataclass(frozen=True)
class _Year:
    ordinals: tuple[int, ...]  # sorted ordinals of the year's working days
    members: frozenset[int]


# --------------------------------------------------------------------------- the calendar


class WorkCalendar:
    """Working-day arithmetic for one bureau. Immutable; build a new one when overrides change."""

    def __init__(
        self,
        overrides: Iterable[DayOverride] = (),
        covered_years: Iterable[int] = (),
        office_hours: OfficeHours = DEFAULT_OFFICE_HOURS,
        tz: str | ZoneInfo = "Asia/Shanghai",
    ) -> None:
        self._overrides = {o.day: o for o in overrides}  # later entries win
        self._covered = frozenset(covered_years)
        self.office_hours = office_hours
        self.tz = ZoneInfo(tz) if isinstance(tz, str) else tz
        self._years: dict[int, _Year] = {}

    # ----- days

    def is_covered(self, year: int) -> bool:
        return year in _PACKAGE_YEARS or year in self._covered

    def day_info(self, day: date) -> DayInfo:
        certain = self.is_covered(day.year)
        override = self._overrides.get(day)
        if override is not None:
            return DayInfo(day, override.is_workday, override.name, "override", certain)
        if day.year in _PACKAGE_YEARS:
            is_workday, name = _PACKAGE_DAYS.get(day, (day.weekday() < 5, ""))
            return DayInfo(day, is_workday, name, "package", True)
        return DayInfo(day, day.weekday() < 5, "", "weekend-rule", certain)

    def is_workday(self, day: date) -> bool:
        return day.toordinal() in self._year(day.year).members

    def year_listing(self, year: int) -> YearListing:
        days = {d for d in _PACKAGE_DAYS if d.year == year} | {
            d for d in self._overrides if d.year == year
        }
        infos = [self.day_info(d) for d in sorted(days)]
        return YearListing(
            year=year,
            covered=self.is_covered(year),
            holidays=tuple(i for i in infos if not i.is_workday),
            workdays=tuple(i for i in infos if i.is_workday),
        )

    # ----- limits and counts

    def deadline(self, accepted_at: datetime, working_days: int) -> Deadline:
        """Close of office hours on the N-th working day after the effective acceptance day."""
        if working_days < 0:
            raise ValueError(f"a limit cannot be negative: {working_days}")
        accepted_day = self._effective_day(accepted_at)
        due_day = self._add_workdays(accepted_day, working_days)
        return Deadline(
            due=self.close_of(due_day),
            due_day=due_day,
            accepted_day=accepted_day,
            uncertain_years=self._uncertain(self._local(accepted_at).date(), due_day),
        )

    def remaining_working_days(self, now: datetime, due: datetime) -> DayCount:
        """Signed working days from ``now``'s effective day to the due's local date.

        Before the due: the working days strictly after now's effective day up to and including
        the due day (0 on the due day before the due; ``deadline(now, n).due == due``).
        From the due on: minus the working days after the due day up to and including now's
        effective day, i.e. -1 from the due until the close of the next working day, -2 until
        the close of the one after, and so on. The sign always tells whether ``due`` has passed.
        """
        day = self._effective_day(now)
        due_day = self._local(due).date()
        days = self._count(day, due_day) if day <= due_day else -self._count(due_day, day)
        days = min(days, -1) if now >= due else max(days, 0)
        first = min(self._local(now).date(), due_day)
        return DayCount(days, self._uncertain(first, max(day, due_day)))

    def working_days_between(self, start: datetime, end: datetime) -> DayCount:
        """Whole working days in ``[start, end]``: working days whose office hours (opening to
        closing) lie entirely inside it. 0 when ``end <= start``.

        An event at a close of office hours (e.g. a due) reaches N at the close of the N-th
        working day after it.
        """
        if end <= start:
            return DayCount(0)
        first_local, last_local = self._local(start), self._local(end)
        first = first_local.date()
        if first_local.time() > self.office_hours.opening:
            first += timedelta(days=1)
        last = last_local.date()
        if last_local.time() < self.office_hours.closing:
            last -= timedelta(days=1)
        days = self._count(first - timedelta(days=1), last) if first <= last else 0
        return DayCount(days, self._uncertain(first_local.date(), last_local.date()))

    # ----- office time

    def days_taken(self, accepted: datetime, closed: datetime) -> int:
        """How many working days an item took: those after the day it was accepted, up to
        and including the day it was closed (as limits count them; 0 when done the same day)."""
        first, last = self._local(accepted).date(), self._local(closed).date()
        return self._count(first, last) if last > first else 0

    def close_of(self, day: date) -> datetime:
        """The close of office hours on local ``day`` (UTC), whether or not it is a working day."""
        return self._instant(day, self.office_hours.closing)

    def is_office_time(self, instant: datetime) -> bool:
        local = self._local(instant)
        return self.is_workday(local.date()) and self.office_hours.contains(local.time())

    def next_office_time(self, instant: datetime) -> datetime:
        """``instant`` (in UTC) if in office time, else the next opening of an office interval."""
        local = self._local(instant)
        day, moment = local.date(), local.time()
        if self.is_workday(day):
            for start, end in self.office_hours.intervals:
                if moment < end:
                    return local.astimezone(UTC) if moment >= start else self._instant(day, start)
        return self._instant(self._add_workdays(day, 1), self.office_hours.opening)

    # ----- helpers

    def working_day_after(self, day: date, n: int) -> date:
        """The n-th working day after ``day`` (``day`` itself for n = 0)."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        return self._add_workdays(day, n)

    def working_day_before(self, day: date, n: int) -> date:
        """The n-th working day before ``day`` (``day`` itself for n = 0)."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if n == 0:
            return day
        ordinal, year = day.toordinal(), day.year
        while True:
            ordinals = self._year(year).ordinals
            index = bisect_left(ordinals, ordinal)  # working days strictly before ``day``
            if n <= index:
                return date.fromordinal(ordinals[index - n])
            n -= index
            year -= 1
            ordinal = date(year, 12, 31).toordinal() + 1
            if year < date.min.year:
                raise ValueError("working-day arithmetic ran past year 1")

    def _year(self, year: int) -> _Year:
        cached = self._years.get(year)
        if cached is None:
            first = date(year, 1, 1).toordinal()
            days = (date.fromordinal(o) for o in range(first, date(year, 12, 31).toordinal() + 1))
            ordinals = tuple(d.toordinal() for d in days if self.day_info(d).is_workday)
            cached = self._years[year] = _Year(ordinals, frozenset(ordinals))
        return cached

    def _local(self, instant: datetime) -> datetime:
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError(f"naive datetime: {instant!r}; pass an aware one")
        return instant.astimezone(self.tz)

    def _instant(self, day: date, moment: time) -> datetime:
        return datetime.combine(day, moment, tzinfo=self.tz).astimezone(UTC)

    def _effective_day(self, instant: datetime) -> date:
        local = self._local(instant)
        day = local.date()
        if self.is_workday(day) and local.time() < self.office_hours.closing:
            return day
        return self._add_workdays(day, 1)

    def _add_workdays(self, day: date, n: int) -> date:
        """The n-th working day after ``day`` (``day`` itself for n = 0)."""
        if n == 0:
            return day
        ordinal, year = day.toordinal(), day.year
        while True:
            ordinals = self._year(year).ordinals
            index = bisect_right(ordinals, ordinal)
            if n <= len(ordinals) - index:
                return date.fromordinal(ordinals[index + n - 1])
            n -= len(ordinals) - index
            year += 1
            if year > date.max.year:
                raise ValueError("working-day arithmetic ran past year 9999")

    def _count(self, after: date, through: date) -> int:
        """Working days in ``(after, through]``."""
        low, high = after.toordinal(), through.toordinal()
        total = 0
        for year in range(after.year, through.year + 1):
            ordinals = self._year(year).ordinals
            total += bisect_right(ordinals, high) - bisect_right(ordinals, low)
        return total

    def _uncertain(self, first: date, last: date) -> tuple[int, ...]:
        return tuple(y for y in range(first.year, last.year + 1) if not self.is_covered(y))


# --------------------------------------------------------------------------- override files


class CalendarFileError(ValueError):
    """An override file is wrong; the message names the line (and field)."""


@dataclass(frozen=True)
class CalendarImport:
    overrides: tuple[DayOverride, ...]  # sorted by day
    covered_years: tuple[int, ...]  # sorted
    year_sources: dict[int, str] = field(default_factory=dict)  # year → notice title, if given


def parse_calendar_file(text: str, filename: str) -> CalendarImport:
    """Parse by extension: ``.yaml``/``.yml`` or ``.csv``."""
    lowered = filename.lower()
    if lowered.endswith((".yaml", ".yml")):
        return parse_calendar_yaml(text)
    if lowered.endswith(".csv"):
        return parse_calendar_csv(text)
    raise CalendarFileError(f"{filename}: expected a .yaml, .yml or .csv file")


class _Collector:
    """Gathers overrides, rejecting a day given as both holiday and workday."""

    def __init__(self) -> None:
        self.days: dict[date, tuple[DayOverride, int]] = {}
        self.years: set[int] = set()
        self.sources: dict[int, str] = {}

    def add(self, override: DayOverride, line: int) -> None:
        previous = self.days.get(override.day)
        if previous is None:
            self.days[override.day] = (override, line)
        elif previous[0].is_workday != override.is_workday:
            raise CalendarFileError(
                f"line {line}: {override.day} is both a holiday and a workday"
                f" (see line {previous[1]})"
            )

    def result(self) -> CalendarImport:
        overrides = tuple(self.days[d][0] for d in sorted(self.days))
        return CalendarImport(overrides, tuple(sorted(self.years)), dict(self.sources))


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _parse_date(text: str, line: int, key: str) -> date:
    try:
        if _DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise CalendarFileError(f"line {line}: '{key}': not a date: {text}")


def parse_calendar_csv(text: str) -> CalendarImport:
    """CSV with header ``date,kind,name`` (kind: holiday|workday). Years present become covered."""
    out = _Collector()
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header_seen = False
    for row in reader:
        line = reader.line_num
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if not header_seen:
            if [c.lower() for c in cells] != ["date", "kind", "name"]:
                raise CalendarFileError(f"line {line}: expected the header date,kind,name")
            header_seen = True
            continue
        if len(cells) not in (2, 3):
            raise CalendarFileError(f"line {line}: expected 3 fields, got {len(cells)}")
        day = _parse_date(cells[0], line, "date")
        kind = cells[1].lower()
        if kind not in ("holiday", "workday"):
            raise CalendarFileError(
                f"line {line}: 'kind': expected holiday or workday, got: {cells[1]}"
            )
        name = cells[2] if len(cells) == 3 else ""
        out.add(DayOverride(day, kind == "workday", name), line)
        out.years.add(day.year)
    if not header_seen:
        raise CalendarFileError("line 1: expected the header date,kind,name")
    return out.result()


def parse_calendar_yaml(text: str) -> CalendarImport:
    """One year block, or a list of them::

        year: 2027
        source: 国务院办公厅关于2027年部分节假日安排的通知
        holidays:
          - {date: 2027-01-01, name: 元旦}
          - {from: 2027-02-06, to: 2027-02-13, name: 春节}
        workdays:
          - {date: 2027-02-14, name: 春节调休}

    Each block's year becomes covered; its dates must lie in that year or an adjacent one
    (a notice may reach into the previous December).
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise CalendarFileError(f"{where}invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise CalendarFileError(f"invalid YAML: {exc}") from None
    if root is None:
        raise CalendarFileError("line 1: the file is empty")
    out = _Collector()
    blocks = root.value if isinstance(root, yaml.SequenceNode) else [root]
    for block in blocks:
        _yaml_block(block, out)
    return out.result()


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _yaml_mapping(node: yaml.Node, what: str, allowed: set[str]) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        raise CalendarFileError(f"line {_line(node)}: expected {what} (a mapping)")
    fields: dict[str, yaml.Node] = {}
    for key, value in node.value:
        name = str(key.value)
        if name not in allowed:
            expected = ", ".join(sorted(allowed))
            raise CalendarFileError(f"line {_line(key)}: unknown key '{name}' ({expected})")
        fields[name] = value
    return fields


def _yaml_text(node: yaml.Node, key: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise CalendarFileError(f"line {_line(node)}: '{key}': expected a single value")
    return str(node.value).strip()


def _yaml_block(node: yaml.Node, out: _Collector) -> None:
    fields = _yaml_mapping(node, "a year block", {"year", "source", "holidays", "workdays"})
    if "year" not in fields:
        raise CalendarFileError(f"line {_line(node)}: missing 'year'")
    year_text = _yaml_text(fields["year"], "year")
    if not re.fullmatch(r"\d{4}", year_text):
        raise CalendarFileError(f"line {_line(fields['year'])}: 'year': not a year: {year_text}")
    year = int(year_text)
    out.years.add(year)
    source = _yaml_text(fields["source"], "source") if "source" in fields else ""
    if source:
        out.sources[year] = source
    for key, is_workday in (("holidays", False), ("workdays", True)):
        entries = fields.get(key)
        if entries is None or entries.tag == "tag:yaml.org,2002:null":
            continue
        if not isinstance(entries, yaml.SequenceNode):
            raise CalendarFileError(f"line {_line(entries)}: '{key}': expected a list")
        for entry in entries.value:
            for override, line in _yaml_entry(entry, year, is_workday, source):
                out.add(override, line)


def _yaml_entry(
    node: yaml.Node, year: int, is_workday: bool, source: str
) -> list[tuple[DayOverride, int]]:
    fields = _yaml_mapping(node, "a day or a range", {"date", "from", "to", "name"})
    name = _yaml_text(fields["name"], "name") if "name" in fields else ""

    def day(key: str) -> date:
        value = fields[key]
        parsed = _parse_date(_yaml_text(value, key), _line(value), key)
        if abs(parsed.year - year) > 1:
            raise CalendarFileError(f"line {_line(value)}: '{key}': {parsed} is not near {year}")
        return parsed

    if "date" in fields and not ({"from", "to"} & fields.keys()):
        first = last = day("date")
    elif {"from", "to"} <= fields.keys() and "date" not in fields:
        first, last = day("from"), day("to")
        if first > last:
            raise CalendarFileError(f"line {_line(fields['to'])}: 'to': {last} is before {first}")
    else:
        raise CalendarFileError(f"line {_line(node)}: give either 'date' or both 'from' and 'to'")
    line = _line(node)
    return [
        (DayOverride(date.fromordinal(o), is_workday, name, source), line)
        for o in range(first.toordinal(), last.toordinal() + 1)
    ]
