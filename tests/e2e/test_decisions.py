"""Deciding from the chat, every kind: approve with a comment, return to the submitter (the
clock stops until the supplement is resubmitted), return to an earlier step (a new round),
withdraw, transfer, add a signer before or after oneself; every refusal these buttons can
meet (forged, stale, second presses) is an alert, audited, and changes nothing; a
conversation started before a restart finishes after it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from storage.models import (
    Assignment,
    Attachment,
    AuditEvent,
    Card,
    Case,
    FsmRecord,
    Lane,
    Nudge,
    Person,
    Step,
)
from tests.e2e.conftest import (
    SHANGHAI,
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
PERMIT = "雁城路危房重建项目规划许可"
TURN_BUTTONS = {"✅ 同意", "↩️ 退回", "💬 附意见同意", "🔁 转交", "➕ 加签"}
GROUP_BUTTONS = {"✅ 同意", "↩️ 退回", "🗑 撤回"}
SUPPLEMENT_BUTTONS = {"📤 重新提交", "🗑 撤回"}

NOT_YOURS = "该事项不由您审批。"
ONLY_SUBMITTER = "只有提交人可以这样操作。"
IN_SUPPLEMENT = "该事项已退回经办人补正，重新提交后方可审批。"
WITHDRAWN = "该事项已被提交人撤回。"
APPROVED = "该事项已审批通过。"
STALE = "此卡片已过期。"
INVALID = "此按钮已失效。"

# The item is submitted on Monday 2026-11-23 10:00 with 3 working days: due Thursday 17:30.
WEDNESDAY = datetime(2026, 11, 25, 11, 0, tzinfo=SHANGHAI)  # 1 working day left
FRIDAY_EVENING = datetime(2026, 11, 27, 18, 0, tzinfo=SHANGHAI)  # past the original due
NEXT_MONDAY = datetime(2026, 11, 30, 9, 30, tzinfo=SHANGHAI)
NEXT_TUESDAY_DUE = datetime(2026, 12, 1, 17, 30, tzinfo=SHANGHAI)  # Monday + the 1 day left


# -- acting ------------------------------------------------------------------------------------


async def submit(world: World, title: str = ITEM) -> Json:
    """liuxiao submits an item in KP-002: 李副局长 (A) or 何副局长 (B) decides it."""
    return await submit_item(world, title)


async def submit_permit(world: World) -> Json:
    """zhangfan submits a planning permit in KP-004: 处务会 (王建国), then 局长办公会 (陈局长)."""
    await world.say("zhangfan", "KP-004", f"/submit {PERMIT}")
    picker = await world.last_from_bot("KP-004")
    await world.press("zhangfan", "KP-004", picker["message_id"],
                      button(picker, "建设工程规划许可"))
    for answer in ("雁城建投", "雁城路12号"):  # 建设单位, 建设地点
        asked = await world.last_from_bot("KP-004")
        await world.say("zhangfan", "KP-004", answer, reply_to=asked["message_id"])
    asked = await world.last_from_bot("KP-004")
    await world.press("zhangfan", "KP-004", asked["message_id"], button(asked, "普通"))
    card = await world.last_from_bot("KP-004")
    assert "建设工程规划许可 #" in text_of(card) and PERMIT in text_of(card)
    return card


async def now(world: World, where: str, message: Json) -> Json:
    """What a message shows now (after edits)."""
    return await world.ctl.message(world.cid(where), message["message_id"])


async def press(world: World, who: str, where: str, message: Json, label: str) -> Json:
    """Press the button labelled ``label`` on what ``message`` shows now."""
    shown = await now(world, where, message)
    return await world.press(who, where, shown["message_id"], button(shown, label))


async def reply(world: World, who: str, where: str, text: str) -> Json:
    """Answer the bot's latest question in ``where``."""
    asked = await world.last_from_bot(where)
    return await world.say(who, where, text, reply_to=asked["message_id"])


async def return_it(world: World, who: str, where: str, card: Json, reason: str) -> None:
    """↩️ on a card of a first step, then the reason."""
    pressed = await press(world, who, where, card, "退回")
    assert pressed["answer"]["text"] == "请回复退回理由。"
    await reply(world, who, where, reason)


async def add_signer(world: World, who: str, card: Json, name: str, position: str) -> None:
    """➕ on a private card, pick ``name`` (first page), then 在我之前 / 在我之后."""
    await press(world, who, who, card, "加签")
    picker = await world.last_from_bot(who)
    await press(world, who, who, picker, name)
    assert (await press(world, who, who, picker, position))["answer"]["text"] == "➕ 已加签。"


def alert(pressed: Json) -> str:
    """The text of a refusal: it must be an alert."""
    answer = pressed["answer"]
    assert answer["show_alert"] is True, answer
    return str(answer["text"])


# -- looking -------------------------------------------------------------------------------------


async def person_id(world: World, key: str) -> int:
    async with world.db() as store:
        person = await store.person_by_key(key)
        assert person is not None and person.id is not None
        return person.id


async def audit(world: World, action: str | None = None) -> list[dict[str, Any]]:
    async with world.db() as store:
        events = await store.all(AuditEvent, order_by=AuditEvent.id)
    return [json.loads(e.data) | {"action": e.action} for e in events
            if action is None or e.action == action]


async def holders(world: World, step_id: int) -> list[tuple[str, str, str | None]]:
    """(person key, assignment state, decision) of a step, in order."""
    async with world.db() as store:
        found = []
        for a in await store.assignments(step_id):
            person = await store.get(Person, a.person_id)
            assert person is not None
            found.append((person.key, a.state, a.decision))
        return found


async def the_case(world: World, case_id: int = 1) -> Case:
    async with world.db() as store:
        case = await store.get(Case, case_id)
        assert case is not None
        return case


async def steps(world: World, case_id: int = 1) -> list[Step]:
    async with world.db() as store:
        return await store.all(Step, order_by=Step.id, case_id=case_id)


CHATS = ("KP-002", "KP-004", "li", "he", "chen", "wang", "zhao", "liuxiao", "zhangfan")


async def everything(world: World) -> dict[str, Any]:
    """What every chat shows and what the database holds, but the audit trail: a refused
    press must leave all of it as it was."""
    shown = {where: [(m["message_id"], text_of(m), buttons(m)) for m in await world.from_bot(where)]
             for where in CHATS}
    async with world.db() as store:
        rows: list[tuple[Any, ...]] = []
        rows += [("case", c.id, c.state, c.round, c.version) for c in await store.all(Case)]
        rows += [("step", s.id, s.state, s.version, s.due_at) for s in await store.all(Step)]
        rows += [("lane", ln.id, ln.state, ln.due_at, ln.remaining_days)
                 for ln in await store.all(Lane)]
        rows += [("assignment", a.id, a.person_id, a.state, a.decision, a.version, a.waits_for_id)
                 for a in await store.all(Assignment)]
        rows += [("card", c.id, c.tg_message_id, c.shown_hash) for c in await store.all(Card)]
        rows += [("fsm", r.key, r.state, r.data) for r in await store.all(FsmRecord)]
    return {"shown": shown, "rows": sorted(rows, key=repr)}


