"""The bot's own flood control: it stays under Telegram's window limits instead of
collecting 429s (the emulator counts messages in a sliding window, as Telegram does); and its
retry policy: what it tries again, how long, and what it says when it gives up."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetMe

from bot.telegram import Lane, Pace, RetryPolicy, SlidingWindow, build_bot, sending_in
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


async def test_a_window_serves_answers_first_and_keeps_headroom_for_them() -> None:
    window = SlidingWindow(6, 0.2)  # answers may fill 6, nudges 5, bulk 4
    admitted: list[tuple[Lane, int]] = []
    wave = 0

    async def send(lane: Lane) -> None:
        with sending_in(lane):  # as the sweep sets it
            async with window.slot():
                admitted.append((lane, wave))

    async def arrive(*lanes: Lane) -> list[asyncio.Task[None]]:
        tasks = [asyncio.create_task(send(lane)) for lane in lanes]
        await asyncio.sleep(0.02)
        return tasks

    tasks = await arrive(*[Lane.BULK] * 6)
    tasks += await arrive(Lane.NUDGE, Lane.NUDGE, Lane.ANSWER, Lane.ANSWER)
    assert admitted == [(Lane.BULK, 0)] * 4 + [(Lane.NUDGE, 0), (Lane.ANSWER, 0)]
    wave = 1  # the window moves on: who waited goes by lane, not by arrival
    await asyncio.gather(*tasks)
    assert admitted[6:] == [(Lane.ANSWER, 1), (Lane.NUDGE, 1), (Lane.BULK, 1), (Lane.BULK, 1)]


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
    bot = build_bot(TOKEN, emu.base_url, pace=Pace(per_second=10, per_group=3, per_chat=10))
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


async def test_a_group_counts_its_edits_too(
        emulator: tuple[Emulator, ControlClient], bot: Bot) -> None:
    emu, _ = emulator
    first = await bot.send_message(GROUP, "卡片")
    await bot.send_message(GROUP, "第二条")
    await bot.edit_message_text("卡片 v1", chat_id=GROUP, message_id=first.message_id)
    with pytest.raises(TimeoutError):  # the minute's three are used: the next edit waits
        await asyncio.wait_for(
            bot.edit_message_text("卡片 v2", chat_id=GROUP, message_id=first.message_id),
            timeout=0.5)
    await asyncio.wait_for(bot.send_message(USERS[0], "私聊"), timeout=1)  # not held up
    assert [e["error_code"] for e in emu.request_log if not e["ok"]] == []  # not one 429


# -- the retry policy ----------------------------------------------------------------------------

QUICK = RetryPolicy(backoff=0.001, max_backoff=0.004, attempts=3)


@asynccontextmanager
async def retrying_bot(base_url: str, retry: RetryPolicy = QUICK) -> AsyncIterator[Bot]:
    # the retry policy alone: a private chat's second of pace does not add to the waits
    bot = build_bot(TOKEN, base_url, retry=retry, pace=Pace(chat_window=0.01))
    async with bot.context():
        yield bot


def tried(emu: Emulator, method: str) -> list[int | None]:
    return [e["error_code"] for e in emu.request_log if e["method"] == method]


def test_the_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    policy = RetryPolicy(backoff=0.5, max_backoff=3.0)
    for failures, ceiling in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (9, 3.0)):
        waits = {policy.backoff_after(failures) for _ in range(50)}
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits), (failures, waits)
        assert len(waits) > 1  # jittered: requests that failed together come back apart


async def test_server_errors_are_tried_again_and_final_answers_are_not(
        emulator: tuple[Emulator, ControlClient]) -> None:
    emu, control = emulator
    async with retrying_bot(emu.base_url) as bot:
        await control.inject_fault("sendMessage", "500", count=2)
        await bot.send_message(USERS[0], "第三次就成")
        assert tried(emu, "sendMessage") == [500, 500, None]
        with pytest.raises(TelegramBadRequest):  # a 400 is the answer: asked once
            await bot.send_message(999999, "无此人")
        assert tried(emu, "sendMessage")[3:] == [400]


async def test_a_502_page_from_telegrams_front_end_is_a_server_error(
        emulator: tuple[Emulator, ControlClient]) -> None:
    emu, control = emulator
    async with retrying_bot(emu.base_url, RetryPolicy(attempts=1)) as bot:
        await control.inject_fault("sendMessage", "502", html=True)
        with pytest.raises(TelegramServerError) as failed:  # not a ClientDecodeError
            await bot.send_message(USERS[0], "x")
        assert failed.value.message == "502 Bad Gateway (a page, not the Bot API's JSON)"
        method = GetMe()
        with pytest.raises(TelegramNetworkError):  # a proxy's page: not the Bot API at all
            bot.session.check_response(bot, method, 200, "<html>portal</html>")
        with pytest.raises(ClientDecodeError):  # JSON of the wrong shape: a real mismatch
            bot.session.check_response(bot, method, 200, '{"ok": true, "result": 7}')


async def test_a_request_that_timed_out_is_tried_again(
        emulator: tuple[Emulator, ControlClient]) -> None:
    emu, control = emulator
    async with retrying_bot(emu.base_url) as bot:
        bot.session.timeout = 0.2
        await control.inject_fault("getMe", "delay", delay=0.6)
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert (await bot.get_me()).id == 123456
        # given up on after 0.2 s (the emulator never logs the abandoned first try), then
        # asked again and answered at once
        assert 0.2 <= loop.time() - started < 0.6
        assert tried(emu, "getMe") == [None] and emu.faults.pending() == {}


async def test_an_unreachable_server_is_given_up_with_a_warning_without_the_token(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.telegram")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with retrying_bot(f"http://127.0.0.1:{port}") as bot:
        with pytest.raises(TelegramNetworkError):
            await bot.send_message(-5001, "机密的汇报内容")
    said = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in said] == ["INFO", "INFO", "WARNING"]
    assert said[-1][1].startswith("SendMessage to chat -5001 given up after 3 tries in ")
    assert "Cannot connect to host" in said[-1][1]
    assert TOKEN not in caplog.text and "机密的汇报内容" not in caplog.text


async def test_a_flood_wait_is_kept_however_often_but_never_past_the_patience(
        emulator: tuple[Emulator, ControlClient], caplog: pytest.LogCaptureFixture) -> None:
    emu, control = emulator
    caplog.set_level(logging.WARNING, logger="bot.telegram")
    async with retrying_bot(emu.base_url, RetryPolicy(attempts=1, patience=1.5)) as bot:
        await control.inject_fault("sendMessage", "429", retry_after=1)
        await bot.send_message(USERS[0], "等一秒")  # 429s are not counted as attempts
        assert tried(emu, "sendMessage") == [429, None]
        await control.inject_fault("sendMessage", "429", count=2, retry_after=1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TelegramRetryAfter):  # a second wait would end after 1.5 s
            await bot.send_message(USERS[0], "再等")
        assert 1.0 <= loop.time() - started < 1.5
    assert caplog.records[-1].getMessage().startswith(
        f"SendMessage to chat {USERS[0]} given up after 2 tries in 1.")


async def test_polling_is_left_to_its_own_backoff(
        emulator: tuple[Emulator, ControlClient]) -> None:
    emu, control = emulator
    async with retrying_bot(emu.base_url) as bot:
        await control.inject_fault("getUpdates", "500")
        with pytest.raises(TelegramServerError):
            await bot.get_updates(timeout=0)
        assert tried(emu, "getUpdates") == [500]
