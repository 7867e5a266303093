"""429s: injected and from flood control; injected 5xx and delays."""

from __future__ import annotations

import time

import pytest

from sandbox.emulator import ControlClient, Emulator
from sandbox.emulator.client import ControlError

from .conftest import ALICE, GROUP, TOKEN, BotHttp


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


async def test_a_front_end_error_is_an_html_page_not_json(
        world: ControlClient, bot: BotHttp, emu: Emulator) -> None:
    """Telegram's nginx answers a 502 itself while the Bot API behind it restarts."""
    await world.inject_fault("sendMessage", "502", count=2, html=True)
    for _ in range(2):
        async with bot.session.post(f"{emu.base_url}/bot{TOKEN}/sendMessage",
                                    json={"chat_id": ALICE, "text": "x"}) as response:
            assert response.status == 502
            assert response.content_type == "text/html"
            page = await response.text()
        assert "<title>502 Bad Gateway</title>" in page and "nginx" in page
    assert (await bot("sendMessage", chat_id=ALICE, text="x"))["ok"]
    logged = [(e["ok"], e["error_code"]) for e in await world.requests("sendMessage")]
    assert logged == [(False, 502), (False, 502), (True, None)]


async def test_faults_are_refused_unless_telegram_could_answer_them(
        world: ControlClient) -> None:
    for kind, options in [("429", {"retry_after": 0.5}),  # Telegram says whole seconds
                          ("429", {"retry_after": 0}),
                          ("429", {"html": True}),  # only nginx's own errors are pages
                          ("delay", {"html": True}),
                          ("500", {"count": 0}),
                          ("418", {})]:
        with pytest.raises(ControlError) as refused:
            await world.inject_fault("sendMessage", kind, **options)  # type: ignore[arg-type]
        assert refused.value.status == 400, (kind, options)
    assert (await world.state())["faults"] == {}


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


async def test_a_fault_for_one_chat_leaves_the_others_alone(world: ControlClient,
                                                            bot: BotHttp) -> None:
    await world.inject_fault("sendMessage", "500", count=1, chat_id=ALICE)
    assert (await bot("sendMessage", chat_id=GROUP, text="x"))["ok"]
    assert (await bot("sendMessage", chat_id=ALICE, text="x"))["error_code"] == 500
    assert (await bot("sendMessage", chat_id=ALICE, text="x"))["ok"]


async def test_edits_count_against_a_groups_minute(world: ControlClient, bot: BotHttp) -> None:
    await world.set_flood_limits(per_group_per_minute=3)
    card = (await bot("sendMessage", chat_id=GROUP, text="card"))["result"]["message_id"]
    for version in (1, 2):
        edited = await bot("editMessageText", chat_id=GROUP, message_id=card, text=f"v{version}")
        assert edited["ok"]
    limited = await bot("editMessageText", chat_id=GROUP, message_id=card, text="v3")
    assert limited["error_code"] == 429
    assert (await bot("sendMessage", chat_id=GROUP, text="new"))["error_code"] == 429


async def test_flood_limit_global(world: ControlClient, bot: BotHttp, emu: Emulator) -> None:
    await world.set_flood_limits(global_per_second=3)
    for chat in (ALICE, GROUP, ALICE):
        assert (await bot("sendMessage", chat_id=chat, text="x"))["ok"]
    assert (await bot("sendMessage", chat_id=GROUP, text="x"))["error_code"] == 429
    await world.set_flood_limits()  # off again
    assert (await bot("sendMessage", chat_id=GROUP, text="x"))["ok"]
