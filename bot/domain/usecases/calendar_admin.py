"""Keeping the working-day calendar: importing a year's official notice, adding a day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.domain.rules.calendar import CalendarImport, DayOverride
from storage.models import CalendarOverride, CalendarYear
from storage.store import Store


@dataclass(frozen=True)
class CalendarImportReport:
    added: int
    changed: int
    unchanged: int
    years: tuple[int, ...]


async def import_calendar(store: Store, imported: CalendarImport, *, source: str,
                          now: datetime, actor_id: int | None = None) -> CalendarImportReport:
    """Store overrides and mark their years covered; re-importing changes nothing. Flushes;
    the edge commits."""
    added = changed = unchanged = 0
    for override in imported.overrides:
        row = await store.get(CalendarOverride, override.day)
        origin = override.source or imported.year_sources.get(override.day.year, source)
        if row is None:
            store.add(CalendarOverride(day=override.day, is_workday=override.is_workday,
                                       name=override.name, source=origin))
            added += 1
        elif (row.is_workday, row.name) != (override.is_workday, override.name):
            row.is_workday, row.name, row.source = override.is_workday, override.name, origin
            changed += 1
        else:
            unchanged += 1
    for year in imported.covered_years:
        if await store.get(CalendarYear, year) is None:
            store.add(CalendarYear(year=year,
                                   source=imported.year_sources.get(year, source)))
    await store.flush()
    await store.audit(at=now, actor_id=actor_id, action="calendar.imported", subject="calendar",
                      data={"added": added, "changed": changed,
                            "years": list(imported.covered_years), "source": source})
    await store.flush()
    return CalendarImportReport(added, changed, unchanged, tuple(imported.covered_years))


async def set_day(store: Store, *, day: date, is_workday: bool, name: str, source: str,
                  now: datetime, actor_id: int | None = None) -> bool:
    """Declare one day a holiday or a working day (an ad-hoc correction; it does not make its
    year covered). Returns whether anything changed. Flushes; the edge commits."""
    row = await store.get(CalendarOverride, day)
    if row is not None and (row.is_workday, row.name) == (is_workday, name):
        return False
    if row is None:
        store.add(CalendarOverride(day=day, is_workday=is_workday, name=name, source=source))
    else:
        row.is_workday, row.name, row.source = is_workday, name, source
    await store.flush()
    await store.audit(at=now, actor_id=actor_id, action="calendar.day_set", subject="calendar",
                      data={"day": day.isoformat(), "workday": is_workday, "name": name,
                            "source": source})
    await store.flush()
    return True


def as_override(row: CalendarOverride) -> DayOverride:
    return DayOverride(row.day, row.is_workday, row.name, row.source)
