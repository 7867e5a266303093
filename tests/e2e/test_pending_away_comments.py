"""/pending, /away and comments, end to end.

/pending lists a person's open turns oldest first, with one-tap ✅ / ↩️ per row and a
selection (☐ / ☑, kept in the message's own keyboard) for bulk approve and bulk return.
/away sends the new items of someone out of office to a delegate, and every card says
"B for A"; /back ends it. A reply to a case card is a comment: kept with the case, shown
on its cards, and sent to the step's holders and the submitter.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

from sqlmodel import select

from storage.models import Assignment, AuditEvent, Case, Comment, Delegation, Person
from tests.e2e.conftest import (
    SHANGHAI,
    Json,
    World,
    button,
    buttons,
    submit_item,
    text_of,
)

EMPTY_ZH = "📥 暂无待您处理的事项。✨"
NOT_YOURS = "该事项不由您审批。"
STRAY_ZH = "请使用命令与我交流，发送 /help 查看可用命令。"  # the answer to a plain private message
MONDAY_DUE = "11月26日周四 17:30"  # 3 working days after Monday 10:00


# -- helpers -----------------------------------------------------------------------------------


async def pending_list(world: World, who: str) -> Json:
    await world.say(who, who, "/pending")
    return await world.last_from_bot(who)


async def now_shown(world: World, where: str, message: Json) -> Json:
    return await world.ctl.message(world.cid(where), message["message_id"])


def rows(message: Json) -> list[list[tuple[str, str]]]:
    markup = message.get("reply_markup") or {}
    return [[(b["text"], b.get("callback_data", "")) for b in row]
            for row in markup.get("inline_keyboard", [])]


def item_row(message: Json, number: int) -> list[tuple[str, str]]:
    """The buttons of the list's row ``number`` (☐/☑ n, ✅, ↩️)."""
    for row in rows(message)[:-1]:
        if row[0][0].split()[-1] == str(number):
            return row
    raise AssertionError(f"no row {number} in {rows(message)}")


def tick(message: Json, number: int) -> str:
    return item_row(message, number)[0][1]


def approve_one(message: Json, number: int) -> str:
    return item_row(message, number)[1][1]


def return_one(message: Json, number: int) -> str:
    return item_row(message, number)[2][1]


def entity_text(message: Json, entity: Json) -> str:
    """The text an entity covers (offsets count UTF-16 code units)."""
    units = text_of(message).encode("utf-16-le")
    start, end = 2 * entity["offset"], 2 * (entity["offset"] + entity["length"])
    return units[start:end].decode("utf-16-le")


def marks(message: Json) -> list[str]:
    """The tick marks of the rows, in order: "☐" or "☑"."""
    return [row[0][0].split()[0] for row in rows(message)[:-1]]


def bulk_row(message: Json) -> list[str]:
    return [label for label, _ in rows(message)[-1]]


def bulk(message: Json, label_part: str) -> str:
    return next(data for label, data in rows(message)[-1] if label_part in label)


async def decisions(world: World) -> list[Assignment]:
    async with world.db() as store:
        query = (select(Assignment).where(Assignment.decision.is_not(None))  # type: ignore[union-attr]
                 .order_by(Assignment.id))  # type: ignore[arg-type]
        return list((await store.session.execute(query)).scalars())


async def audits(world: World, action: str) -> list[AuditEvent]:
    async with world.db() as store:
        return await store.all(AuditEvent, order_by=AuditEvent.id, action=action)


async def person_id(world: World, key: str) -> int:
    async with world.db() as store:
        person = await store.one(Person, key=key)
        assert person is not None and person.id is not None
        return person.id


async def group_card(world: World, where: str, case_id: int) -> Json:
    return next(m for m in await world.from_bot(where) if f" #{case_id} · " in text_of(m)
                and text_of(m).startswith("📝"))


async def private_card(world: World, who: str, case_id: int) -> Json:
    return next(m for m in await world.from_bot(who) if f" #{case_id} · " in text_of(m)
                and text_of(m).startswith("📝"))


async def four_items(world: World) -> None:
    """#1 KP-002 on Monday; #2 KP-004 on Wednesday; #3 KP-003 and #4 KP-001 on Friday.
    李副局长 holds a turn in each (A post of KP-001/002/004, B post of KP-003)."""
    await submit_item(world, "微波站迁建选址方案", who="liuxiao", where="KP-002")
    world.clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI))
    await submit_item(world, "危房重建议题材料", who="zhangfan", where="KP-004")
    world.clock.set(datetime(2026, 11, 27, 10, 0, tzinfo=SHANGHAI))
    await submit_item(world, "康乐公园设计方案", who="liuxiao", where="KP-003")
    await submit_item(world, "学校选址咨询意见", who="zhangfan", where="KP-001")


# -- /pending ----------------------------------------------------------------------------------


ITEM1, ITEM2, ITEM3, ITEM4 = ("微波站迁建选址方案", "危房重建议题材料", "康乐公园设计方案",
                              "学校选址咨询意见")
FOUR_LISTED = ("📥 待您处理 4 件（按时间先后）\n"
               f"1. 🔴 #1 KP-002 {ITEM1} · 11月26日周四 17:30\n"
               f"2. 🟡 #2 KP-004 {ITEM2} · 11月30日周一 17:30\n"
               f"3. 🟢 #3 KP-003 {ITEM3} · 12月2日周三 17:30\n"
               f"4. 🟢 #4 KP-001 {ITEM4} · 12月2日周三 17:30")


HERE_LISTED = ("📥 待您处理 1 件（按时间先后）\n"
               f"1. 🔴 #1 KP-002 {ITEM1} · 11月26日周四 17:30\n\n"
               "……另有 3 件属于其他项目：请私聊我查看。")


