"""The one place where settings, database, calendar, bot, dispatcher and scheduler meet."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiogram.types import BotCommand, BotCommandScopeDefault
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.domain.rules.clock import Clock, SystemClock
from bot.fsm_storage import CommitInOrder, InOrder, SqlStorage
from bot.handlers import setup_routers
from bot.i18n import LOCALES, N_, translator
from bot.jobs import Jobs
from bot.middlewares import ActorContext, Refusals, UnitOfWork
from bot.scheduling import Timers
from bot.services import Services
from bot.telegram import Pace, RetryPolicy, build_bot
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
    ("calendar", N_("Holidays and make-up working days")),
    ("help", N_("What I can do for you")),
    ("cancel", N_("Stop what you are entering")),
    ("bind", N_("Admins: link this group to a project")),
    ("start", N_("Start talking with Greenlight")),
)


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

    async def close(self) -> None:
        await self.timers.shutdown()
        await self.bot.session.close()
        await self.engine.dispose()


async def create_app(settings: Settings, *, clock: Clock | None = None,
                     token: str | None = None, retry: RetryPolicy | None = None,
                     pace: Pace | None = None) -> App:
    """Upgrade the database, load the calendar, and wire the bot; nothing runs yet.

    ``retry`` is how patient the bot is with a failing Bot API, ``pace`` how it keeps under
    Telegram's limits (tests wait milliseconds, not minutes)."""
    engine = create_engine(settings.db_url)
    await upgrade(engine)
    sessions = create_session_factory(engine)
    services = Services.from_settings(settings, clock or SystemClock())
    async with sessions() as session:
        await services.reload_calendar(Store(session))
    bot = build_bot(token or settings.token(), settings.api_base_url, retry=retry, pace=pace)
    # One person's updates in one chat are handled in order: a press on a question waits for
    # the update that asked it to be committed, conversation state included.
    # aiogram's FSM middleware (the lock, then the state read) goes inside the unit of work.
    dispatcher = Dispatcher(storage=SqlStorage(sessions), services=services, sessions=sessions,
                            events_isolation=InOrder(), disable_fsm=True)
    dispatcher.update.outer_middleware(UnitOfWork(sessions))
    dispatcher.update.outer_middleware(dispatcher.fsm)
    dispatcher.update.outer_middleware(CommitInOrder())
    dispatcher.update.outer_middleware(ActorContext(services))
    dispatcher.update.outer_middleware(Refusals(services))
    setup_routers(dispatcher)
    timers = Timers(settings.db_url, settings.tz, services.clock)
    jobs = Jobs(bot, sessions, services, engine, timers)
    return App(settings, services, engine, sessions, bot, dispatcher, timers, jobs)


async def publish_commands(bot: Bot, default_locale: str) -> None:
    """The command menu in both languages; people see their app language's version."""
    for locale in (None, *LOCALES):
        t = translator(locale or default_locale)
        commands = [BotCommand(command=name, description=t.gettext(text))
                    for name, text in COMMANDS]
        await bot.set_my_commands(commands, scope=BotCommandScopeDefault(), language_code=locale)


async def run_polling(app: App, *, handle_as_tasks: bool = True, polling_timeout: int = 30,
                      with_scheduler: bool = True) -> None:
    """Serve until stopped: commands published, sweep scheduled, updates polled.

    Tests pass ``with_scheduler=False`` and run the sweep themselves on a manual clock.
    """
    await app.bot.delete_webhook(drop_pending_updates=False)
    await publish_commands(app.bot, app.settings.default_locale)
    if with_scheduler:
        await app.jobs.sweep()  # catch up on what fell due while the bot was stopped
        await app.timers.start(app.jobs)
        await app.timers.schedule_sweep(app.settings.sweep_interval_seconds)
    me = await app.bot.get_me()
    log.info("Greenlight is running as @%s against %s", me.username, app.settings.api_base_url)
    try:
        await app.dispatcher.start_polling(
            app.bot, handle_as_tasks=handle_as_tasks, polling_timeout=polling_timeout,
            allowed_updates=app.dispatcher.resolve_used_update_types(),
            handle_signals=False, close_bot_session=False,
        )
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(app.close())
