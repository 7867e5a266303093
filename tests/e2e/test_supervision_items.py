"""Supervision items (督查事项) end to end, the seven steps from chat: register, assign, urge,
feedback with files, review (a send-back and a second answer, then accepted), bulletin,
archive; a late item's lights and nudges, once per level; refusals; the export."""

from __future__ import annotations

import asyncio
import csv
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.domain.rules.vocabulary import ItemAct, ItemState
from storage.models import AuditEvent, ItemEvent, ItemFile, Nudge, Person, SupervisionItem
from tests.e2e.conftest import (
    SHANGHAI,
    DemoSnapshot,
    World,
    build_world,
    button,
    buttons,
    restart_bot,
    tear_down,
    text_of,
)

CODE = "DC-2026-001"


async def register(world: World, title: str, assignee: str, due: str,
                   who: str = "zhou", where: str = "zhou") -> dict:  # type: ignore[type-arg]
    """/dc new and its four answers; returns the registered card."""
    await world.say(who, where, "/dc new")
    for answer in (title, "局务会要求按期形成议题材料并报专委会审议", assignee, due):
        asked = await world.last_from_bot(where)
        await world.say(who, where, answer, reply_to=asked["message_id"])
    return await world.last_from_bot(where)


async def the_item(world: World) -> SupervisionItem:
    async with world.db() as store:
        found = await store.item_by_code(CODE)
        assert found is not None
        return found


async def events(world: World) -> list[ItemEvent]:
    async with world.db() as store:
        return await store.item_events((await the_item(world)).id)


async def answer(world: World, who: str, message: dict, text: str,  # type: ignore[type-arg]
                 *, photo: bool = False, document: str | None = None) -> None:
    """✍️ on ``message``, the result, files, then 📤."""
    where = who
    pressed = await world.press(who, where, message["message_id"], button(message, "反馈"))
    assert pressed["answer"]["text"] == "请回复办理结果。"
    asked = await world.last_from_bot(where)
    assert "请回复办理结果" in text_of(asked)
    await world.say(who, where, text, reply_to=asked["message_id"])
    if photo:
        await world.photo(who, where)
    if document:
        await world.document(who, where, document)
    prompt = await world.last_from_bot(where)
    assert "点 📤 报送反馈" in text_of(prompt)
    await world.press(who, where, prompt["message_id"], button(prompt, "📤"))
    assert text_of(await world.last_from_bot(where)) == f"✍️ {CODE} 的反馈已报送督查室。"


