"""Durable timers: APScheduler's SQLAlchemy job store on the bot's own database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.job import Job

from bot import scheduling
from bot.domain.rules.clock import ManualClock
from bot.scheduling import SWEEP_JOB_ID, Timers, due_job_id, sync_url

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Far from any real date, before and after: the timers must follow the clock they are given.
CLOCKS = [datetime(2001, 3, 5, 9, 0, tzinfo=UTC), datetime(2093, 6, 1, 9, 0, tzinfo=UTC)]
NOW = CLOCKS[1]


def timers_at(database_url: str, clock: ManualClock) -> Timers:
    return Timers(database_url, SHANGHAI, clock)


@contextlib.asynccontextmanager
async def running(database_url: str, clock: ManualClock,
                  jobs: RecordingJobs) -> AsyncIterator[Timers]:
    """Timers started on ``clock`` for ``jobs``, shut down afterwards."""
    timers = timers_at(database_url, clock)
    await timers.start(jobs)  # type: ignore[arg-type]
    try:
        yield timers
    finally:
        await timers.shutdown()


class RecordingJobs:
    """Stands in for the bot's jobs: records what the timers asked of it, on its loop."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.fired = asyncio.Event()

    async def sweep(self) -> None:
        self.calls.append(("sweep", None))

    async def step_due(self, step_id: int, due: datetime) -> None:
        self.loop = asyncio.get_running_loop()
        self.calls.append(("step_due", (step_id, due)))
        self.fired.set()


def test_the_job_store_uses_a_synchronous_driver_on_the_same_database() -> None:
    assert sync_url("sqlite+aiosqlite:////tmp/x/greenlight.db") == "sqlite:////tmp/x/greenlight.db"
    assert sync_url("postgresql+asyncpg://postgres@127.0.0.1:5432/test") == (
        "postgresql+psycopg://postgres@127.0.0.1:5432/test")


async def test_jobs_persist_across_restarts_once_each(database_url: str) -> None:
    clock = ManualClock(NOW)
    first = timers_at(database_url, clock)
    await first.start(RecordingJobs())  # type: ignore[arg-type]
    await first.schedule_sweep(60)
    due = NOW + timedelta(days=30)
    await first.schedule_due(7, due)
    await first.shutdown()

    second = timers_at(database_url, clock)
    await second.start(RecordingJobs())  # type: ignore[arg-type]
    try:
        assert await second.job_ids() == {SWEEP_JOB_ID, due_job_id(7)}
        await second.schedule_sweep(60)  # a restart registers again: still one job
        await second.schedule_due(7, due + timedelta(days=1))  # a new due replaces the old
        assert await second.job_ids() == {SWEEP_JOB_ID, due_job_id(7)}
        assert await second.due_timers() == {(7, due + timedelta(days=1))}
        await second.cancel_due(7)
        await second.cancel_due(7)  # cancelling twice is harmless
        assert await second.job_ids() == {SWEEP_JOB_ID}
    finally:
        await second.shutdown()


async def test_a_due_timer_runs_its_work_on_the_bot_event_loop(database_url: str) -> None:
    jobs = RecordingJobs()
    clock = ManualClock(NOW)
    async with running(database_url, clock, jobs) as timers:
        due = NOW - timedelta(seconds=1)  # already due: fires at once
        await timers.schedule_due(42, due)
        await asyncio.wait_for(jobs.fired.wait(), 10)
        assert jobs.calls == [("step_due", (42, due))]
        assert jobs.loop is asyncio.get_running_loop()  # handed over from the timer thread
        await asyncio.sleep(0.2)
        assert due_job_id(42) not in await timers.job_ids()  # a date job runs once
    assert scheduling._running is None


async def test_stored_jobs_carry_ids_and_times_only(database_url: str) -> None:
    timers = timers_at(database_url, ManualClock(NOW))
    await timers.start(RecordingJobs())  # type: ignore[arg-type]
    try:
        due = NOW + timedelta(days=30)
        await timers.schedule_due(7, due)
        await timers.schedule_sweep(60)
        jobs = {job.id: job for job in timers.scheduler.get_jobs()}
        assert jobs[due_job_id(7)].args == (7, due.isoformat())
        assert jobs[due_job_id(7)].func_ref == "bot.scheduling:step_due_job"
        assert jobs[SWEEP_JOB_ID].args == () and jobs[SWEEP_JOB_ID].trigger.interval == \
            timedelta(seconds=60)
    finally:
        await timers.shutdown()


@pytest.mark.parametrize("start", CLOCKS, ids=["clock-behind", "clock-ahead"])
async def test_timers_fire_by_the_injected_clock_not_the_real_one(database_url: str,
                                                                  start: datetime) -> None:
    jobs = RecordingJobs()
    clock = ManualClock(start)
    async with running(database_url, clock, jobs) as timers:
        due = start + timedelta(hours=1)
        await timers.schedule_due(5, due)
        await timers.schedule_sweep(60)
        stored = {job.id: job.next_run_time for job in timers.scheduler.get_jobs()}
        assert stored == {due_job_id(5): due, SWEEP_JOB_ID: start + timedelta(seconds=60)}
        # One round of the scheduler's own loop, run here rather than waited for: by the
        # clock's time the sweep is next, a minute away, and nothing is due yet.
        wait = await asyncio.to_thread(timers.scheduler._process_jobs)
        assert wait == 60 and jobs.calls == []
        clock.advance(timedelta(hours=1))
        await asyncio.to_thread(timers.scheduler._process_jobs)
        await asyncio.wait_for(jobs.fired.wait(), 10)
        assert ("step_due", (5, due)) in jobs.calls
        assert due_job_id(5) not in await timers.job_ids()


async def test_a_timer_removed_by_another_process_meanwhile_does_not_stop_the_timers(
        database_url: str) -> None:
    jobs = RecordingJobs()
    clock = ManualClock(NOW)
    async with running(database_url, clock, jobs) as timers:
        await timers.schedule_due(9, NOW + timedelta(hours=1))
        executor = timers.scheduler._lookup_executor("default")
        store = timers.scheduler._lookup_jobstore("default")
        submit = executor.submit_job

        def submit_then_lose_it(job: Job, run_times: list[datetime]) -> None:
            submit(job, run_times)
            if job.id == due_job_id(9):
                store.remove_job(job.id)  # another process ran and removed it first

        executor.submit_job = submit_then_lose_it  # type: ignore[method-assign]
        clock.advance(timedelta(hours=1))
        timers.wakeup()
        await asyncio.wait_for(jobs.fired.wait(), 10)
        jobs.fired.clear()
        # The scheduler's thread lives on: a timer set now still fires.
        await timers.schedule_due(10, clock.now())
        await asyncio.wait_for(jobs.fired.wait(), 10)
        assert [args for name, args in jobs.calls if name == "step_due"] == [
            (9, NOW + timedelta(hours=1)), (10, clock.now())]