async def test_an_empty_list_says_so_without_buttons(world: World) -> None:
    listed = await pending_list(world, "li")
    assert text_of(listed) == EMPTY_ZH and rows(listed) == []
    await submit_item(world, ITEM1)
    assert text_of(await pending_list(world, "chen")) == EMPTY_ZH  # not chen's to decide
    he_card = await world.last_from_bot("he")
    await world.press("he", "he", he_card["message_id"], button(he_card, "同意"))
    listed = await pending_list(world, "li")  # the B post decided: nothing left for li
    assert text_of(listed) == EMPTY_ZH and rows(listed) == []


async def test_items_of_several_projects_are_listed_oldest_first_with_light_and_due(
        world: World) -> None:
    await four_items(world)
    for leader in ("li", "he"):  # A post of three, B post of one, and the other way round
        listed = await pending_list(world, leader)
        assert text_of(listed) == FOUR_LISTED
        bold = [entity_text(listed, e) for e in listed["entities"] if e["type"] == "bold"]
        assert bold == ["待您处理 4 件", ITEM1, ITEM2, ITEM3, ITEM4]
        assert marks(listed) == ["☐"] * 4
        assert [label for label, _ in item_row(listed, 1)] == ["☐ 1", "✅ 同意", "↩️ 退回"]
        assert bulk_row(listed) == ["全选", "✅ 批量同意（0）", "↩️ 批量退回（0）"]
    async with world.db() as store:
        cases = {c.id: c.title for c in await store.all(Case)}
    # each row acts on its own item's step
    assert [cases[int(tick(listed, n).split(":")[-1])] for n in (1, 2, 3, 4)] == [
        ITEM1, ITEM2, ITEM3, ITEM4]


async def test_approve_on_a_row_decides_it_everywhere_and_refreshes_the_list(
        world: World) -> None:
    await four_items(world)
    listed = await pending_list(world, "li")
    world.clock.advance(timedelta(minutes=5))
    pressed = await world.press("li", "li", listed["message_id"], approve_one(listed, 2))
    assert pressed["answer"]["text"] == "✅ 已同意，谢谢。"
    cards = [(await group_card(world, "KP-004", 2), "KP-004")]
    cards += [(await private_card(world, who, 2), who) for who in ("li", "he")]
    for card, where in cards:
        shown = text_of(card)
        assert "✅ 李副局长 同意 · 11月27日周五 10:05" in shown, where
        assert "✅ 审批通过 · 11月27日周五 10:05" in shown, where
        assert buttons(card) == {}, where
    assert text_of(await world.last_from_bot("zhangfan")) == (
        f"✅ 您提交的「{ITEM2}」（KP-004，#2）已审批通过。")
    refreshed = await now_shown(world, "li", listed)
    assert text_of(refreshed) == ("📥 待您处理 3 件（按时间先后）\n"
                                  f"1. 🔴 #1 KP-002 {ITEM1} · 11月26日周四 17:30\n"
                                  f"2. 🟢 #3 KP-003 {ITEM3} · 12月2日周三 17:30\n"
                                  f"3. 🟢 #4 KP-001 {ITEM4} · 12月2日周三 17:30")
    assert len(rows(refreshed)) == 4  # three items and the bulk row
    [decided] = await decisions(world)
    assert (decided.person_id, decided.decision) == (await person_id(world, "li"), "approve")
    async with world.db() as store:
        states = {c.id: c.state for c in await store.all(Case)}
    assert states == {1: "pending", 2: "approved", 3: "pending", 4: "pending"}


async def test_return_on_a_row_asks_for_the_reason_then_returns_it(world: World) -> None:
    await four_items(world)
    listed = await pending_list(world, "li")
    pressed = await world.press("li", "li", listed["message_id"], return_one(listed, 1))
    assert pressed["answer"]["text"] == "请回复退回理由。"
    prompt = await world.last_from_bot("li")
    assert f"填写退回「{ITEM1}」的理由" in text_of(prompt)
    assert await decisions(world) == []
    await world.say("li", "li", "请补充管线资料", reply_to=prompt["message_id"])
    assert text_of(await world.last_from_bot("li")) == "↩️ 已退回经办人，并附上您的理由。"
    notice = await world.last_from_bot("liuxiao")
    assert f"您提交的「{ITEM1}」（KP-002，#1）被 李副局长 退回补正" in text_of(notice)
    assert "理由：请补充管线资料" in text_of(notice)
    assert set(buttons(notice)) == {"📤 重新提交", "🗑 撤回"}
    [decided] = await decisions(world)
    assert (decided.decision, decided.reason) == ("return", "请补充管线资料")
    again = await pending_list(world, "li")
    assert text_of(again).startswith("📥 待您处理 3 件") and f"#1 KP-002 {ITEM1}" not in text_of(
        again)


async def test_ticks_toggle_and_the_bulk_counts_follow(world: World) -> None:
    await four_items(world)
    listed = await pending_list(world, "li")
    pressed = await world.press("li", "li", listed["message_id"], tick(listed, 2))
    assert not pressed["answer"]["show_alert"]
    shown = await now_shown(world, "li", listed)
    assert marks(shown) == ["☐", "☑", "☐", "☐"]
    assert bulk_row(shown) == ["全选", "✅ 批量同意（1）", "↩️ 批量退回（1）"]
    await world.press("li", "li", listed["message_id"], tick(shown, 4))
    shown = await now_shown(world, "li", listed)
    assert marks(shown) == ["☐", "☑", "☐", "☑"]
    assert bulk_row(shown)[1:] == ["✅ 批量同意（2）", "↩️ 批量退回（2）"]
    await world.press("li", "li", listed["message_id"], tick(shown, 2))
    shown = await now_shown(world, "li", listed)
    assert marks(shown) == ["☐", "☐", "☐", "☑"]
    assert bulk_row(shown)[1:] == ["✅ 批量同意（1）", "↩️ 批量退回（1）"]
    assert text_of(shown) == FOUR_LISTED  # ticking changes only the keyboard
    assert await decisions(world) == []


