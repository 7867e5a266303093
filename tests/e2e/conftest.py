"""End to end: the real bot polls the Bot API emulator; tests act only through its control API.

Each test gets a fresh emulator (on a free port), a fresh database with the demo bureau
imported, and the bot polling with ``handle_as_tasks=False``, so a control call with
``wait`` returns once the bot has finished with the update. Time is a ManualClock; the
deadline sweep is run by the test, never by real time passing. After every test the
emulator's record of Bot API calls is checked against the published Bot API spec.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Table, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from bot.app import App, create_app, run_polling
from bot.config import load_settings
from bot.domain.rules.clock import ManualClock
from bot.domain.rules.org_file import parse_org
from bot.domain.usecases.org_import import apply_org
from bot.jobs import SweepResult
from bot.telegram import Pace, RetryPolicy
from sandbox.demo import DEMO_CHATS, DEMO_USERS, demo_org_yaml
from sandbox.emulator.client import ControlClient
from sandbox.emulator.config import EmulatorConfig
from sandbox.emulator.server import Emulator, WorldState
from storage.db import create_engine, is_sqlite
from storage.store import Store
from tests.conftest import TEST_DATABASE_URL, empty_database

SHANGHAI = ZoneInfo("Asia/Shanghai")
TOKEN = "777000:E2E-TOKEN"
# A Monday morning in office hours; the demo's milestone dates are relative to it.
START = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
# The production retry policy with backoffs of milliseconds: as many tries, no slow test.
RETRY = RetryPolicy(backoff=0.001, max_backoff=0.01)
# The production pace with a group's minute lasting a second (and a private chat's second a
# sixtieth of one): a test that posts more than 19 messages and edits into one group waits a
# second, not a minute, for the bot's own pace.
PACE = Pace(group_window=1.0, chat_window=1 / 60)

Json = dict[str, Any]


@dataclass
class World:
    """The bureau in Telegram: people acting, chats showing, time moving when told."""

    emu: Emulator
    ctl: ControlClient
    app: App
    clock: ManualClock
    users: dict[str, int] = field(default_factory=dict)  # person key -> Telegram user id
    chats: dict[str, int] = field(default_factory=dict)  # chat key -> Telegram chat id

    def uid(self, who: str | int) -> int:
        return who if isinstance(who, int) else self.users[who]

    def cid(self, where: str | int) -> int:
        if isinstance(where, int):
            return where
        return self.chats[where] if where in self.chats else self.users[where]

    async def say(self, who: str | int, where: str | int, text: str,
                  reply_to: int | None = None) -> Json:
        return await self.ctl.send_text(self.uid(who), self.cid(where), text,
                                        reply_to_message_id=reply_to)

    async def photo(self, who: str | int, where: str | int, caption: str | None = None,
                    reply_to: int | None = None) -> Json:
        return await self.ctl.send_photo(self.uid(who), self.cid(where), caption=caption,
                                         reply_to_message_id=reply_to)

    async def document(self, who: str | int, where: str | int, name: str,
                       caption: str | None = None, reply_to: int | None = None) -> Json:
        return await self.ctl.send_document(self.uid(who), self.cid(where), b"%PDF-1.4 demo",
                                            name, "application/pdf", caption=caption,
                                            reply_to_message_id=reply_to)

    async def press(self, who: str | int, where: str | int, message_id: int, data: str,
                    forge: bool = False) -> Json:
        return await self.ctl.press(self.uid(who), self.cid(where), message_id, data,
                                    forge=forge)

    async def shown(self, where: str | int) -> list[Json]:
        return list(await self.ctl.chat(self.cid(where)))

    async def from_bot(self, where: str | int) -> list[Json]:
        return [m for m in await self.shown(where) if m.get("from", {}).get("is_bot")]

    async def last_from_bot(self, where: str | int) -> Json:
        messages = await self.from_bot(where)
        assert messages, f"the bot has said nothing in {where}"
        return messages[-1]

    async def sweep(self) -> SweepResult:
        return await self.app.jobs.sweep()

    @contextlib.asynccontextmanager
    async def db(self) -> AsyncIterator[Store]:
        async with self.app.sessions() as session:
            yield Store(session)


async def submit_item(world: World, title: str, *, who: str = "liuxiao",
                      where: str = "KP-002", kind: str = "一般事项审批") -> Json:
    """/submit a title, pick the kind of item, answer ordinary to the green channel if asked;
    returns the group card."""
    await world.say(who, where, f"/submit {title}")
    picker = await world.last_from_bot(where)
    await world.press(who, where, picker["message_id"], button(picker, kind))
    asked = await world.last_from_bot(where)
    if "绿色通道" in text_of(asked) and buttons(asked):
        await world.press(who, where, asked["message_id"], button(asked, "普通"))
    return await world.last_from_bot(where)


async def eventually(check: Callable[[], Awaitable[bool]], what: str,
                     timeout: float = 30.0) -> None:  # noqa: ASYNC109
    """Wait for concurrent work the control API cannot wait for (tasks outlive updates)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def text_of(message: Json) -> str:
    return str(message.get("text") or message.get("caption") or "")


