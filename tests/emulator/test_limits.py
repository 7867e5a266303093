"""429s: injected and from flood control; injected 5xx and delays."""

from __future__ import annotations

import time

from sandbox.emulator import ControlClient, Emulator

from .conftest import ALICE, GROUP, BotHttp


async def test_injected_faults(world: ControlClient, bot: BotHttp) -> None:
    await world.inject_fault("sendMessage", "429", count=2, retry_after=7)
    for _ in range(2):
        limited = await bot("sendMessage", chat_id=ALICE, text="x")
        assert limited == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7},
        }
    assert (await bot("sendMessage", chat_id=ALICE, text="x"))["ok"]

    await world.inject_fault("editMessageText", "502")
    bad_gateway = await bot("editMessageText", chat_id=ALICE, message_id=1, text="x")
    assert bad_gateway == {"ok": False, "error_code": 502, "description": "Bad Gateway"}
    await world.inject_fault("getMe", "500")
    assert (await bot("getMe"))["description"] == "Internal Server Error"

    await world.inject_fault("getMe", "delay", delay=0.3)
    started = time.monotonic()
    assert (await bot("getMe"))["ok"]
    assert time.monotonic() - started >= 0.3


async def test_flood_limit_per_chat(world: ControlClient, bot: BotHttp) -> None:
    await world.set_flood_limits(per_chat_per_second=2)
    assert (await bot("sendMessage", chat_id=ALICE, text="1"))["ok"]
    assert (await bot("sendMessage", chat_id=ALICE, text="2"))["ok"]
    limited = await bot("sendMessage", chat_id=ALICE, text="3")
    assert limited["error_code"] == 429
    assert limited["description"] == "Too Many Requests: retry after 1"
    assert limited["parameters"] == {"retry_after": 1}
    assert (await bot("sendMessage", chat_id=GROUP, text="other chat"))["ok"]


async def test_flood_limit_per_group_per_minute(world: ControlClient, bot: BotHttp) -> None:
    await world.set_flood_limits(per_group_per_minute=20)
    for index in range(20):
        assert (await bot("sendMessage", chat_id=GROUP, text=str(index)))["ok"]
    limited = await bot("sendMessage", chat_id=GROUP, text="21")
    assert limited["error_code"] == 429
    assert 55 <= limited["parameters"]["retry_after"] <= 60
    assert (await bot("sendMessage", chat_id=ALICE, text="private is not a group"))["ok"]


async def test_flood_limit_global(world: ControlClient, bot: BotHttp, emu: Emulator) -> None:
    await world.set_flood_limits(global_per_second=3)
    for chat in (ALICE, GROUP, ALICE):
        assert (await bot("sendMessage", chat_id=chat, text="x"))["ok"]
    assert (await bot("sendMessage", chat_id=GROUP, text="x"))["error_code"] == 429
    await world.set_flood_limits()  # off again
    assert (await bot("sendMessage", chat_id=GROUP, text="x"))["ok"]
