"""What handlers and jobs share: settings, the clock, the calendar, the bureau's rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.config import Settings, SettingsError
from bot.domain.rules.calendar import DayOverride, OfficeHours, WorkCalendar
from bot.domain.rules.casetypes import (
    CaseTypes,
    CaseTypesError,
    default_case_types_path,
    load_case_types,
)
from bot.domain.rules.clock import Clock
from bot.domain.rules.policy import Policy
from bot.i18n import Rendering
from storage.store import Store


def policy_from(settings: Settings) -> Policy:
    return Policy(
        yellow_working_days=settings.yellow_working_days,
        yellow_share=settings.yellow_share,
        report_max_chars=settings.report_max_chars,
        quiet_hours=settings.quiet_hours,
        urgent_breaks_quiet=settings.urgent_breaks_quiet,
        # A nudge that could not go out within two sweeps of falling due is a catch-up.
        late_after=timedelta(seconds=2 * settings.sweep_interval_seconds),
        digest_after=settings.digest_after,
        ask_limit_days=settings.ask_limit_days,
    )


def case_types_from(settings: Settings) -> CaseTypes:
    """The configured case types; a bad file stops start-up naming the file and line."""
    path = settings.case_types_file or default_case_types_path()
    try:
        return load_case_types(path)
    except CaseTypesError as exc:
        raise SettingsError(f"GREENLIGHT_CASE_TYPES_FILE: {exc}") from None


@dataclass
class Services:
    settings: Settings
    clock: Clock
    policy: Policy
    rendering: Rendering
    case_types: CaseTypes
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    calendar_read: tuple[tuple[DayOverride, ...], tuple[int, ...]] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> Services:
        return cls(
            settings=settings,
            clock=clock,
            policy=policy_from(settings),
            rendering=Rendering(settings.default_locale, settings.timezone),
            case_types=case_types_from(settings),
            calendar=cls.build_calendar(settings, (), ()),
        )

    def now(self) -> datetime:
        return self.clock.now()

    @staticmethod
    def build_calendar(settings: Settings, overrides: tuple[DayOverride, ...],
                       covered_years: tuple[int, ...]) -> WorkCalendar:
        return WorkCalendar(overrides, covered_years, OfficeHours(settings.office_intervals),
                            settings.tz)

    async def reload_calendar(self, store: Store) -> WorkCalendar:
        """Rebuild the calendar from the override table (after start or an import), if it
        changed since it was last read: another worker's /calendar, or an import, reaches
        this one at its next sweep."""
        overrides = tuple(
            DayOverride(o.day, o.is_workday, o.name, o.source)
            for o in await store.calendar_overrides()
        )
        years = tuple(y.year for y in await store.calendar_years())
        if self.calendar_read == (overrides, years):
            return self.calendar
        self.calendar_read = (overrides, years)
        self.calendar = self.build_calendar(self.settings, overrides, years)
        return self.calendar
