"""The page's live feed (``GET /sandbox/events``) and who is who (``/sandbox/info`` roles)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from sandbox.emulator.config import EmulatorConfig
from sandbox.emulator.state import World
from tests.sandbox.conftest import LI, LIUXIAO, TIANTAI, ZHENG, Running

Json = dict[str, Any]


async def sse(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, Json]]:
    """(event, data) of a ``text/event-stream``, as EventSource reads it."""
    name, data = "message", ""
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if data:
                yield name, json.loads(data)
            name, data = "message", ""
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()


async def next_event(events: AsyncIterator[tuple[str, Json]], kind: str,
                     patience: float = 10.0) -> Json:
    async with asyncio.timeout(patience):
        async for name, data in events:
            if name == kind:
                return data
    raise AssertionError(f"the stream ended before a {kind!r} event")


async def test_the_page_hears_of_the_bots_messages_and_the_clock_at_once(
        sandbox: Running) -> None:
    url = f"{sandbox.base_url}/sandbox/events?user_id={ZHENG}"
    async with sandbox.http.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        events = sse(response)
        hello = await next_event(events, "hello")
        assert hello["run_id"]

        # 刘晓 reports in 天台山公园工作群, where 郑引导 is a member: his page hears of 刘晓's
        # message and of the bot's answer.
        await sandbox.ctl.send_text(LIUXIAO, TIANTAI, "/report 现场踏勘完成", wait=False)
        seen: set[int] = set()
        while len(seen) < 2:
            event = await next_event(events, "message")
            assert event["chat_id"] == TIANTAI and event["change"] in {"added", "edited"}
            seen.add(event["message_id"])
        said = await sandbox.bot_said(TIANTAI, "现场踏勘完成")
        assert said["message_id"] in seen

        # A private chat of someone else stays private.
        await sandbox.ctl.send_text(LI, LI, "/help", wait=False)
        await sandbox.bot_said(LI, "")
        await sandbox.post("/sandbox/advance", {"hours": 1})
        async with asyncio.timeout(10):
            async for name, data in events:
                assert data.get("chat_id") != LI, data
                if name == "clock":
                    assert abs(data["clock"]["offset_seconds"] - 3600) < 1
                    break


async def test_an_event_stream_needs_a_user(sandbox: Running) -> None:
    async with sandbox.http.get(f"{sandbox.base_url}/sandbox/events") as response:
        assert response.status == 400


async def test_every_role_a_person_holds_is_shown(sandbox: Running) -> None:
    people = {p["key"]: p for p in (await sandbox.get("/sandbox/info"))["people"]}
    assert people["zhao"]["role_label"] == "科长、经办人"
    assert people["wang"]["roles"] == ["section_head", "handler"]
    assert people["chen"]["role_label"] == "局长"
    assert people["li"]["role_label"] == "分管领导"
    assert people["zhou"]["role_label"] == "主任、督查室"
    assert people["qian"]["role_label"] == "主任、督查室"
    assert people["zheng"]["role_label"] == "规划引导员"
    assert people["ma"]["role_label"] == "管理员"
    assert people["ma"]["role_label_en"] == "admin"
    assert people["huang"]["roles"] == []
    for person in people.values():
        assert person["tries"]["zh"] and person["tries"]["en"], person["key"]
    assert "/urges" in people["chen"]["tries"]["en"]
    assert "✍️" in people["zhao"]["tries"]["zh"] and "/report" in people["zhao"]["tries"]["zh"]
    assert "✍️" not in people["zhou"]["tries"]["zh"] and "/urges" in people["zhou"]["tries"]["en"]


def test_the_world_tells_its_listeners_of_every_change_to_a_message() -> None:
    world = World(EmulatorConfig(port=0))
    heard: list[Json] = []
    world.listeners.append(heard.append)
    world.add_user(LIUXIAO, "刘晓")
    chat = world.chats[LIUXIAO]
    sent = world.add_message(chat, world.bot_dict(), {"text": "您好"})
    world.replace_message(chat, {**sent, "text": "您好！"})
    assert world.delete_message(chat, sent["message_id"])
    assert not world.delete_message(chat, sent["message_id"])  # nothing left to delete
    world.reset()
    assert world.listeners == [heard.append]  # a reset keeps who listens
    assert heard == [{"change": change, "chat_id": LIUXIAO, "message_id": sent["message_id"]}
                     for change in ("added", "edited", "deleted")]