def buttons(message: Json) -> dict[str, str]:
    """Button text -> callback data of a message's inline keyboard."""
    markup = message.get("reply_markup") or {}
    return {b["text"]: b.get("callback_data", "") for row in markup.get("inline_keyboard", [])
            for b in row}


def button(message: Json, label_part: str) -> str:
    for label, data in buttons(message).items():
        if label_part in label:
            return data
    raise AssertionError(f"no button with {label_part!r} on: {buttons(message)}")


async def demo_bureau(app: App, ctl: ControlClient) -> None:
    """The demo bureau as of :data:`START`: imported into the bot's database, and its people
    and group chats created in the Bot API server behind ``ctl``."""
    async with app.sessions() as session:
        store = Store(session)
        org = parse_org(demo_org_yaml(START.date(), app.services.calendar), "demo.yaml")
        await apply_org(store, org, now=app.services.now())
        await store.commit()
    for user in DEMO_USERS.values():
        await ctl.create_user(user.telegram_id, user.first_name, username=user.username,
                              language_code=user.language)
    for chat in DEMO_CHATS.values():
        await ctl.create_chat(chat.chat_id, chat.type, chat.title,
                              members=[DEMO_USERS[m].telegram_id for m in chat.members])


async def build_world(database_url: str, tmp_path: Path, *, started: set[str] | None = None,
                      snapshot: DemoSnapshot | None = None, handle_as_tasks: bool = False,
                      pace: Pace | None = None,
                      **settings: Any) -> tuple[World, asyncio.Task[None]]:
    """The demo bureau on a fresh emulator and bot: imported, and with ``started`` (everyone
    by default) having opened a private chat; or, much faster, continued from ``snapshot``,
    the same world saved once per test session."""
    emu = Emulator(EmulatorConfig(port=0, bot_token=TOKEN, strict=True))
    await emu.start()
    clock = ManualClock(START)
    if snapshot is not None:
        await snapshot.restore(database_url)
        emu.load_world(snapshot.emulator)
    config = load_settings(bot_token=TOKEN, api_base_url=emu.base_url,
                           database_url=database_url, data_dir=tmp_path, **settings)
    app = await create_app(config, clock=clock, retry=RETRY, pace=pace or PACE)
    ctl = ControlClient(emu.base_url)
    world = World(emu, ctl, app, clock,
                  users={key: user.telegram_id for key, user in DEMO_USERS.items()},
                  chats={key: chat.chat_id for key, chat in DEMO_CHATS.items()})
    if snapshot is None:
        await demo_bureau(app, ctl)
    task = await start_polling(app, handle_as_tasks=handle_as_tasks)
    if snapshot is None:
        # People who opened a private chat with the bot (others cannot get private messages).
        for key in DEMO_USERS if started is None else started:
            await world.say(key, key, "/start")
    return world, task