async def conversations(world: World) -> list[str]:
    async with world.db() as store:
        return [r.state for r in await store.all(FsmRecord) if r.state]


# -- 💬 approve with a comment -------------------------------------------------------------------


async def test_approve_with_a_comment_shows_the_comment_on_every_card(world: World) -> None:
    group_card = await submit(world)
    li_card, he_card = await world.last_from_bot("li"), await world.last_from_bot("he")
    world.clock.advance(timedelta(minutes=5))
    pressed = await press(world, "li", "li", li_card, "💬 附意见同意")
    assert pressed["answer"] == {"text": "请回复您的意见。", "show_alert": False, "url": None}
    prompt = await world.last_from_bot("li")
    assert text_of(prompt) == "请回复您的意见，将与您的同意一并记录。"
    sent = (await world.ctl.requests("sendMessage"))[-1]["params"]  # answered by a reply
    # In private there is only the reader: not selective, and not named.
    assert (sent["chat_id"], sent["reply_markup"]) == (world.uid("li"), {
        "force_reply": True, "input_field_placeholder": "意见", "selective": False})
    await world.photo("li", "li", reply_to=prompt["message_id"])
    assert text_of(await world.last_from_bot("li")) == "请以文字填写意见，或发送 /cancel 取消。"
    await world.say("li", "li", "意" * 1001, reply_to=prompt["message_id"])
    assert "内容过长：1001 字，上限为 1000 字" in text_of(await world.last_from_bot("li"))
    assert (await the_case(world)).state == "pending"  # nothing decided until the comment
    comment = "同意，迁建时注意保护现状管线"
    await world.say("li", "li", comment, reply_to=prompt["message_id"])
    assert text_of(await world.last_from_bot("li")) == "✅ 已同意，并记录您的意见。"
    for where, card in (("KP-002", group_card), ("li", li_card), ("he", he_card)):
        shown = await now(world, where, card)
        assert (f"✅ 李副局长 同意 · 11月23日周一 10:05\n      💬 {comment}"
                in text_of(shown)), where
        assert "✅ 审批通过 · 11月23日周一 10:05" in text_of(shown)
        assert buttons(shown) == {}
    assert text_of(await world.last_from_bot("liuxiao")) == (
        f"✅ 您提交的「{ITEM}」（KP-002，#1）已审批通过。")
    assert await holders(world, 1) == [("li", "decided", "approve"), ("he", "cancelled", None)]
    async with world.db() as store:
        [decided] = await store.all(Assignment, decision="approve")
    assert (decided.comment, decided.reason) == (comment, None)
    [event] = await audit(world, "case.approve")
    assert (event["comment"], event["step_state"]) == (comment, "approved")
    assert await conversations(world) == []


# -- ↩️ return to the submitter, 📤 resubmit ---------------------------------------------------


async def test_a_return_stops_the_clock_and_resubmission_resumes_it_with_the_days_left(
        world: World) -> None:
    group_card = await submit(world)
    li_card, he_card = await world.last_from_bot("li"), await world.last_from_bot("he")
    world.clock.set(WEDNESDAY)  # due Thursday 17:30: one working day left
    await return_it(world, "he", "he", he_card, "请补充微波站产权单位意见")
    paused = "⏸ 已退回经办人补正，计时暂停（剩余 1 个工作日）"
    for where, card in (("KP-002", group_card), ("li", li_card), ("he", he_card)):
        text = text_of(await now(world, where, card))
        assert "⏸ ① 分管领导审批" in text and paused in text, where
        assert "↩️ 何副局长 退回 · 11月25日周三 11:00\n      理由：请补充微波站产权单位意见" in text
        assert "\n⏸ 等待 刘晓 补正\n查询码：" in text
        assert "时限" not in text  # no due while the clock is stopped
    assert set(buttons(await now(world, "KP-002", group_card))) == SUPPLEMENT_BUTTONS
    assert buttons(await now(world, "li", li_card)) == {}
    notice = await world.last_from_bot("liuxiao")
    assert "计时已暂停。补正完成后请点「📤 重新提交」。" in text_of(notice)
    assert set(buttons(notice)) == SUPPLEMENT_BUTTONS
    async with world.db() as store:
        [lane] = await store.all(Lane)
    assert lane.remaining_days == 1

    # Days pass, the original due with them: no nudge while the clock is stopped.
    world.clock.set(FRIDAY_EVENING)
    assert (await world.sweep()).sent == 0
    async with world.db() as store:
        assert await store.all(Nudge) == []
    # The leader's old card (its buttons are gone) is refused with the supplement message.
    before = await everything(world)
    pressed = await world.press("li", "li", li_card["message_id"], button(li_card, "同意"),
                                forge=True)
    assert alert(pressed) == IN_SUPPLEMENT
    assert await everything(world) == before
    assert [e["why"] for e in await audit(world, "press.refused")] == ["case_closed"]

    # The next Monday the supplement comes, as a document, from the private notice.
    world.clock.set(NEXT_MONDAY)
    pressed = await press(world, "liuxiao", "liuxiao", notice, "📤 重新提交")
    assert pressed["answer"]["text"] == "请回复补正材料。"
    prompt = await world.last_from_bot("liuxiao")
    assert text_of(prompt) == ("请回复补正材料：文字、照片或文件均可。"
                               "发送 /skip 不附材料直接重新提交。")
    await world.say("liuxiao", "liuxiao", "/projects", reply_to=prompt["message_id"])
    assert text_of(await world.last_from_bot("liuxiao")) == (
        "正在等待补正材料：请直接回复；发送 /skip 不附材料直接重新提交；或发送 /cancel 取消。")
    assert (await the_case(world)).state == "supplement"
    await world.document("liuxiao", "liuxiao", "产权单位意见.pdf", caption="产权单位同意迁建",
                         reply_to=prompt["message_id"])
    assert text_of(await world.last_from_bot("liuxiao")) == "📤 已重新提交，计时恢复。"

    # The step runs again with the one working day it had left: due Tuesday 17:30.
    group = await now(world, "KP-002", group_card)
    assert "📎 产权单位意见.pdf" in text_of(group)
    assert "⏳ ① 分管领导审批" in text_of(group)
    assert "🟡 临近时限 · 时限 12月1日周二 17:30" in text_of(group)
    assert "⏳ 等待 李副局长 或 何副局长 处理" in text_of(group)
    assert "↩️ 何副局长 退回 · 11月25日周三 11:00" in text_of(group)  # the return stays on record
    assert "⏸" not in text_of(group)
    assert set(buttons(group)) == GROUP_BUTTONS
    shown_notice = await now(world, "liuxiao", notice)
    assert buttons(shown_notice) == {} and "计时已暂停" not in text_of(shown_notice)
    for leader, old in (("li", li_card), ("he", he_card)):  # new private cards, with buttons
        new = await world.last_from_bot(leader)
        assert new["message_id"] > old["message_id"]
        assert "时限 12月1日周二 17:30" in text_of(new)
        assert set(buttons(new)) == TURN_BUTTONS
        assert buttons(await now(world, leader, old)) == {}
    async with world.db() as store:
        [step] = await store.all(Step)
        [lane] = await store.all(Lane)
        [attachment] = await store.all(Attachment)
    assert (step.state, step.due_at, step.paused_at) == ("open", NEXT_TUESDAY_DUE, None)
    assert (lane.state, lane.remaining_days) == ("open", None)
    assert attachment.file_name == "产权单位意见.pdf" and attachment.case_id == 1
    assert await holders(world, 1) == [("li", "superseded", None), ("he", "superseded", "return"),
                                       ("li", "pending", None), ("he", "pending", None)]
    [event] = await audit(world, "case.resubmitted")
    assert (event["note"], event["files"]) == ("产权单位同意迁建", 1)
    assert datetime.fromisoformat(event["due"]) == NEXT_TUESDAY_DUE
    assert (await the_case(world)).state == "pending"

    # The clock runs again: one day left is a yellow light, and the sweep says so (to the
    # handler, the guide and both posts whose turn it is; the demo's late milestones are
    # nudged in the same sweep).
    await world.sweep()
    async with world.db() as store:
        step_nudges = await store.all(Nudge, target_kind="step")
    assert sorted((n.person_id, n.level) for n in step_nudges) == sorted(
        [(await person_id(world, key), "yellow") for key in ("liuxiao", "zheng", "li", "he")])
    told = [text_of(m) for m in await world.from_bot("liuxiao")]
    assert any("时限 12月1日周二 17:30" in text and "剩余 1 个工作日" in text for text in told)
    new_li = [m for m in await world.from_bot("li")
              if buttons(m) and text_of(m).startswith("📝")][-1]  # his new card
    assert (await press(world, "li", "li", new_li, "同意"))["answer"]["text"] == "✅ 已同意，谢谢。"
    assert (await the_case(world)).state == "approved"


