"""The deadline sweep's cost: ``deemable_steps`` and ``jobs.plan_windows`` over many open steps.

The demo bureau is imported, then N open approval steps (one case each, spread over the
bureau's six projects and their handlers) are inserted in bulk with due dates spread around
now: from 5 working days overdue to 20 working days ahead, each with its next moment "at
once" (as the migration leaves existing rows). Measured per size:

* the first sweep: it works out every open step's next moment (a catch-up, once per
  migration) and claims the nudges of every yellow or red step, as ``Jobs.sweep`` does
  before sending;
* an idle sweep a minute later, after those nudges were marked sent: nothing is due, so
  nothing open is read;
* a sweep with 1 % of the steps due (their next moment come, their claims gone): it reads
  and claims those only;
* the peak of Python memory allocated during each (``tracemalloc``, in a separate pass,
  since tracing slows everything down);
* SQL statements per sweep (an event listener on the engine);
* a press arriving halfway through the first and the idle sweep: how long its small write
  waited (on SQLite only one transaction writes at a time).

Run: ``python -m bench.sweep [--quick] [--json [PATH]] [--db ...] [--sizes 10000 100000]``
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

from sqlalchemy import delete, event, func, insert, select, text, update
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
from bot.domain.usecases.approvals import deemable_steps
from bot.jobs import plan_windows
from storage.db import SessionFactory, create_engine, create_session_factory
from storage.models import AT_ONCE, Case, Nudge, Step
from storage.store import Store

T = TypeVar("T")

# Targets -----------------------------------------------------------------------------------
INTERVAL_S = float(Settings.model_fields["sweep_interval_seconds"].default)  # 60 s
BUDGET_AT_10K = 0.1 * INTERVAL_S  # "well within" the interval: 10 % of it at 10 000 steps
SWEEP_WHY = (f"a catch-up sweep must finish well within the {INTERVAL_S:.0f} s interval:"
             " ≤ 10 % of it at 10 000 open steps, pro rata")
IDLE = Target(0.05, "s", "a sweep costs what is due, not what is open: with nothing due it"
              " reads no open row, ≤ 50 ms even at 100 000 open steps")
PER_DUE = 0.0006  # s per due step: the catch-up's budget per step
DUE_WHY = ("with 1 % due, time grows with the due rows only: the idle budget plus"
           f" {PER_DUE * 1e6:.0f} µs per due step (a catch-up's budget per step)")
WRITE_DURING = Target(0.25, "s", "a press or report arriving mid-sweep must be served as"
                      " promptly as any other (SQLite gives up after its 30 s busy timeout)")
PEAK_MEMORY = Target(64 * 2**20, "B", "the bot should fit a 256 MiB container; a sweep may use"
                     " a quarter of it at most")
DUE_SHARE = 0.01

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)  # a Monday in office hours
DUE_SPREAD = (-5, 20)  # due from 5 working days overdue to 20 ahead
SEED = 7
QUICK_TRACE_MAX = 10_000  # --quick traces the first (catch-up) sweep only up to this size
IDLE_REPEATS = 5  # idle and 1 % sweeps are quick: a few more samples


def sweep_target(steps: int) -> Target:
    """The same budget per open step at any size (600 µs)."""
    return Target(BUDGET_AT_10K * steps / 10_000, "s", SWEEP_WHY)


def due_target(due: int) -> Target:
    return Target(IDLE.limit + PER_DUE * due, "s", DUE_WHY)


async def populate(sessions: SessionFactory, steps: int, calendar: WorkCalendar) -> Counter[str]:
    """N pending cases, each with one open step, inserted in bulk (one INSERT per table and
    chunk); returns the mix of lights at NOW."""
    rng = random.Random(SEED)
    policy = Policy()
    lights: Counter[str] = Counter()
    async with sessions() as session:
        store = Store(session)
        projects = []
        for project in await store.projects():
            assert project.id is not None
            people = await store.members(project.id, MemberRole.HANDLER)
            projects.append((project, [h.id for h in people]))
        # Due days as close of office hours on a working day around NOW.
        today = calendar.deadline(NOW, 0).due_day
        ordinals = [o for o in range(today.toordinal() - 15, today.toordinal() + 40)]
        working = [o for o in ordinals if calendar.is_workday(today.fromordinal(o))]
        here = working.index(today.toordinal())
        offsets = range(DUE_SPREAD[0], DUE_SPREAD[1] + 1)
        first_id = int(await session.scalar(select(func.coalesce(func.max(Case.id), 0))) or 0) + 1
        chunk = 5000
        for first in range(0, steps, chunk):
            cases, rows = [], []
            for i in range(first, min(steps, first + chunk)):
                project, handlers = projects[i % len(projects)]
                due = calendar.close_of(today.fromordinal(working[here + rng.choice(offsets)]))
                lights[light(NOW, due, calendar, policy).value] += 1
                cases.append({
                    "id": first_id + i, "project_id": project.id, "type_code": "item",
                    "title": f"基准测试事项 {i}", "submitter_id": handlers[i % len(handlers)],
                    "state": CaseState.PENDING, "query_code": f"BENCH{i:09d}",
                    "created_at": NOW - timedelta(days=7), "definition": "{}", "details": "{}",
                    "body": "", "green_channel": False, "round": 1, "version": 1})
                rows.append({
                    "case_id": first_id + i, "round": 1, "seq": 1, "name": "leader",
                    "mode": StepMode.ANY, "limit_days": 3, "timeout_policy": "none",
                    "state": StepState.OPEN, "started_at": due - timedelta(days=4),
                    "due_at": due, "due_uncertain": False, "deemed": False, "cc": "[]",
                    "version": 1, "next_at": AT_ONCE})
            await session.execute(insert(Case), cases)
            await session.execute(insert(Step), rows)
        if session.get_bind().dialect.name == "postgresql":  # ids given: move the sequence on
            await session.execute(text(
                "SELECT setval(pg_get_serial_sequence('\"case\"', 'id'), max(id)) FROM \"case\""))
        await session.commit()
    return lights


async def make_due(sessions: SessionFactory, share: float, seed: int) -> int:
    """A share of the open steps due again, with nothing claimed: their next moment come
    (as a rung coming due, or a change, leaves them) and their claims gone."""
    async with sessions() as session:
        ids = list(await session.scalars(select(col(Step.id)).where(col(Step.state) == "open")))
        chosen = random.Random(seed).sample(ids, max(1, int(len(ids) * share)))
        for start in range(0, len(chosen), 500):
            part = chosen[start:start + 500]
            await session.execute(update(Step).where(col(Step.id).in_(part))
                                  .values(next_at=AT_ONCE))
            await session.execute(delete(Nudge).where(col(Nudge.target_kind) == "step",
                                                      col(Nudge.target_id).in_(part)))
        await session.commit()
    return len(chosen)


async def reset(sessions: SessionFactory) -> None:
    """Back to a fresh migration: nothing claimed, every open step's next moment at once."""
    async with sessions() as session:
        await session.execute(delete(Nudge))
        await session.execute(update(Step).where(col(Step.state) == "open")
                              .values(next_at=AT_ONCE))
        await session.commit()