@dataclass(frozen=True)
class DemoSnapshot:
    """The default world right after it was built: the emulator's state, and the database as
    a SQLite file or, on PostgreSQL, the rows of every table. Restoring it costs a few
    milliseconds where building costs half a second of importing and /start-ing."""

    emulator: WorldState
    sqlite_file: Path | None
    rows: list[tuple[Table, list[dict[str, Any]]]]

    @classmethod
    async def take(cls, database_url: str, folder: Path) -> DemoSnapshot:
        world, task = await build_world(database_url, folder)
        state = world.emu.save_world()
        await tear_down(world, task)
        if is_sqlite(database_url):
            return cls(state, Path(make_url(database_url).database or ""), [])
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                rows = [(table, [dict(row) for row in
                                 (await connection.execute(table.select())).mappings()])
                        for table in SQLModel.metadata.sorted_tables]
        finally:
            await engine.dispose()
        return cls(state, None, [(table, found) for table, found in rows if found])

    async def restore(self, database_url: str) -> None:
        """Into an empty migrated database."""
        if self.sqlite_file is not None:
            shutil.copyfile(self.sqlite_file, make_url(database_url).database or "")
            return
        engine = create_engine(database_url)
        try:
            async with engine.begin() as connection:
                # Sections and people point at each other: restore them as pg_restore does,
                # with foreign keys unchecked (they held when the rows were read).
                await connection.execute(text("SET LOCAL session_replication_role = replica"))
                for table, found in self.rows:
                    await connection.execute(table.insert(), found)
                    if "id" in table.c and table.c.id.autoincrement:
                        await connection.execute(text(
                            f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                            f'(SELECT MAX(id) FROM "{table.name}"))'))
        finally:
            await engine.dispose()


@pytest.fixture(scope="session")
def demo_snapshot(migrated_template: str,
                  tmp_path_factory: pytest.TempPathFactory) -> DemoSnapshot:
    """Taken once per test process, on its own copy of the template or, on PostgreSQL, in
    the process's database before any test of its own uses it."""
    folder = tmp_path_factory.mktemp("demo-world")
    if TEST_DATABASE_URL:
        asyncio.run(empty_database(migrated_template))
        return asyncio.run(DemoSnapshot.take(migrated_template, folder))
    shutil.copyfile(migrated_template, folder / "demo.db")
    return asyncio.run(DemoSnapshot.take(f"sqlite+aiosqlite:///{folder / 'demo.db'}", folder))


async def start_polling(app: App, *, handle_as_tasks: bool = False) -> asyncio.Task[None]:
    """The bot polling, returned once it polls (so it can be stopped at any point after);
    updates one at a time unless ``handle_as_tasks``, as in production."""
    polling = asyncio.Event()

    async def started() -> None:
        polling.set()

    app.dispatcher.startup.register(started)
    task = asyncio.create_task(run_polling(app, handle_as_tasks=handle_as_tasks, polling_timeout=10,
                                           with_scheduler=False))
    waiting = asyncio.create_task(polling.wait())
    await asyncio.wait({task, waiting}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    if task.done():
        task.result()  # it failed to start: say why
    assert polling.is_set(), "the bot did not start polling in 10 s"
    return task


async def stop_polling(world: World, task: asyncio.Task[None]) -> None:
    await world.app.dispatcher.stop_polling()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)


async def restart_bot(world: World, task: asyncio.Task[None]) -> asyncio.Task[None]:
    """Stop the bot and start a new process-like instance on the same database."""
    await stop_polling(world, task)
    world.app = await create_app(world.app.settings, clock=world.clock, retry=RETRY)
    return await start_polling(world.app)


async def tear_down(world: World, task: asyncio.Task[None]) -> list[str]:
    violations = list(await world.ctl.violations())
    await stop_polling(world, task)
    await world.ctl.close()
    await world.emu.stop()
    return violations


@pytest.fixture
async def world(database_url: str, tmp_path: Path,
                demo_snapshot: DemoSnapshot) -> AsyncIterator[World]:
    built, task = await build_world(database_url, tmp_path, snapshot=demo_snapshot)
    yield built
    violations = await tear_down(built, task)
    assert violations == [], "Bot API spec violations:\n" + "\n".join(violations)