async def test_resubmission_by_text_in_the_group_then_by_skip_after_a_second_return(
        world: World) -> None:
    group_card = await submit(world)
    await return_it(world, "li", "KP-002", group_card, "请补充管线资料")  # Monday: 3 days left
    pressed = await press(world, "zhao", "KP-002", group_card, "📤 重新提交")
    assert alert(pressed) == ONLY_SUBMITTER
    world.clock.set(datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI))  # Tuesday
    pressed = await press(world, "liuxiao", "KP-002", group_card, "📤 重新提交")
    assert pressed["answer"]["text"] == "请回复补正材料。"
    assert "刘晓 请回复补正材料" in text_of(await world.last_from_bot("KP-002"))
    await reply(world, "liuxiao", "KP-002", "管线资料已补充至附件二")
    assert text_of(await world.last_from_bot("KP-002")) == "📤 已重新提交，计时恢复。"
    group = await now(world, "KP-002", group_card)
    assert "🟢 正常 · 时限 11月27日周五 17:30" in text_of(group)  # Tuesday + the 3 days left
    assert set(buttons(group)) == GROUP_BUTTONS
    # The 📤 of the card as it was is out of date now.
    before = await everything(world)
    pressed = await world.press("liuxiao", "KP-002", group_card["message_id"], "cs:1:s",
                                forge=True)
    assert alert(pressed) == STALE
    assert await everything(world) == before

    # Returned again, from 何副局长's new card: a new notice with new buttons.
    world.clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI))  # Wednesday: 2 days left
    await return_it(world, "he", "he", await world.last_from_bot("he"), "附件二缺少签章")
    notice = await world.last_from_bot("liuxiao")
    assert "被 何副局长 退回补正" in text_of(notice) and "理由：附件二缺少签章" in text_of(notice)
    assert set(buttons(notice)) == SUPPLEMENT_BUTTONS
    assert "计时暂停（剩余 2 个工作日）" in text_of(await now(world, "KP-002", group_card))
    # 📤 in the group and in private: two prompts; /skip answers one, the other is then stale.
    await press(world, "liuxiao", "KP-002", group_card, "📤 重新提交")
    await press(world, "liuxiao", "liuxiao", notice, "📤 重新提交")
    await world.say("liuxiao", "liuxiao", "/skip")
    assert text_of(await world.last_from_bot("liuxiao")) == "📤 已重新提交，计时恢复。"
    assert "时限 11月27日周五 17:30" in text_of(await now(world, "KP-002", group_card))
    await reply(world, "liuxiao", "KP-002", "又补充了一份")
    assert text_of(await world.last_from_bot("KP-002")) == STALE
    assert [(e["note"], e["files"]) for e in await audit(world, "case.resubmitted")] == [
        ("管线资料已补充至附件二", 0), (None, 0)]
    assert await conversations(world) == []
    li_card = await world.last_from_bot("li")
    await press(world, "li", "li", li_card, "同意")
    assert (await the_case(world)).state == "approved"


async def test_the_supplement_text_reaches_the_approvers(world: World) -> None:
    group_card = await submit(world)
    await return_it(world, "li", "KP-002", group_card, "请说明迁建费用来源")
    await press(world, "liuxiao", "KP-002", group_card, "📤 重新提交")
    await reply(world, "liuxiao", "KP-002", "迁建费用由产权单位自筹")
    assert "迁建费用由产权单位自筹" in text_of(await world.last_from_bot("li"))


# -- ↩️ return to an earlier step ------------------------------------------------------------------