async def test_the_seven_steps_with_a_send_back_and_a_second_answer(world: World) -> None:
    card = await register(world, "危房重建议题材料报送", "building", "5")
    text = text_of(card)
    assert text.startswith("📌 已登记。点「📨 交办」发给承办人。")
    assert f"📌 督查事项 {CODE} · 危房重建议题材料报送" in text
    assert "状态：已登记，尚未交办" in text and "承办：建筑工程规划管理科（科长：王建国）" in text
    assert "办结时限：交办后 5 个工作日" in text
    assert set(buttons(card)) == {"📨 交办"}
    # 交办: the section head hears it privately, with ✍️.
    pressed = await world.press("zhou", "zhou", card["message_id"], button(card, "交办"))
    assert pressed["answer"]["text"] == "📨 已交办给 王建国。"
    assigned = await world.last_from_bot("wang")
    assert text_of(assigned).startswith(f"📨 督查事项交办：{CODE} 危房重建议题材料报送")
    assert "办结时限：11月30日周一 17:30 · 剩余 5 个工作日" in text_of(assigned)
    assert set(buttons(assigned)) == {"✍️ 反馈"}
    card = await world.ctl.message(world.cid("zhou"), card["message_id"])
    assert "状态：已交办，待反馈" in text_of(card)
    assert set(buttons(card)) == {"⏰ 催办", "📣 通报"}
    # 催办 from the card, a day later.
    world.clock.advance(timedelta(hours=24))
    pressed = await world.press("zhou", "zhou", card["message_id"], button(card, "催办"))
    assert pressed["answer"]["text"] == "⏰ 已催办 王建国。"
    urged = await world.last_from_bot("wang")
    assert text_of(urged).startswith(f"⏰ 督查室催办：{CODE}")
    # 反馈 with a photo and a document.
    await answer(world, "wang", urged, "议题材料已形成", photo=True, document="议题材料.pdf")
    posted = await world.last_from_bot("supervision")
    assert text_of(posted).startswith("✍️ 王建国 已反馈，请审核：")
    assert "反馈：议题材料已形成" in text_of(posted)
    assert "📎 照片 1 张，文件 1 个" in text_of(posted)
    assert set(buttons(posted)) == {"✅ 通过", "↩️ 退回", "📣 通报"}
    # 审核: sent back with a reason, in the supervision chat.
    await world.press("zhou", "supervision", posted["message_id"], button(posted, "退回"))
    asked = await world.last_from_bot("supervision")
    assert "请回复退回理由" in text_of(asked)
    await world.say("zhou", "supervision", "缺少专委会审议意见", reply_to=asked["message_id"])
    assert text_of(await world.last_from_bot("supervision")) == "↩️ 已退回 王建国。"
    back = await world.last_from_bot("wang")
    assert text_of(back).startswith(f"↩️ 反馈被退回：{CODE}")
    assert "理由：缺少专委会审议意见" in text_of(back)
    reviewed = await world.ctl.message(world.cid("supervision"), posted["message_id"])
    assert "状态：已退回，待重新反馈" in text_of(reviewed)
    assert "✅ 通过" not in buttons(reviewed)
    # A second answer, accepted.
    await answer(world, "wang", back, "已补充专委会审议意见")
    again = await world.last_from_bot("supervision")
    assert "反馈：已补充专委会审议意见" in text_of(again)
    pressed = await world.press("zhou", "supervision", again["message_id"],
                                button(again, "通过"))
    assert pressed["answer"]["text"] == "✅ 已审核通过。"
    assert text_of(await world.last_from_bot("wang")) == (
        f"✅ 您对 {CODE} 危房重建议题材料报送 的反馈已审核通过。")
    accepted = await world.ctl.message(world.cid("supervision"), again["message_id"])
    assert set(buttons(accepted)) == {"📣 通报", "🗄 归档"}
    # 通报: on time.
    pressed = await world.press("zhou", "supervision", again["message_id"],
                                button(accepted, "通报"))
    assert pressed["answer"]["text"] == "📣 通报已发到督查室群。"
    bulletin = [m for m in await world.from_bot("supervision") if "督查通报" in text_of(m)][-1]
    assert text_of(bulletin).startswith(f"📣 督查通报 · {CODE} 危房重建议题材料报送")
    assert "承办科室：建筑工程规划管理科；责任人：王建国" in text_of(bulletin)
    assert "按时办结，无环节超期。" in text_of(bulletin)
    # 归档.
    card = await world.ctl.message(world.cid("supervision"), again["message_id"])
    pressed = await world.press("zhou", "supervision", again["message_id"],
                                button(card, "归档"))
    assert pressed["answer"]["text"] == "🗄 已归档。"
    assert buttons(await world.ctl.message(world.cid("supervision"), again["message_id"])) == {}
    item = await the_item(world)
    assert item.state is ItemState.ARCHIVED and item.closed_at is not None
    steps = await events(world)
    async with world.db() as store:
        zhou, wang = await store.person_by_key("zhou"), await store.person_by_key("wang")
        assert zhou is not None and wang is not None
        files = await store.all(ItemFile)
        trail = [e.action for e in await store.audit_trail(f"item:{CODE}")]
        assert (await store.verify_audit_chain()).broken is None
    assert [(e.act, e.actor_id) for e in steps] == [
        (ItemAct.REGISTER, zhou.id), (ItemAct.ASSIGN, zhou.id), (ItemAct.URGE, zhou.id),
        (ItemAct.FEEDBACK, wang.id), (ItemAct.SEND_BACK, zhou.id), (ItemAct.FEEDBACK, wang.id),
        (ItemAct.ACCEPT, zhou.id), (ItemAct.BULLETIN, zhou.id), (ItemAct.ARCHIVE, zhou.id)]
    assert steps[4].text == "缺少专委会审议意见"
    assert steps[2].at > steps[1].at  # each with its own time
    assert sorted((f.kind.value, f.file_name) for f in files) == [
        ("document", "议题材料.pdf"), ("photo", None)]
    assert trail == ["item.registered", "item.assigned", "item.urged", "item.feedback",
                     "item.sent_back", "item.feedback", "item.accepted", "item.bulletined",
                     "item.archived"]
    await world.say("zhou", "zhou", "/dc")
    assert text_of(await world.last_from_bot("zhou")).startswith("没有未归档的督查事项。")


