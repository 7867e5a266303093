"""sendMessage, editing, deleting: results and Telegram's errors, word for word."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.emulator import ControlClient

from .conftest import ALICE, BOB, GROUP, SUPERGROUP, BotHttp

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
KEYBOARD = {"inline_keyboard": [[{"text": "批准", "callback_data": "approve:7"}]]}


async def test_send_message_html(world: ControlClient, bot: BotHttp) -> None:
    sent = await bot.ok(
        "sendMessage",
        chat_id=ALICE,
        text="<b>周报</b> 已提交 &lt;3 <a href='https://example.org'>链接</a> 😀 /help",
        parse_mode="HTML",
        reply_markup=KEYBOARD,
    )
    assert sent["text"] == "周报 已提交 <3 链接 😀 /help"
    assert sent["entities"] == [
        {"type": "bold", "offset": 0, "length": 2},
        {"type": "text_link", "offset": 10, "length": 2, "url": "https://example.org/"},
        {"type": "bot_command", "offset": 16, "length": 5},
    ]
    assert sent["from"]["is_bot"] is True
    assert sent["chat"] == {
        "id": ALICE,
        "type": "private",
        "first_name": "Alice",
        "last_name": "Li",
        "username": "alice",
    }
    assert sent["reply_markup"] == KEYBOARD
    history = await world.private(ALICE)
    assert [m["message_id"] for m in history] == [1, 2]  # /start, then the bot's message
    assert history[-1] == sent


async def test_message_ids_are_per_chat(world: ControlClient, bot: BotHttp) -> None:
    first_group = await bot.ok("sendMessage", chat_id=GROUP, text="g")
    second_private = await bot.ok("sendMessage", chat_id=ALICE, text="p")
    assert first_group["message_id"] == 1
    assert second_private["message_id"] == 2  # after Alice's /start


async def test_text_errors(world: ControlClient, bot: BotHttp) -> None:
    async def error(**params: Any) -> tuple[int, str]:
        body = await bot("sendMessage", chat_id=ALICE, **params)
        return body["error_code"], body["description"]

    assert await error(text="") == (400, "Bad Request: message text is empty")
    assert await error(text="   \n ") == (400, "Bad Request: message text is empty")
    assert await error(text="x" * 4097) == (400, "Bad Request: message is too long")
    assert (await bot("sendMessage", chat_id=ALICE, text="字" * 4096))["ok"]
    assert await error(text="<b>x", parse_mode="HTML") == (
        400,
        "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"",
    )
    assert await error(text="<foo>x</foo>", parse_mode="HTML") == (
        400,
        'Bad Request: can\'t parse entities: Unsupported start tag "foo" at byte offset 0',
    )
    # Over the limit only before parsing: 4096 characters after entity parsing are fine.
    assert (
        await bot("sendMessage", chat_id=ALICE, text="<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    )["ok"]
    too_long_data = {"inline_keyboard": [[{"text": "x", "callback_data": "数" * 22}]]}
    assert await error(text="x", reply_markup=too_long_data) == (
        400,
        "Bad Request: BUTTON_DATA_INVALID",
    )
    exactly_64 = {"inline_keyboard": [[{"text": "x", "callback_data": "d" * 64}]]}
    assert (await bot("sendMessage", chat_id=ALICE, text="x", reply_markup=exactly_64))["ok"]
    # Button colours: Telegram's three, kept on the message; anything else refused.
    green = {"inline_keyboard": [[{"text": "✅", "callback_data": "a", "style": "success"}]]}
    sent = await bot("sendMessage", chat_id=ALICE, text="x", reply_markup=green)
    assert sent["result"]["reply_markup"]["inline_keyboard"][0][0]["style"] == "success"
    pink = {"inline_keyboard": [[{"text": "✅", "callback_data": "a", "style": "pink"}]]}
    assert await error(text="x", reply_markup=pink) == (400, "Bad Request: BUTTON_STYLE_INVALID")


async def test_chat_access_errors(world: ControlClient, bot: BotHttp) -> None:
    async def error(chat_id: int) -> tuple[int, str]:
        body = await bot("sendMessage", chat_id=chat_id, text="hi")
        return body["error_code"], body["description"]

    assert await error(42) == (400, "Bad Request: chat not found")
    assert await error(BOB) == (403, "Forbidden: bot can't initiate conversation with a user")
    await world.send_text(BOB, BOB, "/start", wait=False)
    assert (await bot("sendMessage", chat_id=BOB, text="hi"))["ok"]
    await world.block_bot(BOB)
    assert await error(BOB) == (403, "Forbidden: bot was blocked by the user")
    await world.block_bot(BOB, blocked=False)
    assert (await bot("sendMessage", chat_id=BOB, text="hi"))["ok"]

    await world.create_chat(-4002, "group", "没有机器人", members=[ALICE], bot_member=False)
    await world.create_chat(-1009, "supergroup", "无", members=[ALICE], bot_member=False)
    assert await error(-4002) == (403, "Forbidden: bot is not a member of the group chat")
    assert await error(-1009) == (403, "Forbidden: bot is not a member of the supergroup chat")


@pytest.mark.allow_violations
async def test_replies(world: ControlClient, bot: BotHttp) -> None:
    sent = await bot.ok("sendMessage", chat_id=ALICE, text="re", reply_parameters={"message_id": 1})
    assert sent["reply_to_message"]["text"] == "/start"
    legacy = await bot.ok("sendMessage", chat_id=ALICE, text="re", reply_to_message_id=1)
    assert legacy["reply_to_message"]["message_id"] == 1
    missing = await bot("sendMessage", chat_id=ALICE, text="x", reply_parameters={"message_id": 99})
    assert missing["description"] == "Bad Request: message to be replied not found"
    lenient = await bot.ok(
        "sendMessage",
        chat_id=ALICE,
        text="x",
        reply_parameters={"message_id": 99, "allow_sending_without_reply": True},
    )
    assert "reply_to_message" not in lenient
    # Telegram still takes the legacy parameter, but the spec no longer lists it.
    assert await world.violations() == [
        "request sendMessage: undeclared parameter 'reply_to_message_id'"
    ]


async def test_edit_text_and_markup(world: ControlClient, bot: BotHttp) -> None:
    sent = await bot.ok("sendMessage", chat_id=ALICE, text="待审批", reply_markup=KEYBOARD)
    ref = {"chat_id": ALICE, "message_id": sent["message_id"]}

    same = await bot("editMessageText", **ref, text="待审批", reply_markup=KEYBOARD)
    assert same == {"ok": False, "error_code": 400, "description": NOT_MODIFIED}

    edited = await bot.ok("editMessageText", **ref, text="<i>已批准</i>", parse_mode="HTML")
    assert edited["text"] == "已批准"
    assert edited["entities"] == [{"type": "italic", "offset": 0, "length": 3}]
    assert "reply_markup" not in edited  # no reply_markup in the edit removes the keyboard
    assert edited["edit_date"] >= edited["date"]

    again = await bot("editMessageReplyMarkup", **ref)
    assert again["description"] == NOT_MODIFIED
    with_keys = await bot.ok("editMessageReplyMarkup", **ref, reply_markup=KEYBOARD)
    assert with_keys["reply_markup"] == KEYBOARD
    assert (await world.message(ALICE, sent["message_id"]))["reply_markup"] == KEYBOARD

    missing = await bot("editMessageText", chat_id=ALICE, message_id=77, text="x")
    assert missing["description"] == "Bad Request: message to edit not found"
    users = await bot("editMessageText", chat_id=ALICE, message_id=1, text="x")
    assert users["description"] == "Bad Request: message can't be edited"
    no_caption = await bot("editMessageCaption", **ref, caption="c")
    assert no_caption["description"] == "Bad Request: there is no caption in the message to edit"


async def test_edit_caption(world: ControlClient, bot: BotHttp) -> None:
    from sandbox.emulator.media import placeholder_png

    photo = await bot.ok(
        "sendPhoto",
        form=True,
        chat_id=str(ALICE),
        caption="图",
        photo=("p.png", placeholder_png(8, 8), "image/png"),
    )
    ref = {"chat_id": ALICE, "message_id": photo["message_id"]}
    assert (await bot("editMessageText", **ref, text="t"))["description"] == (
        "Bad Request: there is no text in the message to edit"
    )
    assert (await bot("editMessageCaption", **ref, caption="图"))["description"] == NOT_MODIFIED
    edited = await bot.ok("editMessageCaption", **ref, caption="<b>新</b>", parse_mode="HTML")
    assert edited["caption"] == "新"
    assert edited["caption_entities"] == [{"type": "bold", "offset": 0, "length": 1}]
    long = await bot("editMessageCaption", **ref, caption="c" * 1025)
    assert long["description"] == "Bad Request: message caption is too long"


async def test_delete(world: ControlClient, bot: BotHttp) -> None:
    sent = await bot.ok("sendMessage", chat_id=GROUP, text="x")
    assert await bot.ok("deleteMessage", chat_id=GROUP, message_id=sent["message_id"]) is True
    assert await world.chat(GROUP) == []
    again = await bot("deleteMessage", chat_id=GROUP, message_id=sent["message_id"])
    assert again["description"] == "Bad Request: message to delete not found"
    users = await world.send_text(ALICE, SUPERGROUP, "/report", wait=False)
    refused = await bot(
        "deleteMessage", chat_id=SUPERGROUP, message_id=users["message"]["message_id"]
    )
    assert refused["description"] == "Bad Request: message can't be deleted"
    assert await bot.ok("deleteMessage", chat_id=ALICE, message_id=1) is True  # private: allowed


async def test_send_chat_action(world: ControlClient, bot: BotHttp) -> None:
    assert await bot.ok("sendChatAction", chat_id=ALICE, action="typing") is True
    wrong = await bot("sendChatAction", chat_id=ALICE, action="dancing")
    assert wrong["description"] == "Bad Request: wrong parameter action in request"
    blocked = await bot("sendChatAction", chat_id=BOB, action="typing")
    assert blocked["error_code"] == 403