async def test_the_directors_meeting_returns_it_to_the_section_meeting_for_a_second_round(
        world: World) -> None:
    group_card = await submit_permit(world)
    wang_card = await world.last_from_bot("wang")
    world.clock.advance(timedelta(minutes=30))
    await press(world, "wang", "wang", wang_card, "同意")
    chen_card = await world.last_from_bot("chen")
    assert "⏳ ② 局长办公会" in text_of(chen_card) and "抄送：李副局长" in text_of(chen_card)
    world.clock.set(datetime(2026, 11, 24, 15, 0, tzinfo=SHANGHAI))
    pressed = await press(world, "chen", "chen", chen_card, "退回")
    assert pressed["answer"]["text"] is None  # the question follows
    picker = await world.last_from_bot("chen")
    assert text_of(picker) == "退回给谁？"
    assert set(buttons(picker)) == {"↩️ 退回经办人补正", "↩️ 退回至「处务会」"}
    pressed = await press(world, "chen", "chen", picker, "退回至「处务会」")
    assert pressed["answer"]["text"] == "请回复退回理由。"
    assert buttons(await now(world, "chen", picker)) == {}
    assert f"填写退回「{PERMIT}」的理由" in text_of(await world.last_from_bot("chen"))
    await reply(world, "chen", "chen", "处务会意见未覆盖日照分析")
    assert text_of(await world.last_from_bot("chen")) == "↩️ 已退回至前序环节，并附上您的理由。"

    group = text_of(await now(world, "KP-004", group_card))
    assert ("✅ ① 处务会\n   ✅ 王建国 同意 · 11月23日周一 10:30\n"
            "↩️ ② 局长办公会\n   ↩️ 陈局长 退回 · 11月24日周二 15:00\n"
            "      理由：处务会意见未覆盖日照分析\n"
            "—— 第 2 轮：退回至此环节重新办理 ——\n"
            "⏳ ① 处务会\n   🟢 正常 · 时限 12月1日周二 17:30\n   ⏳ 等待 王建国 处理\n"
            "◻️ ② 局长办公会") in group
    new_wang = await world.last_from_bot("wang")
    assert new_wang["message_id"] > wang_card["message_id"]
    assert "第 2 轮" in text_of(new_wang) and set(buttons(new_wang)) == TURN_BUTTONS
    assert buttons(await now(world, "chen", chen_card)) == {}
    case = await the_case(world)
    assert (case.state, case.round) == ("pending", 2)
    assert [(s.round, s.seq, s.state) for s in await steps(world)] == [
        (1, 1, "approved"), (1, 2, "returned"), (2, 1, "open"), (2, 2, "waiting")]
    [event] = await audit(world, "case.return")
    assert (event["return_to"], event["step_state"]) == (1, "returned")
    # Round 1's buttons are spent.
    assert alert(await world.press("wang", "wang", wang_card["message_id"],
                                   button(wang_card, "同意"), forge=True)) == (
        "该事项已由 王建国 于 11月23日周一 10:30 同意。")
    assert alert(await world.press("chen", "chen", chen_card["message_id"],
                                   button(chen_card, "同意"), forge=True)) == (
        "该事项已由 陈局长 于 11月24日周二 15:00 退回。")

    # Round 2 runs to the end.
    await press(world, "wang", "wang", new_wang, "同意")
    new_chen = await world.last_from_bot("chen")
    assert new_chen["message_id"] > chen_card["message_id"]
    assert set(buttons(new_chen)) == TURN_BUTTONS
    await press(world, "chen", "chen", new_chen, "同意")
    group_now = await now(world, "KP-004", group_card)
    assert "✅ 审批通过 · 11月24日周二 15:00" in text_of(group_now) and buttons(group_now) == {}
    assert text_of(await world.last_from_bot("zhangfan")) == (
        f"✅ 您提交的「{PERMIT}」（KP-004，#1）已审批通过。")
    assert [(s.round, s.seq, s.state) for s in await steps(world)] == [
        (1, 1, "approved"), (1, 2, "returned"), (2, 1, "approved"), (2, 2, "approved")]


async def test_a_later_step_can_return_it_to_the_handler_and_resumes_there(
        world: World) -> None:
    group_card = await submit_permit(world)
    await press(world, "wang", "wang", await world.last_from_bot("wang"), "同意")
    chen_card = await world.last_from_bot("chen")
    world.clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI))  # due Thursday: 1 day left
    await press(world, "chen", "chen", chen_card, "退回")
    picker = await world.last_from_bot("chen")
    await press(world, "chen", "chen", picker, "退回经办人补正")
    await reply(world, "chen", "chen", "建设单位名称与营业执照不符")
    assert text_of(await world.last_from_bot("chen")) == "↩️ 已退回经办人，并附上您的理由。"
    group = text_of(await now(world, "KP-004", group_card))
    assert "✅ ① 处务会" in group and "⏸ ② 局长办公会" in group
    assert "计时暂停（剩余 1 个工作日）" in group
    assert (await the_case(world)).round == 1
    notice = await world.last_from_bot("zhangfan")
    assert "被 陈局长 退回补正" in text_of(notice)
    world.clock.set(datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI))
    await press(world, "zhangfan", "zhangfan", notice, "📤 重新提交")
    await world.say("zhangfan", "zhangfan", "/skip")
    new_chen = await world.last_from_bot("chen")
    assert new_chen["message_id"] > chen_card["message_id"]
    assert "⏳ ② 局长办公会\n   ↩️ 陈局长 退回" in text_of(new_chen)
    assert "理由：建设单位名称与营业执照不符\n   🟡 临近时限 · 时限 12月1日周二 17:30" in text_of(
        new_chen)
    assert [(s.seq, s.state) for s in await steps(world)] == [(1, "approved"), (2, "open")]
    await press(world, "chen", "chen", new_chen, "同意")
    assert (await the_case(world)).state == "approved"


# -- 🗑 withdraw -------------------------------------------------------------------------------


async def test_withdraw_asks_first_is_for_the_submitter_only_and_ends_every_turn(
        world: World) -> None:
    group_card = await submit(world)
    li_card, he_card = await world.last_from_bot("li"), await world.last_from_bot("he")
    await press(world, "li", "li", li_card, "退回")  # 李副局长 starts a return meanwhile
    assert alert(await press(world, "li", "KP-002", group_card, "🗑 撤回")) == ONLY_SUBMITTER
    world.clock.advance(timedelta(minutes=20))
    pressed = await press(world, "liuxiao", "KP-002", group_card, "🗑 撤回")
    assert pressed["answer"]["text"] is None and pressed["answer"]["show_alert"] is False
    confirm = await world.last_from_bot("KP-002")
    assert text_of(confirm) == f"撤回 #1「{ITEM}」？撤回后无法恢复。"
    assert set(buttons(confirm)) == {"🗑 确认撤回"}
    assert (await the_case(world)).state == "pending"  # nothing until confirmed
    assert alert(await press(world, "zheng", "KP-002", confirm, "确认撤回")) == ONLY_SUBMITTER
    assert (await the_case(world)).state == "pending"
    pressed = await press(world, "liuxiao", "KP-002", confirm, "确认撤回")
    assert pressed["answer"]["text"] == "🗑 已撤回。"
    shown_confirm = await now(world, "KP-002", confirm)
    assert text_of(shown_confirm) == "🗑 #1 已撤回。" and buttons(shown_confirm) == {}
    for where, card in (("KP-002", group_card), ("li", li_card), ("he", he_card)):
        shown = await now(world, where, card)
        assert "🗑 ① 分管领导审批" in text_of(shown), where
        assert "🗑 提交人已撤回 · 11月23日周一 10:20" in text_of(shown)
        assert "等待" not in text_of(shown) and buttons(shown) == {}
    async with world.db() as store:
        [step] = await store.all(Step)
    assert ((await the_case(world)).state, step.state) == ("withdrawn", "withdrawn")
    assert await holders(world, 1) == [("li", "cancelled", None), ("he", "cancelled", None)]
    assert [e["action"] for e in await audit(world)][-3:] == [
        "press.refused", "press.refused", "case.withdrawn"]

    # Everything later is refused and changes nothing; 李副局长's reason too.
    before = await everything(world)
    for who, where, message, data in (
            ("he", "he", he_card, button(he_card, "同意")),
            ("li", "KP-002", group_card, button(group_card, "退回")),
            ("liuxiao", "KP-002", confirm, button(confirm, "确认撤回")),  # a second press
            ("liuxiao", "KP-002", group_card, button(group_card, "撤回")),
            ("liuxiao", "KP-002", group_card, "cs:1:s")):
        pressed = await world.press(who, where, message["message_id"], data, forge=True)
        assert alert(pressed) == WITHDRAWN, data
    assert await everything(world) == before
    await reply(world, "li", "li", "理由来迟了")
    assert text_of(await world.last_from_bot("li")) == WITHDRAWN
    async with world.db() as store:
        assert await store.all(Assignment, decision="return") == []
    assert [e["why"] for e in await audit(world, "press.refused")][-5:] == ["case_closed"] * 5


