"""Working-day arithmetic: ``WorkCalendar.deadline`` and ``remaining_working_days``.

Warm calls (the year tables already built), the cold first call of a year (the table is
built from ``day_info`` for each of its days), and a naive day-by-day loop over
``chinese_calendar.is_workday`` doing the same job, as the baseline.

Run: ``python -m bench.calendar [--quick] [--json [PATH]]``
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar

from bench._common import Report, Stats, Target, fmt, parser, run_main, time_batches
from bot.domain.rules.calendar import WorkCalendar

# Targets -----------------------------------------------------------------------------------
DEADLINE_WARM = Target(100e-6, "s", "every card light and every open step of a sweep asks for"
                       " it: 10 000 steps × 100 µs = 1 s of a 60 s sweep interval")
REMAINING_WARM = Target(100e-6, "s", "light() calls it once per open step per sweep and per"
                        " card rendered (same budget as deadline)")
COLD_YEAR = Target(20e-3, "s", "the first call of a year builds its table once per process;"
                   " a person must not notice it (≤ 20 ms)")

TZ = ZoneInfo("Asia/Shanghai")
LIMITS = (1, 30, 250)  # working days: a leader's item, a typical 30-day review, a year
SEED = 20261123


def instants(count: int) -> list[datetime]:
    """Acceptance instants spread over the first half of 2025, at any hour (so +250 working
    days stay inside the years ``chinese_calendar`` knows, for the naive baseline)."""
    rng = random.Random(SEED)
    start = datetime(2025, 1, 1, tzinfo=TZ)
    return [start + timedelta(days=rng.randrange(180), minutes=rng.randrange(24 * 60))
            for _ in range(count)]


def naive_deadline(accepted_at: datetime, working_days: int,
                   is_workday: Callable[[date], bool] = chinese_calendar.is_workday,
                   closing: clock_time = clock_time(17, 30)) -> date:
    """What WorkCalendar.deadline computes, the obvious way: a day at a time."""
    local = accepted_at.astimezone(TZ)
    day = local.date()
    if not (is_workday(day) and local.time() < closing):
        day += timedelta(days=1)
        while not is_workday(day):
            day += timedelta(days=1)
    left = working_days
    while left:
        day += timedelta(days=1)
        if is_workday(day):
            left -= 1
    datetime.combine(day, closing, tzinfo=TZ).astimezone(ZoneInfo("UTC"))
    return day


def cycling(items: list[Any], call: Callable[..., object]) -> Callable[[], object]:
    """A zero-argument call of ``call(*item)``, taking ``items`` round-robin (tuples are
    spread as arguments)."""
    index = 0
    size = len(items)

    def run() -> object:
        nonlocal index
        index = (index + 1) % size
        item = items[index]
        return call(*item) if isinstance(item, tuple) else call(item)

    return run


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser("calendar", __doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--batches", type=int, default=None, help="timing batches per figure")
    args = p.parse_args(argv)
    batches = args.batches or (60 if args.quick else 300)
    per_batch = 50 if args.quick else 100
    cold_runs = max(3, batches // 6)
    report = Report("calendar", "working-day arithmetic (WorkCalendar)", quick=args.quick)

    starts = instants(64)
    calendar = WorkCalendar()
    for year in range(2024, 2028):  # warm: every table the figures below touch
        calendar.is_workday(date(year, 6, 1))

    # Correctness first: the table and the naive loop agree on every due day.
    mismatches = [(s, n) for s in starts for n in LIMITS
                  if calendar.deadline(s, n).due_day != naive_deadline(s, n)]
    if mismatches:
        report.alert(f"WorkCalendar.deadline and the naive loop disagree on {len(mismatches)}"
                     f" cases, e.g. {mismatches[0]}")

    report.section(f"warm calls (tables built; {batches} batches × {per_batch} calls)")
    overhead = Stats.of(time_batches(cycling(starts, id), batches=batches, per_batch=per_batch))
    report.note(f"(harness overhead per call, included below: {fmt(overhead.median, 's')})")
    warm: dict[int, float] = {}
    for n in LIMITS:
        samples = time_batches(cycling(starts, partial(calendar.deadline, working_days=n)),
                               batches=batches, per_batch=per_batch)
        warm[n] = report.timing(f"deadline_{n}wd", f"deadline(+{n} working days)", samples,
                                target=DEADLINE_WARM).median
    for n in (3, 250):
        pairs = [(s, calendar.deadline(s, n).due) for s in starts]
        remaining = cycling(pairs, calendar.remaining_working_days)
        report.timing(f"remaining_{n}wd", f"remaining_working_days(~{n} working days)",
                      time_batches(remaining, batches=batches, per_batch=per_batch),
                      target=REMAINING_WARM)

    report.section(f"cold first call of a year (a new WorkCalendar each time; {cold_runs} runs)")
    cold: dict[str, float] = {}
    for label, year in (("covered", 2026), ("uncovered", 2027)):
        samples = []
        moment = datetime(year, 3, 2, 10, 0, tzinfo=TZ)
        for _ in range(cold_runs):
            fresh = WorkCalendar()
            start = time.perf_counter()
            fresh.deadline(moment, 1)
            samples.append(time.perf_counter() - start)
        what = "package data" if label == "covered" else "weekend rule"
        cold[label] = report.timing(f"cold_{label}", f"first deadline() in {year} ({what})",
                                    samples, target=COLD_YEAR).median
    report.ratio("cached_vs_uncached", "cached vs uncached (cold 2026 / warm +1)",
                 cold["covered"], warm[1])

    report.section("naive baseline: a day-by-day loop over chinese_calendar.is_workday")
    for n in LIMITS:
        per = max(1, per_batch // max(1, n // 10))
        samples = time_batches(cycling(starts, partial(naive_deadline, working_days=n)),
                               batches=batches, per_batch=per)
        naive = report.timing(f"naive_{n}wd", f"naive loop (+{n} working days)", samples).median
        report.ratio(f"speedup_{n}wd", f"  WorkCalendar vs naive, +{n}", naive, warm[n])
    started = time.perf_counter()
    for _ in range(1000):
        chinese_calendar.is_workday(date(2025, 3, 3))
    report.value("package_is_workday", "  one chinese_calendar.is_workday() call",
                 (time.perf_counter() - started) / 1000, "s",
                 detail="it scans every holiday key on each call to check the year")

    report.section("same day-by-day loop over WorkCalendar.is_workday (cached set): the"
                   " algorithm alone")
    for n in LIMITS:
        per = max(1, per_batch // max(1, n // 30))
        day_loop = partial(naive_deadline, working_days=n, is_workday=calendar.is_workday)
        samples = time_batches(cycling(starts, day_loop), batches=batches, per_batch=per)
        loop = report.timing(f"loop_cached_{n}wd", f"day loop, cached set (+{n})", samples).median
        report.ratio(f"speedup_cached_{n}wd", f"  WorkCalendar (bisect) vs day loop, +{n}", loop,
                     warm[n])
    return report.finish(args.json)


if __name__ == "__main__":
    run_main(main)
