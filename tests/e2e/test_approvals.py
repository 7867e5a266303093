"""Approve: a handler submits, the leader in charge or the B post approves or returns it from
the card, in the group or in private; every card then shows the outcome and loses its
buttons; second presses, strangers, stale and forged buttons are refused and change nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from storage.models import Assignment, AuditEvent, Case, Step
from tests.e2e.conftest import (
    Json,
    World,
    build_world,
    button,
    buttons,
    restart_bot,
    submit_item,
    tear_down,
    text_of,
)

ITEM = "微波站迁建选址方案"


async def submit(world: World, title: str = ITEM) -> Json:
    return await submit_item(world, title)


async def decisions(world: World) -> list[Assignment]:
    async with world.db() as store:
        query = select(Assignment).where(Assignment.decision.is_not(None))  # type: ignore[union-attr]
        return list((await store.session.execute(query)).scalars())


async def audit_actions(world: World) -> list[str]:
    async with world.db() as store:
        return [e.action for e in await store.all(AuditEvent, order_by=AuditEvent.id)]


async def test_submission_posts_a_group_card_and_private_cards_to_a_and_b(world: World) -> None:
    card = await submit(world)
    text = text_of(card)
    assert "📝 一般事项审批 #1 · KP-002 天台山公园" in text
    assert ITEM in text and "经办人：刘晓" in text
    assert "⏳ ① 分管领导审批" in text
    assert "🟢 正常 · 时限 11月26日周四 17:30" in text  # 3 working days after Monday
    assert "⏳ 等待 李副局长 或 何副局长 处理" in text
    assert set(buttons(card)) == {"✅ 同意", "↩️ 退回", "🗑 撤回"}
    for leader in ("li", "he"):
        private = await world.last_from_bot(leader)
        assert ITEM in text_of(private)
        assert set(buttons(private)) == {"✅ 同意", "↩️ 退回", "💬 附意见同意", "🔁 转交",
                                         "➕ 加签"}
    async with world.db() as store:
        [case] = await store.all(Case)
        [step] = await store.all(Step)
    assert case.state == "pending" and step.mode == "any"  # or-sign: A or B


async def test_approve_from_private_updates_every_card_and_tells_the_handler(
        world: World) -> None:
    group_card = await submit(world)
    private = await world.last_from_bot("li")
    world.clock.advance(timedelta(minutes=7))
    pressed = await world.press("li", "li", private["message_id"], button(private, "同意"))
    assert pressed["answer"]["text"] == "✅ 已同意，谢谢。"
    for where, message_id in (("KP-002", group_card["message_id"]),
                              ("li", private["message_id"])):
        shown = await world.ctl.message(world.cid(where), message_id)
        assert "✅ 李副局长 同意 · 11月23日周一 10:07" in text_of(shown)
        assert "✅ 审批通过 · 11月23日周一 10:07" in text_of(shown)
        assert "等待" not in text_of(shown) and buttons(shown) == {}
    b_card = await world.last_from_bot("he")
    assert "✅ 李副局长 同意" in text_of(b_card) and buttons(b_card) == {}
    notice = text_of(await world.last_from_bot("liuxiao"))
    assert notice == f"✅ 您提交的「{ITEM}」（KP-002，#1）已审批通过。"
    [decided] = await decisions(world)
    assert decided.decision == "approve"
    assert (await audit_actions(world))[-2:] == ["case.submitted", "case.approve"]


async def test_a_second_press_and_the_b_post_after_a_decision_change_nothing(
        world: World) -> None:
    group_card = await submit(world)
    data = button(group_card, "同意")
    await world.press("he", "KP-002", group_card["message_id"], data)
    again = await world.press("he", "KP-002", group_card["message_id"], data, forge=True)
    assert again["answer"]["show_alert"] is True
    assert again["answer"]["text"].startswith("该事项已由 何副局长 于 11月23日周一 10:00 同意")
    late = await world.press("li", "li", (await world.last_from_bot("li"))["message_id"], data,
                             forge=True)
    assert "该事项已由 何副局长" in late["answer"]["text"]
    assert len(await decisions(world)) == 1
    assert (await audit_actions(world)).count("press.refused") == 2


async def test_someone_else_pressing_is_refused_and_audited(world: World) -> None:
    group_card = await submit(world)
    pressed = await world.press("zhao", "KP-002", group_card["message_id"],
                                button(group_card, "同意"))
    assert pressed["answer"] == {"text": "该事项不由您审批。", "show_alert": True, "url": None}
    assert await decisions(world) == []
    assert "✅ 同意" in buttons(await world.ctl.message(world.cid("KP-002"),
                                                     group_card["message_id"]))
    async with world.db() as store:
        [refused] = await store.all(AuditEvent, action="press.refused")
    assert '"why": "not_your_turn"' in refused.data


async def test_stale_and_forged_buttons_are_refused(world: World) -> None:
    group_card = await submit(world)
    message_id = group_card["message_id"]
    for data, answer in (("dc:999:a", "此卡片已过期。"), ("dc:1:x", "此按钮已失效。"),
                         ("zz:1", "此按钮已失效。"), ("dc:abc:a", "此按钮已失效。")):
        pressed = await world.press("li", "KP-002", message_id, data, forge=True)
        assert pressed["answer"]["text"] == answer, data
        assert pressed["answer"]["show_alert"] is True
    assert await decisions(world) == []
    assert (await audit_actions(world)).count("press.refused") == 4


async def test_an_unknown_action_on_any_button_is_refused_and_changes_nothing(
        world: World) -> None:
    """Every button's action is a known letter; another one (well formed otherwise, on a
    case that can be acted on) reaches no handler and gets the localized alert."""
    group_card = await submit(world)
    private = await world.last_from_bot("li")
    presses = [("li", "li", private, "dc:1:z"), ("li", "li", private, "dc:1:A"),
               ("li", "li", private, "pp:1:z:0:0:"), ("li", "li", private, "pp:1:s:0:5:z"),
               ("liuxiao", "KP-002", group_card, "cs:1:z"),
               ("li", "li", private, "pd:z:1")]
    async with world.db() as store:
        [before] = await store.all(Case)
    for who, where, message, data in presses:
        pressed = await world.press(who, where, message["message_id"], data, forge=True)
        assert pressed["answer"] == {"text": "此按钮已失效。", "show_alert": True,
                                     "url": None}, data
    assert await decisions(world) == []
    assert set(buttons(await world.ctl.message(world.cid("li"), private["message_id"]))) == {
        "✅ 同意", "↩️ 退回", "💬 附意见同意", "🔁 转交", "➕ 加签"}
    async with world.db() as store:
        refused = await store.all(AuditEvent, action="press.refused")
        [case] = await store.all(Case)
    assert ['"why": "unknown_button"' in e.data for e in refused] == [True] * len(presses)
    assert (case.state, case.version) == ("pending", before.version)


async def test_return_asks_for_a_reason_then_sends_it_back_to_the_handler(
        world: World) -> None:
    await submit(world)
    private = await world.last_from_bot("he")
    pressed = await world.press("he", "he", private["message_id"], button(private, "退回"))
    assert pressed["answer"]["text"] == "请回复退回理由。"
    prompt = await world.last_from_bot("he")
    assert f"填写退回「{ITEM}」的理由" in text_of(prompt)
    assert await decisions(world) == []  # nothing decided until the reason comes
    await world.say("he", "he", "请补充周边地下管线资料", reply_to=prompt["message_id"])
    assert text_of(await world.last_from_bot("he")) == "↩️ 已退回经办人，并附上您的理由。"
    group = next(m for m in await world.from_bot("KP-002") if "一般事项审批 #1" in text_of(m))
    assert "↩️ 何副局长 退回" in text_of(group)
    assert "理由：请补充周边地下管线资料" in text_of(group)
    assert "⏸ 已退回经办人补正，计时暂停（剩余 3 个工作日）" in text_of(group)
    assert set(buttons(group)) == {"📤 重新提交", "🗑 撤回"}
    notice = await world.last_from_bot("liuxiao")
    assert f"您提交的「{ITEM}」（KP-002，#1）被 何副局长 退回补正" in text_of(notice)
    assert "理由：请补充周边地下管线资料" in text_of(notice)
    assert set(buttons(notice)) == {"📤 重新提交", "🗑 撤回"}
    [decided] = await decisions(world)
    assert (decided.decision, decided.reason) == ("return", "请补充周边地下管线资料")
    async with world.db() as store:
        [case] = await store.all(Case)
    assert case.state == "supplement"


async def test_return_in_the_group_with_a_reply_and_bad_reasons_first(world: World) -> None:
    group_card = await submit(world)
    await world.press("li", "KP-002", group_card["message_id"], button(group_card, "退回"))
    prompt = await world.last_from_bot("KP-002")
    assert "请回复本消息" in text_of(prompt) and "李副局长" in text_of(prompt)
    await world.say("li", "KP-002", "理" * 1001, reply_to=prompt["message_id"])
    assert "内容过长：1001 字，上限为 1000 字" in text_of(await world.last_from_bot("KP-002"))
    await world.say("li", "KP-002", "/projects", reply_to=prompt["message_id"])
    assert "正在等待退回理由" in text_of(await world.last_from_bot("KP-002"))
    assert await decisions(world) == []
    await world.say("li", "KP-002", "选址与控规冲突，请重新比选", reply_to=prompt["message_id"])
    [decided] = await decisions(world)
    assert decided.reason == "选址与控规冲突，请重新比选"
    shown = await world.ctl.message(world.cid("KP-002"), group_card["message_id"])
    assert "理由：选址与控规冲突，请重新比选" in text_of(shown)


async def test_cancelling_a_return_keeps_the_item_open(world: World) -> None:
    group_card = await submit(world)
    await world.press("li", "KP-002", group_card["message_id"], button(group_card, "退回"))
    prompt = await world.last_from_bot("KP-002")
    await world.say("li", "KP-002", "/cancel", reply_to=prompt["message_id"])
    assert text_of(await world.last_from_bot("KP-002")) == "已取消，该事项仍待审批。"
    shown = await world.ctl.message(world.cid("KP-002"), group_card["message_id"])
    assert set(buttons(shown)) == {"✅ 同意", "↩️ 退回", "🗑 撤回"}
    assert await decisions(world) == []


async def test_a_return_reason_after_the_other_post_approved_is_refused(world: World) -> None:
    group_card = await submit(world)
    await world.press("li", "KP-002", group_card["message_id"], button(group_card, "退回"))
    prompt = await world.last_from_bot("KP-002")
    b_private = await world.last_from_bot("he")
    await world.press("he", "he", b_private["message_id"], button(b_private, "同意"))
    await world.say("li", "KP-002", "理由", reply_to=prompt["message_id"])
    assert "该事项已由 何副局长" in text_of(await world.last_from_bot("KP-002"))
    assert [d.decision for d in await decisions(world)] == ["approve"]


async def test_only_handlers_submit_and_titles_are_checked(world: World) -> None:
    await world.say("zheng", "KP-002", "/submit 引导员代交")
    assert "只有 KP-002 的经办人可以提交审批事项" in text_of(await world.last_from_bot("KP-002"))
    card = await submit_item(world, "")  # no title yet: it is asked for
    assert "请回复事项标题" in text_of(card)
    await world.say("liuxiao", "KP-002", "长" * 201, reply_to=card["message_id"])
    assert "内容过长：201 字" in text_of(await world.last_from_bot("KP-002"))
    await world.say("liuxiao", "KP-002", "/cancel")
    await world.say("liuxiao", "liuxiao", "/submit 私聊提交")
    assert "请在项目工作群中发送" in text_of(await world.last_from_bot("liuxiao"))
    async with world.db() as store:
        assert await store.all(Case) == []


async def test_a_document_submitted_with_the_item_is_listed(world: World) -> None:
    await world.document("liuxiao", "KP-002", "选址比选方案.pdf", caption=f"/submit {ITEM}")
    picker = await world.last_from_bot("KP-002")
    await world.press("liuxiao", "KP-002", picker["message_id"], button(picker, "一般事项审批"))
    card = text_of(await world.last_from_bot("KP-002"))
    assert "📎 选址比选方案.pdf" in card


async def test_a_leader_who_never_started_the_bot_is_mentioned_in_the_group(
        database_url: str, tmp_path: Path) -> None:
    everyone_but_he = {"li", "liuxiao", "zheng", "zhao", "ma"}
    world, task = await build_world(database_url, tmp_path, started=everyone_but_he)
    try:
        card = await submit(world)
        assert 'href="tg://user?id=100003"' not in text_of(card)  # plain text shows names
        mentions = [e for e in card["entities"] if e["type"] == "text_mention"
                    or e.get("url", "").startswith("tg://user")]
        assert {e["user"]["id"] if "user" in e else e["url"] for e in mentions} >= {100003}
        assert await world.from_bot("he") == []  # no private card: Telegram refused (403)
        refused = [r for r in await world.ctl.requests("sendMessage")
                   if r["params"].get("chat_id") == 100003]
        assert [r["error_code"] for r in refused] == [403]
        await submit_item(world, "第二件")
        again = [r for r in await world.ctl.requests("sendMessage")
                 if r["params"].get("chat_id") == 100003]
        assert len(again) == 1  # the refusal was remembered: no second attempt
    finally:
        assert await tear_down(world, task) == []


async def test_a_return_started_before_a_restart_finishes_after_it(
        database_url: str, tmp_path: Path) -> None:
    world, task = await build_world(database_url, tmp_path)
    try:
        group_card = await submit(world)
        await world.press("li", "KP-002", group_card["message_id"], button(group_card, "退回"))
        prompt = await world.last_from_bot("KP-002")
        task = await restart_bot(world, task)
        await world.say("li", "KP-002", "重启后补充的理由", reply_to=prompt["message_id"])
        [decided] = await decisions(world)
        assert decided.reason == "重启后补充的理由"
        shown = await world.ctl.message(world.cid("KP-002"), group_card["message_id"])
        assert "理由：重启后补充的理由" in text_of(shown)
    finally:
        assert await tear_down(world, task) == []
