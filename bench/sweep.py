"""The deadline sweep's planning cost: ``nudging.plan()`` over many open steps.

The demo bureau is imported, then N open approval steps (one case each, spread over the
bureau's six projects and their handlers) are inserted with due dates spread around now:
from 5 working days overdue to 20 working days ahead. Measured per size:

* the first sweep: every yellow or red step gets its nudges claimed (rows inserted), as
  ``Jobs.sweep`` does before sending;
* an idle sweep a minute later, after those nudges were marked sent: nothing new to claim;
* the peak of Python memory allocated during each (``tracemalloc``, in a separate pass,
  since tracing slows everything down);
* SQL statements per sweep (an event listener on the engine);
* a press arriving halfway through each kind of sweep: how long its small write waited
  (on SQLite only one transaction writes at a time).

Run: ``python -m bench.sweep [--quick] [--json [PATH]] [--db ...] [--sizes 1000 10000]``
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import delete, event, update
from sqlmodel import col

from bench._common import (
    Report,
    Target,
    add_db_option,
    database_kinds,
    fresh_database,
    import_demo_bureau,
    parser,
    run_main,
)
from bot.config import Settings
from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.lights import light
from bot.domain.rules.policy import Policy
from bot.domain.rules.vocabulary import CaseState, MemberRole, StepMode, StepState
from bot.domain.usecases import nudging
from storage.db import SessionFactory, create_engine, create_session_factory
from storage.models import Case, Nudge, Step
from storage.store import Store

T = TypeVar("T")

# Targets -----------------------------------------------------------------------------------
INTERVAL_S = float(Settings.model_fields["sweep_interval_seconds"].default)  # 60 s
BUDGET_AT_10K = 0.1 * INTERVAL_S  # "well within" the interval: 10 % of it at 10 000 steps
SWEEP_WHY = (f"a sweep must finish well within the {INTERVAL_S:.0f} s interval: ≤ 10 % of it"
             " at 10 000 open steps, pro rata below")
WRITE_DURING = Target(0.25, "s", "a press or report arriving mid-sweep must be served as"
                      " promptly as any other (SQLite gives up after its 30 s busy timeout)")
PEAK_MEMORY = Target(64 * 2**20, "B", "the bot should fit a 256 MiB container; a sweep may use"
                     " a quarter of it at most")

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)  # a Monday in office hours
DUE_SPREAD = (-5, 20)  # due from 5 working days overdue to 20 ahead
SEED = 7
QUICK_TRACE_MAX = 2000  # --quick traces memory only up to this many steps


def sweep_target(steps: int) -> Target:
    """The same budget per open step at any size (600 µs)."""
    return Target(BUDGET_AT_10K * steps / 10_000, "s", SWEEP_WHY)


async def populate(sessions: SessionFactory, steps: int, calendar: WorkCalendar) -> Counter[str]:
    """N pending cases, each with one open step; returns the mix of lights at NOW."""
    rng = random.Random(SEED)
    policy = Policy()
    lights: Counter[str] = Counter()
    async with sessions() as session:
        store = Store(session)
        projects = []
        for project in await store.projects():
            assert project.id is not None
            people = await store.members(project.id, MemberRole.HANDLER)
            projects.append((project, [h.id for h in people if h.id is not None]))
        # Due days as close of office hours on a working day around NOW.
        today = calendar.deadline(NOW, 0).due_day
        ordinals = [o for o in range(today.toordinal() - 15, today.toordinal() + 40)]
        working = [o for o in ordinals if calendar.is_workday(today.fromordinal(o))]
        here = working.index(today.toordinal())
        offsets = range(DUE_SPREAD[0], DUE_SPREAD[1] + 1)
        batch = 2000
        for first in range(0, steps, batch):
            cases = []
            for i in range(first, min(steps, first + batch)):
                project, handlers = projects[i % len(projects)]
                assert project.id is not None
                cases.append(Case(
                    project_id=project.id, type_code="item", title=f"基准测试事项 {i}",
                    submitter_id=handlers[i % len(handlers)], state=CaseState.PENDING,
                    query_code=f"BENCH{i:09d}", created_at=NOW - timedelta(days=7)))
            session.add_all(cases)
            await session.flush()
            rows = []
            for case in cases:
                assert case.id is not None
                due_day = today.fromordinal(working[here + rng.choice(offsets)])
                due = calendar.close_of(due_day)
                lights[light(NOW, due, calendar, policy).value] += 1
                rows.append(Step(
                    case_id=case.id, seq=1, name="leader", mode=StepMode.ANY, limit_days=3,
                    state=StepState.OPEN, started_at=due - timedelta(days=4), due_at=due))
            session.add_all(rows)
            await session.commit()
    return lights


class StatementCounter:
    def __init__(self, engine: Any) -> None:
        self.count = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.count += 1


async def sweep(sessions: SessionFactory, now: datetime, calendar: WorkCalendar,
                policy: Policy, ladders: nudging.CaseLadders) -> int:
    """One ``plan()`` in its own session, as ``Jobs.sweep`` runs it; nudges claimed. The
    case ladders are kept from sweep to sweep as the bot keeps them: a first sweep gets a
    new ``CaseLadders`` (a fresh process reads every open case's definition once)."""
    async with sessions() as session:
        planned = await nudging.plan(Store(session), now, calendar, policy, ladders)
        return len(planned.nudges)


async def mark_all_sent(sessions: SessionFactory, now: datetime) -> None:
    """What delivery would leave behind: every claimed nudge sent."""
    async with sessions() as session:
        await session.execute(update(Nudge).where(col(Nudge.sent_at).is_(None))
                              .values(sent_at=now, channel="private"))
        await session.commit()


async def forget_nudges(sessions: SessionFactory) -> None:
    async with sessions() as session:
        await session.execute(delete(Nudge))
        await session.commit()


async def timed(action: Callable[[], Awaitable[T]]) -> tuple[float, T]:
    started = time.perf_counter()
    result = await action()
    return time.perf_counter() - started, result


async def write_meanwhile(sessions: SessionFactory, sweep_run: Awaitable[T], after: float
                          ) -> tuple[float, T, float, str | None]:
    """Run a sweep and, ``after`` seconds into it (half its usual time, so it is under way),
    one small write (an audit event, as every press and report appends): the sweep's seconds
    and result, how long the write took, its error."""
    started = time.perf_counter()
    task = asyncio.ensure_future(sweep_run)
    await asyncio.sleep(after)
    began, error = time.perf_counter(), None
    try:
        async with sessions() as session:
            store = Store(session)
            await store.audit(at=NOW, actor_id=None, action="bench.write", subject="bench")
            await store.commit()
    except Exception as exc:  # e.g. SQLite's "database is locked" after its busy timeout
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"[:160]
    waited = time.perf_counter() - began
    result = await task
    return time.perf_counter() - started, result, waited, error


async def traced(action: Callable[[], Awaitable[T]]) -> tuple[int, T]:
    """Peak bytes allocated above the starting point while ``action`` runs."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = await action()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return peak, result


async def measure(kind: str, report: Report, workdir: Path, steps: int, repeats: int,
                  trace_memory: bool) -> None:
    url = await fresh_database(kind, workdir, f"sweep-{steps}")
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    calendar, policy = WorkCalendar(), Policy()
    try:
        await import_demo_bureau(sessions, NOW.date(), NOW)
        started = time.perf_counter()
        lights = await populate(sessions, steps, calendar)
        report.section(f"[{kind}] {steps:,} open steps (inserted in"
                       f" {time.perf_counter() - started:.1f} s): {dict(lights)} at now")
        counter = StatementCounter(engine)
        later = NOW + timedelta(seconds=INTERVAL_S)
        first_times, idle_times, claims, again = [], [], 0, 0
        first_sql = idle_sql = 0
        writes: dict[str, tuple[float, str | None]] = {}
        for _ in range(repeats):
            await forget_nudges(sessions)
            counter.count = 0
            ladders = nudging.CaseLadders()
            seconds, claims = await timed(partial(sweep, sessions, NOW, calendar, policy,
                                                  ladders))
            first_sql = counter.count
            first_times.append(seconds)
            await mark_all_sent(sessions, NOW)
            counter.count = 0
            seconds, again = await timed(partial(sweep, sessions, later, calendar, policy,
                                                 ladders))
            idle_sql = counter.count
            idle_times.append(seconds)
        # Once more each, with a press arriving halfway through the sweep.
        await forget_nudges(sessions)
        _, _, waited, error = await write_meanwhile(
            sessions, sweep(sessions, NOW, calendar, policy, nudging.CaseLadders()),
            statistics.median(first_times) / 2)
        writes["first"] = (waited, error)
        await mark_all_sent(sessions, NOW)
        _, _, waited, error = await write_meanwhile(
            sessions, sweep(sessions, later, calendar, policy, ladders),
            statistics.median(idle_times) / 2)
        writes["idle"] = (waited, error)
        target = sweep_target(steps)
        report.timing(f"{kind}.{steps}.first", "first sweep (claims nudges)", first_times,
                      target=target, detail=f"{claims:,} nudges claimed")
        report.value(f"{kind}.{steps}.first_per_step", "  per open step",
                     statistics.median(first_times) / steps, "s",
                     detail=f"{first_sql:,} SQL statements, {first_sql / steps:.1f} per step")
        report.timing(f"{kind}.{steps}.idle", "idle sweep (nothing new)", idle_times,
                      target=target, detail=f"{again} claimed")
        report.value(f"{kind}.{steps}.idle_per_step", "  per open step",
                     statistics.median(idle_times) / steps, "s",
                     detail=f"{idle_sql:,} SQL statements, {idle_sql / steps:.1f} per step")
        report.figures[f"{kind}.{steps}.first"]["sql_statements"] = first_sql
        report.figures[f"{kind}.{steps}.idle"]["sql_statements"] = idle_sql
        report.figures[f"{kind}.{steps}.first"]["claimed"] = claims
        if again:
            report.alert(f"[{kind}] the idle sweep claimed {again} nudges again")
        for which, key in (("first", "write_during_first"), ("idle", "write_during_sweep")):
            waited, error = writes[which]
            report.value(f"{kind}.{steps}.{key}", f"a write halfway through the {which} sweep",
                         waited, "s", target=WRITE_DURING,
                         detail=f"FAILED: {error}" if error else "")
            report.figures[f"{kind}.{steps}.{key}"]["error"] = error

        if not trace_memory:
            report.note(f"peak memory at {steps:,} steps: full runs only (tracing is slow)")
            return
        await forget_nudges(sessions)
        ladders = nudging.CaseLadders()
        peak, _ = await traced(lambda: sweep(sessions, NOW, calendar, policy, ladders))
        report.value(f"{kind}.{steps}.first_peak", "first sweep: peak Python memory", peak, "B",
                     target=PEAK_MEMORY)
        await mark_all_sent(sessions, NOW)
        peak, _ = await traced(lambda: sweep(sessions, later, calendar, policy, ladders))
        report.value(f"{kind}.{steps}.idle_peak", "idle sweep: peak Python memory", peak, "B",
                     target=PEAK_MEMORY)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser("sweep", "nudging.plan() over many open steps: time, SQL, peak memory")
    add_db_option(p)
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000],
                   help="open steps (default: 1000 10000)")
    p.add_argument("--repeats", type=int, default=None, help="timed passes per size")
    args = p.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    report = Report("sweep", "deadline sweep planning (nudging.plan)", quick=args.quick)
    kinds = database_kinds(args.db)
    report.data["databases"] = kinds
    report.data["sizes"] = args.sizes
    with tempfile.TemporaryDirectory(prefix="greenlight-bench-") as tmp:
        for kind in kinds:
            for steps in args.sizes:
                trace = not args.quick or steps <= QUICK_TRACE_MAX
                asyncio.run(measure(kind, report, Path(tmp), steps, repeats, trace))
    return report.finish(args.json)


if __name__ == "__main__":
    run_main(main)