async def test_a_returned_item_can_be_withdrawn_from_the_private_notice(world: World) -> None:
    group_card = await submit(world)
    await return_it(world, "li", "KP-002", group_card, "方案已不需要")
    notice = await world.last_from_bot("liuxiao")
    await press(world, "liuxiao", "liuxiao", notice, "🗑 撤回")
    confirm = await world.last_from_bot("liuxiao")
    assert text_of(confirm) == f"撤回 #1「{ITEM}」？撤回后无法恢复。"
    await press(world, "liuxiao", "liuxiao", confirm, "确认撤回")
    assert text_of(await now(world, "liuxiao", confirm)) == "🗑 #1 已撤回。"
    for where, card in (("liuxiao", notice), ("KP-002", group_card)):
        shown = await now(world, where, card)
        assert "🗑 提交人已撤回" in text_of(shown) and buttons(shown) == {}, where
        assert "计时已暂停" not in text_of(shown) and "⏸" not in text_of(shown)
    async with world.db() as store:
        [step] = await store.all(Step)
    assert ((await the_case(world)).state, step.state) == ("withdrawn", "withdrawn")
    pressed = await world.press("liuxiao", "liuxiao", notice["message_id"],
                                button(notice, "重新提交"), forge=True)
    assert alert(pressed) == WITHDRAWN


# -- 🔁 transfer -------------------------------------------------------------------------------


async def test_transfer_picks_a_colleague_page_by_page_asks_why_and_hands_the_turn_on(
        world: World) -> None:
    group_card = await submit(world)
    li_card = await world.last_from_bot("li")
    pressed = await press(world, "li", "li", li_card, "转交")
    assert pressed["answer"]["text"] is None
    picker = await world.last_from_bot("li")
    assert text_of(picker) == "转交给谁？"
    # 8 a page; 李 and 何 hold the turn already, 刘晓 submitted the item
    first_page = ["陈局长", "王建国", "赵敏", "孙立", "周正", "张帆", "吴静", "郑引导", "▶"]
    assert list(buttons(picker)) == first_page
    await press(world, "li", "li", picker, "▶")
    shown = await now(world, "li", picker)
    assert text_of(shown) == "转交给谁？"
    assert list(buttons(shown)) == ["林引导", "钱主任", "马工", "◀"]
    await press(world, "li", "li", picker, "◀")
    assert list(buttons(await now(world, "li", picker))) == first_page
    assert len(await world.from_bot("li")) == 3  # welcome, card, picker: paging edits it
    pressed = await press(world, "li", "li", picker, "陈局长")
    assert pressed["answer"]["text"] == "请回复理由。"
    assert text_of(await now(world, "li", picker)) == "🔁 转交给 陈局长"
    prompt = await world.last_from_bot("li")
    assert text_of(prompt) == "请回复转交给 陈局长 的理由。"
    await world.photo("li", "li", reply_to=prompt["message_id"])
    assert text_of(await world.last_from_bot("li")) == "请以文字填写理由，或发送 /cancel 取消。"
    assert await holders(world, 1) == [("li", "pending", None), ("he", "pending", None)]
    world.clock.advance(timedelta(hours=1))
    await world.say("li", "li", "涉及局长办公会议题，请陈局长定", reply_to=prompt["message_id"])
    assert text_of(await world.last_from_bot("li")) == "🔁 已转交。"

    chen_card = await world.last_from_bot("chen")
    assert set(buttons(chen_card)) == TURN_BUTTONS
    for where, card in (("KP-002", group_card), ("chen", chen_card), ("li", li_card)):
        text = text_of(await now(world, where, card))
        assert "🔁 李副局长 转交 · 涉及局长办公会议题，请陈局长定" in text, where
        assert "⏳ 等待 何副局长 或 陈局长 处理" in text
    assert buttons(await now(world, "li", li_card)) == {}
    assert await holders(world, 1) == [("li", "transferred", None), ("he", "pending", None),
                                       ("chen", "pending", None)]
    [event] = await audit(world, "case.transferred")
    assert (event["from"], event["to"], event["reason"]) == (
        await person_id(world, "li"), await person_id(world, "chen"),
        "涉及局长办公会议题，请陈局长定")
    # 李副局长 handed it on: his old card and the group card are refused.
    before = await everything(world)
    for where, message, data in (("li", li_card, button(li_card, "同意")),
                                 ("KP-002", group_card, button(group_card, "同意")),
                                 ("li", li_card, button(li_card, "转交"))):
        pressed = await world.press("li", where, message["message_id"], data, forge=True)
        assert alert(pressed) == "您已将此事项转交给 陈局长。"
    assert await everything(world) == before
    assert [e["why"] for e in await audit(world, "press.refused")][-3:] == ["transferred"] * 3
    await press(world, "chen", "chen", chen_card, "同意")
    group = await now(world, "KP-002", group_card)
    assert "✅ 陈局长 同意 · 11月23日周一 11:00" in text_of(group) and buttons(group) == {}
    assert (await the_case(world)).state == "approved"


async def test_transfer_to_oneself_or_to_a_holder_is_refused_at_the_press(world: World) -> None:
    await submit(world)
    li_card = await world.last_from_bot("li")
    li, he = await person_id(world, "li"), await person_id(world, "he")
    before = await everything(world)
    for data, answer in ((f"pp:1:t:0:{li}:", "请选择您以外的人。"),
                         (f"pp:1:t:0:{he}:", "对方已在本环节中。"),
                         ("pp:1:t:0:999:", "该人员不可用。")):
        pressed = await world.press("li", "li", li_card["message_id"], data, forge=True)
        assert alert(pressed) == answer, data
    assert await everything(world) == before  # no prompt, no conversation, the card untouched
    assert [e["why"] for e in await audit(world, "press.refused")] == ["not_allowed"] * 3

    # A reason that comes after the other post decided is refused, and nothing is handed on.
    await press(world, "li", "li", li_card, "转交")
    await press(world, "li", "li", await world.last_from_bot("li"), "周正")
    he_card = await world.last_from_bot("he")
    await press(world, "he", "he", he_card, "同意")
    await reply(world, "li", "li", "请督查室把关")
    assert text_of(await world.last_from_bot("li")).startswith("该事项已由 何副局长 于")
    assert await audit(world, "case.transferred") == []
    assert await conversations(world) == []


