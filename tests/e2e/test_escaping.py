"""User text with HTML in it reaches every message as typed: escaped at one place (the
catalogs' templates escape what they are formatted with), never refused by Telegram's parser.
"""

from __future__ import annotations

from pathlib import Path

from sandbox.demo import DEMO_USERS
from tests.e2e.conftest import (
    Json,
    World,
    build_world,
    button,
    buttons,
    submit_item,
    tear_down,
    text_of,
)

EVIL = "<i>斜体 & <script>x</script>"
REMARK = "注意 <b>管线</b> & 资料 &amp;"


async def newest(world: World, where: str, containing: str) -> Json:
    for message in reversed(await world.from_bot(where)):
        if containing in text_of(message):
            return message
    raise AssertionError(f"nothing with {containing!r} in {where}")


async def test_html_in_a_title_and_a_comment_reaches_every_message_as_typed(
        database_url: str, tmp_path: Path) -> None:
    # The B post never started the bot: his turn is announced by a mention in the group.
    world, task = await build_world(database_url, tmp_path, started=set(DEMO_USERS) - {"he"})
    try:
        await submit_item(world, EVIL)
        card = await newest(world, "KP-002", "📝")
        assert EVIL in text_of(card)
        mention = await newest(world, "KP-002", "⏳")
        assert EVIL in text_of(mention) and "何副局长" in text_of(mention)
        await world.say("zheng", "KP-002", REMARK, reply_to=card["message_id"])
        notice = await newest(world, "li", "的意见")
        assert EVIL in text_of(notice) and REMARK in text_of(notice)
        assert REMARK in text_of(await world.ctl.message(world.cid("KP-002"),
                                                          card["message_id"]))
        # ↩️ from the leader's private card: the prompt names the title as typed.
        private = await newest(world, "li", "📝")
        await world.press("li", "li", private["message_id"], button(private, "退回"))
        prompt = await world.last_from_bot("li")
        assert EVIL in text_of(prompt)
        await world.say("li", "li", "理由 <u>不全</u> & 待补", reply_to=prompt["message_id"])
        shown = await world.ctl.message(world.cid("KP-002"), card["message_id"])
        assert "理由 <u>不全</u> & 待补" in text_of(shown)
        assert buttons(await world.ctl.message(world.cid("li"), private["message_id"])) == {}
    finally:
        assert await tear_down(world, task) == []


async def test_an_approved_item_with_html_in_its_title_loses_its_buttons(world: World) -> None:
    await submit_item(world, EVIL)
    private = await newest(world, "li", "📝")
    await world.press("li", "li", private["message_id"], button(private, "同意"))
    decided = await world.ctl.message(world.cid("li"), private["message_id"])
    assert EVIL in text_of(decided) and buttons(decided) == {}
    card = await newest(world, "KP-002", "📝")
    assert "✅" in text_of(card) and buttons(card) == {}


async def test_a_report_as_long_as_allowed_of_html_characters_gets_its_card(
        world: World) -> None:
    report = "<&>" * 1000  # 3 000 characters, the limit; 12 000 once escaped
    await world.say("liuxiao", "KP-002", f"/report {report}")
    card = await world.last_from_bot("KP-002")
    assert report[:1000] in text_of(card) and len(text_of(card)) <= 4096


async def test_a_group_mention_says_so_once_the_turn_is_over(database_url: str,
                                                              tmp_path: Path) -> None:
    """何副局长 never started the bot: his turn is a mention under the group card, linking his
    name; once 李副局长 approves (an or-sign), the mention says it no longer waits for him,
    without the link, so nobody is pinged for what is done."""
    world, task = await build_world(database_url, tmp_path, started=set(DEMO_USERS) - {"he"})
    try:
        await submit_item(world, EVIL)
        mention = await newest(world, "KP-002", "⏳")
        assert "待您审批" in text_of(mention)
        assert any(e["type"] == "text_mention" for e in mention.get("entities", [])) or \
            "tg://user" in str(mention)
        private = await newest(world, "li", "📝")
        await world.press("li", "li", private["message_id"], button(private, "同意"))
        after = await world.ctl.message(world.cid("KP-002"), mention["message_id"])
        assert text_of(after) == f"☑️ 何副局长：「{EVIL}」（#1）已无需您处理。"
        assert not any(e["type"] == "text_mention" for e in after.get("entities", []))
        assert "tg://user" not in str(after)
    finally:
        assert await tear_down(world, task) == []
