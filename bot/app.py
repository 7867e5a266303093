"""The one place where settings, database, calendar, bot, dispatcher and scheduler meet."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.types import BotCommand, BotCommandScopeDefault, MenuButtonWebApp, WebAppInfo
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import shared_state
from bot.clock_file import FileClock
from bot.config import Settings
from bot.domain.rules.clock import Clock, SystemClock
from bot.fsm_storage import CommitInOrder, InOrder, SqlStorage
from bot.handlers import setup_routers
from bot.i18n import LOCALES, N_, translator
from bot.jobs import Jobs, SweepResult
from bot.logs import UpdateLog
from bot.middlewares import ActorContext, Refusals, UnitOfWork
from bot.polling import ConfirmingDispatcher
from bot.scheduling import Timers
from bot.services import Services
from bot.telegram import Pace, RetryPolicy, build_bot
from bot.updates import HandleOnce, InFlight, prune_handled
from storage.db import SessionFactory, create_engine, create_session_factory
from storage.migrate import upgrade
from storage.store import Store

log = logging.getLogger(__name__)

# (command, description msgid) in the order Telegram shows them.
COMMANDS = (
    ("projects", N_("Key projects, their status and lights")),
    ("report", N_("Report progress in the project's group")),
    ("submit", N_("Submit an item for approval")),
    ("pending", N_("Everything waiting for my decision")),
    ("away", N_("Out of office: who decides for me")),
    ("back", N_("Back in the office")),
    ("missing", N_("Missing materials of an item and their dates")),
    ("urges", N_("Supervision: who was urged how often")),
    ("asks", N_("First questions I own (首问负责制)")),
    ("dc", N_("Supervision items: register, assign, urge, review")),
    ("calendar", N_("Holidays and make-up working days")),
    ("board", N_("The lights board: every project and step at a glance")),
    ("help", N_("What I can do for you")),
    ("lang", N_("中文 / English: the language I use with you")),
    ("cancel", N_("Stop what you are entering")),
    ("bind", N_("Admins: link this group to a project")),
    ("start", N_("Start talking with Greenlight")),
)


PRUNE_EVERY = 3600.0  # seconds between two prunings of the handled update ids


class WatchedJobs(Jobs):
    """The sweep, counted as work under way (a graceful stop waits for it) and timed (the
    readiness check asks when it last finished, on the event loop's monotonic clock)."""

    def __init__(self, bot: Bot, sessions: SessionFactory, services: Services,
                 engine: AsyncEngine, timers: Timers, *, in_flight: InFlight) -> None:
        super().__init__(bot, sessions, services, engine, timers)
        self.in_flight = in_flight
        self.swept_at: float | None = None

    async def sweep(self) -> SweepResult:
        async with self.in_flight.track():
            try:
                return await super().sweep()
            finally:
                self.swept_at = asyncio.get_running_loop().time()


@dataclass
class App:
    settings: Settings
    services: Services
    engine: AsyncEngine
    sessions: SessionFactory
    bot: Bot
    dispatcher: Dispatcher
    timers: Timers
    jobs: Jobs
    in_flight: InFlight = field(default_factory=InFlight)
    redis: Redis | None = None
    chores: list[asyncio.Task[None]] = field(default_factory=list)

    async def close(self) -> None:
        for chore in self.chores:
            chore.cancel()
        await self.timers.shutdown()
        await self.bot.session.close()
        await self.dispatcher.storage.close()
        await self.dispatcher.fsm.events_isolation.close()
        await self.engine.dispose()

    async def drain(self, hurry: asyncio.Event | None = None) -> None:
        """Wait, at most ``stop_timeout_seconds``, for the updates and sweeps under way."""
        timeout = self.settings.stop_timeout_seconds
        if self.in_flight.count:
            log.info("waiting for %d updates or sweeps under way", self.in_flight.count)
        if not await self.in_flight.idle(timeout, hurry):
            log.warning("%d updates or sweeps still under way after %g s: stopping anyway; "
                        "an update not confirmed is delivered again", self.in_flight.count,
                        timeout)


async def create_app(settings: Settings, *, clock: Clock | None = None,
                     token: str | None = None, retry: RetryPolicy | None = None,
                     pace: Pace | None = None) -> App:
    """Upgrade the database, load the calendar, and wire the bot; nothing runs yet.

    ``retry`` is how patient the bot is with a failing Bot API, ``pace`` how it keeps under
    Telegram's limits (default: the settings'; tests wait milliseconds, not minutes)."""
    engine = create_engine(settings.db_url)
    await upgrade(engine)
    sessions = create_session_factory(engine)
    if clock is None:
        clock = FileClock(settings.clock_file) if settings.clock_file else SystemClock()
    services = Services.from_settings(settings, clock)
    async with sessions() as session:
        await services.reload_calendar(Store(session))
    redis = shared_state.connect(settings.redis_url) if settings.redis_url else None
    # With Redis, every worker counts its messages in the same windows (lanes included).
    bot = build_bot(token or settings.token(), settings.api_base_url, retry=retry,
                    pace=pace or Pace(per_second=settings.pace_per_second,
                                      per_group=settings.pace_per_group_per_minute,
                                      per_chat=settings.pace_per_chat_per_second,
                                      group_window=settings.pace_group_window_seconds),
                    shared=shared_state.RedisWindows(redis, settings.redis_prefix)
                    if redis is not None else None)
    # One person's updates in one chat are handled in order: a press on a question waits for
    # the update that asked it to be committed, conversation state included. With Redis the
    # state and that order are shared by every worker; without, one worker keeps both.
    # aiogram's FSM middleware (the lock, then the state read) goes inside the unit of work.
    storage: BaseStorage
    isolation: BaseEventIsolation
    after_commit = None
    if redis is not None:
        storage = shared_state.storage(redis, settings.redis_prefix)
        isolation = shared_state.isolation(redis, settings.redis_prefix)
        after_commit = storage.write_kept
    else:
        storage, isolation = SqlStorage(sessions), InOrder()
    dispatcher = ConfirmingDispatcher(storage=storage, services=services, sessions=sessions,
                                      events_isolation=isolation, disable_fsm=True)
    in_flight = InFlight()
    dispatcher.update.outer_middleware(UpdateLog())
    dispatcher.update.outer_middleware(in_flight)
    dispatcher.update.outer_middleware(UnitOfWork(sessions))
    dispatcher.update.outer_middleware(dispatcher.fsm)
    dispatcher.update.outer_middleware(CommitInOrder(after_commit))
    dispatcher.update.outer_middleware(HandleOnce(services))
    dispatcher.update.outer_middleware(ActorContext(services))
    dispatcher.update.outer_middleware(Refusals(services))
    setup_routers(dispatcher)
    timers = Timers(settings.db_url, settings.tz, services.clock)
    jobs = WatchedJobs(bot, sessions, services, engine, timers, in_flight=in_flight)
    if redis is not None:
        jobs.shared_turn = shared_state.RedisTurn(redis, f"{settings.redis_prefix}:sweep")
    return App(settings, services, engine, sessions, bot, dispatcher, timers, jobs, in_flight,
               redis=redis)


async def publish_commands(bot: Bot, default_locale: str) -> None:
    """The command menu in both languages; people see their app language's version."""
    for locale in (None, *LOCALES):
        t = translator(locale or default_locale)
        commands = [BotCommand(command=name, description=t.gettext(text))
                    for name, text in COMMANDS]
        await bot.set_my_commands(commands, scope=BotCommandScopeDefault(), language_code=locale)


async def publish_board_button(bot: Bot, settings: Settings) -> None:
    """With a board URL, every private chat's menu button opens the lights board."""
    if settings.board_url is None:
        return
    t = translator(settings.default_locale)
    await bot.set_chat_menu_button(menu_button=MenuButtonWebApp(
        text=t.gettext("Lights board"), web_app=WebAppInfo(url=settings.board_url)))


async def start_duties(app: App, *, with_scheduler: bool = True) -> None:
    """What every serving process does before it takes updates: the command menu (and the
    board's menu button), and (unless a test runs the sweep itself) the catch-up sweep, the
    timers and the pruning of old handled update ids."""
    await publish_commands(app.bot, app.settings.default_locale)
    await publish_board_button(app.bot, app.settings)
    if with_scheduler:
        await app.jobs.sweep()  # catch up on what fell due while the bot was stopped
        await app.timers.start(app.jobs)
        await app.timers.schedule_sweep(app.settings.sweep_interval_seconds)
        await app.timers.schedule_digest(app.settings.digest_time)
        app.chores.append(asyncio.create_task(_prune_handled(app), name="prune-handled"))


async def _prune_handled(app: App) -> None:
    while True:
        try:
            await prune_handled(app.sessions, app.services.now())
        except Exception:  # the database away for a while: next time
            log.warning("could not prune the handled update ids", exc_info=True)
        await asyncio.sleep(PRUNE_EVERY)


async def run_polling(app: App, *, handle_as_tasks: bool = True, polling_timeout: int = 30,
                      with_scheduler: bool = True, hurry: asyncio.Event | None = None) -> None:
    """Serve until stopped: commands published, sweep scheduled, updates polled.

    Stopped (``dispatcher.stop_polling()``), it asks for no more updates, lets the updates and
    sweeps under way finish (at most ``stop_timeout_seconds``, or until ``hurry`` is set),
    then closes the scheduler, the bot's session and the database.
    Tests pass ``with_scheduler=False`` and run the sweep themselves on a manual clock.
    """
    try:
        await app.bot.delete_webhook(drop_pending_updates=False)
        await start_duties(app, with_scheduler=with_scheduler)
        me = await app.bot.get_me()
        log.info("Greenlight is polling as @%s against %s", me.username,
                 app.settings.api_base_url)
        await app.dispatcher.start_polling(
            app.bot, handle_as_tasks=handle_as_tasks, polling_timeout=polling_timeout,
            allowed_updates=app.dispatcher.resolve_used_update_types(),
            handle_signals=False, close_bot_session=False,
        )
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(_drain_and_close(app, hurry))


async def _drain_and_close(app: App, hurry: asyncio.Event | None) -> None:
    await app.drain(hurry)
    await app.close()