async def test_select_all_ticks_every_row(world: World) -> None:
    await four_items(world)
    listed = await pending_list(world, "li")
    await world.press("li", "li", listed["message_id"], bulk(listed, "全选"))
    shown = await now_shown(world, "li", listed)
    assert marks(shown) == ["☑"] * 4
    assert bulk_row(shown) == ["全选", "✅ 批量同意（4）", "↩️ 批量退回（4）"]
    again = await world.press("li", "li", listed["message_id"], bulk(shown, "全选"))
    assert again["answer"] == {"text": None, "show_alert": False, "url": None}  # unchanged
    assert await now_shown(world, "li", listed) == shown
    refused = [r for r in await world.ctl.requests("editMessageText") if not r["ok"]]
    assert refused == []  # an unchanged list is not edited ("message is not modified")
    await world.press("li", "li", listed["message_id"], tick(shown, 3))
    shown = await now_shown(world, "li", listed)
    assert marks(shown) == ["☑", "☑", "☐", "☑"]
    assert bulk_row(shown)[1:] == ["✅ 批量同意（3）", "↩️ 批量退回（3）"]
    assert await decisions(world) == []


async def test_bulk_approve_skips_what_the_b_post_decided_meanwhile(world: World) -> None:
    await four_items(world)
    listed = await pending_list(world, "li")
    for number in (1, 2, 3):
        await world.press("li", "li", listed["message_id"], tick(listed, number))
    he_card = await private_card(world, "he", 2)
    await world.press("he", "he", he_card["message_id"], button(he_card, "同意"))
    world.clock.advance(timedelta(minutes=3))
    shown = await now_shown(world, "li", listed)
    assert bulk_row(shown)[1] == "✅ 批量同意（3）"
    pressed = await world.press("li", "li", listed["message_id"], bulk(shown, "批量同意"))
    assert pressed["answer"]["text"] == "✅ 已同意 2 件。 1 件未能处理：已被审批或不由您审批。"
    assert pressed["answer"]["show_alert"] is True
    refreshed = await now_shown(world, "li", listed)
    assert text_of(refreshed) == ("📥 待您处理 1 件（按时间先后）\n"
                                  f"1. 🟢 #4 KP-001 {ITEM4} · 12月2日周三 17:30")
    assert marks(refreshed) == ["☐"]
    assert bulk_row(refreshed) == ["全选", "✅ 批量同意（0）", "↩️ 批量退回（0）"]
    for where, case_id, who in (("KP-002", 1, "李副局长"), ("KP-004", 2, "何副局长"),
                                ("KP-003", 3, "李副局长")):
        card = await group_card(world, where, case_id)
        assert f"✅ {who} 同意" in text_of(card) and buttons(card) == {}, case_id
    assert "✅ 李副局长 同意 · 11月27日周五 10:03" in text_of(await group_card(world, "KP-002", 1))
    li, he = await person_id(world, "li"), await person_id(world, "he")
    async with world.db() as store:
        steps = {a.step_id: a.person_id for a in await decisions(world)}
        states = {c.id: c.state for c in await store.all(Case)}
    assert steps == {1: li, 2: he, 3: li}
    assert states == {1: "approved", 2: "approved", 3: "approved", 4: "pending"}
    liuxiao = [text_of(m) for m in await world.from_bot("liuxiao")]
    assert f"✅ 您提交的「{ITEM1}」（KP-002，#1）已审批通过。" in liuxiao
    assert f"✅ 您提交的「{ITEM3}」（KP-003，#3）已审批通过。" in liuxiao
    # Without refusals the summary is a plain toast, and an emptied list says so.
    await world.press("li", "li", listed["message_id"], bulk(refreshed, "全选"))
    pressed = await world.press("li", "li", listed["message_id"], bulk(refreshed, "批量同意"))
    assert pressed["answer"]["text"] == "✅ 已同意 1 件。" and not pressed["answer"]["show_alert"]
    emptied = await now_shown(world, "li", listed)
    assert text_of(emptied) == EMPTY_ZH and rows(emptied) == []


async def test_bulk_return_asks_one_reason_and_returns_each_to_its_handler(
        world: World) -> None:
    await four_items(world)
    listed = await pending_list(world, "li")
    for number in (1, 2):
        await world.press("li", "li", listed["message_id"], tick(listed, number))
    shown = await now_shown(world, "li", listed)
    pressed = await world.press("li", "li", listed["message_id"], bulk(shown, "批量退回"))
    assert pressed["answer"]["text"] == "请回复一条理由，适用于全部所选事项。"
    prompt = await world.last_from_bot("li")
    assert "请回复退回这 2 件事项的理由。" in text_of(prompt)
    await world.say("li", "li", "理" * 1001, reply_to=prompt["message_id"])
    assert "内容过长：1001 字，上限为 1000 字" in text_of(await world.last_from_bot("li"))
    assert await decisions(world) == []
    world.clock.advance(timedelta(minutes=10))
    await world.say("li", "li", "材料不全，请补正", reply_to=prompt["message_id"])
    assert text_of(await world.last_from_bot("li")) == "↩️ 已退回 2 件给经办人。"
    for handler, where, case_id, title in (("liuxiao", "KP-002", 1, ITEM1),
                                           ("zhangfan", "KP-004", 2, ITEM2)):
        notice = await world.last_from_bot(handler)
        assert f"您提交的「{title}」（{where}，#{case_id}）被 李副局长 退回补正" in text_of(notice)
        assert "理由：材料不全，请补正" in text_of(notice)
        assert set(buttons(notice)) == {"📤 重新提交", "🗑 撤回"}
        card = text_of(await group_card(world, where, case_id))
        assert "↩️ 李副局长 退回 · 11月27日周五 10:10" in card and "理由：材料不全，请补正" in card
    returned = await decisions(world)
    assert [(a.step_id, a.decision, a.reason) for a in returned] == [
        (1, "return", "材料不全，请补正"), (2, "return", "材料不全，请补正")]
    async with world.db() as store:
        states = {c.id: c.state for c in await store.all(Case)}
    assert states == {1: "supplement", 2: "supplement", 3: "pending", 4: "pending"}
    # The list no longer offers what was returned.
    refreshed = await now_shown(world, "li", listed)
    assert text_of(refreshed).startswith("📥 待您处理 2 件")
    assert f"#1 KP-002 {ITEM1}" not in text_of(refreshed)
    assert bulk_row(refreshed)[1:] == ["✅ 批量同意（0）", "↩️ 批量退回（0）"]


