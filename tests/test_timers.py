"""Durable timers: APScheduler's SQLAlchemy job store on the bot's own database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot import scheduling
from bot.scheduling import SWEEP_JOB_ID, Timers, due_job_id, sync_url


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
    first = Timers(database_url, ZoneInfo("Asia/Shanghai"))
    await first.start(RecordingJobs())  # type: ignore[arg-type]
    await first.schedule_sweep(60)
    due = datetime(2030, 1, 2, 9, 30, tzinfo=UTC)  # far away: it does not fire here
    await first.schedule_due(7, due)
    await first.shutdown()

    second = Timers(database_url, ZoneInfo("Asia/Shanghai"))
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
    timers = Timers(database_url, ZoneInfo("Asia/Shanghai"))
    await timers.start(jobs)  # type: ignore[arg-type]
    try:
        due = datetime.now(UTC) - timedelta(seconds=1)  # already due: fires at once
        await timers.schedule_due(42, due)
        await asyncio.wait_for(jobs.fired.wait(), 10)
        assert jobs.calls == [("step_due", (42, due))]
        assert jobs.loop is asyncio.get_running_loop()  # handed over from the timer thread
        await asyncio.sleep(0.2)
        assert due_job_id(42) not in await timers.job_ids()  # a date job runs once
    finally:
        await timers.shutdown()
    assert scheduling._running is None


async def test_stored_jobs_carry_ids_and_times_only(database_url: str) -> None:
    timers = Timers(database_url, ZoneInfo("Asia/Shanghai"))
    await timers.start(RecordingJobs())  # type: ignore[arg-type]
    try:
        due = datetime(2030, 1, 2, 9, 30, tzinfo=UTC)
        await timers.schedule_due(7, due)
        await timers.schedule_sweep(60)
        jobs = {job.id: job for job in timers.scheduler.get_jobs()}
        assert jobs[due_job_id(7)].args == (7, due.isoformat())
        assert jobs[due_job_id(7)].func_ref == "bot.scheduling:step_due_job"
        assert jobs[SWEEP_JOB_ID].args == () and jobs[SWEEP_JOB_ID].trigger.interval == \
            timedelta(seconds=60)
    finally:
        await timers.shutdown()
