"""getUpdates long polling, offsets, limits, allowed_updates, conflicts and ``wait``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from sandbox.emulator import ControlClient, ControlError, Emulator

from .conftest import ALICE, BotHttp, drain


async def test_long_poll_returns_as_soon_as_a_message_arrives(
    world: ControlClient, bot: BotHttp
) -> None:
    await drain(bot)
    started = time.monotonic()
    poll = asyncio.create_task(bot.ok("getUpdates", timeout=5))
    await asyncio.sleep(0.05)
    assert not poll.done()
    await world.send_text(ALICE, ALICE, "你好", wait=False)
    updates = await asyncio.wait_for(poll, 2)
    assert time.monotonic() - started < 1.0
    assert [u["message"]["text"] for u in updates] == ["你好"]


async def test_long_poll_times_out_with_empty_list(world: ControlClient, bot: BotHttp) -> None:
    await drain(bot)
    started = time.monotonic()
    assert await bot.ok("getUpdates", timeout=1) == []
    assert 0.9 <= time.monotonic() - started < 2.0


async def test_offset_confirms_and_limit_caps(world: ControlClient, bot: BotHttp) -> None:
    await drain(bot)
    for text in ("a", "b", "c"):
        await world.send_text(ALICE, ALICE, text, wait=False)
    first = await bot.ok("getUpdates", limit=2)
    assert [u["message"]["text"] for u in first] == ["a", "b"]
    again = await bot.ok("getUpdates")  # nothing confirmed yet
    assert [u["message"]["text"] for u in again] == ["a", "b", "c"]
    rest = await bot.ok("getUpdates", offset=first[-1]["update_id"] + 1)
    assert [u["message"]["text"] for u in rest] == ["c"]
    assert await world.updates_pending() == 1
    await bot.ok("getUpdates", offset=rest[-1]["update_id"] + 1)
    assert await world.updates_pending() == 0


async def test_negative_offset_keeps_the_last_updates(world: ControlClient, bot: BotHttp) -> None:
    await drain(bot)
    for text in ("a", "b", "c"):
        await world.send_text(ALICE, ALICE, text, wait=False)
    last = await bot.ok("getUpdates", offset=-1)
    assert [u["message"]["text"] for u in last] == ["c"]
    assert await world.updates_pending() == 1


async def test_allowed_updates_persist(world: ControlClient, bot: BotHttp) -> None:
    await drain(bot)
    assert await bot.ok("getUpdates", allowed_updates=["callback_query"]) == []
    sent = await bot.ok(
        "sendMessage",
        chat_id=ALICE,
        text="?",
        reply_markup={"inline_keyboard": [[{"text": "y", "callback_data": "y"}]]},
    )
    hidden = await world.send_text(ALICE, ALICE, "not wanted", wait=False)
    assert hidden["delivered"] is False and hidden["update_id"] is None
    await world.press(ALICE, ALICE, sent["message_id"], "y", wait=False)
    updates = await bot.ok("getUpdates")  # no allowed_updates: the previous setting holds
    assert [next(k for k in u if k != "update_id") for u in updates] == ["callback_query"]
    await bot.ok("getUpdates", offset=updates[-1]["update_id"] + 1, allowed_updates=[])
    assert (await world.send_text(ALICE, ALICE, "back", wait=False))["delivered"] is True


async def test_second_get_updates_terminates_the_first(world: ControlClient, bot: BotHttp) -> None:
    await drain(bot)
    first = asyncio.create_task(bot("getUpdates", timeout=5))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(bot("getUpdates", timeout=1))
    terminated = await asyncio.wait_for(first, 2)
    assert terminated == {
        "ok": False,
        "error_code": 409,
        "description": "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running",
    }
    assert (await second)["result"] == []


async def fake_bot(bot: BotHttp, processed: list[str], delay: float, stop: asyncio.Event) -> None:
    """A polling loop like aiogram's with handle_as_tasks=False."""
    offset: int | None = None
    while not stop.is_set():
        params: dict[str, Any] = {"timeout": 1}
        if offset is not None:
            params["offset"] = offset
        for update in await bot.ok("getUpdates", **params):
            await asyncio.sleep(delay)  # "processing"
            message = update.get("message") or update.get("callback_query", {}).get("message")
            processed.append(update.get("message", {}).get("text") or "callback")
            if "message" in update:
                await bot.ok("sendMessage", chat_id=message["chat"]["id"], text="收到")
            offset = update["update_id"] + 1


async def test_wait_returns_after_processing(world: ControlClient, bot: BotHttp) -> None:
    await drain(bot)
    processed: list[str] = []
    stop = asyncio.Event()
    loop = asyncio.create_task(fake_bot(bot, processed, 0.2, stop))
    try:
        result = await world.send_text(ALICE, ALICE, "报告", timeout=5)
        assert processed == ["报告"]  # processed before send_text returned
        assert result["delivered"] is True
        history = await world.private(ALICE)
        assert history[-1]["text"] == "收到"  # the bot's reply is already there
        quick = await world.send_text(ALICE, ALICE, "不等", wait=False)
        assert quick["update_id"] is not None
        assert "不等" not in processed
    finally:
        stop.set()
        await loop


async def test_wait_times_out_with_504(world: ControlClient, bot: BotHttp) -> None:
    await drain(bot)
    with pytest.raises(ControlError) as raised:
        await world.send_text(ALICE, ALICE, "nobody polls", timeout=0.2)
    assert raised.value.status == 504
    assert "no getUpdates with offset" in raised.value.message


async def test_stop_releases_a_held_poll(emu: Emulator, bot: BotHttp) -> None:
    poll = asyncio.create_task(bot.ok("getUpdates", timeout=5))
    await asyncio.sleep(0.05)
    emu.queue.close()
    assert await asyncio.wait_for(poll, 1) == []
