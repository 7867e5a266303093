"""Polling confirms an update to Telegram only once it was handled and committed: a bot
killed (SIGKILL) while an update is under way gets that update again when it starts anew,
and handles it once."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.polling import Offsets
from bot.updates import was_handled
from sandbox.emulator.client import ControlClient
from sandbox.emulator.server import Emulator
from storage.db import create_engine, create_session_factory, is_sqlite
from tests.e2e.conftest import eventually
from tests.test_serving import TOKEN, USER, emulator, start_greenlight

__all__ = ["emulator"]  # the fixture


@asynccontextmanager
async def database_held(url: str) -> AsyncIterator[None]:
    """Nobody else can record a handled update meanwhile: the bot's update waits, uncommitted
    (SQLite: the write lock; PostgreSQL: the table locked against writes)."""
    if is_sqlite(url):
        held = sqlite3.connect(make_url(url).database or "", isolation_level=None)
        held.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            held.rollback()
            held.close()
        return
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("LOCK TABLE handledupdate IN SHARE ROW EXCLUSIVE MODE"))
            yield
            await connection.rollback()
    finally:
        await engine.dispose()


async def bot_said(ctl: ControlClient) -> list[str]:
    return [m.get("text", "") for m in await ctl.private(USER)
            if m.get("from", {}).get("is_bot")]


async def handled(url: str, update_id: int) -> bool:
    engine = create_engine(url)
    try:
        return await was_handled(create_session_factory(engine), update_id)
    finally:
        await engine.dispose()


async def test_a_polling_bot_killed_mid_update_gets_it_again_and_handles_it_once(
        tmp_path: Path, emulator: tuple[Emulator, ControlClient], database_url: str) -> None:
    emu, ctl = emulator
    settings = {"bot_token": TOKEN, "api_base_url": emu.base_url, "database_url": database_url}
    process = await start_greenlight(tmp_path, "--polling", **settings)
    try:
        await ctl.send_text(USER, USER, "/start", wait=False)

        async def answered(count: int) -> bool:
            assert process.returncode is None
            return len(await bot_said(ctl)) >= count

        await eventually(lambda: answered(1), "the answer to /start", timeout=60)
        before = await bot_said(ctl)
        async with database_held(database_url):
            polled = len(await ctl.requests("getUpdates"))
            sent = await ctl.send_text(USER, USER, "/help", wait=False)
            update_id = int(sent["update_id"])

            async def in_flight() -> bool:  # fetched, and asked for again: not confirmed
                polls = (await ctl.requests("getUpdates"))[polled:]
                return len([p for p in polls if p["params"].get("offset") == update_id]) >= 2

            await eventually(in_flight, "the bot to fetch /help", timeout=30)
            process.kill()
            await process.wait()
        assert await ctl.updates_pending() == 1 and not emu.queue.is_confirmed(update_id)
        assert not await handled(database_url, update_id)
        assert await bot_said(ctl) == before

        process = await start_greenlight(tmp_path, "--polling", **settings)
        await eventually(lambda: answered(len(before) + 1), "the answer to /help", timeout=60)

        async def confirmed() -> bool:
            return emu.queue.is_confirmed(update_id)

        await eventually(confirmed, "/help to be confirmed", timeout=30)
        assert await handled(database_url, update_id)
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err.decode()
        said = await bot_said(ctl)
        assert len(said) == len(before) + 1, said  # handled once
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_the_offset_confirms_only_what_finished() -> None:
    offsets = Offsets()
    assert offsets.offset is None
    assert [offsets.fetched(i) for i in (10, 11, 12)] == [True, True, True]
    offsets.finished(11)
    assert offsets.offset == 10  # 10 still under way: nothing confirmed
    assert not offsets.fetched(11) and not offsets.fetched(10)  # asked again: not new
    offsets.finished(10)
    assert offsets.offset == 12
    offsets.finished(12)
    assert offsets.offset == 13
    assert offsets.fetched(13) and offsets.offset == 13