async def test_bulk_return_counts_what_was_decided_meanwhile_and_can_be_cancelled(
        world: World) -> None:
    await four_items(world)
    listed = await pending_list(world, "li")
    await world.press("li", "li", listed["message_id"], bulk(listed, "全选"))
    await world.press("li", "li", listed["message_id"], bulk(listed, "批量退回"))
    prompt = await world.last_from_bot("li")
    await world.say("li", "li", "/cancel", reply_to=prompt["message_id"])
    assert text_of(await world.last_from_bot("li")) == "已取消，这些事项仍待审批。"
    assert await decisions(world) == []
    shown = await now_shown(world, "li", listed)
    await world.press("li", "li", listed["message_id"], tick(shown, 4))  # untick #4
    await world.press("li", "li", listed["message_id"], bulk(shown, "批量退回"))
    prompt = await world.last_from_bot("li")
    assert "请回复退回这 3 件事项的理由。" in text_of(prompt)
    he_card = await private_card(world, "he", 3)
    await world.press("he", "he", he_card["message_id"], button(he_card, "同意"))
    await world.say("li", "li", "统一退回补正", reply_to=prompt["message_id"])
    assert text_of(await world.last_from_bot("li")) == (
        "↩️ 已退回 2 件给经办人。 1 件未能处理：已被审批或不由您审批。")
    async with world.db() as store:
        states = {c.id: c.state for c in await store.all(Case)}
    assert states == {1: "supplement", 2: "supplement", 3: "approved", 4: "pending"}


async def test_bulk_buttons_with_nothing_ticked_ask_to_tick_first(world: World) -> None:
    await four_items(world)
    listed = await pending_list(world, "li")
    for label in ("批量同意", "批量退回"):
        pressed = await world.press("li", "li", listed["message_id"], bulk(listed, label))
        assert pressed["answer"]["text"] == "请先勾选事项。", label
        assert pressed["answer"]["show_alert"] is True, label
    assert await world.last_from_bot("li") == await now_shown(world, "li", listed)  # no prompt
    await world.say("li", "li", "随便说一句")  # not taken as a return reason
    assert text_of(await world.last_from_bot("li")) == STRAY_ZH
    assert await decisions(world) == []


async def test_pending_in_english_for_the_admin(world: World) -> None:
    listed = await pending_list(world, "ma")
    assert text_of(listed) == "📥 Nothing waits for you. ✨" and rows(listed) == []
    await world.say("li", "li", "/away 2026-11-23 2026-11-27 @ma_it")
    await submit_item(world, ITEM1)
    listed = await pending_list(world, "ma")
    assert text_of(listed) == ("📥 1 item waits for you (oldest first)\n"
                               f"1. 🟢 #1 KP-002 {ITEM1} · Thu 26 Nov 17:30 (for 李副局长)")
    assert [label for label, _ in item_row(listed, 1)] == ["☐ 1", "✅ Approve", "↩️ Return"]
    assert bulk_row(listed) == ["Select all", "✅ Approve selected (0)",
                                "↩️ Return selected (0)"]
    pressed = await world.press("ma", "ma", listed["message_id"], bulk(listed, "Approve sel"))
    assert pressed["answer"]["text"] == "Tick some items first."
    await world.press("ma", "ma", listed["message_id"], bulk(listed, "Select all"))
    shown = await now_shown(world, "ma", listed)
    assert bulk_row(shown)[1] == "✅ Approve selected (1)"
    pressed = await world.press("ma", "ma", listed["message_id"], bulk(shown, "Approve sel"))
    assert pressed["answer"]["text"] == "✅ 1 approved."
    assert text_of(await now_shown(world, "ma", listed)) == "📥 Nothing waits for you. ✨"
    card = text_of(await group_card(world, "KP-002", 1))
    assert "✅ 马工（代 李副局长） 同意" in card


async def test_a_forged_pending_button_for_someone_elses_step_is_refused_and_audited(
        world: World) -> None:
    await submit_item(world, ITEM1)
    listed = await pending_list(world, "chen")
    for data in ("pd:a:1", "pd:r:1"):
        pressed = await world.press("chen", "chen", listed["message_id"], data, forge=True)
        assert pressed["answer"] == {"text": NOT_YOURS, "show_alert": True, "url": None}, data
    assert await world.last_from_bot("chen") == await now_shown(world, "chen", listed)
    pressed = await world.press("chen", "chen", listed["message_id"], "pd:t:1", forge=True)
    assert not pressed["answer"]["show_alert"]  # a tick selects nothing that is not listed
    assert text_of(await now_shown(world, "chen", listed)) == EMPTY_ZH
    assert rows(await now_shown(world, "chen", listed)) == []
    mine = await pending_list(world, "li")
    for data, answer in (("pd:a:999", "此卡片已过期。"), ("pd:q:1", "此按钮已失效。")):
        pressed = await world.press("li", "li", mine["message_id"], data, forge=True)
        assert pressed["answer"]["text"] == answer, data
    assert await decisions(world) == []
    refused = [json.loads(e.data) for e in await audits(world, "press.refused")]
    chen = await person_id(world, "chen")
    assert [(r["data"], r["why"]) for r in refused] == [
        ("pd:a:1", "not_your_turn"), ("pd:r:1", "not_your_turn"), ("pd:a:999", "stale_card"),
        ("pd:q:1", "unknown_button")]
    events = await audits(world, "press.refused")
    assert [e.actor_id for e in events[:2]] == [chen, chen]
    async with world.db() as store:
        [case] = await store.all(Case)
    assert case.state == "pending"



