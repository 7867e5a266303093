"""What a visitor sees and does without moving the clock, on one sandbox for the module:
the demo bureau in the emulator, the page and its data, reporting, approving, a force-reply
prompt."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from sandbox.demo import DEMO_CHATS, DEMO_USERS
from sandbox.emulator.media import placeholder_png
from sandbox.runner import NOT_STARTED
from tests.sandbox.conftest import (
    KANGLE,
    LI,
    LIN,
    LIUXIAO,
    TIANTAI,
    Json,
    Running,
    sandbox_running,
    text_of,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    data_dir: Path = tmp_path_factory.mktemp("sandbox") / "data"
    async with sandbox_running(data_dir) as running:
        yield running


def buttons(message: Json) -> dict[str, str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return {b["text"]: b.get("callback_data", "") for row in rows for b in row}


async def test_the_demo_bureau_is_in_the_emulator(sandbox: Running) -> None:
    state = await sandbox.ctl.state()
    assert state["privacy_mode"] is True
    users = {u["id"]: u for u in state["users"]}
    assert set(users) == {u.telegram_id for u in DEMO_USERS.values()}
    started = {key for key, u in DEMO_USERS.items() if users[u.telegram_id]["started"]}
    assert started == {key for key, u in DEMO_USERS.items() if u.staff} - NOT_STARTED
    assert "lin" in NOT_STARTED and "huang" not in started
    chats = {c["id"]: c for c in state["chats"] if c["type"] != "private"}
    for chat in DEMO_CHATS.values():
        assert chats[chat.chat_id]["title"] == chat.title
        assert chats[chat.chat_id]["members"] == sorted(DEMO_USERS[m].telegram_id
                                                        for m in chat.members)
    greeting = await sandbox.bot_said(LIUXIAO, "刘晓，您好")
    assert "/report" in text_of(greeting)
    assert await sandbox.ctl.private(LIN) == []  # never opened a private chat


async def test_the_page_and_its_assets_are_served(sandbox: Running) -> None:
    async with sandbox.http.get(sandbox.base_url + "/") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        page = await response.text()
    assert "/sandbox/static/app.js" in page and "/sandbox/static/style.css" in page
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        async with sandbox.http.get(f"{sandbox.base_url}/sandbox/static/{name}") as response:
            assert response.status == 200 and kind in response.content_type
            assert len(await response.read()) > 1000
    async with sandbox.http.get(sandbox.base_url + "/sandbox/static/../runner.py") as response:
        assert response.status in (403, 404)


async def test_info_lists_people_chats_and_the_time(sandbox: Running) -> None:
    info = await sandbox.get("/sandbox/info")
    people = {p["key"]: p for p in info["people"]}
    assert set(people) == set(DEMO_USERS)
    assert people["liuxiao"] | {"name": "刘晓", "telegram_id": LIUXIAO} == people["liuxiao"]
    assert people["liuxiao"]["role_label"] == "经办人"
    assert people["liuxiao"]["projects"] == ["KP-002", "KP-003"]
    assert people["li"]["role_label"] == "分管领导"
    assert people["lin"]["started"] is False and people["zheng"]["started"] is True
    assert people["huang"]["staff"] is False
    assert {c["chat_id"]: c["title"] for c in info["chats"]} == {
        c.chat_id: c.title for c in DEMO_CHATS.values()}
    clock = info["clock"]
    assert clock["timezone"] == "Asia/Shanghai" and clock["offset_seconds"] == 0
    now = datetime.fromisoformat(clock["now"])
    assert now.utcoffset() == timedelta(hours=8)
    assert info["bot"]["username"] and info["ready"] is True

    overview = await sandbox.get(f"/sandbox/overview?user_id={LIUXIAO}")
    ids = [c["id"] for c in overview["chats"]]
    assert ids[0] == LIUXIAO  # the private chat first, then the groups
    assert set(ids) == {LIUXIAO, TIANTAI, KANGLE}


async def test_report_submit_and_approve_from_the_page(sandbox: Running) -> None:
    sent = await sandbox.ctl.send_text(LIUXIAO, TIANTAI, "/report 今日完成现场踏勘")
    card = await sandbox.bot_said(TIANTAI, "进展汇报 · KP-002 天台山公园")
    assert card["reply_to_message"]["message_id"] == sent["message"]["message_id"]
    assert "今日完成现场踏勘" in text_of(card)

    photo = await sandbox.ctl.send_photo(LIUXIAO, TIANTAI, caption="/report 现场照片")
    await sandbox.bot_said(TIANTAI, "📎 1 张照片")
    largest = photo["message"]["photo"][-1]
    async with sandbox.http.get(f"{sandbox.base_url}/sandbox/file/{largest['file_id']}") as r:
        assert r.status == 200 and r.content_type == "image/png"
        assert await r.read() == placeholder_png()

    await sandbox.submit_item(LIUXIAO, TIANTAI, "微波站迁建选址方案")
    private = await sandbox.bot_said(LI, "微波站迁建选址方案")
    approve = next(data for label, data in buttons(private).items() if "同意" in label)
    pressed = await sandbox.post("/sandbox/press", {
        "user_id": LI, "chat_id": LI, "message_id": private["message_id"],
        "callback_data": approve})
    assert pressed["answered"] is True and "同意" in (pressed["answer"]["text"] or "")
    approved = await sandbox.bot_said(TIANTAI, "✅ 李副局长 同意")  # the card, edited
    assert approved.get("edit_date") and buttons(approved) == {}

    refused = await sandbox.post("/sandbox/press", {
        "user_id": LI, "chat_id": LI, "message_id": private["message_id"],
        "callback_data": "no-such-button"}, status=400)
    assert "no button" in refused["error"]


async def test_report_alone_is_a_force_reply_prompt_the_page_can_see(sandbox: Running) -> None:
    await sandbox.ctl.send_text(LIUXIAO, KANGLE, "/report")
    prompt = await sandbox.bot_said(KANGLE, "请回复本消息汇报进展")
    overview = await sandbox.get(f"/sandbox/overview?user_id={LIUXIAO}")
    [kangle] = [c for c in overview["chats"] if c["id"] == KANGLE]
    assert kangle["force_reply"][str(prompt["message_id"])]["selective"] is True
    await sandbox.ctl.send_text(LIUXIAO, KANGLE, "设计单位已收到管线资料",
                                reply_to_message_id=prompt["message_id"])
    await sandbox.bot_said(KANGLE, "进展汇报 · KP-003 康乐公园")


