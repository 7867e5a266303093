"""Keeping the working-day calendar: importing a year's official notice, adding a day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.calendar import CalendarImport, DayOverride
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
    """Store overrides and mark their years covered; re-importing changes nothing. Commits."""
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
    await store.commit()
    return CalendarImportReport(added, changed, unchanged, tuple(imported.covered_years))


def as_override(row: CalendarOverride) -> DayOverride:
    return DayOverride(row.day, row.is_workday, row.name, row.source)
