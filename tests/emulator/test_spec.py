"""Conformance with the Bot API spec (data/api.json), and proof the validator bites."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from sandbox.emulator import ControlClient, Emulator
from sandbox.emulator.media import Upload, placeholder_png
from sandbox.emulator.spec import ApiSpec

from .conftest import ALICE, BOB, GROUP, SUPERGROUP, BotHttp, make_config

SPEC = ApiSpec.load()
USER = {"id": 1, "is_bot": False, "first_name": "A"}
MESSAGE = {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "from": USER}


# -- the validator catches what it should -------------------------------------------------------


def test_validator_catches_an_undeclared_field() -> None:
    problems = SPEC.check_result("getMe", {**USER, "nickname": "x"})
    assert problems == ["result: undeclared field 'nickname' in User"]


def test_validator_catches_a_missing_required_field() -> None:
    problems = SPEC.check_result("sendMessage", {**MESSAGE, "chat": {"id": 1}})
    assert problems == ["result.chat: missing required field 'type' in Chat"]


def test_validator_catches_wrong_types() -> None:
    assert SPEC.check_result("getMe", {**USER, "id": "1"}) == [
        "result.id: expected Integer, got String"
    ]
    assert SPEC.check_result("getMe", {**USER, "is_bot": 0}) == [
        "result.is_bot: expected Boolean, got Integer"
    ]
    bad_entities = {**MESSAGE, "text": "x", "entities": [{"type": "bold", "offset": 0}]}
    assert SPEC.check_result("sendMessage", bad_entities) == [
        "result.entities[0]: missing required field 'length' in MessageEntity"
    ]
    assert SPEC.check_result("getUpdates", {"update_id": 1}) == [
        "result: expected Array of Update, got Object"
    ]
    assert SPEC.check_result("sendMessage", {**MESSAGE, "text": None}) == [
        "result.text: null instead of String"
    ]


def test_validator_handles_unions_and_subtypes() -> None:
    assert SPEC.check_result("editMessageText", True) == []
    assert SPEC.check_result("editMessageText", MESSAGE) == []
    assert SPEC.check_result("editMessageText", "x") == [
        "result: expected Message or Boolean, got String"
    ]
    member = {"status": "member", "user": USER}
    assert SPEC.check_result("getChatMember", member) == []
    assert SPEC.check_result("getChatMember", {**member, "status": "boss"}) == [
        "result: ChatMember with unknown status 'boss'"
    ]
    assert SPEC.check_result("getChatMember", {"status": "creator", "user": USER}) == [
        "result: missing required field 'is_anonymous' in ChatMemberOwner"
    ]
    assert SPEC.check_request("sendMessage", {"chat_id": "@group", "text": "x"}) == []
    assert SPEC.check_request("sendMessage", {"chat_id": True, "text": "x"}) == [
        "chat_id: expected Integer or String, got Boolean"
    ]


def test_validator_catches_request_problems() -> None:
    assert SPEC.check_request("sendMessage", {"chat_id": 1, "text": "x", "colour": "red"}) == [
        "undeclared parameter 'colour'"
    ]
    assert SPEC.check_request("sendMessage", {"chat_id": 1}) == [
        "missing required parameter 'text'"
    ]
    markup = {"inline_keyboard": [[{"text": "x", "callback_data": 5}]]}
    assert SPEC.check_request("sendMessage", {"chat_id": 1, "text": "x", "reply_markup": markup})
    assert (
        SPEC.check_request("sendDocument", {"chat_id": 1, "document": Upload("a", "b", b"")}) == []
    )


def test_form_values_are_decoded_by_declared_type() -> None:
    decoded = SPEC.coerce(
        "sendMessage",
        {
            "chat_id": "-100123",
            "text": "42",
            "disable_notification": "true",
            "reply_markup": '{"inline_keyboard": []}',
        },
    )
    assert decoded == {
        "chat_id": -100123,
        "text": "42",
        "disable_notification": True,
        "reply_markup": {"inline_keyboard": []},
    }
    assert SPEC.check_request("getUpdates", SPEC.coerce("getUpdates", {"limit": "ten"})) == [
        "limit: expected Integer, got String"
    ]


@pytest.mark.allow_violations
async def test_server_records_request_and_response_violations(
    world: ControlClient, bot: BotHttp, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    await bot.ok("sendMessage", chat_id=ALICE, text="x", colour="red")
    original = emu.world.get_me
    monkeypatch.setattr(emu.world, "get_me", lambda: {**original(), "nickname": "绿灯"})
    await bot.ok("getMe")
    assert await world.violations() == [
        "request sendMessage: undeclared parameter 'colour'",
        "response getMe: result: undeclared field 'nickname' in User",
    ]


async def test_strict_mode_rejects_invalid_requests() -> None:
    import aiohttp

    from .conftest import TOKEN

    async with Emulator(make_config(strict=True)) as strict, aiohttp.ClientSession() as session:
        caller = BotHttp(session, strict.base_url, TOKEN)
        body = await caller("getMe", verbose=True)
        assert body == {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: emulator strict mode: undeclared parameter 'verbose'",
        }
        strict.violations.clear()


# -- everything the emulator answers conforms ---------------------------------------------------


async def test_every_method_conforms_to_the_spec(
    world: ControlClient, bot: BotHttp, emu: Emulator
) -> None:
    await world.create_user(1003, "Chen", username="chen", language_code=None)
    await world.create_chat(
        -1007,
        "supergroup",
        "有主",
        members=[BOB],
        admins=[ALICE],
        owner=1003,
        bot_admin=True,
        username="bureau",
    )
    await world.block_bot(BOB)
    await world.block_bot(BOB, blocked=False)

    calls: list[tuple[str, dict[str, Any]]] = [
        ("getMe", {}),
        ("getChat", {"chat_id": ALICE}),
        ("getChat", {"chat_id": GROUP}),
        ("getChat", {"chat_id": "@bureau"}),
        ("getChatMember", {"chat_id": -1007, "user_id": 1003}),
        ("getChatMember", {"chat_id": -1007, "user_id": ALICE}),
        ("getChatMember", {"chat_id": -1007, "user_id": BOB}),
        ("getChatMember", {"chat_id": SUPERGROUP, "user_id": 1003}),
        ("getChatMember", {"chat_id": -1007, "user_id": 123456}),
        ("getChatAdministrators", {"chat_id": -1007}),
        ("getChatMemberCount", {"chat_id": -1007}),
        (
            "setMyCommands",
            {
                "commands": [{"command": "start", "description": "开始"}],
                "scope": {"type": "all_group_chats"},
                "language_code": "zh",
            },
        ),
        ("getMyCommands", {"scope": {"type": "all_group_chats"}, "language_code": "zh"}),
        ("deleteMyCommands", {"scope": {"type": "all_group_chats"}, "language_code": "zh"}),
        ("setChatMenuButton", {"menu_button": {"type": "web_app", "text": "看板",
                                               "web_app": {"url": "https://b.example.org/"}}}),
        ("getChatMenuButton", {}),
        ("getChatMenuButton", {"chat_id": ALICE}),
        ("sendChatAction", {"chat_id": ALICE, "action": "typing"}),
        (
            "sendMessage",
            {
                "chat_id": ALICE,
                "text": "<b>x</b> https://example.org @alice #tag "
                '<tg-spoiler>s</tg-spoiler> <pre><code class="language-py">p</code>'
                '</pre> <a href="tg://user?id=1001">Alice</a>',
                "parse_mode": "HTML",
                "link_preview_options": {"is_disabled": True},
                "reply_parameters": {"message_id": 1, "quote": "/start"},
                "reply_markup": {
                    "inline_keyboard": [
                        [
                            {"text": "a", "callback_data": "a"},
                            {"text": "u", "url": "https://example.org"},
                        ]
                    ]
                },
            },
        ),
        (
            "sendMessage",
            {
                "chat_id": GROUP,
                "text": "*粗* _斜_",
                "parse_mode": "MarkdownV2",
                "reply_markup": {"keyboard": [[{"text": "一"}]], "resize_keyboard": True},
            },
        ),
        ("sendMessage", {"chat_id": GROUP, "text": "x", "reply_markup": {"remove_keyboard": True}}),
        ("sendMessage", {"chat_id": ALICE, "text": "x", "reply_markup": {"force_reply": True}}),
        ("sendMessage", {"chat_id": BOB, "text": "blocked? no: never started"}),
        ("sendMessage", {"chat_id": ALICE, "text": "<b>x", "parse_mode": "HTML"}),
        ("getWebhookInfo", {}),
        (
            "setWebhook",
            {
                "url": "http://127.0.0.1:9/hook",
                "secret_token": "abc",
                "allowed_updates": ["message", "callback_query", "my_chat_member"],
                "max_connections": 5,
            },
        ),
        ("getUpdates", {}),
        ("getWebhookInfo", {}),
        ("deleteWebhook", {"drop_pending_updates": False}),
        ("answerCallbackQuery", {"callback_query_id": "nope"}),
        ("deleteMessage", {"chat_id": ALICE, "message_id": 999}),
        ("getFile", {"file_id": "nope"}),
        ("logOut", {}),
        ("close", {}),
    ]
    for method, params in calls:
        await bot(method, **params)
    await asyncio.sleep(0.05)  # let the webhook fail once, so WebhookInfo has an error
    assert (await bot.ok("getWebhookInfo"))["url"] == ""

    text = await bot.ok(
        "sendMessage",
        chat_id=ALICE,
        text="审批",
        reply_markup={"inline_keyboard": [[{"text": "ok", "callback_data": "ok"}]]},
    )
    ref = {"chat_id": ALICE, "message_id": text["message_id"]}
    await bot.ok(
        "editMessageText",
        **ref,
        text="已审批 https://example.org",
        link_preview_options={"prefer_small_media": True},
        reply_markup={"inline_keyboard": [[{"text": "✓", "callback_data": "done"}]]},
    )
    await bot.ok("editMessageReplyMarkup", **ref)
    photo = await bot.ok(
        "sendPhoto",
        form=True,
        chat_id=str(ALICE),
        caption="图 <i>一</i>",
        parse_mode="HTML",
        has_spoiler="true",
        show_caption_above_media="true",
        photo=("p.png", placeholder_png(300, 200), "image/png"),
    )
    await bot.ok(
        "editMessageCaption", chat_id=ALICE, message_id=photo["message_id"], caption="新的"
    )
    document = await bot.ok(
        "sendDocument",
        form=True,
        chat_id=str(GROUP),
        protect_content="true",
        document=("a.xlsx", b"PK\x03\x04 data", "application/octet-stream"),
        thumbnail=("t.png", placeholder_png(32, 32), "image/png"),
    )
    assert "thumbnail" in document["document"]
    await bot.ok("getFile", file_id=document["document"]["file_id"])
    await bot.ok("getFile", file_id=document["document"]["thumbnail"]["file_id"])
    album = await bot.ok(
        "sendMediaGroup",
        form=True,
        chat_id=str(GROUP),
        media=json.dumps(
            [
                {"type": "document", "media": document["document"]["file_id"], "caption": "1"},
                {"type": "document", "media": "attach://d2"},
            ]
        ),
        d2=("b.txt", b"two", "text/plain"),
    )
    await bot.ok(
        "sendMediaGroup",
        chat_id=GROUP,
        media=[
            {"type": "photo", "media": photo["photo"][0]["file_id"]},
        ],
    )
    await bot.ok("deleteMessage", chat_id=GROUP, message_id=album[0]["message_id"])

    await world.send_text(BOB, GROUP, "/report@greenlight_bot @greenlight_bot", wait=False)
    await world.send_photo(ALICE, ALICE, caption="/upload", wait=False)
    await world.send_document(ALICE, ALICE, b"data", "a.csv", "text/csv", wait=False)
    await world.send_text(ALICE, ALICE, "reply", reply_to_message_id=text["message_id"], wait=False)
    await world.press(ALICE, ALICE, text["message_id"], "anything", forge=True, wait=False)
    await world.create_chat(-4300, "group", "新", members=[ALICE])
    updates = await bot.ok("getUpdates", allowed_updates=[])
    kinds = {next(k for k in u if k != "update_id") for u in updates}
    assert kinds >= {"message", "callback_query", "my_chat_member"}
    query_id = next(u["callback_query"]["id"] for u in updates if "callback_query" in u)
    await bot.ok(
        "answerCallbackQuery", callback_query_id=query_id, text="好", show_alert=True, cache_time=5
    )
    await bot.ok("getUpdates", offset=updates[-1]["update_id"] + 1)

    exercised = {entry["method"] for entry in await world.requests()}
    assert exercised >= set(emu.api.handlers)
    assert await world.violations() == []
