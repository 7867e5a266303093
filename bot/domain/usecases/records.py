"""Records of a period for export: how many, then the rows a part at a time (the CLI's
``greenlight export`` and /export in chat)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.errors import BadRange, NotAllowed
from bot.domain.rules.scope import WHOLE, Scope
from bot.domain.rules.supervision import lateness
from bot.domain.rules.vocabulary import ItemState, Role
from bot.domain.usecases.people import Actor, require_role
from bot.domain.usecases.stats import gather
from storage.records import UNSCOPED, Records
from storage.store import Store

STATS, ITEMS = "stats", "items"


def period(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[first 00:00, the day after last 00:00) in the bureau's time."""
    if last < first:
        raise BadRange(start=first, end=last)
    return (datetime.combine(first, time(), tz),
            datetime.combine(last + timedelta(days=1), time(), tz))


def require_exporter(actor: Actor) -> None:
    require_role(actor, Role.ADMIN, Role.DIRECTOR, Role.LEADER, Role.SUPERVISOR,
                 action="export")


async def records(store: Store, kind: str, start: datetime, end: datetime, *, now: datetime,
                  calendar: WorkCalendar, tz: ZoneInfo, scope: Scope = WHOLE
                  ) -> tuple[int, AsyncIterator[tuple[Any, ...]]]:
    """(how many rows, the rows) of ``kind`` in [start, end), within ``scope``. The audit
    trail is the whole organisation's: only who sees everything may export it."""
    if kind in UNSCOPED and not scope.everything:
        raise NotAllowed(action="export")
    if kind == STATS:
        stats = await gather(store, min(now, end), calendar, tz, since=start, scope=scope)
        rows = [(s.name, s.open, s.late, s.closed.total, s.closed.on_time,
                 round(s.closed.share, 3) if s.closed.share is not None else None, s.urges)
                for s in stats.sections]

        async def listed() -> AsyncIterator[tuple[Any, ...]]:
            for row in rows:
                yield row
        return len(rows), listed()
    found = Records(store.session, scope)
    if kind == ITEMS:
        return await found.count(kind, start, end), _with_lateness(
            found.rows(kind, start, end), now, calendar)
    return await found.count(kind, start, end), found.rows(kind, start, end)


async def _with_lateness(rows: AsyncIterator[tuple[Any, ...]], now: datetime,
                         calendar: WorkCalendar) -> AsyncIterator[tuple[Any, ...]]:
    """A supervision item's row ends with its state, due and answer time: the due and the
    answer stay, and the working days late (at the answer, or now while awaited) follow."""
    async for row in rows:
        *head, state, due, answered = row
        late = lateness(ItemState(state), due, answered, now, calendar)
        yield (*head, ItemState(state), due, answered, late.days if late else 0)
