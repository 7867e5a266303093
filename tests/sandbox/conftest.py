"""The sandbox in-process: ``run_sandbox`` on a free port with its data in ``tmp_path``.

Tests act through the emulator's control API and plain HTTP, as the chat page does. The bot
handles updates as tasks (as in the sandbox), so a test waits for what the bot says with a
short poll and a timeout, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from bot.config import Settings
from sandbox.emulator.client import ControlClient
from sandbox.runner import run_sandbox

Json = dict[str, Any]
# The sandbox's own time begins on a Monday morning, whatever the hour the suite runs at: a
# test that moves the clock an hour must not cross the day's 17:30 deadlines at 16:40.
START = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
T = TypeVar("T")

LIUXIAO, LI, ZHENG, LIN = 100008, 100002, 100011, 100012
TIANTAI = -1001000000002  # KP-002 天台山公园工作群 (guide 郑引导)
KANGLE = -1001000000003  # KP-003 康乐公园工作群 (guide 林引导, who never started the bot)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sandbox_settings(data_dir: Path) -> Settings:
    # No .env; a long sweep interval, so only the sweeps a test asks for run after start-up.
    return Settings(_env_file=None, data_dir=data_dir, sweep_interval_seconds=3600)  # type: ignore[call-arg]


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str,
                     patience: float = 10.0) -> T:
    """``probe()`` until it returns something truthy; fails after ``patience`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while True:
        value = await probe()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def text_of(message: Json) -> str:
    return str(message.get("text") or message.get("caption") or "")


@dataclass
class Running:
    """A started sandbox: its URL, a control client and an HTTP session."""

    base_url: str
    port: int
    data_dir: Path
    task: asyncio.Task[None]
    ctl: ControlClient
    http: aiohttp.ClientSession

    async def get(self, path: str) -> Json:
        async with self.http.get(self.base_url + path) as response:
            assert response.status == 200, await response.text()
            data: Json = await response.json()
            return data

    async def post(self, path: str, body: Json | None = None,
                   status: int = 200) -> Json:
        async with self.http.post(self.base_url + path, json=body or {}) as response:
            assert response.status == status, await response.text()
            data: Json = await response.json()
            return data

    async def bot_said(self, chat_id: int, contains: str, patience: float = 10.0) -> Json:
        """The newest bot message in ``chat_id`` whose text contains ``contains``."""

        async def probe() -> Json | None:
            for message in reversed(await self.ctl.chat(chat_id)):
                if message.get("from", {}).get("is_bot") and contains in text_of(message):
                    return message
            return None

        return await eventually(probe, f"the bot to say {contains!r} in {chat_id}", patience)

    async def submit_item(self, user_id: int, chat_id: int, title: str) -> Json:
        """/submit, pick 一般事项审批 in the picker; returns the published group card."""
        await self.ctl.send_text(user_id, chat_id, f"/submit {title}")
        picker = await self.bot_said(chat_id, "请选择事项类型")
        kind = next(b["callback_data"] for row in picker["reply_markup"]["inline_keyboard"]
                    for b in row if "一般事项审批" in b["text"])
        await self.post("/sandbox/press", {"user_id": user_id, "chat_id": chat_id,
                                           "message_id": picker["message_id"],
                                           "callback_data": kind})
        return await self.bot_said(chat_id, f"{title}")


@contextlib.asynccontextmanager
async def sandbox_running(data_dir: Path, *, fresh: bool = False) -> AsyncIterator[Running]:
    port = free_port()
    ready = asyncio.Event()
    task = asyncio.create_task(run_sandbox(sandbox_settings(data_dir), port=port, fresh=fresh,
                                           ready=ready, start=START))
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait({task, waiter}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if not ready.is_set():
        waiter.cancel()
        if task.done():
            task.result()  # raises the start-up error
        task.cancel()
        raise AssertionError("the sandbox did not become ready in 30 s")
    base_url = f"http://127.0.0.1:{port}"
    running = Running(base_url, port, data_dir, task, ControlClient(base_url),
                      aiohttp.ClientSession())
    try:
        yield running
    finally:
        await running.ctl.close()
        await running.http.close()
        await stop(task)


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 20)


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Running]:
    async with sandbox_running(tmp_path / "data") as running:
        yield running
