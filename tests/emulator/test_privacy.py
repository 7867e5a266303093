"""Group privacy mode: what the bot receives in groups, and always in private."""

from __future__ import annotations

from sandbox.emulator import ControlClient

from .conftest import ALICE, BOB, GROUP, SUPERGROUP, BotHttp, drain


async def test_privacy_mode_filters_group_messages(world: ControlClient, bot: BotHttp) -> None:
    await drain(bot)

    async def delivered(text: str, chat: int = GROUP, reply_to: int | None = None) -> bool:
        result = await world.send_text(BOB, chat, text, reply_to_message_id=reply_to, wait=False)
        return bool(result["delivered"])

    assert not await delivered("大家好")
    assert await delivered("/report 本周")
    assert await delivered("/report@greenlight_bot")
    assert await delivered("/report@Greenlight_Bot")
    assert not await delivered("/report@other_bot")
    assert await delivered("请 @greenlight_bot 看一下")
    assert not await delivered("请 @someone_else 看一下")
    bots = await bot.ok("sendMessage", chat_id=GROUP, text="机器人的消息")
    assert await delivered("回复机器人", reply_to=bots["message_id"])
    others = await world.send_text(ALICE, GROUP, "人的消息", wait=False)
    assert not await delivered("回复人", reply_to=others["message"]["message_id"])
    assert not await delivered("supergroup too", chat=SUPERGROUP)

    texts = [u["message"]["text"] for u in await drain(bot)]
    assert texts == [
        "/report 本周",
        "/report@greenlight_bot",
        "/report@Greenlight_Bot",
        "请 @greenlight_bot 看一下",
        "回复机器人",
    ]
    # All messages are in the chat even when the bot does not get them.
    assert len(await world.chat(GROUP)) == 11


async def test_commands_carry_bot_command_entities(world: ControlClient, bot: BotHttp) -> None:
    result = await world.send_text(BOB, GROUP, "/approve@greenlight_bot 12 @alice", wait=False)
    message = result["message"]
    assert message["entities"] == [
        {"type": "bot_command", "offset": 0, "length": 23},
        {"type": "mention", "offset": 27, "length": 6},
    ]


async def test_captions_count_as_text(world: ControlClient) -> None:
    photo = await world.send_photo(BOB, GROUP, caption="/upload 图纸", wait=False)
    assert photo["delivered"] is True
    assert photo["message"]["caption_entities"][0]["type"] == "bot_command"
    plain = await world.send_photo(BOB, GROUP, caption="图纸", wait=False)
    assert plain["delivered"] is False


async def test_private_always_and_privacy_off(world: ControlClient, bot: BotHttp) -> None:
    assert (await world.send_text(ALICE, ALICE, "随便说说", wait=False))["delivered"]
    await world.set_privacy(False)
    assert (await bot.ok("getMe"))["can_read_all_group_messages"] is True
    assert (await world.send_text(BOB, GROUP, "大家好", wait=False))["delivered"]


async def test_admin_bots_see_everything(world: ControlClient) -> None:
    await world.create_chat(-4100, "group", "admin bot", members=[BOB], bot_admin=True)
    assert (await world.send_text(BOB, -4100, "hello", wait=False))["delivered"]


async def test_bot_added_to_group_gets_my_chat_member(world: ControlClient, bot: BotHttp) -> None:
    await drain(bot)
    await world.create_chat(-4200, "group", "新群", members=[BOB], admins=[ALICE])
    (update,) = await drain(bot)
    change = update["my_chat_member"]
    assert change["from"]["id"] == ALICE
    assert change["old_chat_member"]["status"] == "left"
    assert change["new_chat_member"]["status"] == "member"
    assert change["new_chat_member"]["user"]["id"] == 123456
