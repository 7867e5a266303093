"""Commands per scope and language, getChat, chat members and administrators."""

from __future__ import annotations

from sandbox.emulator import ControlClient

from .conftest import ALICE, BOB, GROUP, SUPERGROUP, BotHttp

COMMANDS = [
    {"command": "report", "description": "提交周报"},
    {"command": "help", "description": "帮助"},
]


async def test_commands_per_scope_and_language(world: ControlClient, bot: BotHttp) -> None:
    assert await bot.ok("setMyCommands", commands=COMMANDS) is True
    zh_group = {"type": "chat", "chat_id": GROUP}
    assert await bot.ok("setMyCommands", commands=COMMANDS[:1], scope=zh_group, language_code="zh")
    assert await bot.ok("getMyCommands") == COMMANDS
    assert await bot.ok("getMyCommands", scope=zh_group, language_code="zh") == COMMANDS[:1]
    assert await bot.ok("getMyCommands", scope=zh_group) == []
    assert await bot.ok("getMyCommands", language_code="en") == []
    stored = await world.commands()
    assert {
        "scope": {"type": "chat", "chat_id": GROUP},
        "language_code": "zh",
        "commands": COMMANDS[:1],
    } in stored
    assert await bot.ok("deleteMyCommands", scope=zh_group, language_code="zh") is True
    assert await bot.ok("getMyCommands", scope=zh_group, language_code="zh") == []
    invalid = await bot("setMyCommands", commands=[{"command": "Bad Cmd", "description": "x"}])
    assert invalid["description"] == "Bad Request: BOT_COMMAND_INVALID"
    unknown_chat = await bot(
        "setMyCommands", commands=COMMANDS, scope={"type": "chat", "chat_id": 777}
    )
    assert unknown_chat["description"] == "Bad Request: chat not found"


async def test_get_chat(world: ControlClient, bot: BotHttp) -> None:
    private = await bot.ok("getChat", chat_id=ALICE)
    assert private["type"] == "private" and private["first_name"] == "Alice"
    assert private["username"] == "alice"
    group = await bot.ok("getChat", chat_id=GROUP)
    assert group["title"] == "规划一组" and group["type"] == "group"
    assert "permissions" in group and "accepted_gift_types" in group
    assert (await bot("getChat", chat_id=-5))["description"] == "Bad Request: chat not found"
    await world.create_chat(-1008, "supergroup", "公开", members=[ALICE], username="bureau_pub")
    by_name = await bot.ok("getChat", chat_id="@bureau_pub")
    assert by_name["id"] == -1008 and by_name["username"] == "bureau_pub"
    assert (await bot("getChat", chat_id="@alice"))["description"] == "Bad Request: chat not found"


async def test_chat_members(world: ControlClient, bot: BotHttp) -> None:
    await world.create_chat(
        -1005, "supergroup", "局", members=[BOB], admins=[ALICE], bot_admin=True
    )

    async def status(chat: int, user: int) -> str:
        return str((await bot.ok("getChatMember", chat_id=chat, user_id=user))["status"])

    assert await status(GROUP, ALICE) == "administrator"
    assert await status(GROUP, BOB) == "member"
    assert await status(GROUP, 123456) == "member"
    assert await status(-1005, 123456) == "administrator"
    await world.create_user(1003, "Chen")
    assert await status(SUPERGROUP, 1003) == "left"
    assert (await bot("getChatMember", chat_id=GROUP, user_id=999))["description"] == (
        "Bad Request: user not found"
    )
    await world.create_chat(-1006, "supergroup", "有主", members=[BOB], admins=[ALICE], owner=1003)
    assert await status(-1006, 1003) == "creator"
    admins = await bot.ok("getChatAdministrators", chat_id=-1006)
    assert [(a["status"], a["user"]["id"]) for a in admins] == [
        ("creator", 1003),
        ("administrator", ALICE),
    ]
    with_bot = await bot.ok("getChatAdministrators", chat_id=-1005)
    assert [a["user"]["id"] for a in with_bot] == [ALICE, 123456]
    private = await bot("getChatAdministrators", chat_id=ALICE)
    assert private["description"] == "Bad Request: there are no administrators in the private chat"
    assert await bot.ok("getChatMemberCount", chat_id=GROUP) == 3
    await world.block_bot(ALICE)
    assert await status(ALICE, 123456) == "kicked"