SUBMITTER_REFUSED = "提交人不能审批自己提交的事项。"


async def picker_names(world: World, who: str, card: Json, label: str) -> tuple[Json, set[str]]:
    """The people picker ``label`` opens, and every name it offers over all its pages."""
    await press(world, who, who, card, label)
    picker = await world.last_from_bot(who)
    names: set[str] = set()
    while True:
        shown = await now(world, who, picker)
        names |= set(buttons(shown)) - {"◀", "▶"}
        if "▶" not in buttons(shown):
            return picker, names
        await press(world, who, who, picker, "▶")


async def test_the_submitter_is_not_offered_and_a_forged_pick_of_them_is_refused_at_once(
        world: World) -> None:
    await submit(world)  # by 刘晓
    li_card = await world.last_from_bot("li")
    for label in ("转交", "加签"):
        assert "刘晓" not in (await picker_names(world, "li", li_card, label))[1], label
    liuxiao = await person_id(world, "liuxiao")
    before = await everything(world)
    for data in (f"pp:1:t:0:{liuxiao}:", f"pp:1:s:0:{liuxiao}:", f"pp:1:s:0:{liuxiao}:b",
                 f"pp:1:s:0:{liuxiao}:a"):
        pressed = await world.press("li", "li", li_card["message_id"], data, forge=True)
        assert alert(pressed) == SUBMITTER_REFUSED, data
    assert await everything(world) == before  # no reason asked, no conversation, no change
    assert await conversations(world) == []
    assert [e["why"] for e in await audit(world, "press.refused")] == ["not_allowed"] * 4
    assert await audit(world, "case.transferred") == []
    assert await audit(world, "case.signer_added") == []


async def test_the_people_picker_lists_exactly_whom_the_turn_may_go_to(world: World) -> None:
    """Every name offered is accepted at the press; everyone else with a Telegram account is
    refused at the press (transfer and add a signer alike)."""
    await submit(world)
    li_card = await world.last_from_bot("li")
    async with world.db() as store:
        people = {p.name: p.id for p in await store.all(Person) if p.tg_user_id is not None}
    for act, label in (("t", "转交"), ("s", "加签")):
        picker, offered = await picker_names(world, "li", li_card, label)
        assert offered and offered <= people.keys()
        before = await everything(world)
        for name, ident in people.items():
            pressed = await world.press("li", "li", picker["message_id"],
                                        f"pp:1:{act}:0:{ident}:", forge=True)
            accepted = not pressed["answer"]["show_alert"]
            assert accepted == (name in offered), (act, name, pressed["answer"])
            if accepted and act == "t":
                await world.say("li", "li", "/cancel")  # leave the reason unasked
        turns = [row for row in before["rows"] if row[0] == "assignment"]
        assert [row for row in (await everything(world))["rows"] if row[0] == "assignment"] \
            == turns


# -- ➕ add a signer ---------------------------------------------------------------------------


async def test_a_signer_added_before_me_decides_first(world: World) -> None:
    group_card = await submit(world)
    li_card = await world.last_from_bot("li")
    pressed = await press(world, "li", "li", li_card, "加签")
    picker = await world.last_from_bot("li")
    assert pressed["answer"]["text"] is None and text_of(picker) == "还需要谁审批？"
    assert "▶" in buttons(picker) and "何副局长" not in buttons(picker)
    await press(world, "li", "li", picker, "陈局长")
    where_to = await now(world, "li", picker)
    assert text_of(where_to) == "➕ 陈局长：在您之前还是之后审批？"
    assert list(buttons(where_to)) == ["在我之前", "在我之后"]
    pressed = await press(world, "li", "li", picker, "在我之前")
    assert pressed["answer"]["text"] == "➕ 已加签。"
    assert text_of(await now(world, "li", picker)) == "➕ 陈局长 先审批，之后轮到您。"
    # A second press of "before me": 李副局长 waits for 陈局长 now.
    pressed = await world.press("li", "li", picker["message_id"], button(where_to, "在我之前"),
                                forge=True)
    assert alert(pressed) == "还没轮到您：需 陈局长 先审批。"
    chen_card = await world.last_from_bot("chen")
    assert set(buttons(chen_card)) == TURN_BUTTONS
    group = text_of(await now(world, "KP-002", group_card))
    assert "⏳ 等待 何副局长 或 陈局长 处理\n   之后：李副局长" in group
    assert buttons(await now(world, "li", li_card)) == {}
    assert await holders(world, 1) == [("li", "waiting", None), ("he", "pending", None),
                                       ("chen", "pending", None)]
    [event] = await audit(world, "case.signer_added")
    assert (event["signer"], event["before"]) == (await person_id(world, "chen"), True)
    # The ordering holds on the group card too.
    before = await everything(world)
    pressed = await press(world, "li", "KP-002", group_card, "同意")
    assert alert(pressed) == "还没轮到您：需 陈局长 先审批。"
    assert await everything(world) == before
    assert [e["why"] for e in await audit(world, "press.refused")] == ["not_yet_your_turn"] * 2

    world.clock.advance(timedelta(minutes=40))
    await press(world, "chen", "chen", chen_card, "同意")
    group = text_of(await now(world, "KP-002", group_card))
    assert "✅ 陈局长（加签） 同意 · 11月23日周一 10:40" in group
    assert "⏳ 等待 李副局长 或 何副局长 处理" in group
    assert (await the_case(world)).state == "pending"  # an added signer's approval is not enough
    # 李副局长's turn reopens as a new card (it notifies); the old one keeps no buttons.
    assert buttons(await now(world, "li", li_card)) == {}
    li_new = await world.last_from_bot("li")
    assert li_new["message_id"] != li_card["message_id"] and ITEM in text_of(li_new)
    assert set(buttons(li_new)) == TURN_BUTTONS
    await press(world, "li", "li", li_new, "同意")
    group_now = await now(world, "KP-002", group_card)
    assert "✅ 李副局长 同意" in text_of(group_now) and "✅ 审批通过" in text_of(group_now)
    assert await holders(world, 1) == [("li", "decided", "approve"), ("he", "cancelled", None),
                                       ("chen", "decided", "approve")]


