"""Approval modes end to end: single, sequential steps, or-sign, countersign and joint steps,
the /submit wizard that feeds them, cards that stay true after every decision, and 100
presses racing on one item.

What is asserted is what people see (the group card, private cards, CC copies, alerts) and
what the database records. Every test also checks the emulator's request log: the bot never
asks Telegram for an edit that would change nothing ("message is not modified").
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.app import create_app, run_polling
from bot.domain.rules.vocabulary import CardKind
from storage.models import (
    Assignment,
    AuditEvent,
    Case,
    FsmRecord,
    Lane,
    Person,
    Step,
)
from tests.conftest import TEST_DATABASE_URL
from tests.e2e.conftest import (
    Json,
    World,
    build_world,
    button,
    buttons,
    eventually,
    stop_polling,
    submit_item,
    tear_down,
    text_of,
)

PERMIT = "雁城路12号危房重建工程规划许可"
PERMIT_KIND = "建设工程规划许可"
APPLICANT, SITE = "雁城建投", "雁城路12号"
NOT_MODIFIED = "message is not modified"
PRIVATE_BUTTONS = {"✅ 同意", "↩️ 退回", "💬 附意见同意", "🔁 转交", "➕ 加签"}


async def failed_edits(world: World) -> list[str]:
    """Edits Telegram refused because they would have changed nothing."""
    return [f"{r['method']} {r['params'].get('chat_id')}/{r['params'].get('message_id')}: "
            f"{r.get('description')}" for r in await world.ctl.requests()
            if r.get("error_code") == 400 and NOT_MODIFIED in str(r.get("description"))]


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    """The conftest world, plus: no edit was ever refused as "not modified"."""
    built, task = await build_world(database_url, tmp_path)
    yield built
    identical = await failed_edits(built)
    violations = await tear_down(built, task)
    assert violations == [], "Bot API spec violations:\n" + "\n".join(violations)
    assert identical == [], "edits to identical content:\n" + "\n".join(identical)


# -- helpers ----------------------------------------------------------------------------------


async def rows(world: World, model: Any, **equals: Any) -> list[Any]:
    async with world.db() as store:
        return list(await store.all(model, order_by=model.id, **equals))


async def decisions(world: World) -> list[Assignment]:
    async with world.db() as store:
        query = select(Assignment).where(Assignment.decision.is_not(None))  # type: ignore[union-attr]
        return list((await store.session.execute(query.order_by(col(Assignment.id)))).scalars())


async def person_id(world: World, key: str) -> int:
    async with world.db() as store:
        person = await store.person_by_key(key)
        assert person is not None and person.id is not None
        return person.id


async def case_cards(world: World, case_id: int = 1) -> dict[str, Json]:
    """Every card of a case as its reader sees it now: ``group``, ``private:wang``,
    ``cc:li``, ``submitter:zhangfan`` (``#2`` for a second card of the same kind)."""
    async with world.db() as store:
        cards = await store.cards(case_id)
        keys = {p.id: p.key for p in await store.all(Person)}
    shown: dict[str, Json] = {}
    for card in cards:
        if card.kind is CardKind.OUTCOME:  # the approval told: a notice, not a card
            continue
        label = card.kind if card.person_id is None else f"{card.kind}:{keys[card.person_id]}"
        while label in shown:
            label += "#2"
        shown[label] = await world.ctl.message(card.tg_chat_id, card.tg_message_id)
    return shown


async def edit_counts(world: World) -> Counter[tuple[int, int]]:
    """Successful editMessageText calls per (chat id, message id)."""
    return Counter((int(r["params"]["chat_id"]), int(r["params"]["message_id"]))
                   for r in await world.ctl.requests("editMessageText") if r["ok"])


def where(message: Json) -> tuple[int, int]:
    return int(message["chat"]["id"]), int(message["message_id"])


async def each_card_edited_once_by(world: World, action: Awaitable[Json], case_id: int = 1
                                   ) -> tuple[Json, dict[str, Json]]:
    """Run ``action`` (a press or a reply that decides); every card that existed before it
    must be edited exactly once, no more. Returns the action's result and the cards after."""
    before, edits = await case_cards(world, case_id), await edit_counts(world)
    result = await action
    after_edits = await edit_counts(world)
    for label, message in before.items():
        assert after_edits[where(message)] == edits[where(message)] + 1, label
    return result, await case_cards(world, case_id)


def lines(message: Json) -> list[str]:
    return [line.strip() for line in text_of(message).splitlines()]


async def submit_permit(world: World, *, green: bool = False, title: str = PERMIT) -> Json:
    """zhangfan submits a building permit in KP-004's group through the wizard."""
    await world.say("zhangfan", "KP-004", f"/submit {title}")
    picker = await world.last_from_bot("KP-004")
    await world.press("zhangfan", "KP-004", picker["message_id"], button(picker, PERMIT_KIND))
    for answer in (APPLICANT, SITE):
        question = await world.last_from_bot("KP-004")
        await world.say("zhangfan", "KP-004", answer, reply_to=question["message_id"])
    asked = await world.last_from_bot("KP-004")
    await world.press("zhangfan", "KP-004", asked["message_id"],
                      button(asked, "绿色通道" if green else "普通"))
    return await world.last_from_bot("KP-004")


# -- 1. the modes -------------------------------------------------------------------------------


async def test_the_section_meeting_is_the_section_heads_alone(world: World) -> None:
    group = await submit_permit(world)
    text = text_of(group)
    assert "📝 建设工程规划许可 #1 · KP-004 雁城危房重建" in text
    assert f"建设单位：{APPLICANT}" in text and f"建设地点：{SITE}" in text
    assert "⏳ ① 处务会" in text and "◻️ ② 局长办公会" in text
    assert "🟢 正常 · 时限 11月30日周一 17:30" in text  # 5 working days, ordinary
    assert "⏳ 等待 王建国 处理" in text and "绿色通道" not in text
    # Only the head of the responsible section (建筑工程规划管理科: 王建国) got a turn.
    assert set(await case_cards(world)) == {"group", "private:wang"}
    wang_card = await world.last_from_bot("wang")
    assert set(buttons(wang_card)) == PRIVATE_BUTTONS
    for stranger in ("li", "zhangfan"):
        pressed = await world.press(stranger, "KP-004", group["message_id"],
                                    button(group, "同意"))
        assert pressed["answer"]["text"] == "该事项不由您审批。", stranger
    assert await decisions(world) == []
    world.clock.advance(timedelta(minutes=20))
    pressed, cards = await each_card_edited_once_by(world, world.press(
        "wang", "KP-004", group["message_id"], button(group, "同意")))
    assert pressed["answer"]["text"] == "✅ 已同意，谢谢。"
    for label in ("group", "private:wang"):
        assert "✅ 王建国 同意 · 11月23日周一 10:20" in lines(cards[label]), label
    assert buttons(cards["private:wang"]) == {}  # wang's turn is over
    [decided] = await decisions(world)
    assert (decided.person_id, decided.decision) == (await person_id(world, "wang"), "approve")
    first, second = await rows(world, Step)
    assert (first.mode, first.state, second.state) == ("single", "approved", "open")


async def test_the_director_meeting_opens_after_the_section_meeting_with_a_cc(
        world: World) -> None:
    group = await submit_permit(world)
    world.clock.advance(timedelta(days=1))  # Tuesday 10:00
    _, cards = await each_card_edited_once_by(world, world.press(
        "wang", "KP-004", group["message_id"], button(group, "同意")))
    # The next step opened: a private card for the director, a copy for the leader in charge.
    assert set(cards) == {"group", "private:wang", "private:chen", "cc:li"}
    text = text_of(cards["group"])
    assert "✅ ① 处务会" in text and "✅ 王建国 同意 · 11月24日周二 10:00" in text
    assert "⏳ ② 局长办公会" in text
    assert "🟢 正常 · 时限 11月27日周五 17:30" in text  # 3 working days from Tuesday
    assert "⏳ 等待 陈局长 处理" in text and "抄送：李副局长" in text
    assert set(buttons(cards["group"])) == {"✅ 同意", "↩️ 退回", "🗑 撤回"}
    chen = cards["private:chen"]
    assert chen["chat"]["id"] == world.users["chen"] and set(buttons(chen)) == PRIVATE_BUTTONS
    assert "⏳ 等待 陈局长 处理" in text_of(chen)
    cc = cards["cc:li"]
    assert cc["chat"]["id"] == world.users["li"] and buttons(cc) == {}
    assert "抄送：李副局长" in text_of(cc) and "⏳ 等待 陈局长 处理" in text_of(cc)
    assert buttons(cards["private:wang"]) == {}
    _, second = await rows(world, Step)
    assert second.started_at is not None
    assert (second.state, second.limit_days) == ("open", 3)
    # The group card's button is now the director's: the section head is refused, and so is
    # a press on the button as it was before (the 处务会 is over).
    now = await world.press("wang", "KP-004", group["message_id"],
                            button(cards["group"], "同意"))
    assert now["answer"]["text"] == "该事项不由您审批。"
    late = await world.press("wang", "KP-004", group["message_id"], button(group, "同意"),
                             forge=True)
    assert late["answer"]["text"] == "该事项已由 王建国 于 11月24日周二 10:00 同意。"
    world.clock.advance(timedelta(hours=2))
    pressed, cards = await each_card_edited_once_by(world, world.press(
        "chen", "chen", chen["message_id"], button(chen, "同意")))
    assert pressed["answer"]["text"] == "✅ 已同意，谢谢。"
    for label, card in cards.items():
        assert "✅ 陈局长 同意 · 11月24日周二 12:00" in text_of(card), label
        assert "✅ 审批通过 · 11月24日周二 12:00" in text_of(card), label
        assert "等待" not in text_of(card) and buttons(card) == {}, label
    assert text_of(await world.last_from_bot("zhangfan")) == (
        f"✅ 您提交的「{PERMIT}」（KP-004，#1）已审批通过。")
    assert len([m for m in await world.from_bot("li") if PERMIT in text_of(m)]) == 1  # one CC
    [case] = await rows(world, Case)
    assert case.state == "approved"
    assert [d.decision for d in await decisions(world)] == ["approve", "approve"]


async def test_or_sign_the_first_decision_ends_the_others_turn(world: World) -> None:
    group = await submit_item(world, "微波站迁建选址方案")
    li_card, he_card = await world.last_from_bot("li"), await world.last_from_bot("he")
    assert "⏳ 等待 李副局长 或 何副局长 处理" in text_of(group)
    world.clock.advance(timedelta(minutes=5))
    pressed, cards = await each_card_edited_once_by(world, world.press(
        "he", "he", he_card["message_id"], button(he_card, "同意")))
    assert pressed["answer"]["text"] == "✅ 已同意，谢谢。"
    assert set(cards) == {"group", "private:li", "private:he"}
    for label, card in cards.items():
        assert "✅ 何副局长 同意 · 11月23日周一 10:05" in text_of(card), label
        assert buttons(card) == {}, label  # li's buttons vanished too
    late = await world.press("li", "li", li_card["message_id"], button(li_card, "同意"),
                             forge=True)  # the button li saw before his card was edited
    assert late["answer"]["show_alert"] is True
    assert late["answer"]["text"] == "该事项已由 何副局长 于 11月23日周一 10:05 同意。"
    [decided] = await decisions(world)
    assert decided.person_id == await person_id(world, "he")
    li_turn = [a for a in await rows(world, Assignment)
               if a.person_id == await person_id(world, "li")]
    assert [a.state for a in li_turn] == ["cancelled"]
    refused = await rows(world, AuditEvent, action="press.refused")
    assert ['"why": "already_decided"' in e.data for e in refused] == [True]


async def test_countersign_waits_for_every_leader_and_shows_who_is_left(world: World) -> None:
    group = await submit_item(world, "城市更新政策文件", kind="政策文件会签")
    text = text_of(group)
    assert "⏳ ① 局领导会签" in text
    assert "🟢 正常 · 时限 11月25日周三 17:30" in text  # 2 working days
    assert "⏳ 等待 李副局长、何副局长 处理" in text
    li_card, he_card = await world.last_from_bot("li"), await world.last_from_bot("he")
    world.clock.advance(timedelta(minutes=30))
    pressed, cards = await each_card_edited_once_by(world, world.press(
        "li", "KP-002", group["message_id"], button(group, "同意")))
    assert pressed["answer"]["text"] == "✅ 已同意，谢谢。"
    for label, card in cards.items():
        assert "✅ 李副局长 同意 · 11月23日周一 10:30" in text_of(card), label
        assert "⏳ 等待 何副局长 处理" in text_of(card), label
        assert "审批通过" not in text_of(card), label
    assert buttons(cards["private:li"]) == {}  # li has signed
    assert set(buttons(cards["private:he"])) == PRIVATE_BUTTONS  # he still has to
    assert set(buttons(cards["group"])) == {"✅ 同意", "↩️ 退回", "🗑 撤回"}
    [step] = await rows(world, Step)
    assert (step.mode, step.state) == ("all", "open")
    again = await world.press("li", "KP-002", group["message_id"], button(group, "同意"))
    assert again["answer"]["text"].startswith("该事项已由 李副局长 于 11月23日周一 10:30")
    assert len(await decisions(world)) == 1
    world.clock.advance(timedelta(hours=1))
    pressed, cards = await each_card_edited_once_by(world, world.press(
        "he", "he", he_card["message_id"], button(he_card, "同意")))
    assert pressed["answer"]["text"] == "✅ 已同意，谢谢。"
    for label, card in cards.items():
        assert "✅ 李副局长 同意 · 11月23日周一 10:30" in text_of(card), label
        assert "✅ 何副局长 同意 · 11月23日周一 11:30" in text_of(card), label
        assert "✅ 审批通过 · 11月23日周一 11:30" in text_of(card), label
        assert buttons(card) == {}, label
    [step] = await rows(world, Step)
    assert step.state == "approved"
    assert len(await decisions(world)) == 2
    assert li_card["message_id"] == (await case_cards(world))["private:li"]["message_id"]


async def test_a_joint_step_shows_both_departments_and_closes_when_both_approved(
        world: World) -> None:
    # 吴静 (法规审批科) submits, so nobody decides on their own item.
    group = await submit_item(world, "雁城片区选址和设计方案", who="wujing", where="KP-004",
                              kind="规划选址和设计方案联合审查")
    text = lines(group)
    head = text.index("⏳ ① 联合审查（并联审批，时限取最长）")
    building = text.index("▸ 建筑工程规划管理科")
    municipal = text.index("▸ 市政规划科")
    assert head < building < municipal < text.index("◻️ ② 分管领导审定")
    assert text[building + 1] == "🟢 正常 · 时限 12月7日周一 17:30"  # 10 working days
    assert text[building + 2] == "⏳ 等待 王建国 或 张帆 或 郑引导 处理"
    assert text[municipal + 1] == "🟢 正常 · 时限 12月14日周一 17:30"  # 15 working days
    assert text[municipal + 2] == "⏳ 等待 赵敏 或 刘晓 处理"
    assert "🟢 正常 · 剩余 15 个工作日" in text  # the step is due with the longer lane
    lanes = await rows(world, Lane)
    [step, _] = await rows(world, Step)
    assert [lane.limit_days for lane in lanes] == [10, 15]
    assert step.mode == "joint" and step.due_at == lanes[1].due_at
    assert set(await case_cards(world)) == {
        "group", "private:wang", "private:zhangfan", "private:zheng", "private:zhao",
        "private:liuxiao"}
    world.clock.advance(timedelta(days=2))  # Wednesday
    zhangfan_card = await world.last_from_bot("zhangfan")
    pressed, cards = await each_card_edited_once_by(world, world.press(
        "zhangfan", "zhangfan", zhangfan_card["message_id"], button(zhangfan_card, "同意")))
    assert pressed["answer"]["text"] == "✅ 已同意，谢谢。"
    text = lines(cards["group"])
    building, municipal = text.index("▸ 建筑工程规划管理科"), text.index("▸ 市政规划科")
    assert text[building + 1:municipal] == ["✅ 张帆 同意 · 11月25日周三 10:00"]
    assert text[municipal + 1:municipal + 3] == ["🟢 正常 · 时限 12月14日周一 17:30",
                                                 "⏳ 等待 赵敏 或 刘晓 处理"]
    for lane_done in ("private:wang", "private:zhangfan", "private:zheng"):
        assert buttons(cards[lane_done]) == {}, lane_done
    for lane_open in ("private:zhao", "private:liuxiao"):
        assert set(buttons(cards[lane_open])) == PRIVATE_BUTTONS, lane_open
    [step, waiting] = await rows(world, Step)
    assert (step.state, waiting.state) == ("open", "waiting")
    late = await world.press("wang", "KP-004", group["message_id"], button(group, "同意"))
    assert late["answer"]["text"].startswith("该事项已由 张帆 于 11月25日周三 10:00")
    world.clock.advance(timedelta(days=1))  # Thursday
    zhao_card = cards["private:zhao"]  # 赵敏 is not in KP-004's group: from her card
    pressed, cards = await each_card_edited_once_by(world, world.press(
        "zhao", "zhao", zhao_card["message_id"], button(zhao_card, "同意")))
    assert pressed["answer"]["text"] == "✅ 已同意，谢谢。"
    text = lines(cards["group"])
    assert "✅ ① 联合审查（并联审批，时限取最长）" in text
    assert "✅ 赵敏 同意 · 11月26日周四 10:00" in text
    assert "⏳ ② 分管领导审定" in text
    assert "🟢 正常 · 时限 12月1日周二 17:30" in text  # 3 working days from Thursday
    assert "⏳ 等待 李副局长 或 何副局长 处理" in text
    assert {label for label in cards if buttons(cards[label])} == {
        "group", "private:li", "private:he"}
    [step, second] = await rows(world, Step)
    assert (step.state, second.state) == ("approved", "open")
    assert [d.person_id for d in await decisions(world)] == [
        await person_id(world, "zhangfan"), await person_id(world, "zhao")]


# -- 3. cards stay true (see also each_card_edited_once_by and the ``world`` fixture) --------


async def test_the_cards_light_and_days_left_stay_true_as_time_passes(world: World) -> None:
    group = await submit_item(world, "微波站迁建选址方案")
    li_card = await world.last_from_bot("li")
    world.clock.advance(timedelta(days=3))  # Thursday 10:00: due today at 17:30
    await world.sweep()
    for where_, card in (("KP-002", group), ("li", li_card)):
        shown = lines(await world.ctl.message(world.cid(where_), card["message_id"]))
        assert "🟡 临近时限 · 时限 11月26日周四 17:30" in shown, where_
        assert "🟡 临近时限 · 今日到期" in shown, where_
        assert "🟢 正常 · 剩余 3 个工作日" not in shown, where_


# -- 2. the /submit wizard -------------------------------------------------------------------------

MINUTES_TYPES = """
case_types:
  - code: minutes
    name: 会议纪要审签
    name_en: Meeting minutes
    fields:
      - {key: meeting, label: 会议名称, label_en: Meeting, required: true, max_length: 20}
      - {key: note, label: 备注, label_en: Note}
    steps:
      - {name: 分管领导审签, name_en: Leader in charge, mode: any,
         assignees: [project_leader, leader_backup], limit: 2}
  - code: item
    name: 一般事项审批
    name_en: Item for approval
    steps:
      - {name: 分管领导审批, name_en: Leader in charge, mode: any,
         assignees: [project_leader, leader_backup], limit: 3}
"""


async def asked_to_reply(world: World, where: str) -> bool:
    """The bot's latest message there asks with a selective force-reply (so the answer, a
    reply, reaches the bot under group privacy mode); Messages do not show it, the request
    log does."""
    sent = [r for r in await world.ctl.requests("sendMessage")
            if r["ok"] and int(r["params"]["chat_id"]) == world.cid(where)]
    markup = sent[-1]["params"].get("reply_markup") or {}
    markup = json.loads(markup) if isinstance(markup, str) else markup
    return markup.get("force_reply") is True and markup.get("selective") is True


async def answer(world: World, who: str, where: str, text: str) -> Json:
    """Reply to the bot's latest message there; returns what the bot said next."""
    question = await world.last_from_bot(where)
    await world.say(who, where, text, reply_to=question["message_id"])
    return await world.last_from_bot(where)


async def last_said(world: World, where: str, n: int) -> list[str]:
    return [text_of(m) for m in (await world.from_bot(where))[-n:]]


async def nothing_submitted(world: World) -> None:
    assert await rows(world, Case) == []
    assert await rows(world, Step) == []
    async with world.db() as store:
        states = [r.state for r in (await store.session.execute(select(FsmRecord))).scalars()]
    assert [s for s in states if s] == []  # no conversation left half-open


async def test_the_wizard_asks_the_title_and_the_fields_and_checks_them(world: World) -> None:
    await world.say("zhangfan", "KP-004", "/submit")
    picker = await world.last_from_bot("KP-004")
    assert text_of(picker) == "请选择事项类型："
    assert list(buttons(picker)) == ["一般事项审批", PERMIT_KIND, "规划选址和设计方案联合审查",
                                     "危房重建议题", "政策文件会签", "✖️ 取消"]
    pressed = await world.press("zhangfan", "KP-004", picker["message_id"],
                                button(picker, PERMIT_KIND))
    assert pressed["answer"]["show_alert"] is False
    picked = await world.ctl.message(world.cid("KP-004"), picker["message_id"])
    assert text_of(picked) == "类型：建设工程规划许可" and buttons(picked) == {}
    asked = await world.last_from_bot("KP-004")
    assert text_of(asked) == "张帆 请回复事项标题。" and await asked_to_reply(world, "KP-004")
    await world.say("zhangfan", "KP-004", "/skip")
    assert text_of(await world.last_from_bot("KP-004")) == "此项为必填。"
    said = await answer(world, "zhangfan", "KP-004", "标" * 201)
    assert text_of(said) == "内容过长：201 字，上限为 200 字，请精简后再发。"
    assert await asked_to_reply(world, "KP-004")  # asked again: the answer replies to it
    asked = await answer(world, "zhangfan", "KP-004", PERMIT)
    assert text_of(asked) == "张帆 请回复「建设单位」。"  # no /skip hint: it is required
    assert await asked_to_reply(world, "KP-004")
    await world.say("zhangfan", "KP-004", "/skip")
    assert text_of(await world.last_from_bot("KP-004")) == "此项为必填。"
    said = await answer(world, "zhangfan", "KP-004", "建" * 101)
    assert text_of(said) == "内容过长：101 字，上限为 100 字，请精简后再发。"
    assert await asked_to_reply(world, "KP-004")
    asked = await answer(world, "zhangfan", "KP-004", f"  {APPLICANT}  ")
    assert text_of(asked) == "张帆 请回复「建设地点」。"
    green = await answer(world, "zhangfan", "KP-004", SITE)
    assert text_of(green) == "走绿色通道（时限缩短）还是普通办理？"
    assert list(buttons(green)) == ["🟢 绿色通道", "普通"]
    assert await rows(world, Case) == []  # nothing is written before the last answer
    await world.press("zhangfan", "KP-004", green["message_id"], button(green, "绿色通道"))
    card = await world.last_from_bot("KP-004")
    # The card stands for the conversation: the wizard's questions, pickers and refusals
    # are gone from the group (the answers too, where the bot is an admin).
    assert [m["message_id"] for m in await world.from_bot("KP-004")] == [card["message_id"]]
    said = [text_of(m) for m in await world.shown("KP-004") if not m["from"]["is_bot"]]
    assert said[0] == "/submit" and said[-1] == SITE  # not an admin here: answers stay
    text = text_of(card)
    assert "👤 经办人：张帆 · 11月23日周一 10:00提交 · 🟢 绿色通道" in text
    assert f"建设单位：{APPLICANT}\n建设地点：{SITE}" in text
    # Green channel: every limit halved, rounded up (处务会 5 -> 3, 局长办公会 3 -> 2).
    assert "🟢 正常 · 时限 11月26日周四 17:30" in text and "剩余 3 个工作日" in text
    [case] = await rows(world, Case)
    assert (case.title, case.type_code, case.green_channel) == (PERMIT, "building_permit", True)
    assert case.details == f'{{"applicant": "{APPLICANT}", "site": "{SITE}"}}'
    assert [s.limit_days for s in await rows(world, Step)] == [3, 2]
    await world.press("wang", "KP-004", card["message_id"], button(card, "同意"))
    shown = text_of(await world.ctl.message(world.cid("KP-004"), card["message_id"]))
    assert "⏳ ② 局长办公会\n   🟢 正常 · 时限 11月25日周三 17:30" in shown
    assert len(await rows(world, Case)) == 1  # submitted once, one group card
    assert len([m for m in await world.from_bot("KP-004") if "查询码" in text_of(m)]) == 1


async def test_an_ordinary_permit_keeps_its_full_limits(world: World) -> None:
    card = await submit_permit(world, green=False)
    assert "绿色通道" not in text_of(card)
    assert "🟢 正常 · 时限 11月30日周一 17:30" in text_of(card)
    [case] = await rows(world, Case)
    assert case.green_channel is False
    assert [s.limit_days for s in await rows(world, Step)] == [5, 3]


async def test_an_optional_field_may_be_skipped(database_url: str, tmp_path: Path) -> None:
    types = tmp_path / "types.yaml"
    types.write_text(MINUTES_TYPES, encoding="utf-8")
    world, task = await build_world(database_url, tmp_path, case_types_file=types)
    try:
        for title, note in (("专题会纪要", None), ("协调会纪要", "请于周五前会签")):
            await world.say("liuxiao", "KP-002", f"/submit {title}")
            picker = await world.last_from_bot("KP-002")
            await world.press("liuxiao", "KP-002", picker["message_id"],
                              button(picker, "会议纪要审签"))
            asked = await answer(world, "liuxiao", "KP-002", "天台山公园专题会")
            assert text_of(asked) == "刘晓 请回复「备注」。 没有可发送 /skip 跳过。"
            if note is None:
                await world.say("liuxiao", "KP-002", "/skip")
            else:
                await world.say("liuxiao", "KP-002", note, reply_to=asked["message_id"])
            card = text_of(await world.last_from_bot("KP-002"))  # no green channel question
            assert f"{title}\n" in card and "会议名称：天台山公园专题会" in card
            assert ("备注：" in card) is (note is not None)
            assert "🟢 正常 · 时限 11月25日周三 17:30" in card
        assert [c.details for c in await rows(world, Case)] == [
            '{"meeting": "天台山公园专题会"}',
            '{"meeting": "天台山公园专题会", "note": "请于周五前会签"}']
        assert await failed_edits(world) == []
    finally:
        assert await tear_down(world, task) == []


async def test_cancel_midway_leaves_nothing(world: World) -> None:
    await world.say("zhangfan", "KP-004", f"/submit {PERMIT}")
    picker = await world.last_from_bot("KP-004")
    await world.press("zhangfan", "KP-004", picker["message_id"], button(picker, PERMIT_KIND))
    asked = await answer(world, "zhangfan", "KP-004", APPLICANT)
    assert text_of(asked) == "张帆 请回复「建设地点」。"
    await world.say("zhangfan", "KP-004", "/cancel")
    assert text_of(await world.last_from_bot("KP-004")) == "已取消，未提交任何事项。"
    await nothing_submitted(world)
    # An answer to the old question after /cancel submits nothing either.
    await world.say("zhangfan", "KP-004", SITE, reply_to=asked["message_id"])
    await nothing_submitted(world)
    # The picker's own ✖️ 取消 button.
    await world.say("zhangfan", "KP-004", f"/submit {PERMIT}")
    picker = await world.last_from_bot("KP-004")
    pressed = await world.press("zhangfan", "KP-004", picker["message_id"],
                                button(picker, "取消"))
    assert pressed["answer"]["text"] == "已取消，未提交任何事项。"
    shown = await world.ctl.message(world.cid("KP-004"), picker["message_id"])
    assert text_of(shown) == "已取消，未提交任何事项。" and buttons(shown) == {}
    await nothing_submitted(world)


async def test_a_picker_pressed_by_someone_else_changes_nothing(world: World) -> None:
    await world.say("zhangfan", "KP-004", f"/submit {PERMIT}")
    picker = await world.last_from_bot("KP-004")
    # 吴静 (another handler of KP-004, with no /submit of her own) presses it.
    pressed = await world.press("wujing", "KP-004", picker["message_id"],
                                button(picker, "一般事项审批"))
    assert pressed["answer"] == {"text": "这个问题是问发送 /submit 的人的。", "show_alert": True,
                                 "url": None}
    assert await world.ctl.message(world.cid("KP-004"), picker["message_id"]) == picker
    # 李副局长 presses its cancel button: the same.
    pressed = await world.press("li", "KP-004", picker["message_id"], button(picker, "取消"))
    assert pressed["answer"]["text"] == "这个问题是问发送 /submit 的人的。"
    assert await world.ctl.message(world.cid("KP-004"), picker["message_id"]) == picker
    assert await rows(world, Case) == []
    # zhangfan's wizard goes on untouched.
    await world.press("zhangfan", "KP-004", picker["message_id"], button(picker, PERMIT_KIND))
    assert text_of(await world.last_from_bot("KP-004")) == "张帆 请回复「建设单位」。"


async def test_a_picker_pressed_by_someone_in_her_own_wizard_changes_nothing(
        world: World) -> None:
    """吴静 has a /submit of her own open in the same group: his buttons are still not hers."""
    await world.say("zhangfan", "KP-004", f"/submit {PERMIT}")
    his_picker = await world.last_from_bot("KP-004")
    await world.say("wujing", "KP-004", "/submit 危房鉴定复核")
    her_picker = await world.last_from_bot("KP-004")
    for label in ("一般事项审批", "取消"):
        pressed = await world.press("wujing", "KP-004", his_picker["message_id"],
                                    button(his_picker, label))
        assert pressed["answer"]["text"] == "这个问题是问发送 /submit 的人的。", label
        assert pressed["answer"]["show_alert"] is True
        assert await world.ctl.message(world.cid("KP-004"), his_picker["message_id"]) == (
            his_picker)
    assert await rows(world, Case) == []
    # Both go on to the green-channel question, each with their own answers.
    green = {}
    for who, picker in (("wujing", her_picker), ("zhangfan", his_picker)):
        await world.press(who, "KP-004", picker["message_id"], button(picker, PERMIT_KIND))
        await answer(world, who, "KP-004", APPLICANT)
        green[who] = await answer(world, who, "KP-004", SITE)
        assert text_of(green[who]) == "走绿色通道（时限缩短）还是普通办理？"
    pressed = await world.press("wujing", "KP-004", green["zhangfan"]["message_id"],
                                button(green["zhangfan"], "普通"))
    assert pressed["answer"]["text"] == "这个问题是问发送 /submit 的人的。"
    assert await rows(world, Case) == []
    await world.press("zhangfan", "KP-004", green["zhangfan"]["message_id"],
                      button(green["zhangfan"], "绿色通道"))
    await world.press("wujing", "KP-004", green["wujing"]["message_id"],
                      button(green["wujing"], "普通"))
    cases = {c.title: c for c in await rows(world, Case)}
    assert set(cases) == {"危房鉴定复核", PERMIT}
    assert cases[PERMIT].submitter_id == await person_id(world, "zhangfan")
    assert cases[PERMIT].green_channel is True
    assert cases["危房鉴定复核"].submitter_id == await person_id(world, "wujing")
    assert cases["危房鉴定复核"].green_channel is False


async def test_a_double_tap_on_the_picker_asks_once(world: World) -> None:
    await world.say("zhangfan", "KP-004", f"/submit {PERMIT}")
    picker = await world.last_from_bot("KP-004")
    data = button(picker, PERMIT_KIND)
    await world.press("zhangfan", "KP-004", picker["message_id"], data)
    again = await world.press("zhangfan", "KP-004", picker["message_id"], data, forge=True)
    assert again["answer"] == {"text": "此按钮已失效。", "show_alert": True, "url": None}
    questions = [m for m in await world.from_bot("KP-004") if "请回复「建设单位」" in text_of(m)]
    assert len(questions) == 1
    assert await failed_edits(world) == []


async def test_an_over_long_title_given_with_submit_is_asked_again(world: World) -> None:
    await world.say("liuxiao", "KP-002", "/submit " + "长" * 201)
    picker = await world.last_from_bot("KP-002")
    await world.press("liuxiao", "KP-002", picker["message_id"], button(picker, "一般事项审批"))
    assert await last_said(world, "KP-002", 2) == [
        "内容过长：201 字，上限为 200 字，请精简后再发。", "刘晓 请回复事项标题。"]
    await answer(world, "liuxiao", "KP-002", "微波站迁建选址方案")
    [case] = await rows(world, Case)
    assert case.title == "微波站迁建选址方案"


async def test_only_the_projects_handlers_may_submit(world: World) -> None:
    for who in ("li", "he", "lin"):  # the leader in charge, the B post, a guide
        await world.say(who, "KP-004", "/submit 代为提交的事项")
        refused = await world.last_from_bot("KP-004")
        assert text_of(refused) == "只有 KP-004 的经办人可以提交审批事项。", who
        assert buttons(refused) == {}
    await nothing_submitted(world)


# -- 4. 100 presses at once -----------------------------------------------------------------------

PRESSES = 100
ON_POSTGRES = bool(TEST_DATABASE_URL) and not TEST_DATABASE_URL.startswith("sqlite")
ASK_REASON = "请回复退回理由。"
REASON_PROMPT = "填写退回「微波站迁建选址方案」的理由"


async def concurrently(world: World, task: asyncio.Task[None]) -> asyncio.Task[None]:
    """Restart the bot on the same database to handle updates concurrently, each in a task
    of its own, as in production (``run_polling``'s default)."""
    await stop_polling(world, task)
    world.app = await create_app(world.app.settings, clock=world.clock)
    return asyncio.create_task(run_polling(world.app, handle_as_tasks=True, polling_timeout=10,
                                           with_scheduler=False))


async def concurrent_world(database_url: str, tmp_path: Path) -> tuple[World, asyncio.Task[None]]:
    """The demo world with an item submitted, then the bot handling updates concurrently."""
    world, task = await build_world(database_url, tmp_path)
    await submit_item(world, "微波站迁建选址方案")
    return world, await concurrently(world, task)


async def press_at_once(world: World, presses: list[tuple[str, Json, str]]) -> list[Json]:
    """Everyone presses at once (who, card, button label); once every update is handled,
    the answers in the order of ``presses``."""
    answered_before = len(await world.ctl.requests("answerCallbackQuery"))
    sent = await asyncio.gather(*(
        world.ctl.press(world.uid(who), card["chat"]["id"], card["message_id"],
                        button(card, label), forge=True, wait=False)
        for who, card, label in presses))

    async def all_handled() -> bool:
        answered = await world.ctl.requests("answerCallbackQuery")
        # Tasks still running (a winner updating cards, a prompt on its way) hold the test.
        busy = world.app.dispatcher._handle_update_tasks
        return len(answered) - answered_before >= len(presses) and not busy

    await eventually(all_handled, f"{len(presses)} answers")
    answers = {r["params"]["callback_query_id"]: r["params"]
               for r in (await world.ctl.requests("answerCallbackQuery"))[answered_before:]}
    ids = [s["callback_query_id"] for s in sent]
    assert sorted(answers) == sorted(ids)  # each press answered, once
    return [answers[i] for i in ids]


async def reason_prompts(world: World) -> list[Json]:
    return [r for r in await world.ctl.requests("sendMessage")
            if REASON_PROMPT in str(r["params"].get("text"))]


async def test_a_hundred_presses_at_once_record_exactly_one_decision(
        database_url: str, tmp_path: Path) -> None:
    world, task = await concurrent_world(database_url, tmp_path)
    try:
        group = await world.last_from_bot("KP-002")
        private = {who: await world.last_from_bot(who) for who in ("li", "he")}
        world.clock.advance(timedelta(minutes=3))
        # li and he alternate; ✅ and ↩️ alternate in pairs; the group card and their private
        # cards alternate in fours: every combination, interleaved.
        presses = [(who, group if i // 4 % 2 == 0 else private[who], ("同意", "退回")[i // 2 % 2])
                   for i, who in enumerate(("li", "he") * (PRESSES // 2))]
        answers = await press_at_once(world, presses)
        [won] = [i for i, a in enumerate(answers) if a.get("text") == "✅ 已同意，谢谢。"]
        winner, _, label = presses[won]
        assert label == "同意"
        name = {"li": "李副局长", "he": "何副局长"}[winner]
        already = f"该事项已由 {name} 于 11月23日周一 10:03 同意。"
        # A ↩️ handled before the approval landed only asks for a reason (it records nothing);
        # every other press is told who decided.
        asked = [i for i, a in enumerate(answers) if a.get("text") == ASK_REASON]
        assert all(presses[i][2] == "退回" for i in asked)
        told = [i for i, a in enumerate(answers) if a.get("text") == already]
        assert all(answers[i].get("show_alert") is True for i in told)
        assert sorted([won, *asked, *told]) == list(range(PRESSES)), Counter(
            str(a.get("text")) for a in answers)
        [decided] = await decisions(world)
        assert decided.decision == "approve"
        assert decided.person_id == await person_id(world, winner)
        [case] = await rows(world, Case)
        assert case.state == "approved"
        actions = Counter(e.action for e in await rows(world, AuditEvent))
        assert actions["case.approve"] == 1 and actions["case.return"] == 0
        assert actions["press.refused"] == len(told)
        async with world.db() as store:
            assert (await store.verify_audit_chain()).broken is None
        # Every card shows the one decision; the submitter is told once.
        cards = await case_cards(world)
        assert set(cards) == {"group", "private:li", "private:he"}
        for where_, card in cards.items():
            assert f"✅ {name} 同意 · 11月23日周一 10:03" in text_of(card), where_
            assert "✅ 审批通过 · 11月23日周一 10:03" in text_of(card), where_
            assert buttons(card) == {}, where_
        notices = [m for m in await world.from_bot("liuxiao") if "已审批通过" in text_of(m)]
        assert len(notices) == 1
        # One prompt per ↩️ answered.
        assert len(await reason_prompts(world)) == len(asked)
        assert [r for r in await world.ctl.requests() if not r["ok"]] == []
    finally:
        assert await tear_down(world, task) == []


async def test_return_pressed_twice_at_once_asks_for_the_reason_each_time(
        database_url: str, tmp_path: Path) -> None:
    world, task = await concurrent_world(database_url, tmp_path)
    try:
        group = await world.last_from_bot("KP-002")
        answers = await press_at_once(world, [("he", group, "退回")] * 10)  # a nervous thumb
        assert [a.get("text") for a in answers] == [ASK_REASON] * 10
        assert len(await reason_prompts(world)) == 10  # as when pressed one after the other
        assert await decisions(world) == []
        prompt = await world.last_from_bot("KP-002")
        await world.ctl.send_text(world.uid("he"), world.cid("KP-002"), "请补充管线资料",
                                  reply_to_message_id=prompt["message_id"])
        await eventually(lambda: _returned(world), "the return")
    finally:
        assert await tear_down(world, task) == []


async def _returned(world: World) -> bool:
    return [d.reason for d in await decisions(world)] == ["请补充管线资料"]


async def test_both_countersigns_at_once_close_the_step_once_and_edit_cards_once(
        database_url: str, tmp_path: Path) -> None:
    world, task = await build_world(database_url, tmp_path)
    try:
        group = await submit_item(world, "城市更新政策文件", kind="政策文件会签")
        private = {who: await world.last_from_bot(who) for who in ("li", "he")}
        task = await concurrently(world, task)
        # The first decision's answer and the second's first edit are held back, so that the
        # two card updates overlap: the one that finishes last must see what the other did.
        await world.ctl.inject_fault("answerCallbackQuery", "delay", delay=0.4)
        await world.ctl.inject_fault("editMessageText", "delay", delay=0.8)
        before = await edit_counts(world)
        answers = await press_at_once(world, [("li", private["li"], "同意"),
                                              ("he", group, "同意")])
        assert [a.get("text") for a in answers] == ["✅ 已同意，谢谢。"] * 2
        [step] = await rows(world, Step)
        assert step.state == "approved"
        cards = await case_cards(world)
        assert set(cards) == {"group", "private:li", "private:he"}
        for label, card in cards.items():
            assert "✅ 审批通过 · 11月23日周一 10:00" in text_of(card), label
            assert "✅ 李副局长 同意" in text_of(card) and "✅ 何副局长 同意" in text_of(card)
            assert buttons(card) == {}, label
        edits = await edit_counts(world) - before
        assert all(n <= 2 for n in edits.values()), edits
        assert len([m for m in await world.from_bot("liuxiao") if "已审批通过" in text_of(m)]) == 1
        assert await failed_edits(world) == []
    finally:
        assert await tear_down(world, task) == []


async def test_both_departments_at_once_open_the_next_step_once(
        database_url: str, tmp_path: Path) -> None:
    """The two lanes of a joint step approved at the same moment. The emulator delays the
    first decision's answer and the second decision's first message, so that the two card
    updates overlap: the one that finishes last must see what the other did."""
    world, task = await build_world(database_url, tmp_path)
    try:
        await submit_item(world, "雁城片区选址和设计方案", who="wujing", where="KP-004",
                          kind="规划选址和设计方案联合审查")
        private = {who: await world.last_from_bot(who) for who in ("wang", "zhao")}
        task = await concurrently(world, task)
        await world.ctl.inject_fault("answerCallbackQuery", "delay", delay=0.4)
        await world.ctl.inject_fault("sendMessage", "delay", delay=0.8)
        answers = await press_at_once(world, [("wang", private["wang"], "同意"),
                                              ("zhao", private["zhao"], "同意")])
        assert [a.get("text") for a in answers] == ["✅ 已同意，谢谢。"] * 2
        first, second = await rows(world, Step)
        assert (first.state, second.state) == ("approved", "open")
        cards = await case_cards(world)
        assert sorted(label for label in cards if label.startswith("private:")) == [
            "private:he", "private:li", "private:liuxiao", "private:wang", "private:zhangfan",
            "private:zhao", "private:zheng"]  # li and he: one card each for the new step
        for leader in ("li", "he"):
            assert len([m for m in await world.from_bot(leader) if "联合审查" in text_of(m)]) == 1
        for label, card in cards.items():
            assert "⏳ ② 分管领导审定" in text_of(card), label
        assert await failed_edits(world) == []
    finally:
        assert await tear_down(world, task) == []
