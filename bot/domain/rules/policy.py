"""The bureau's adjustable rules, handed to use cases (built from settings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.ladder import Thresholds


@dataclass(frozen=True)
class Policy:
    yellow_working_days: int = 1  # yellow when this many working days or fewer are left
    yellow_share: float | None = None  # … or this share of the limit
    report_max_chars: int = 3000
    title_max_chars: int = 200
    reason_max_chars: int = 1000
    quiet_hours: bool = True  # nudges wait for office hours
    urgent_breaks_quiet: bool = True  # … except for green-channel cases
    late_after: timedelta = field(default=timedelta(minutes=5))  # a nudge sent later is late
    query_misses_per_hour: int = 5  # wrong /query codes a sender may try in an hour
    digest_after: int = 3  # more nudges than this for one person in one sweep: a digest
    ask_limit_days: int = 3  # a first-question ledger entry is answered within this

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(self.yellow_working_days, self.yellow_share)

    def may_nudge(self, now: datetime, calendar: WorkCalendar, urgent: bool) -> bool:
        """Whether a nudge may go out now (quiet hours hold it otherwise)."""
        if not self.quiet_hours or (urgent and self.urgent_breaks_quiet):
            return True
        return calendar.is_office_time(now)

    def first_sendable(self, since: datetime, calendar: WorkCalendar, urgent: bool) -> datetime:
        """When a nudge reached at ``since`` could first have gone out."""
        if not self.quiet_hours or (urgent and self.urgent_breaks_quiet):
            return since
        return calendar.next_office_time(since)