class StatementCounter:
    def __init__(self, engine: Any) -> None:
        self.count = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.count += 1


async def sweep(sessions: SessionFactory, now: datetime, calendar: WorkCalendar,
                policy: Policy, ladders: nudging.CaseLadders) -> int:
    """The database part of ``Jobs.sweep`` in its own session: the steps to deem approved,
    then ``plan_windows`` (nudges claimed, next moments set), each window's plan let go
    before the next is read, as delivery lets it go. The case ladders are kept from sweep
    to sweep as the bot keeps them."""
    claimed = 0
    async with sessions() as session:
        store = Store(session)
        await deemable_steps(store, now)
        await store.commit()
        async for plan in plan_windows(store, now, calendar, policy, ladders):
            claimed += len(plan.nudges)
        return claimed


async def mark_all_sent(sessions: SessionFactory, now: datetime) -> None:
    """What delivery would leave behind: every claimed nudge sent."""
    async with sessions() as session:
        await session.execute(update(Nudge).where(col(Nudge.sent_at).is_(None))
                              .values(sent_at=now, channel="private"))
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
                  trace_first: bool) -> None:
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
        first_times, idle_times, due_times, claims, again, due_claims = [], [], [], 0, 0, 0
        first_sql = idle_sql = due_sql = due_rows = 0
        ladders = nudging.CaseLadders()
        first_repeats = repeats if steps <= 10_000 else 1  # a catch-up: once per migration
        for n in range(first_repeats):
            if n:
                await reset(sessions)
            counter.count = 0
            ladders = nudging.CaseLadders()
            seconds, claims = await timed(partial(sweep, sessions, NOW, calendar, policy,
                                                  ladders))
            first_sql = counter.count
            first_times.append(seconds)
            await mark_all_sent(sessions, NOW)
        for n in range(max(repeats, IDLE_REPEATS)):
            counter.count = 0
            at = later + timedelta(seconds=n)
            seconds, again = await timed(partial(sweep, sessions, at, calendar, policy,
                                                 ladders))
            idle_sql = counter.count
            idle_times.append(seconds)
        for n in range(max(repeats, IDLE_REPEATS)):
            due_rows = await make_due(sessions, DUE_SHARE, SEED + n)
            counter.count = 0
            at = later + timedelta(seconds=30 + n)
            seconds, due_claims = await timed(partial(sweep, sessions, at, calendar, policy,
                                                      ladders))
            due_sql = counter.count
            due_times.append(seconds)
            await mark_all_sent(sessions, NOW)
        # Once more each, with a press arriving halfway through the sweep.
        writes: dict[str, tuple[float, str | None]] = {}
        await reset(sessions)
        _, _, waited, error = await write_meanwhile(
            sessions, sweep(sessions, NOW, calendar, policy, nudging.CaseLadders()),
            statistics.median(first_times) / 2)
        writes["first"] = (waited, error)
        await mark_all_sent(sessions, NOW)
        _, _, waited, error = await write_meanwhile(
            sessions, sweep(sessions, later, calendar, policy, ladders),
            statistics.median(idle_times) / 2)
        writes["idle"] = (waited, error)
        report.timing(f"{kind}.{steps}.first", "first sweep (catch-up: every next moment,"
                      " nudges claimed)", first_times, target=sweep_target(steps),
                      detail=f"{claims:,} nudges claimed")
        report.value(f"{kind}.{steps}.first_per_step", "  per open step",
                     statistics.median(first_times) / steps, "s",
                     detail=f"{first_sql:,} SQL statements, {first_sql / steps:.2f} per step")
        report.timing(f"{kind}.{steps}.idle", "idle sweep (nothing due)", idle_times,
                      target=IDLE, detail=f"{idle_sql:,} SQL statements, {again} claimed")
        report.timing(f"{kind}.{steps}.due", f"sweep with {DUE_SHARE:.0%} due"
                      f" ({due_rows:,} steps)", due_times, target=due_target(due_rows),
                      detail=f"{due_sql:,} SQL statements, {due_claims:,} nudges claimed")
        report.figures[f"{kind}.{steps}.first"]["sql_statements"] = first_sql
        report.figures[f"{kind}.{steps}.idle"]["sql_statements"] = idle_sql
        report.figures[f"{kind}.{steps}.due"]["sql_statements"] = due_sql
        report.figures[f"{kind}.{steps}.due"]["due_steps"] = due_rows
        report.figures[f"{kind}.{steps}.first"]["claimed"] = claims
        report.figures[f"{kind}.{steps}.due"]["claimed"] = due_claims
        if again:
            report.alert(f"[{kind}] the idle sweep claimed {again} nudges again")
        if not due_claims:
            report.alert(f"[{kind}] the sweep with {due_rows} steps due claimed nothing")
        for which, key in (("first", "write_during_first"), ("idle", "write_during_sweep")):
            waited, error = writes[which]
            report.value(f"{kind}.{steps}.{key}", f"a write halfway through the {which} sweep",
                         waited, "s", target=WRITE_DURING,
                         detail=f"FAILED: {error}" if error else "")
            report.figures[f"{kind}.{steps}.{key}"]["error"] = error

        at = later + timedelta(minutes=5)
        peak, _ = await traced(lambda: sweep(sessions, at, calendar, policy, ladders))
        report.value(f"{kind}.{steps}.idle_peak", "idle sweep: peak Python memory", peak, "B",
                     target=PEAK_MEMORY)
        due_rows = await make_due(sessions, DUE_SHARE, SEED - 1)
        peak, _ = await traced(lambda: sweep(sessions, at + timedelta(seconds=1), calendar,
                                             policy, ladders))
        report.value(f"{kind}.{steps}.due_peak", f"sweep with {DUE_SHARE:.0%} due: peak Python"
                     " memory", peak, "B", target=PEAK_MEMORY)
        if not trace_first:
            report.note(f"first sweep's peak memory at {steps:,} steps: full runs only"
                        " (tracing is slow)")
            return
        await reset(sessions)
        peak, _ = await traced(lambda: sweep(sessions, NOW, calendar, policy,
                                             nudging.CaseLadders()))
        report.value(f"{kind}.{steps}.first_peak", "first sweep: peak Python memory", peak, "B",
                     target=PEAK_MEMORY)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser("sweep", "the deadline sweep over many open steps: time, SQL, peak memory")
    add_db_option(p)
    p.add_argument("--sizes", type=int, nargs="+", default=None,
                   help="open steps (default: 10000 100000; --quick: 10000)")
    p.add_argument("--repeats", type=int, default=None, help="timed passes per size")
    args = p.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    sizes = args.sizes or ([10_000] if args.quick else [10_000, 100_000])
    report = Report("sweep", "deadline sweep (deemable_steps + jobs.plan_windows)",
                    quick=args.quick)
    kinds = database_kinds(args.db)
    report.data["databases"] = kinds
    report.data["sizes"] = sizes
    with tempfile.TemporaryDirectory(prefix="greenlight-bench-") as tmp:
        for kind in kinds:
            for steps in sizes:
                trace = not args.quick or steps <= QUICK_TRACE_MAX
                asyncio.run(measure(kind, report, Path(tmp), steps, repeats, trace))
    return report.finish(args.json)


if __name__ == "__main__":
    run_main(main)
