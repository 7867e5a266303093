"""The bot's own flood control: it stays under Telegram's window limits instead of
collecting 429s (the emulator counts messages in a sliding window, as Telegram does)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot

from bot.telegram import SlidingWindow, build_bot
from sandbox.emulator import ControlClient, Emulator, EmulatorConfig

TOKEN = "123456:FLOOD-TEST"
USERS = (2001, 2002, 2003)
GROUP = -5001


async def test_a_window_never_admits_more_than_its_limit() -> None:
    window = SlidingWindow(3, 0.2)
    loop = asyncio.get_running_loop()
    admitted: list[float] = []

    async def send(took: float) -> None:
        async with window.slot():
            admitted.append(loop.time())
            await asyncio.sleep(took)

    await asyncio.gather(*(send(0.0) for _ in range(6)))
    assert len(admitted) == 6
    assert admitted[2] - admitted[0] < 0.05  # the first three go at once: a burst is fine
    assert admitted[3] - admitted[0] >= 0.2 - 1e-3  # the fourth waits for the window
    admitted.clear()
    window = SlidingWindow(3, 0.2)

    # a slow request counts from its start to a window after its end: the server saw it
    # somewhere in between, so no window on the server's side can hold a fourth
    await asyncio.gather(send(0.3), send(0.3), send(0.3), send(0.0))
    assert admitted[3] - admitted[0] >= 0.3 + 0.2 - 1e-3


@pytest.fixture
async def emulator() -> AsyncIterator[tuple[Emulator, ControlClient]]:
    config = EmulatorConfig(port=0, bot_token=TOKEN, flood_global_per_second=12)
    async with Emulator(config) as emu, ControlClient(emu.base_url) as control:
        for user in USERS:
            await control.create_user(user, f"U{user}")
            await control.send_text(user, user, "/start", wait=False)
        await control.create_chat(GROUP, "group", "项目群", members=list(USERS))
        yield emu, control


@pytest.fixture
async def bot(emulator: tuple[Emulator, ControlClient]) -> AsyncIterator[Bot]:
    emu, _ = emulator
    bot = build_bot(TOKEN, emu.base_url, per_second=10, group_per_minute=3)
    async with bot.context():
        yield bot


async def test_a_burst_of_messages_is_paced_under_the_global_limit(
        emulator: tuple[Emulator, ControlClient], bot: Bot) -> None:
    emu, _ = emulator
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.gather(*(bot.send_message(USERS[i % 3], f"提醒 {i}") for i in range(30)))
    assert loop.time() - started >= 1.9  # 30 at 10 a second: three windows
    sent = [e for e in emu.request_log if e["method"] == "sendMessage"]
    assert len(sent) == 30
    assert [e["error_code"] for e in sent if not e["ok"]] == []  # not one 429


async def test_a_group_counts_new_messages_not_edits(bot: Bot) -> None:
    first = await bot.send_message(GROUP, "卡片")
    for text in ("第二条", "第三条"):
        await bot.send_message(GROUP, text)
    for step in range(5):  # the card is kept true by edits; they do not use up the minute
        await asyncio.wait_for(
            bot.edit_message_text(f"卡片 v{step}", chat_id=GROUP, message_id=first.message_id),
            timeout=1)
    with pytest.raises(TimeoutError):  # a fourth new message waits for the minute to pass
        await asyncio.wait_for(bot.send_message(GROUP, "第四条"), timeout=0.5)
