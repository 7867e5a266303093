"""Basics: identity, routing, tokens, parameter encodings."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import pytest

from sandbox.emulator import ControlClient, Emulator, EmulatorConfig, run_emulator

from .conftest import ALICE, TOKEN, BotHttp, drain


async def test_get_me(bot: BotHttp) -> None:
    me = await bot.ok("getMe")
    assert me["id"] == 123456
    assert me["is_bot"] is True
    assert me["username"] == "greenlight_bot"
    assert me["first_name"] == "绿灯 Greenlight"
    assert me["can_read_all_group_messages"] is False


async def test_wrong_token_is_401_and_unknown_method_404(emu: Emulator, bot: BotHttp) -> None:
    wrong = BotHttp(bot.session, emu.base_url, token="999:nope")
    assert await wrong("getMe") == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert await bot("fooBar") == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_method_names_are_case_insensitive_and_get_works(emu: Emulator) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{emu.base_url}/bot{TOKEN}/GETME") as response,
    ):
        body = await response.json()
    assert body["ok"] and body["result"]["id"] == 123456


async def test_query_urlencoded_and_multipart_params(world: object, emu: Emulator) -> None:
    url = f"{emu.base_url}/bot{TOKEN}/sendMessage"
    markup = '{"inline_keyboard":[[{"text":"OK","callback_data":"ok"}]]}'
    async with aiohttp.ClientSession() as session:
        async with session.get(url, params={"chat_id": str(ALICE), "text": "q"}) as response:
            assert (await response.json())["result"]["text"] == "q"
        form = {"chat_id": str(ALICE), "text": "u", "reply_markup": markup}
        async with session.post(url, data=form) as response:
            result = (await response.json())["result"]
            assert result["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "ok"
        multipart = aiohttp.FormData()
        multipart.add_field("chat_id", str(ALICE))
        multipart.add_field("text", "m")
        multipart.add_field("reply_markup", markup)
        multipart.add_field("disable_notification", "true")
        multipart._is_multipart = True
        async with session.post(url, data=multipart) as response:
            assert (await response.json())["result"]["text"] == "m"


async def test_log_out_and_close(bot: BotHttp) -> None:
    assert await bot.ok("logOut") is True
    assert await bot.ok("close") is True


async def test_requests_log(world: ControlClient, bot: BotHttp, ctl: ControlClient) -> None:
    await drain(bot)
    await bot("sendMessage", chat_id=ALICE, text="")
    log = await ctl.requests("sendMessage")
    assert log[-1]["ok"] is False
    assert log[-1]["error_code"] == 400
    assert log[-1]["description"] == "Bad Request: message text is empty"
    assert log[-1]["params"] == {"chat_id": ALICE, "text": ""}
    assert {entry["method"] for entry in await ctl.requests()} >= {"getUpdates", "sendMessage"}


async def test_reset_forgets_everything(world: ControlClient, bot: BotHttp) -> None:
    await bot.ok("sendMessage", chat_id=ALICE, text="x")
    await world.inject_fault("getMe", "500")
    state = await world.state()
    assert {u["id"] for u in state["users"]} == {ALICE, 1002}
    assert state["faults"] == {"getme": 1}
    await world.reset()
    state = await world.state()
    assert state["users"] == [] and state["chats"] == [] and state["faults"] == {}
    assert await world.requests() == []
    assert await world.updates_pending() == 0
    assert (await bot("getMe"))["ok"]


async def test_run_emulator_prints_where_it_listens(capsys: pytest.CaptureFixture[str]) -> None:
    task = asyncio.create_task(run_emulator(EmulatorConfig(), port=0, bot_token="9:X"))
    for _ in range(100):
        await asyncio.sleep(0.01)
        if "listening on" in capsys.readouterr().out:
            break
    else:
        pytest.fail("run_emulator printed nothing")
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_a_saved_world_continues_in_another_emulator(world: ControlClient, emu: Emulator,
                                                           bot: BotHttp) -> None:
    with pytest.raises(RuntimeError, match="pending"):
        emu.save_world()  # ALICE's /start is not taken yet
    first = await drain(bot)
    await bot.ok("sendMessage", chat_id=ALICE, text="你好")
    state = emu.save_world()
    await bot.ok("sendMessage", chat_id=ALICE, text="after the save")  # not in the state
    async with Emulator(EmulatorConfig(port=0, bot_token=TOKEN)) as other:
        other.load_world(state)
        async with ControlClient(other.base_url) as ctl:
            shown = await ctl.chat(ALICE)
            assert [m.get("text") for m in shown] == ["/start", "你好"]
            sent = await ctl.send_text(ALICE, ALICE, "again", wait=False)
    assert sent["update_id"] == first[-1]["update_id"] + 1  # numbering goes on
    assert [m.get("text") for m in await world.chat(ALICE)][-1] == "after the save"
