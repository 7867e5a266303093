"""Who may read what, and where: a project's things are read by those working on it (and the
director and supervision office), and shown in private or in that project's own group only;
bureau-wide lists only in chats the bureau knows; a group works on one project."""

from __future__ import annotations

from bot.i18n import translator
from storage.models import Chat, Project
from tests.e2e.conftest import World, submit_item, text_of

zh = translator("zh").gettext
STRANGERS = -1001999000001  # a group the bureau does not know, with the bot in it
NEW_GROUP = -1001999000002


async def reply_to(world: World, who: str, where: str | int, text: str) -> str:
    await world.say(who, where, text)
    return text_of(await world.last_from_bot(where))


async def bindings(world: World) -> dict[str, int | None]:
    async with world.db() as store:
        chats = {c.id: c.tg_chat_id for c in await store.all(Chat)}
        return {p.code: chats.get(p.chat_id) if p.chat_id else None
                for p in await store.all(Project)}


async def test_missing_materials_are_read_by_those_on_the_project_where_it_is_shown(
        world: World) -> None:
    await submit_item(world, "微波站迁建选址方案")  # #1, KP-002
    await world.say("liuxiao", "KP-002", "/missing #1 12-01 地形图")
    listing = await reply_to(world, "liuxiao", "KP-002", "/missing #1")
    assert "地形图" in listing
    # A handler of another section and project may not read it, anywhere.
    refused = await reply_to(world, "wujing", "wujing", "/missing #1")
    assert refused == zh("Only the people working on {project} can see its items.").format(
        project="KP-002")
    # The administrator may read it, but not in another project's group.
    elsewhere = await reply_to(world, "ma", "KP-004", "/missing #1")
    assert "地形图" not in elsewhere and "KP-002" in elsewhere
    assert "地形图" not in await reply_to(world, "ma", "KP-004", "/supplied #1 地形图")
    assert "地形图" in await reply_to(world, "ma", "ma", "/missing #1")  # in private


async def test_the_rollup_is_shown_in_private_and_in_known_chats_only(world: World) -> None:
    await world.ctl.create_chat(STRANGERS, "supergroup", "闲聊群",
                                members=[world.uid("liuxiao"), world.uid("huang")])
    refused = await reply_to(world, "liuxiao", STRANGERS, "/projects")
    assert "KP-00" not in refused and "私聊" in refused
    assert "KP-002" in await reply_to(world, "liuxiao", "liuxiao", "/projects")
    assert "KP-002" in await reply_to(world, "liuxiao", "KP-002", "/projects")


async def test_a_group_works_on_one_project_and_moving_one_must_be_asked_for(
        world: World) -> None:
    before = await bindings(world)
    taken = await reply_to(world, "ma", "KP-002", "/bind KP-001")
    assert "KP-002" in taken and "/bind KP-001" in taken
    assert await bindings(world) == before
    await world.ctl.create_chat(NEW_GROUP, "supergroup", "天立学校新群",
                                members=[world.uid("ma"), world.uid("zhangfan")])
    asked = await reply_to(world, "ma", NEW_GROUP, "/bind KP-001")
    assert "/bind KP-001 move" in asked
    assert await bindings(world) == before
    moved = await reply_to(world, "ma", NEW_GROUP, "/bind KP-001 move")
    assert "KP-001" in moved
    assert await bindings(world) == before | {"KP-001": NEW_GROUP}
    assert "KP-002" in await reply_to(world, "ma", "KP-002", "/bind KP-002")  # its own: fine