async def test_a_row_decided_meanwhile_is_refused_and_leaves_the_list(world: World) -> None:
    await four_items(world)
    listed = await pending_list(world, "li")
    await world.press("li", "li", listed["message_id"], tick(listed, 3))
    he_card = await private_card(world, "he", 2)
    await world.press("he", "he", he_card["message_id"], button(he_card, "同意"))
    pressed = await world.press("li", "li", listed["message_id"], approve_one(listed, 2))
    assert pressed["answer"]["show_alert"] is True
    assert pressed["answer"]["text"].startswith("该事项已由 何副局长 于 11月27日周五 10:00 同意")
    refreshed = await now_shown(world, "li", listed)
    assert text_of(refreshed).startswith("📥 待您处理 3 件")
    assert f"#2 KP-004 {ITEM2}" not in text_of(refreshed)
    assert marks(refreshed) == ["☐", "☑", "☐"]  # the tick on #3 (now row 2) is kept
    he_card = await private_card(world, "he", 4)
    await world.press("he", "he", he_card["message_id"], button(he_card, "退回"))
    await world.say("he", "he", "缺少航拍照片", reply_to=(await world.last_from_bot("he"))[
        "message_id"])
    pressed = await world.press("li", "li", listed["message_id"], return_one(refreshed, 3))
    assert pressed["answer"]["text"] == "该事项已退回经办人补正，重新提交后方可审批。"
    refreshed = await now_shown(world, "li", listed)
    assert text_of(refreshed).startswith("📥 待您处理 2 件") and ITEM4 not in text_of(refreshed)
    assert await world.last_from_bot("li") == refreshed  # no prompt for a reason
    he = await person_id(world, "he")
    assert [(a.person_id, a.decision) for a in await decisions(world)] == [
        (he, "approve"), (he, "return")]


async def test_a_list_beyond_twenty_items_counts_only_the_rows_it_shows(world: World) -> None:
    # Spread over the projects' groups: each group takes 20 bot messages a minute.
    where = [("zhangfan", "KP-001"), ("liuxiao", "KP-002"), ("liuxiao", "KP-003"),
             ("wujing", "KP-004"), ("wujing", "KP-005"), ("zhangfan", "KP-006")]
    for number in range(1, 22):
        who, project = where[number % len(where)]
        await submit_item(world, f"事项{number}", who=who, where=project)
    listed = await pending_list(world, "li")
    lines = text_of(listed).split("\n")
    assert lines[0] == "📥 待您处理 21 件（按时间先后）"
    assert lines[20].startswith("20. 🟢 #20 KP-00") and lines[21] == "……另有 1 件"
    assert len(rows(listed)) == 21  # 20 rows and the bulk row
    await world.press("li", "li", listed["message_id"], bulk(listed, "全选"))
    shown = await now_shown(world, "li", listed)
    assert marks(shown) == ["☑"] * 20
    assert bulk_row(shown)[1:] == ["✅ 批量同意（20）", "↩️ 批量退回（20）"]
    await world.press("li", "li", listed["message_id"], bulk(shown, "批量退回"))
    assert "请回复退回这 20 件事项的理由。" in text_of(await world.last_from_bot("li"))


async def test_bulk_approve_answers_before_slow_card_updates(world: World) -> None:
    await four_items(world)
    listed = await pending_list(world, "li")
    await world.press("li", "li", listed["message_id"], tick(listed, 1))
    await world.press("li", "li", listed["message_id"], tick(listed, 3))
    # Telegram answers the first card edit "429, retry after 2 s", and (scaled down) a
    # callback must be answered within 1 s.
    world.emu.config.callback_answer_timeout = 1.0
    await world.ctl.inject_fault("editMessageText", "429", count=1, retry_after=2)
    pressed = await world.press("li", "li", listed["message_id"], bulk(listed, "批量同意"))
    assert pressed["answer"] == {"text": "✅ 已同意 2 件。", "show_alert": False, "url": None}
    refreshed = await now_shown(world, "li", listed)
    assert text_of(refreshed).startswith("📥 待您处理 2 件") and marks(refreshed) == ["☐", "☐"]
    for where, case_id in (("KP-002", 1), ("KP-003", 3)):
        card = await group_card(world, where, case_id)
        assert "✅ 李副局长 同意" in text_of(card) and buttons(card) == {}


async def test_a_list_asked_for_in_a_group_goes_to_the_private_chat(world: World) -> None:
    await four_items(world)
    await world.say("li", "KP-002", "/pending")
    assert text_of(await world.last_from_bot("KP-002")) == "📥 已将待办清单私信发给您。"
    assert text_of(await world.last_from_bot("li")) == FOUR_LISTED


async def test_a_list_asked_for_in_a_group_answers_only_its_asker(world: World) -> None:
    await four_items(world)
    await world.ctl.block_bot(world.users["li"])  # no private chat: the list stays in the group
    await world.say("li", "KP-002", "/pending")
    listed = await world.last_from_bot("KP-002")
    # Only what the group sees anyway: KP-002's item; the others are counted, not shown.
    assert text_of(listed) == HERE_LISTED
    await world.press("li", "KP-002", listed["message_id"], tick(listed, 1))
    for who, data in (("zheng", bulk(listed, "全选")), ("he", bulk(listed, "批量同意")),
                      ("he", approve_one(listed, 1)), ("zheng", tick(listed, 1))):
        pressed = await world.press(who, "KP-002", listed["message_id"], data)
        assert pressed["answer"] == {"text": NOT_YOURS, "show_alert": True, "url": None}, data
    shown = await now_shown(world, "KP-002", listed)
    assert text_of(shown) == HERE_LISTED and marks(shown) == ["☑"]
    assert await decisions(world) == []
    assert len(await audits(world, "press.refused")) == 4
    pressed = await world.press("li", "KP-002", listed["message_id"], bulk(shown, "批量同意"))
    assert pressed["answer"]["text"] == "✅ 已同意 1 件。"
    [decided] = await decisions(world)
    assert decided.person_id == await person_id(world, "li")