async def office_nudges(world: World) -> list[tuple[str, str]]:
    async with world.db() as store:
        people = {p.id: p.key for p in await store.all(Person)}
        return sorted((people[n.person_id], n.level)
                      for n in await store.all(Nudge, target_kind="item"))


async def test_a_late_item_is_lit_nudged_once_per_level_and_bulletined(
        database_url: str, tmp_path: Path, demo_snapshot: DemoSnapshot,
        monkeypatch: pytest.MonkeyPatch) -> None:
    world, task = await build_world(database_url, tmp_path, snapshot=demo_snapshot)
    try:
        await late_item(world, task, tmp_path, monkeypatch)
    finally:
        assert await tear_down(world, task) == []


async def late_item(world: World, task: asyncio.Task[None], tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    card = await register(world, "微波站迁建协调情况", "@liu_xiao", "2")
    await world.press("zhou", "zhou", card["message_id"], button(card, "交办"))  # due Wed 17:30
    assert (await world.sweep()).failed == 0
    assert await office_nudges(world) == []  # Monday: green
    world.clock.set(datetime(2026, 11, 24, 8, 31, tzinfo=SHANGHAI))  # one working day left
    await world.sweep()
    assert await office_nudges(world) == [("liuxiao", "yellow")]
    yellow = await world.last_from_bot("liuxiao")
    assert text_of(yellow) == f"🟡 督查事项 {CODE} 微波站迁建协调情况 即将到期：剩余 1 个工作日。"
    await world.say("zhou", "zhou", "/dc list")
    listed = text_of(await world.last_from_bot("zhou"))
    assert listed.startswith("📌 未归档督查事项 1 项") and f"🟡 {CODE}" in listed
    world.clock.set(datetime(2026, 11, 26, 8, 31, tzinfo=SHANGHAI))  # overdue
    await world.sweep()
    await world.sweep()  # nothing twice
    assert await office_nudges(world) == [("liuxiao", "red"), ("liuxiao", "yellow"),
                                          ("qian", "office-red"), ("zhou", "office-red")]
    red = await world.last_from_bot("liuxiao")
    assert text_of(red) == (f"🔴 督查事项 {CODE} 微波站迁建协调情况：已超期，不足 1 个工作日。"
                            "请尽快反馈。")
    assert set(buttons(red)) == {"✍️ 反馈"}
    assert text_of(await world.last_from_bot("zhou")).startswith(
        f"🔴 督查事项 {CODE} 微波站迁建协调情况（已超期")
    # A restarted bot sends nothing again.
    task = await restart_bot(world, task)
    await world.sweep()
    assert len(await office_nudges(world)) == 4
    # Three working days late: a reminder; then the bulletin names the late step.
    world.clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI))  # half an hour after 08:30
    await world.sweep()
    assert ("liuxiao", "repeat-1") in await office_nudges(world)
    assert text_of(await world.last_from_bot("liuxiao")).endswith(
        "（补发：应于 11月30日周一 17:30 提醒）")
    await world.say("zhou", "supervision", f"/dc {CODE}")
    card = await world.last_from_bot("supervision")
    assert text_of(card).startswith(f"🔴 📌 督查事项 {CODE}")
    assert "办结时限：11月25日周三 17:30 · 已超期 3 个工作日" in text_of(card)
    await world.press("zhou", "supervision", card["message_id"], button(card, "通报"))
    bulletin = [m for m in await world.from_bot("supervision") if "督查通报" in text_of(m)][-1]
    assert text_of(bulletin).splitlines()[:4] == [
        f"📣 督查通报 · {CODE} 微波站迁建协调情况",
        "承办科室：市政规划科；责任人：刘晓",
        "办结时限：11月25日周三 17:30 · 已超期 3 个工作日",
        "超期环节：反馈，至今未完成，已超期 3 个工作日",
    ]
    assert (await the_item(world)).state is ItemState.ASSIGNED  # a bulletin of an open item
    # The office's red nudges do not count as the office being urged.
    await world.say("zhou", "zhou", "/urges")
    assert "周正" not in text_of(await world.last_from_bot("zhou")).split("按人员")[-1]
    # The export.
    out = tmp_path / "items.csv"
    monkeypatch.setenv("GREENLIGHT_DATABASE_URL", world.app.settings.db_url)
    result = await asyncio.to_thread(CliRunner().invoke, cli, [
        "export", "items", "--format", "csv", "--out", str(out), "--from", "2026-11-01",
        "--to", "2026-12-31"])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:5] == ["编号", "督查事项编号", "事项", "承办科室", "承办人"]
    assert rows[1][1:5] == [CODE, "微波站迁建协调情况", "", "刘晓"]
    assert rows[1][9] == "assigned" and rows[1][11] == ""
    # Assigned again with a new due: its lights start afresh, what was sent still counts.
    await world.say("zhou", "zhou", f"/dc assign {CODE} @liu_xiao 12-10")
    assert all("~v" in level for _, level in await office_nudges(world))
    world.clock.set(datetime(2026, 12, 10, 9, 0, tzinfo=SHANGHAI))
    await world.sweep()
    assert ("liuxiao", "yellow") in await office_nudges(world)


