"""The lights board end to end: /board in private and in a group through the emulator (what
the user sees), the menu button, and the board's API on the bot's own server refusing what
has no valid initData."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
import pytest
from aiogram.exceptions import TelegramBadRequest

from bot.i18n import translator
from bot.views.keyboards import board_keyboard
from bot.web import Health, WebServer
from sandbox.demo import PROJECTS
from sandbox.emulator.webapp import sign_init_data
from storage.models import Person

from .conftest import TOKEN, DemoSnapshot, World, build_world, submit_item, tear_down, text_of

BOARD_URL = "https://board.example.org/board"
LIUXIAO = {"id": 100008, "first_name": "刘晓", "language_code": "zh"}
Json = dict[str, Any]


@pytest.fixture
async def boarded(database_url: str, tmp_path: Path,
                  demo_snapshot: DemoSnapshot) -> AsyncIterator[World]:
    built, task = await build_world(database_url, tmp_path, snapshot=demo_snapshot,
                                    board_url=BOARD_URL)
    yield built
    violations = await tear_down(built, task)
    assert violations == [], "Bot API spec violations:\n" + "\n".join(violations)


def web_app_urls(message: Json) -> list[str]:
    return [b["web_app"]["url"] for row in message.get("reply_markup", {}).get(
        "inline_keyboard", []) for b in row if "web_app" in b]


async def test_board_in_private_opens_the_mini_app(boarded: World) -> None:
    await boarded.say("liuxiao", "liuxiao", "/board")
    answer = await boarded.last_from_bot("liuxiao")
    assert "逾期的排在前面" in text_of(answer)
    assert web_app_urls(answer) == [BOARD_URL]
    assert answer["reply_markup"]["inline_keyboard"][0][0]["text"] == "🚦 打开红绿灯看板"
    # Every private chat's menu button opens it too.
    assert boarded.emu.world.menu_buttons[None] == {
        "type": "web_app", "text": "红绿灯看板", "web_app": {"url": BOARD_URL}}


async def test_board_in_a_group_links_to_the_private_chat(boarded: World) -> None:
    await boarded.say("liuxiao", "KP-002", "/board")
    answer = await boarded.last_from_bot("KP-002")
    assert "私聊" in text_of(answer)
    (row,) = answer["reply_markup"]["inline_keyboard"]
    assert row[0]["url"] == "https://t.me/greenlight_bot?start=board"
    assert web_app_urls(answer) == []
    await boarded.say("liuxiao", "liuxiao", "/start board")
    assert web_app_urls(await boarded.last_from_bot("liuxiao")) == [BOARD_URL]


async def test_board_not_configured(world: World) -> None:
    await world.say("liuxiao", "liuxiao", "/board")
    assert "尚未配置" in text_of(await world.last_from_bot("liuxiao"))
    await world.say("liuxiao", "KP-002", "/board")
    assert "尚未配置" in text_of(await world.last_from_bot("KP-002"))
    assert None not in world.emu.world.menu_buttons


async def test_board_refused_to_strangers(boarded: World) -> None:
    await boarded.ctl.create_user(555001, "路人")
    await boarded.say(555001, 555001, "/board")
    answer = await boarded.last_from_bot(555001)
    assert web_app_urls(answer) == []


async def test_the_emulator_refuses_web_apps_as_telegram_does(boarded: World) -> None:
    t = translator("zh")
    bot = boarded.app.bot
    with pytest.raises(TelegramBadRequest, match="BUTTON_TYPE_INVALID"):
        await bot.send_message(boarded.cid("KP-002"), "x",
                               reply_markup=board_keyboard(t, BOARD_URL))
    with pytest.raises(TelegramBadRequest, match="BUTTON_URL_INVALID"):
        await bot.send_message(boarded.uid("liuxiao"), "x",
                               reply_markup=board_keyboard(t, "http://board.example.org/b"))


# -- the API ----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def served(world: World) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    """The bot's own server (the one polling serves health on) with the board's routes."""
    server = WebServer(world.app, Health(world.app, sweeping=False), secret=None, path="/")
    port = await server.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http:
            yield http, f"http://127.0.0.1:{port}"
    finally:
        await server.close()


def signed(world: World, user: Json = LIUXIAO, ago: timedelta = timedelta(0)) -> str:
    return sign_init_data(TOKEN, user, int((world.clock.now() - ago).timestamp()))


async def call(http: aiohttp.ClientSession, url: str,
               init_data: str | None = None) -> tuple[int, Json]:
    headers = {"Authorization": f"tma {init_data}"} if init_data is not None else {}
    async with http.get(url, headers=headers) as response:
        return response.status, await response.json()


async def test_the_api_wants_a_valid_fresh_init_data(
        boarded: World, caplog: pytest.LogCaptureFixture) -> None:
    async with served(boarded) as (http, base):
        async with http.get(base + "/board") as page:
            assert page.status == 200
            html = await page.text()
            assert "board/static/board.js" in html and "telegram.org" not in html
        api = base + "/board/api/overview"
        status, body = await call(http, api)
        assert (status, body["error"]) == (401, "missing")
        assert "请从 Telegram 打开看板" in body["message"]
        good = signed(boarded)
        fields = dict(parse_qsl(good))
        tampered = urlencode({**fields, "user": fields["user"].replace("100008", "100001")})
        status, body = await call(http, api, tampered)
        assert (status, body["error"]) == (401, "invalid")
        assert "projects" not in body and "groups" not in body
        old = signed(boarded, ago=timedelta(days=1, seconds=1))
        status, body = await call(http, api, old)
        assert (status, body["error"]) == (401, "expired")
        assert "已过期" in body["message"]
        status, body = await call(http, api, signed(
            boarded, {"id": 555002, "first_name": "x", "language_code": "en"}))
        assert (status, body["error"]) == (403, "unknown_user")
        assert "not registered" in body["message"]  # the stranger's own language
        assert all(good not in record.getMessage() and TOKEN not in record.getMessage()
                   for record in caplog.records)

        status, body = await call(http, api, good)
        assert status == 200
        codes = [p["code"] for g in body["groups"] for s in g["sections"] for p in s["projects"]]
        assert sorted(codes) == [project.code for project in PROJECTS]  # the whole bureau
        assert body["strings"]["title"] == "红绿灯看板"
        assert sorted(unit["name"] for unit in body["filters"]["units"]) == [
            "东阳渡镇", "市城乡规划管理局", "雁城区分局"]
        status, body = await call(http, api + "?light=purple", good)
        assert (status, body["error"]) == (400, "bad_filter")
        # The same initData, a day later by the bot's clock: expired.
        boarded.clock.advance(timedelta(days=1, minutes=1))
        status, body = await call(http, api, good)
        assert (status, body["error"]) == (401, "expired")


async def test_a_case_timeline_through_the_api(boarded: World) -> None:
    await submit_item(boarded, "管线迁改方案")
    async with served(boarded) as (http, base):
        good = signed(boarded)
        status, body = await call(http, base + "/board/api/overview", good)
        assert status == 200
        steps = [step for g in body["groups"] for s in g["sections"] for p in s["projects"]
                 for step in p["steps"]]
        assert [step["case_title"] for step in steps] == ["管线迁改方案"]
        assert steps[0]["holders"] == ["李副局长", "何副局长"]
        status, found = await call(http, f"{base}/board/api/case/{steps[0]['case_id']}", good)
        assert status == 200
        assert found["case"]["title"] == "管线迁改方案"
        assert found["steps"][0]["state_text"] == "办理中"
        assert [d["text"] for d in found["steps"][0]["decisions"]] == ["⏳ 待办理"] * 2
        # 唐主任 of 东阳渡镇 sees their township only: the city's item is not on their board.
        tang = signed(boarded, {"id": 100020, "first_name": "唐主任"})
        status, body = await call(http, base + "/board/api/overview", tang)
        assert [p["code"] for g in body["groups"] for s in g["sections"]
                for p in s["projects"]] == ["KP-008"]
        assert body["groups"][0]["sections"][0]["projects"][0]["unit"]["name"] == "东阳渡镇"
        status, body = await call(http, f"{base}/board/api/case/{steps[0]['case_id']}", tang)
        assert (status, body["error"]) == (404, "not_found")
        status, body = await call(http, base + "/board/api/case/99999", good)
        assert (status, body["error"]) == (404, "not_found")
        status, body = await call(http, base + "/board/api/case/x", good)
        assert status == 404
        # In the viewer's language: 刘晓 chooses English.
        async with boarded.db() as store:
            person = await store.person_by_tg(100008)
            assert isinstance(person, Person)
            person.locale = "en"
            await store.commit()
        status, body = await call(http, base + "/board/api/overview", good)
        assert body["locale"] == "en" and body["strings"]["title"] == "Lights board"