async def test_the_list_drops_an_item_returned_from_its_row(world: World) -> None:
    await four_items(world)
    listed = await pending_list(world, "li")
    await world.press("li", "li", listed["message_id"], return_one(listed, 1))
    prompt = await world.last_from_bot("li")
    await world.say("li", "li", "请补充管线资料", reply_to=prompt["message_id"])
    assert [d.decision for d in await decisions(world)] == ["return"]
    refreshed = await now_shown(world, "li", listed)
    assert text_of(refreshed).startswith("📥 待您处理 3 件")


# -- /away and /back ---------------------------------------------------------------------------

USAGE = ("用法：/away 开始日期 结束日期 代理人 [备注]，例如 /away 11-24 11-28 @he_deputy 出差。"
         "外出期间，新到的事项交由代理人审批。发送 /back 提前结束。")


async def delegations(world: World) -> list[Delegation]:
    async with world.db() as store:
        return await store.all(Delegation, order_by=Delegation.id)


async def test_away_alone_says_you_are_not_away_and_how_to_use_it(world: World) -> None:
    await world.say("li", "li", "/away")
    assert text_of(await world.last_from_bot("li")) == f"您当前没有外出安排。\n\n{USAGE}"
    await world.say("li", "li", "/away 11-24 11-28")  # no delegate
    assert text_of(await world.last_from_bot("li")) == USAGE
    assert await delegations(world) == []


async def test_away_sends_new_items_to_the_delegate_and_cards_say_b_for_a(
        world: World) -> None:
    await world.say("li", "li", "/away 2026-11-23 2026-11-27 @he_deputy 出差北京")
    assert text_of(await world.last_from_bot("li")) == (
        "🏖 已登记外出 11月23日周一至11月27日周五：期间新到的事项交由 何副局长 审批。")
    assert text_of(await world.last_from_bot("he")) == (
        "🏖 李副局长 11月23日周一至11月27日周五 外出，期间其新到的事项由您代为审批。")
    li, he = await person_id(world, "li"), await person_id(world, "he")
    [away] = await delegations(world)
    assert (away.person_id, away.delegate_id, away.starts_on, away.ends_on, away.note,
            away.cancelled_at) == (li, he, date(2026, 11, 23), date(2026, 11, 27), "出差北京",
                                   None)
    [event] = await audits(world, "delegation.set")
    assert (event.actor_id, json.loads(event.data)) == (
        li, {"delegate": he, "from": "2026-11-23", "to": "2026-11-27"})
    await world.say("li", "li", "/away")
    assert text_of(await world.last_from_bot("li")) == (
        f"🏖 外出 11月23日周一至11月27日周五：由 何副局长 代为审批。\n\n{USAGE}")
    li_before = len(await world.from_bot("li"))

    card = await submit_item(world, ITEM1)
    assert "⏳ 等待 何副局长（代 李副局长） 处理" in text_of(card)
    he_card = await world.last_from_bot("he")
    assert "⏳ 等待 何副局长（代 李副局长） 处理" in text_of(he_card)
    assert "✅ 同意" in buttons(he_card)
    assert len(await world.from_bot("li")) == li_before  # nothing for li while away
    async with world.db() as store:
        [turn] = await store.all(Assignment)
    assert (turn.person_id, turn.on_behalf_of_id) == (he, li)
    assert text_of(await pending_list(world, "li")) == EMPTY_ZH
    he_list = text_of(await pending_list(world, "he"))
    assert he_list.endswith(f"#1 KP-002 {ITEM1} · {MONDAY_DUE} （代 李副局长）")

    world.clock.advance(timedelta(minutes=20))
    await world.press("he", "he", he_card["message_id"], button(he_card, "同意"))
    for shown in (await now_shown(world, "KP-002", card), await now_shown(world, "he", he_card)):
        assert "✅ 何副局长（代 李副局长） 同意 · 11月23日周一 10:20" in text_of(shown)
    [approved] = await audits(world, "case.approve")
    assert json.loads(approved.data)["on_behalf_of"] == li and approved.actor_id == he


async def test_a_delegate_by_key_takes_the_a_post_alongside_the_b_post(world: World) -> None:
    # Short dates; the absence starts tomorrow: today's item still goes to li.
    await world.say("li", "li", "/away 11-24 11-25 chen")
    assert text_of(await world.last_from_bot("li")) == (
        "🏖 已登记外出 11月24日周二至11月25日周三：期间新到的事项交由 陈局长 审批。")
    assert "李副局长 11月24日周二至11月25日周三 外出" in text_of(
        await world.last_from_bot("chen"))
    today = await submit_item(world, ITEM1)
    assert "⏳ 等待 李副局长 或 何副局长 处理" in text_of(today)
    assert "（代" not in text_of(today)
    world.clock.set(datetime(2026, 11, 24, 9, 0, tzinfo=SHANGHAI))
    tomorrow = await submit_item(world, ITEM2, who="zhangfan", where="KP-004")
    assert "⏳ 等待 陈局长（代 李副局长） 或 何副局长 处理" in text_of(tomorrow)
    chen_card = await private_card(world, "chen", 2)
    assert set(buttons(chen_card)) >= {"✅ 同意", "↩️ 退回"}
    li, chen = await person_id(world, "li"), await person_id(world, "chen")
    async with world.db() as store:
        turns = [(a.step_id, a.person_id, a.on_behalf_of_id)
                 for a in await store.all(Assignment, order_by=Assignment.id)]
    he = await person_id(world, "he")
    assert turns == [(1, li, None), (1, he, None), (2, chen, li), (2, he, None)]
    # the existing turn stays with li, the new one is chen's
    assert f"#1 KP-002 {ITEM1}" in text_of(await pending_list(world, "li"))
    assert f"#2 KP-004 {ITEM2}" not in text_of(await pending_list(world, "li"))
    world.clock.set(datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI))  # the absence is over
    after = await submit_item(world, ITEM3, who="liuxiao", where="KP-003")
    assert "⏳ 等待 何副局长 或 李副局长 处理" in text_of(after)


