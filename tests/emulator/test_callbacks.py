"""Inline buttons: presses, answers, the answer deadline, forged data."""

from __future__ import annotations

import asyncio

import pytest

from sandbox.emulator import ControlClient, ControlError

from .conftest import ALICE, BOB, GROUP, BotHttp, drain

TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
KEYBOARD = {
    "inline_keyboard": [
        [{"text": "批准", "callback_data": "approve:7"}, {"text": "驳回", "callback_data": "no:7"}]
    ]
}


async def _prompt(bot: BotHttp, chat_id: int = ALICE) -> int:
    sent = await bot.ok("sendMessage", chat_id=chat_id, text="审批?", reply_markup=KEYBOARD)
    return int(sent["message_id"])


async def test_press_and_answer_round_trip(world: ControlClient, bot: BotHttp) -> None:
    await drain(bot)
    message_id = await _prompt(bot)

    async def handle() -> None:
        (update,) = await bot.ok("getUpdates", timeout=2)
        query = update["callback_query"]
        assert query["data"] == "approve:7"
        assert query["from"]["id"] == ALICE
        assert query["message"]["message_id"] == message_id
        assert query["message"]["reply_markup"] == KEYBOARD
        assert query["chat_instance"].isdigit()
        await bot.ok("answerCallbackQuery", callback_query_id=query["id"], text="已批准")
        await bot.ok("getUpdates", offset=update["update_id"] + 1, timeout=0)

    handler = asyncio.create_task(handle())
    result = await world.press(ALICE, ALICE, message_id, "approve:7", timeout=3)
    await handler
    assert result["answer"] == {"text": "已批准", "show_alert": False, "url": None}


async def test_answer_twice_late_or_unknown(world: ControlClient, bot: BotHttp) -> None:
    await drain(bot)
    message_id = await _prompt(bot)
    await world.press(ALICE, ALICE, message_id, "no:7", wait=False)
    await world.press(ALICE, ALICE, message_id, "approve:7", wait=False)
    first, second = await drain(bot)
    query_id = first["callback_query"]["id"]
    assert await bot.ok("answerCallbackQuery", callback_query_id=query_id, show_alert=True)
    twice = await bot("answerCallbackQuery", callback_query_id=query_id)
    assert twice == {"ok": False, "error_code": 400, "description": TOO_OLD}
    unknown = await bot("answerCallbackQuery", callback_query_id="12345")
    assert unknown["description"] == TOO_OLD
    await asyncio.sleep(0.55)  # callback_answer_timeout is 0.5 s in these tests
    late = await bot("answerCallbackQuery", callback_query_id=second["callback_query"]["id"])
    assert late["description"] == TOO_OLD


async def test_only_existing_buttons_can_be_pressed(world: ControlClient, bot: BotHttp) -> None:
    message_id = await _prompt(bot)
    with pytest.raises(ControlError) as raised:
        await world.press(ALICE, ALICE, message_id, "approve:8", wait=False)
    assert raised.value.status == 400
    await drain(bot)
    forged = await world.press(ALICE, ALICE, message_id, "approve:8", forge=True, wait=False)
    (update,) = await drain(bot)
    assert update["update_id"] == forged["update_id"]
    assert update["callback_query"]["data"] == "approve:8"


async def test_press_sees_the_current_message(world: ControlClient, bot: BotHttp) -> None:
    message_id = await _prompt(bot, GROUP)
    await bot.ok("editMessageReplyMarkup", chat_id=GROUP, message_id=message_id)
    with pytest.raises(ControlError):
        await world.press(BOB, GROUP, message_id, "approve:7", wait=False)
    with pytest.raises(ControlError):
        await world.press(BOB, 42, message_id, "approve:7", wait=False)


async def test_press_answer_is_none_when_bot_does_not_answer(
    world: ControlClient, bot: BotHttp
) -> None:
    await drain(bot)
    message_id = await _prompt(bot)

    async def ignore() -> None:
        (update,) = await bot.ok("getUpdates", timeout=2)
        await bot.ok("getUpdates", offset=update["update_id"] + 1, timeout=0)

    handler = asyncio.create_task(ignore())
    result = await world.press(ALICE, ALICE, message_id, "no:7", timeout=3)
    await handler
    assert result["answer"] is None
