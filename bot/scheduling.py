"""Durable timers: APScheduler 3 with its SQLAlchemy job store, on the bot's own database.

Two kinds of job, each with an explicit id, ``replace_existing=True`` and only ids and
ISO times as arguments, so they survive restarts and can run months later:

- ``deadline-sweep``: the periodic sweep (nudges, urge notices, deemed approvals);
- ``step-due-<id>``: a step's due instant, so what happens at the deadline (deemed
  approval, the red nudge) happens then rather than at the next sweep.

The job store is synchronous. Inside the event loop its writes would wait for SQLite's
write lock while an async transaction of the same loop holds it: a deadlock. So the
scheduler runs in its own thread; a job hands its coroutine to the bot's event loop and
waits for it there, and the loop adds or removes jobs through a worker thread.

APScheduler reads the wall clock and offers no hook for another: :class:`ClockScheduler`
gives the few methods that ask the time the injected clock instead, so timers follow a
test's manual clock (and a sandbox's moved one) exactly as they follow real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import types
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy.engine import make_url

from bot.domain.rules.clock import Clock
from bot.domain.rules.digest import DigestTime

if TYPE_CHECKING:
    from bot.jobs import Jobs

log = logging.getLogger(__name__)

SWEEP_JOB_ID = "deadline-sweep"
DIGEST_JOB_ID = "weekly-digest"
JOBS_TABLE = "apscheduler_jobs"
JOB_TIMEOUT = 600  # seconds a job may take on the event loop

# The jobs of the running process: job functions are plain module functions (the job store
# keeps only their import path and arguments), so they find the bot here.
_running: tuple[Jobs, asyncio.AbstractEventLoop] | None = None


def sync_url(url: str) -> str:
    """The same database for a synchronous driver (the job store is synchronous)."""
    parsed = make_url(url)
    driver = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}[parsed.get_backend_name()]
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def due_job_id(step_id: int) -> str:
    return f"step-due-{step_id}"


def sweep_job() -> None:
    _run_on_loop(lambda jobs: jobs.sweep())


def digest_job() -> None:
    _run_on_loop(lambda jobs: jobs.weekly_digest())


def step_due_job(step_id: int, due: str) -> None:
    _run_on_loop(lambda jobs: jobs.step_due(step_id, datetime.fromisoformat(due)))


def _run_on_loop(make: Callable[[Jobs], Coroutine[Any, Any, Any]]) -> None:
    if _running is None:
        log.warning("a timer fired but the bot is not running; it runs again later")
        return
    jobs, loop = _running
    asyncio.run_coroutine_threadsafe(make(jobs), loop).result(timeout=JOB_TIMEOUT)


def _reading_clock(method: Callable[..., Any], clock: Clock) -> Callable[..., Any]:
    """``method`` of APScheduler's with ``datetime.now`` in its module answered by ``clock``."""

    class ClockTime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
            return clock.now().astimezone(tz)

    scope = {**method.__globals__, "datetime": ClockTime}
    return types.FunctionType(method.__code__, scope, method.__name__, method.__defaults__,
                              method.__closure__)


class ClockScheduler(BackgroundScheduler):  # type: ignore[misc]  # APScheduler 3 has no types
    """A background scheduler that asks ``clock`` what time it is.

    The methods below are the scheduler's every reading of the time (the loop that finds due
    jobs and computes its next wake-up, and the three that compute a next run time). Interval
    jobs are given their start explicitly; the executors read the clock only for a misfire
    grace time, which the timers do not set. ``tests/test_timers.py`` holds it to a manual
    clock ahead of and behind the real one.
    """

    READS_THE_TIME = ("_process_jobs", "_real_add_job", "reschedule_job", "resume_job")

    def __init__(self, clock: Clock, **options: Any) -> None:
        super().__init__(**options)
        self.clock = clock
        for name in self.READS_THE_TIME:
            setattr(self, name, types.MethodType(
                _reading_clock(getattr(BaseScheduler, name), clock), self))

    def remove_job(self, job_id: str, jobstore: str | None = None) -> None:
        """Remove a job; one already gone is removed. After running a one-off job the loop
        removes it, and by then another process sharing the job store may have done so: the
        loop's thread must not die of that (no timer would fire again in this process)."""
        with contextlib.suppress(JobLookupError):
            super().remove_job(job_id, jobstore)


class Timers:
    def __init__(self, database_url: str, timezone: Any, clock: Clock) -> None:
        options: dict[str, Any] = {"pool_pre_ping": True}
        if make_url(database_url).get_backend_name() == "sqlite":
            options["connect_args"] = {"timeout": 30}
        self.clock = clock
        self.scheduler = ClockScheduler(
            clock,
            jobstores={"default": SQLAlchemyJobStore(url=sync_url(database_url),
                                                     tablename=JOBS_TABLE,
                                                     engine_options=options)},
            executors={"default": ThreadPoolExecutor(4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=timezone)

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    async def start(self, jobs: Jobs) -> None:
        global _running
        _running = (jobs, asyncio.get_running_loop())
        await asyncio.to_thread(self.scheduler.start)

    async def schedule_sweep(self, interval_seconds: int) -> None:
        interval = timedelta(seconds=interval_seconds)
        await asyncio.to_thread(
            self.scheduler.add_job, sweep_job, "interval", seconds=interval_seconds,
            start_date=self.clock.now() + interval, id=SWEEP_JOB_ID, replace_existing=True)

    async def schedule_digest(self, when: DigestTime | None) -> None:
        """Every day at the digest's time: the job itself knows whether a week's digest is due
        (a working day, not sent yet), so a holiday moves it to the next working day."""
        if when is None:
            await asyncio.to_thread(self.scheduler.remove_job, DIGEST_JOB_ID)
            return
        await asyncio.to_thread(
            self.scheduler.add_job, digest_job, "cron", hour=when.at.hour, minute=when.at.minute,
            id=DIGEST_JOB_ID, replace_existing=True)

    async def schedule_due(self, step_id: int, due: datetime) -> None:
        await asyncio.to_thread(
            self.scheduler.add_job, step_due_job, "date", run_date=due,
            args=[step_id, due.isoformat()], id=due_job_id(step_id), replace_existing=True)

    async def cancel_due(self, step_id: int) -> None:
        await asyncio.to_thread(self.scheduler.remove_job, due_job_id(step_id))

    def wakeup(self) -> None:
        """Look for due jobs now (after a manual clock moved; real time wakes it by itself)."""
        self.scheduler.wakeup()

    async def job_ids(self) -> set[str]:
        jobs = await asyncio.to_thread(self.scheduler.get_jobs)
        return {job.id for job in jobs}

    async def due_timers(self) -> set[tuple[int, datetime]]:
        """(step id, due) of every step timer set, as stored."""
        jobs = await asyncio.to_thread(self.scheduler.get_jobs)
        return {(int(job.args[0]), datetime.fromisoformat(job.args[1])) for job in jobs
                if job.id.startswith("step-due-")}

    async def shutdown(self) -> None:
        global _running
        if self.scheduler.running:
            await asyncio.to_thread(self.scheduler.shutdown, False)
        _running = None