async def test_back_ends_the_absence_and_new_items_come_to_you_again(world: World) -> None:
    await world.say("li", "li", "/away 11月23日 11月30日 陈局长")
    assert "交由 陈局长 审批" in text_of(await world.last_from_bot("li"))
    away = await submit_item(world, ITEM1)
    assert "陈局长（代 李副局长）" in text_of(away)
    world.clock.advance(timedelta(hours=2))
    await world.say("li", "li", "/back")
    assert text_of(await world.last_from_bot("li")) == "欢迎回来，新到的事项将重新发给您。"
    [ended] = await delegations(world)
    assert ended.cancelled_at is not None
    assert ended.cancelled_at.replace(tzinfo=None) == datetime(2026, 11, 23, 4, 0)  # 12:00 +8
    assert len(await audits(world, "delegation.ended")) == 1
    back = await submit_item(world, ITEM2, who="zhangfan", where="KP-004")
    assert "⏳ 等待 李副局长 或 何副局长 处理" in text_of(back)
    assert ITEM2 in text_of(await world.last_from_bot("li"))
    # the item that arrived while away stays with the delegate
    assert "陈局长（代 李副局长）" in text_of(await now_shown(world, "KP-002", away))
    await world.say("li", "li", "/back")
    assert text_of(await world.last_from_bot("li")) == "您当前没有外出安排。"
    await world.say("li", "li", "/away")
    assert text_of(await world.last_from_bot("li")).startswith("您当前没有外出安排。")


async def test_bad_dates_strangers_and_yourself_are_refused(world: World) -> None:
    he_before = len(await world.from_bot("he"))
    for command, answer in (
        ("/away 明天 11-28 he", "无法识别日期「明天」：请写成 2026-11-24、11-24 或 11月24日。"),
        ("/away 11-24 11/31 he", "无法识别日期「11/31」：请写成 2026-11-24、11-24 或 11月24日。"),
        ("/away 2026-11-28 2026-11-24 he", "结束日期（2026-11-24）早于开始日期（2026-11-28）。"),
        ("/away 2026-11-02 2026-11-06 he", "该外出安排（2026-11-02 至 2026-11-06）已经结束。"),
        ("/away 11-24 11-28 @nobody", "找不到「@nobody」：请使用对方的 @用户名 或登记的姓名。"),
        ("/away 11-24 11-28 何局", "找不到「何局」：请使用对方的 @用户名 或登记的姓名。"),
        ("/away 11-24 11-28 @li_deputy", "请选择您以外的人。"),
        ("/away 11-24 11-28 李副局长", "请选择您以外的人。"),
    ):
        await world.say("li", "li", command)
        assert text_of(await world.last_from_bot("li")) == answer, command
    assert await delegations(world) == []
    assert await audits(world, "delegation.set") == []
    assert len(await world.from_bot("he")) == he_before  # nobody was told anything
    card = await submit_item(world, ITEM1)
    assert "⏳ 等待 李副局长 或 何副局长 处理" in text_of(card)


# -- comments ----------------------------------------------------------------------------------


async def comments(world: World) -> list[Comment]:
    async with world.db() as store:
        return await store.all(Comment, order_by=Comment.id)


def told(messages: list[Json]) -> list[str]:
    """The comment notices among a private chat's messages."""
    return [text_of(m) for m in messages if "的意见：" in text_of(m)]


async def test_a_reply_to_the_group_card_is_a_comment_shown_and_sent_to_holders(
        world: World) -> None:
    card = await submit_item(world, ITEM1)
    world.clock.advance(timedelta(minutes=5))
    said = await world.say("zheng", "KP-002", "请注意现状管线资料", reply_to=card["message_id"])
    reply = await world.last_from_bot("KP-002")
    assert text_of(reply) == "💬 已记入 #1。"
    assert reply["reply_to_message"]["message_id"] == said["message"]["message_id"]
    line = "💬 郑引导：请注意现状管线资料 · 11月23日周一 10:05"
    assert line in text_of(await now_shown(world, "KP-002", card))
    for leader in ("li", "he"):
        private = await private_card(world, leader, 1)
        assert line in text_of(private) and "✅ 同意" in buttons(private)  # buttons stay
    notice = f"💬 郑引导 对 #1「{ITEM1}」的意见：请注意现状管线资料"
    for person in ("li", "he", "liuxiao"):
        assert told(await world.from_bot(person)) == [notice], person
    assert told(await world.from_bot("zheng")) == []  # not the author
    [comment] = await comments(world)
    assert (comment.case_id, comment.author_id, comment.text, comment.tg_chat_id,
            comment.tg_message_id) == (1, await person_id(world, "zheng"), "请注意现状管线资料",
                                       world.cid("KP-002"), said["message"]["message_id"])
    [event] = await audits(world, "case.commented")
    assert json.loads(event.data) == {"comment": comment.id}


async def test_a_reply_to_a_private_card_is_a_comment_too(world: World) -> None:
    card = await submit_item(world, ITEM1)
    li_card = await private_card(world, "li", 1)
    world.clock.advance(timedelta(minutes=30))
    await world.say("li", "li", "方案可行，注意工期", reply_to=li_card["message_id"])
    assert text_of(await world.last_from_bot("li")) == "💬 已记入 #1。"
    line = "💬 李副局长：方案可行，注意工期 · 11月23日周一 10:30"
    assert line in text_of(await now_shown(world, "KP-002", card))
    assert line in text_of(await now_shown(world, "li", li_card))
    notice = f"💬 李副局长 对 #1「{ITEM1}」的意见：方案可行，注意工期"
    assert told(await world.from_bot("he")) == [notice]
    assert told(await world.from_bot("liuxiao")) == [notice]
    assert told(await world.from_bot("li")) == []
    await world.say("li", "li", "<b>注意</b> 防洪 & 排水", reply_to=li_card["message_id"])
    assert "💬 李副局长：<b>注意</b> 防洪 & 排水 · " in text_of(
        await now_shown(world, "KP-002", card))  # shown as written, not as markup
    assert told(await world.from_bot("he"))[-1].endswith("的意见：<b>注意</b> 防洪 & 排水")
    first, _ = await comments(world)
    assert (first.tg_chat_id, first.author_id) == (world.cid("li"), await person_id(world, "li"))
    assert await decisions(world) == []  # a comment decides nothing