async def test_refusals_wrong_role_wrong_place_stale_forged_and_second_presses(
        world: World) -> None:
    await world.say("liuxiao", "liuxiao", "/dc new")
    assert text_of(await world.last_from_bot("liuxiao")) == "只有督查室可以办理督查事项。"
    await world.say("qian", "leaders", "/dc")  # a supervisor in another group
    assert text_of(await world.last_from_bot("leaders")) == "督查事项请在私聊或督查室群中办理。"
    card = await register(world, "议题材料", "wang", "12-10")
    assert "办结时限：12月10日周四" in text_of(card)
    await world.press("zhou", "zhou", card["message_id"], button(card, "交办"))
    assigned = await world.last_from_bot("wang")
    # Someone else than the assignee: neither the card nor a forged ✍️.
    await world.say("zhangfan", "zhangfan", f"/dc {CODE}")
    assert text_of(await world.last_from_bot("zhangfan")) == f"只有 {CODE} 的承办人可以反馈。"
    own = await world.last_from_bot("zhangfan")
    refused = await world.press("zhangfan", "zhangfan", own["message_id"],
                                button(assigned, "反馈"), forge=True)
    assert refused["answer"]["text"] == f"只有 {CODE} 的承办人可以反馈。"
    # /help: the office's commands for supervisors, the feedback part for an assignee.
    await world.say("zhou", "zhou", "/help")
    assert "/dc new — 登记督查事项" in text_of(await world.last_from_bot("zhou"))
    await world.say("wang", "wang", "/help")
    helped = text_of(await world.last_from_bot("wang"))
    assert "/dc — 交办给您的督查事项" in helped and "/dc new" not in helped
    await world.say("zhangfan", "zhangfan", "/help")
    assert "/dc" not in text_of(await world.last_from_bot("zhangfan"))
    await world.say("wang", "wang", f"/dc {CODE}")  # the assignee sees the card, with ✍️ only
    assert set(buttons(await world.last_from_bot("wang"))) == {"✍️ 反馈"}
    await answer(world, "wang", assigned, "已完成")
    posted = await world.last_from_bot("supervision")
    # The director sits in the supervision chat, yet review is the office's.
    refused = await world.press("chen", "supervision", posted["message_id"],
                                button(posted, "通过"))
    assert refused["answer"]["text"] == "只有督查室可以办理督查事项。"
    accept = button(posted, "通过")
    first = await world.press("zhou", "supervision", posted["message_id"], accept)
    assert first["answer"]["text"] == "✅ 已审核通过。"
    before = len(await events(world))
    second = await world.press("qian", "supervision", posted["message_id"], accept, forge=True)
    assert second["answer"]["text"] == f"{CODE} 已通过，现在不能进行这一步。"
    stale = await world.press("wang", "wang", assigned["message_id"], button(assigned, "反馈"))
    assert stale["answer"]["text"] == f"{CODE} 已通过，现在不能进行这一步。"
    forged = await world.press("zhou", "supervision", posted["message_id"], "di:999:y",
                               forge=True)
    assert forged["answer"]["text"] == "没有编号为 999 的督查事项。"
    unknown = await world.press("zhou", "supervision", posted["message_id"], "di:1:q",
                                forge=True)
    assert unknown["answer"]["text"] == "此按钮已失效。"
    assert len(await events(world)) == before
    async with world.db() as store:
        actions = [e.action for e in await store.all(AuditEvent, order_by=AuditEvent.id)]
    assert actions.count("item.accepted") == 1


