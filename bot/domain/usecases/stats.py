"""/stats: the leaders' view of the whole — key projects by status, open and late steps and
the on-time rate per section, the on-time rate per person, the average time an item took, the
urge notices per section, and a twelve-week trend of steps closed on time and late."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.scope import WHOLE, Scope
from bot.domain.rules.vocabulary import CaseState, ProjectStatus, StepState
from storage.store import Store

WEEKS = 12


@dataclass
class Rate:
    total: int = 0
    on_time: int = 0

    def add(self, on_time: bool) -> None:
        self.total += 1
        self.on_time += on_time

    @property
    def share(self) -> float | None:
        return self.on_time / self.total if self.total else None


@dataclass
class SectionLine:
    name: str
    open: int = 0
    late: int = 0  # open and past their due now
    closed: Rate = field(default_factory=Rate)  # steps closed in the window, on time or not
    urges: int = 0  # urge notices issued in the window


@dataclass
class PersonLine:
    name: str
    decisions: Rate = field(default_factory=Rate)


@dataclass
class Week:
    start: date  # its Monday
    on_time: int = 0
    late: int = 0


@dataclass
class Stats:
    at: datetime
    since: datetime
    statuses: Counter[ProjectStatus]
    sections: list[SectionLine]
    people: list[PersonLine]
    weeks: list[Week]
    cycle_days: float | None  # the average working days an approved item took
    cycle_items: int

    @property
    def projects(self) -> int:
        return sum(self.statuses.values())

    @property
    def open_steps(self) -> int:
        return sum(s.open for s in self.sections)

    @property
    def late_steps(self) -> int:
        return sum(s.late for s in self.sections)

    @property
    def on_time(self) -> Rate:
        return Rate(sum(s.closed.total for s in self.sections),
                    sum(s.closed.on_time for s in self.sections))


def window_start(now: datetime, tz: ZoneInfo, weeks: int = WEEKS) -> datetime:
    """Monday 00:00 of the first of the last ``weeks`` weeks (this one included)."""
    today = now.astimezone(tz).date()
    monday = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    return datetime.combine(monday, time(), tz)


async def gather(store: Store, now: datetime, calendar: WorkCalendar, tz: ZoneInfo,
                 since: datetime | None = None, scope: Scope = WHOLE) -> Stats:
    """The figures of the scope's projects over the last :data:`WEEKS` weeks, or since
    ``since``."""
    since = since or window_start(now, tz)
    statuses: Counter[ProjectStatus] = Counter(p.status for p in await store.projects(scope))
    names = {s.id: s.name for s in await store.sections()}
    sections: dict[int | None, SectionLine] = {}

    def section(section_id: int | None) -> SectionLine:
        return sections.setdefault(section_id, SectionLine(names.get(section_id, "—")
                                                           if section_id else "—"))

    first = since.date()
    weeks = [Week(first + timedelta(weeks=n)) for n in range(WEEKS)]
    for section_id, state, due, closed in await store.steps_for_stats(since, scope):
        line = section(section_id)
        if state == StepState.OPEN:
            line.open += 1
            line.late += due < now
        elif closed is not None and closed >= since:
            line.closed.add(closed <= due)
            week = weeks[min((closed.astimezone(tz).date() - first).days // 7, WEEKS - 1)]
            if closed <= due:
                week.on_time += 1
            else:
                week.late += 1
    for _head, section_id in await store.urge_notices_between(since, scope=scope):
        section(section_id).urges += 1
    people: dict[int, PersonLine] = {}
    who = {p.id: p.name for p in await store.people()}
    for person_id, decided, due in await store.decisions_for_stats(since, scope):
        people.setdefault(person_id, PersonLine(who.get(person_id, "?"))).decisions.add(
            decided <= due)
    taken = [calendar.days_taken(created, closed)
             for created, closed in await store.cases_closed_since(since, CaseState.APPROVED,
                                                                         scope)]
    return Stats(
        at=now, since=since, statuses=statuses,
        sections=sorted(sections.values(), key=lambda s: (-s.late, -s.open, s.name)),
        people=sorted(people.values(), key=lambda p: (p.decisions.share or 0, p.name)),
        weeks=weeks, cycle_days=sum(taken) / len(taken) if taken else None,
        cycle_items=len(taken))
