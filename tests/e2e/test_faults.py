"""Telegram failing for a moment loses nothing (issue #9, "A fault loses the message").

Each kind of call the bot makes while people wait on it (the card answering a /report, a
card edit after a decision, the answer to a button press) arrives exactly once through each
fault Telegram answers with: 429 four times in a row (one more than the bot's old cap of
retries), a 500, and a 502 that Telegram's front end answers with an nginx HTML page rather
than the Bot API's JSON. A call that keeps failing is given up with a warning naming the
method and the chat (never the token or the text), and the bot goes on.

The retry policy is production's with millisecond backoffs (``RETRY``); a 429 is waited out
for its ``retry_after`` (whole seconds, as Telegram sends it), so those cases take ~4 s each.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import pytest

from bot.i18n import translator
from storage.models import Assignment, Report
from tests.e2e.conftest import RETRY, TOKEN, Json, World, button, buttons, submit_item, text_of

zh = translator("zh").gettext
RECORDED_BUT = zh("Your action was recorded, but something went wrong on our side after that: "
                  "a message about it may be missing. Please check before trying again.")
APPROVED = {"text": "✅ 已同意，谢谢。", "show_alert": False, "url": None}
REPORT = "微波站迁建新址已与产权单位完成现场踏勘"
ITEM = "微波站迁建选址方案"

# fault -> (inject_fault options, the error codes the bot meets before it gets through)
FAULTS: dict[str, tuple[dict[str, Any], list[int]]] = {
    "429x4": ({"kind": "429", "count": 4, "retry_after": 1}, [429] * 4),
    "500": ({"kind": "500"}, [500]),
    "502-html": ({"kind": "502", "html": True}, [502]),
}


async def calls(world: World, since: int, method: str) -> list[Json]:
    """The bot's calls of ``method`` after the first ``since`` requests it made."""
    return [r for r in (await world.ctl.requests())[since:] if r["method"] == method]


async def press_approve_with(world: World, method: str, fault: str) -> tuple[Json, Json, int]:
    """An item submitted by liuxiao in KP-002; li approves it from his private card while
    ``method`` meets ``fault``. Returns (the group card, li's card, the request mark)."""
    group_card = await submit_item(world, ITEM)
    private = await world.last_from_bot("li")
    mark = len(await world.ctl.requests())
    options, _ = FAULTS[fault]
    await world.ctl.inject_fault(method, **options)
    pressed = await world.press("li", "li", private["message_id"], button(private, "同意"))
    assert pressed["answer"] == APPROVED  # exactly once: Telegram keeps the first answer
    return group_card, private, mark


async def assert_approved_everywhere(world: World, group_card: Json, private: Json) -> None:
    for where, message_id in (("KP-002", group_card["message_id"]),
                              ("li", private["message_id"])):
        shown = await world.ctl.message(world.cid(where), message_id)
        assert "✅ 审批通过" in text_of(shown) and buttons(shown) == {}, where
    async with world.db() as store:
        decided = [a.decision for a in await store.all(Assignment) if a.decision]
    assert decided == ["approve"]
    told = [m for m in await world.from_bot("liuxiao") if "已审批通过" in text_of(m)]
    assert len(told) == 1


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_report_card_arrives_once_through(world: World, fault: str) -> None:
    options, failed = FAULTS[fault]
    before = await world.from_bot("KP-002")
    mark = len(await world.ctl.requests())
    await world.ctl.inject_fault("sendMessage", **options)
    sent = await world.say("liuxiao", "KP-002", f"/report {REPORT}")
    [card] = (await world.from_bot("KP-002"))[len(before):]  # the card, and no apology
    assert "进展汇报 · KP-002 天台山公园" in text_of(card) and REPORT in text_of(card)
    assert card["reply_to_message"]["message_id"] == sent["message"]["message_id"]
    tried = [r["error_code"] for r in await calls(world, mark, "sendMessage")]
    assert tried == [*failed, None]
    async with world.db() as store:
        [report] = await store.all(Report)
    assert report.card_message_id == card["message_id"]


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_card_edit_after_a_decision_arrives_once_through(world: World,
                                                                 fault: str) -> None:
    group_card, private, mark = await press_approve_with(world, "editMessageText", fault)
    await assert_approved_everywhere(world, group_card, private)
    edits = await calls(world, mark, "editMessageText")
    _, failed = FAULTS[fault]
    assert [r["error_code"] for r in edits if not r["ok"]] == failed
    edited = Counter((r["params"]["chat_id"], r["params"]["message_id"])
                     for r in edits if r["ok"])
    assert edited[(world.cid("KP-002"), group_card["message_id"])] == 1
    assert edited[(world.cid("li"), private["message_id"])] == 1
    assert set(edited.values()) == {1}  # every card once


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_callback_answer_arrives_once_through(world: World, fault: str) -> None:
    group_card, private, mark = await press_approve_with(world, "answerCallbackQuery", fault)
    answers = await calls(world, mark, "answerCallbackQuery")
    _, failed = FAULTS[fault]
    assert [r["error_code"] for r in answers] == [*failed, None]
    await assert_approved_everywhere(world, group_card, private)