async def test_my_turn_after_a_signer_added_before_me_is_announced(world: World) -> None:
    await submit(world)
    await add_signer(world, "li", await world.last_from_bot("li"), "陈局长", "在我之前")
    li_says = len(await world.from_bot("li"))  # welcome, card, picker
    await press(world, "chen", "chen", await world.last_from_bot("chen"), "同意")
    assert len(await world.from_bot("li")) == li_says + 1  # exactly one new card
    assert set(buttons(await world.last_from_bot("li"))) == TURN_BUTTONS
    await press(world, "he", "he", await world.last_from_bot("he"), "同意")
    assert len(await world.from_bot("li")) == li_says + 1  # nothing more for him


async def test_a_signer_added_after_me_approves_once_i_have(world: World) -> None:
    group_card = await submit(world)
    li_card, he_card = await world.last_from_bot("li"), await world.last_from_bot("he")
    await press(world, "li", "li", li_card, "加签")
    picker = await world.last_from_bot("li")
    await press(world, "li", "li", picker, "赵敏")
    await press(world, "li", "li", picker, "在我之后")
    assert text_of(await now(world, "li", picker)) == "➕ 赵敏 在您之后审批。"
    group = text_of(await now(world, "KP-002", group_card))
    assert "⏳ 等待 李副局长 或 何副局长 处理\n   之后：赵敏" in group
    assert set(buttons(await now(world, "li", li_card))) == TURN_BUTTONS  # still his turn
    assert not any(ITEM in text_of(m) for m in await world.from_bot("zhao"))  # not his turn yet
    before = await everything(world)
    pressed = await press(world, "zhao", "KP-002", group_card, "同意")
    assert alert(pressed) == "还没轮到您：需 李副局长 先审批。"
    assert await everything(world) == before

    world.clock.advance(timedelta(minutes=15))
    await press(world, "li", "li", li_card, "同意")
    zhao_card = await world.last_from_bot("zhao")
    assert set(buttons(zhao_card)) == TURN_BUTTONS
    group = text_of(await now(world, "KP-002", group_card))
    assert "✅ 李副局长 同意 · 11月23日周一 10:15\n" in group
    assert "⏳ 等待 赵敏 处理" in group and "之后" not in group
    assert buttons(await now(world, "he", he_card)) == {}  # the or-sign is settled for 何
    assert (await the_case(world)).state == "pending"
    pressed = await world.press("he", "he", he_card["message_id"], button(he_card, "同意"),
                                forge=True)
    assert alert(pressed) == "该事项已由 李副局长 于 11月23日周一 10:15 同意。"
    await press(world, "zhao", "zhao", zhao_card, "同意")
    group_now = await now(world, "KP-002", group_card)
    assert "✅ 赵敏（加签） 同意 · 11月23日周一 10:15" in text_of(group_now)
    assert "✅ 审批通过" in text_of(group_now) and buttons(group_now) == {}
    assert await holders(world, 1) == [("li", "decided", "approve"), ("he", "cancelled", None),
                                       ("zhao", "decided", "approve")]


async def test_adding_oneself_or_a_holder_is_refused_at_the_press(world: World) -> None:
    await submit(world)
    li_card = await world.last_from_bot("li")
    li, he = await person_id(world, "li"), await person_id(world, "he")
    before = await everything(world)
    for data, answer in ((f"pp:1:s:0:{li}:", "请选择您以外的人。"),
                         (f"pp:1:s:0:{li}:b", "请选择您以外的人。"),
                         (f"pp:1:s:0:{he}:", "对方已在本环节中。"),
                         (f"pp:1:s:0:{he}:a", "对方已在本环节中。"),
                         ("pp:1:s:0:999:a", "该人员不可用。")):
        pressed = await world.press("li", "li", li_card["message_id"], data, forge=True)
        assert alert(pressed) == answer, data
    assert await everything(world) == before
    assert len(await audit(world, "press.refused")) == 5


async def test_a_signer_added_after_the_a_post_gets_the_turn_when_the_b_post_approves(
        world: World) -> None:
    await submit(world)
    await add_signer(world, "li", await world.last_from_bot("li"), "赵敏", "在我之后")
    await press(world, "he", "he", await world.last_from_bot("he"), "同意")
    # Today 赵敏 stays "waiting" for 李副局长's cancelled turn, and the step stays open.
    assert await holders(world, 1) == [("li", "cancelled", None), ("he", "decided", "approve"),
                                       ("zhao", "pending", None)]
    await press(world, "zhao", "zhao", await world.last_from_bot("zhao"), "同意")
    assert (await the_case(world)).state == "approved"


async def test_an_added_signer_stays_added_after_a_resubmission(world: World) -> None:
    group_card = await submit(world)
    li_card = await world.last_from_bot("li")
    await add_signer(world, "li", li_card, "赵敏", "在我之后")
    await return_it(world, "li", "li", li_card, "补充资料后再加签")
    await press(world, "liuxiao", "KP-002", group_card, "📤 重新提交")
    await world.say("liuxiao", "KP-002", "/skip")
    assert "之后：赵敏" in text_of(await now(world, "KP-002", group_card))
    pressed = await press(world, "zhao", "KP-002", group_card, "同意")
    assert alert(pressed) == "还没轮到您：需 李副局长 先审批。"  # today: approved alone
    assert (await the_case(world)).state == "pending"


# -- refusals ----------------------------------------------------------------------------------