async def test_the_card_shows_the_latest_three_comments_and_counts_the_rest(
        world: World) -> None:
    card = await submit_item(world, ITEM1)
    for number in range(1, 6):
        world.clock.advance(timedelta(minutes=1))
        await world.say("liuxiao", "KP-002", f"补充说明{number}", reply_to=card["message_id"])
        assert text_of(await world.last_from_bot("KP-002")) == "💬 已记入 #1。"
    for shown in (await now_shown(world, "KP-002", card), await private_card(world, "he", 1)):
        text = text_of(shown)
        assert "补充说明1" not in text and "补充说明2" not in text
        assert ("💬 刘晓：补充说明3 · 11月23日周一 10:03\n💬 刘晓：补充说明4 · 11月23日周一 10:04\n"
                "💬 刘晓：补充说明5 · 11月23日周一 10:05\n（另有 2 条较早的意见）") in text
    assert len(told(await world.from_bot("li"))) == 5
    assert told(await world.from_bot("liuxiao")) == []  # the submitter wrote them
    assert [c.text for c in await comments(world)] == [f"补充说明{n}" for n in range(1, 6)]


async def test_an_overlong_comment_is_refused(world: World) -> None:
    card = await submit_item(world, ITEM1)
    before = len(await world.from_bot("li"))
    await world.say("zheng", "KP-002", "意" * 1001, reply_to=card["message_id"])
    assert text_of(await world.last_from_bot("KP-002")) == (
        "内容过长：1001 字，上限为 1000 字，请精简后再发。")
    assert await comments(world) == []
    assert len(await world.from_bot("li")) == before
    assert "💬" not in text_of(await now_shown(world, "KP-002", card))
    await world.say("zheng", "KP-002", "意" * 1000, reply_to=card["message_id"])
    assert text_of(await world.last_from_bot("KP-002")) == "💬 已记入 #1。"


async def test_a_closed_case_takes_no_comment_but_one_back_with_its_handler_does(
        world: World) -> None:
    approved = await submit_item(world, ITEM1)
    await world.press("li", "KP-002", approved["message_id"], button(approved, "同意"))
    await world.say("zheng", "KP-002", "还有一点意见", reply_to=approved["message_id"])
    assert text_of(await world.last_from_bot("KP-002")) == "该事项已审批通过。"
    withdrawn = await submit_item(world, ITEM2)
    await world.press("liuxiao", "KP-002", withdrawn["message_id"], button(withdrawn, "撤回"))
    confirm = await world.last_from_bot("KP-002")
    await world.press("liuxiao", "KP-002", confirm["message_id"], button(confirm, "撤回"))
    async with world.db() as store:
        assert (await store.get(Case, 2)).state == "withdrawn"  # type: ignore[union-attr]
    await world.say("zheng", "KP-002", "撤回了吗", reply_to=withdrawn["message_id"])
    assert text_of(await world.last_from_bot("KP-002")) == "该事项已被提交人撤回。"
    assert await comments(world) == []
    await submit_item(world, ITEM3)
    he_card = await private_card(world, "he", 3)
    await world.press("he", "he", he_card["message_id"], button(he_card, "退回"))
    await world.say("he", "he", "缺少附件", reply_to=(await world.last_from_bot("he"))[
        "message_id"])
    await world.say("he", "he", "附件请补齐后再提交", reply_to=he_card["message_id"])
    assert text_of(await world.last_from_bot("he")) == "💬 已记入 #3。"
    assert told(await world.from_bot("liuxiao")) == [
        f"💬 何副局长 对 #3「{ITEM3}」的意见：附件请补齐后再提交"]
    assert told(await world.from_bot("li")) == []  # li holds no turn while it is back
    assert [c.case_id for c in await comments(world)] == [3]


async def test_a_reply_to_another_bot_message_is_not_a_comment(world: World) -> None:
    card = await submit_item(world, ITEM1)
    await world.say("zheng", "KP-002", "第一条意见", reply_to=card["message_id"])
    receipt = await world.last_from_bot("KP-002")
    await world.say("zheng", "KP-002", "收到", reply_to=receipt["message_id"])
    assert text_of(await world.last_from_bot("KP-002")) == (
        "汇报进展请发送 /report 内容；发送 /help 查看全部命令。")
    listed = await pending_list(world, "li")
    await world.say("li", "li", "这是什么", reply_to=listed["message_id"])
    assert text_of(await world.last_from_bot("li")) == STRAY_ZH
    assert [c.text for c in await comments(world)] == ["第一条意见"]


async def test_a_delegate_who_is_away_too_passes_the_item_on(world: World) -> None:
    await world.say("he", "he", "/away 11-23 11-27 chen")
    await world.say("li", "li", "/away 11-23 11-27 he")
    card = await submit_item(world, ITEM1)
    async with world.db() as store:
        holders = {a.person_id for a in await store.all(Assignment)}
    assert holders == {await person_id(world, "chen")}, text_of(card)


async def test_a_delegate_username_matches_in_any_case(world: World) -> None:
    await world.say("li", "li", "/away 11-24 11-28 @He_Deputy")
    assert "交由 何副局长 审批" in text_of(await world.last_from_bot("li"))


async def test_an_absence_that_began_a_few_days_ago_can_be_entered_with_short_dates(
        world: World) -> None:
    await world.say("li", "li", "/away 11-20 11-27 he")
    assert text_of(await world.last_from_bot("li")) == (
        "🏖 已登记外出 11月20日周五至11月27日周五：期间新到的事项交由 何副局长 审批。")