async def test_a_card_telegram_keeps_failing_is_given_up_with_a_warning_and_the_bot_goes_on(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    group = world.cid("KP-002")
    before = await world.from_bot("KP-002")
    await world.ctl.inject_fault("sendMessage", "500", count=RETRY.attempts)
    await world.say("liuxiao", "KP-002", f"/report {REPORT}")
    [given_up] = [r for r in caplog.records
                  if r.name == "bot.telegram" and r.levelno == logging.WARNING]
    assert given_up.getMessage().startswith(
        f"SendMessage to chat {group} given up after {RETRY.attempts} tries in ")
    assert given_up.getMessage().endswith(": Internal Server Error")
    assert TOKEN not in caplog.text and REPORT not in caplog.text
    # The report was committed before its card was sent (a card never shows what is not
    # stored); the person is told it is recorded, rather than left without a reply.
    [apology] = (await world.from_bot("KP-002"))[len(before):]
    assert text_of(apology) == RECORDED_BUT
    async with world.db() as store:
        [stored] = await store.all(Report)
        assert stored.text == REPORT
    # The bot goes on: the next report gets its card.
    await world.say("liuxiao", "KP-002", f"/report {REPORT}")
    card = await world.last_from_bot("KP-002")
    assert "进展汇报 · KP-002 天台山公园" in text_of(card) and REPORT in text_of(card)


async def test_a_card_edit_telegram_keeps_failing_is_given_up_without_crashing_the_press(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    group_card = await submit_item(world, ITEM)
    private = await world.last_from_bot("li")
    await world.ctl.inject_fault("editMessageText", "502", count=RETRY.attempts, html=True,
                                 chat_id=world.cid("KP-002"))  # the group card's edit
    pressed = await world.press("li", "li", private["message_id"], button(private, "同意"))
    assert pressed["answer"] == APPROVED  # answered before the cards are updated: still true
    warnings = [r.getMessage() for r in caplog.records
                if r.name.startswith("bot.") and r.levelno == logging.WARNING]
    assert warnings[0].startswith(f"EditMessageText to chat {world.cid('KP-002')} given up "
                                  f"after {RETRY.attempts} tries in ")
    assert warnings[0].endswith(": 502 Bad Gateway (a page, not the Bot API's JSON)")
    assert not [r for r in caplog.records if r.name.startswith("aiogram")
                and r.levelno >= logging.ERROR]  # handled: nothing escaped to the dispatcher
    assert TOKEN not in caplog.text
    # The decision stands (it was recorded before the cards), and the bot goes on.
    async with world.db() as store:
        assert [a.decision for a in await store.all(Assignment) if a.decision] == ["approve"]
    again = await world.press("li", "KP-002", group_card["message_id"],
                              button(group_card, "同意"))
    assert again["answer"] is not None and again["answer"]["show_alert"] is True
