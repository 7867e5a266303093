"""The weekly digest for the leaders' group: what finished, what turned red and who is late,
over the seven days before the digest's day, with the same figures as /stats."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from bot.domain.rules.calendar import DayCount, WorkCalendar
from bot.domain.rules.digest import DueDigest
from bot.domain.rules.scope import WHOLE, Scope
from bot.domain.usecases.stats import Stats, gather
from storage.store import Store


@dataclass
class LateStep:
    project: str
    title: str
    step: str
    due: datetime
    left: DayCount  # negative: how late
    waiting_for: list[str] = field(default_factory=list)


@dataclass
class Digest:
    due: DueDigest
    approved: list[tuple[str, str]]  # (project code, item title)
    reached: list[tuple[str, str]]  # (project code, milestone)
    red_steps: list[tuple[str, str, str]]  # (project code, item title, step)
    red_milestones: list[tuple[str, str]]
    late: list[LateStep]
    stats: Stats


async def weekly(store: Store, due: DueDigest, now: datetime, calendar: WorkCalendar,
                 tz: ZoneInfo, scope: Scope = WHOLE) -> Digest:
    """The week of a leaders' group's unit and everything below it."""
    first, last = due.period
    start, end = datetime.combine(first, time(), tz), datetime.combine(last, time(), tz)
    late: dict[tuple[str, str, str, datetime], LateStep] = {}
    for code, title, step, step_due, name in await store.late_steps(now, scope):
        key = (code, title, step, step_due)
        if key not in late:
            late[key] = LateStep(code, title, step, step_due,
                                 calendar.remaining_working_days(now, step_due))
        late[key].waiting_for.append(name)
    return Digest(
        due=due,
        approved=await store.approved_between(start, end, scope),
        reached=await store.milestones_between(first, last, reached=True, scope=scope),
        red_steps=await store.steps_turned_red(start, end, scope),
        red_milestones=await store.milestones_between(first, last, reached=False, scope=scope),
        late=list(late.values()),
        stats=await gather(store, now, calendar, tz, scope=scope))