async def test_forged_buttons_for_other_steps_and_other_peoples_turns_are_refused(
        world: World) -> None:
    item_card = await submit(world)  # case 1, step 1: 李 or 何
    permit_card = await submit_permit(world)  # case 2, step 2: 王建国; step 3 not open yet
    li_card = await world.last_from_bot("li")
    ids = {key: await person_id(world, key) for key in ("li", "he", "zhao")}
    forged = [
        # someone who holds no turn in the step
        ("zhao", "KP-002", item_card, "dc:1:a", NOT_YOURS, "not_your_turn"),
        ("zhao", "KP-002", item_card, "dc:1:r", NOT_YOURS, "not_your_turn"),
        ("zhao", "KP-002", item_card, "dc:1:c", NOT_YOURS, "not_your_turn"),
        ("zhao", "KP-002", item_card, "rt:1:0", NOT_YOURS, "not_your_turn"),
        ("zhao", "KP-002", item_card, "pp:1:t:0:0:", NOT_YOURS, "not_your_turn"),
        ("zhao", "KP-002", item_card, f"pp:1:s:0:{ids['zhao']}:b", NOT_YOURS, "not_your_turn"),
        # a leader with other steps' ids on his own card
        ("li", "li", li_card, "dc:2:a", NOT_YOURS, "not_your_turn"),
        ("li", "li", li_card, "dc:2:c", NOT_YOURS, "not_your_turn"),
        ("li", "li", li_card, f"pp:2:t:0:{ids['he']}:", NOT_YOURS, "not_your_turn"),
        ("li", "li", li_card, "dc:3:a", STALE, "stale_card"),  # a step not open yet
        ("li", "li", li_card, "dc:999:a", STALE, "stale_card"),
        ("li", "li", li_card, "pp:999:t:0:0:", STALE, "stale_card"),
        ("li", "li", li_card, "rt:999:0", STALE, "stale_card"),
        # his own step, but no such target, action or person
        ("li", "li", li_card, "rt:1:1", "只能退回至前序环节。", "bad_return_target"),
        ("li", "li", li_card, "rt:1:-1", "只能退回至前序环节。", "bad_return_target"),
        ("li", "li", li_card, "pp:1:x:0:0:", INVALID, "unknown_button"),
        ("li", "li", li_card, "pp:1:t:0:999:", "该人员不可用。", "not_allowed"),
        ("li", "li", li_card, "pp:zz", INVALID, "unknown_button"),
        # the submitter's buttons of someone else's case
        ("wang", "KP-004", permit_card, "cs:1:w", ONLY_SUBMITTER, "not_allowed"),
        ("wang", "KP-004", permit_card, "cs:1:W", ONLY_SUBMITTER, "not_allowed"),
        ("zhangfan", "KP-004", permit_card, "cs:1:s", ONLY_SUBMITTER, "not_allowed"),
        ("liuxiao", "KP-002", item_card, "cs:999:w", STALE, "stale_card"),
        ("liuxiao", "KP-002", item_card, "cs:1:x", INVALID, "unknown_button"),
        ("liuxiao", "KP-002", item_card, "cs:1:s", STALE, "stale_card"),  # nothing to resubmit
        # a stranger
        ("huang", "huang", None, "dc:1:a", "您尚未在绿灯登记", "not_registered"),
    ]
    stranger_says = await world.say("huang", "huang", "/start")
    before = await everything(world)
    for who, where, message, data, answer, _why in forged:
        message_id = message["message_id"] if message else stranger_says["message"]["message_id"]
        pressed = await world.press(who, where, message_id, data, forge=True)
        assert alert(pressed).startswith(answer), (who, data, pressed["answer"])
    assert await everything(world) == before
    refused = await audit(world, "press.refused")
    assert [(e["tg_user_id"], e["data"], e["why"]) for e in refused] == [
        (world.uid(who), data, why) for who, _, _, data, _, why in forged]
    assert await conversations(world) == []


async def test_stale_cards_and_second_presses_after_the_case_moved_on(world: World) -> None:
    group_card = await submit_permit(world)
    wang_card = await world.last_from_bot("wang")
    world.clock.advance(timedelta(minutes=30))
    assert (await press(world, "wang", "wang", wang_card, "同意"))["answer"]["text"] == (
        "✅ 已同意，谢谢。")
    chen_card = await world.last_from_bot("chen")
    await press(world, "chen", "chen", chen_card, "退回")
    picker = await world.last_from_bot("chen")  # 陈局长 changes his mind and approves
    world.clock.advance(timedelta(minutes=30))
    await press(world, "chen", "chen", chen_card, "同意")
    assert (await the_case(world)).state == "approved"
    before = await everything(world)
    wang_done = "该事项已由 王建国 于 11月23日周一 10:30 同意。"
    chen_done = "该事项已由 陈局长 于 11月23日周一 11:00 同意。"
    stale = [("wang", "wang", wang_card, data, wang_done)
             for data in buttons(wang_card).values()]  # every button of round 1, step 1
    stale += [
        ("chen", "chen", chen_card, button(chen_card, "同意"), chen_done),  # a second press
        ("chen", "chen", chen_card, button(chen_card, "附意见"), chen_done),
        ("chen", "chen", picker, button(picker, "处务会"), chen_done),  # the picker left over
        ("chen", "chen", picker, button(picker, "经办人"), chen_done),
        ("wang", "KP-004", group_card, button(group_card, "同意"), wang_done),
        ("zhangfan", "KP-004", group_card, button(group_card, "撤回"), APPROVED),
        ("zhangfan", "KP-004", group_card, "cs:1:s", APPROVED),
    ]
    for who, where, message, data, answer in stale:
        pressed = await world.press(who, where, message["message_id"], data, forge=True)
        assert alert(pressed) == answer, (who, data)
    assert await everything(world) == before
    assert len(await audit(world, "press.refused")) == len(stale)
    assert [e["action"] for e in await audit(world)].count("case.approve") == 2


# -- restarts ----------------------------------------------------------------------------------


async def test_a_transfer_reason_asked_before_a_restart_is_taken_after_it(
        database_url: str, tmp_path: Path) -> None:
    world, task = await build_world(database_url, tmp_path)
    try:
        await submit(world)
        li_card = await world.last_from_bot("li")
        await press(world, "li", "li", li_card, "转交")
        await press(world, "li", "li", await world.last_from_bot("li"), "孙立")
        prompt = await world.last_from_bot("li")
        assert text_of(prompt) == "请回复转交给 孙立 的理由。"
        task = await restart_bot(world, task)
        await world.say("li", "li", "法规审批科先行把关", reply_to=prompt["message_id"])
        assert text_of(await world.last_from_bot("li")) == "🔁 已转交。"
        sun_card = await world.last_from_bot("sun")
        assert "🔁 李副局长 转交 · 法规审批科先行把关" in text_of(sun_card)
        assert set(buttons(sun_card)) == TURN_BUTTONS
        assert await holders(world, 1) == [("li", "transferred", None), ("he", "pending", None),
                                           ("sun", "pending", None)]
        [event] = await audit(world, "case.transferred")
        assert event["reason"] == "法规审批科先行把关"
    finally:
        assert await tear_down(world, task) == []


async def test_a_supplement_asked_for_before_a_restart_is_taken_after_it(
        database_url: str, tmp_path: Path) -> None:
    world, task = await build_world(database_url, tmp_path)
    try:
        group_card = await submit(world)
        await return_it(world, "li", "KP-002", group_card, "请补充现状照片")
        li_card = await world.last_from_bot("li")
        await press(world, "liuxiao", "KP-002", group_card, "📤 重新提交")
        prompt = await world.last_from_bot("KP-002")
        task = await restart_bot(world, task)
        await world.photo("liuxiao", "KP-002", caption="现状照片三张之一",
                          reply_to=prompt["message_id"])
        assert text_of(await world.last_from_bot("KP-002")) == "📤 已重新提交，计时恢复。"
        group = await now(world, "KP-002", group_card)
        assert "📎 1 张照片" in text_of(group) and set(buttons(group)) == GROUP_BUTTONS
        new_li = await world.last_from_bot("li")
        assert new_li["message_id"] > li_card["message_id"]
        assert set(buttons(new_li)) == TURN_BUTTONS
        [event] = await audit(world, "case.resubmitted")
        assert (event["note"], event["files"]) == ("现状照片三张之一", 1)
    finally:
        assert await tear_down(world, task) == []