async def test_an_assignee_without_a_private_chat_is_mentioned_in_the_supervision_chat(
        world: World) -> None:
    async with world.db() as store:
        wang = await store.person_by_key("wang")
        assert wang is not None
        wang.dm_blocked = True
        await store.save(wang)
        await store.commit()
    card = await register(world, "议题材料", "building", "3")
    pressed = await world.press("zhou", "zhou", card["message_id"], button(card, "交办"))
    assert pressed["answer"]["text"] == "📨 已交办给 王建国。（未开通私聊：已在督查室群中提醒）"
    mention = await world.last_from_bot("supervision")
    assert text_of(mention).startswith(f"王建国\n📨 督查事项交办：{CODE}")


async def test_an_item_is_assigned_again_to_another_assignee_and_due(world: World) -> None:
    await register(world, "议题材料", "building", "5", where="supervision")
    await world.say("zhou", "supervision", f"/dc assign {CODE}")  # as registered
    assert text_of(await world.last_from_bot("wang")).startswith(f"📨 督查事项交办：{CODE}")
    await world.say("zhou", "supervision", f"/dc assign {CODE} @liu_xiao")
    assert text_of(await world.last_from_bot("supervision")).startswith("用法：")
    await world.say("zhou", "supervision", f"/dc assign {CODE} @liu_xiao 12-10")
    card = await world.last_from_bot("supervision")
    assert text_of(card).startswith("📨 已交办给 刘晓。\n\n🟢 📌 督查事项")
    assert text_of(card).endswith("交办 · 周正：建筑工程规划管理科\n"
                                  "· 11月23日周一 10:00 交办 · 周正：刘晓")
    assert "承办：刘晓" in text_of(card) and "办结时限：12月10日周四 17:30" in text_of(card)
    assert text_of(await world.last_from_bot("liuxiao")).startswith(f"📨 督查事项交办：{CODE}")
    item = await the_item(world)
    assert item.state is ItemState.ASSIGNED and item.section_id is None
