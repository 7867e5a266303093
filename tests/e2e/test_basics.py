"""Getting started: /start, /help by role, /projects, the command menu, unknown commands."""

from __future__ import annotations

from tests.e2e.conftest import World, text_of


async def test_start_greets_registered_people_by_name(world: World) -> None:
    reply = await world.last_from_bot("liuxiao")
    assert "刘晓，您好" in text_of(reply)
    assert "/report" in text_of(reply)


async def test_start_tells_a_stranger_their_id_to_register(world: World) -> None:
    text = text_of(await world.last_from_bot("huang"))
    assert "尚未登记" in text
    assert str(world.users["huang"]) in text


async def test_help_depends_on_the_role(world: World) -> None:
    shown = {}
    for who in ("li", "liuxiao", "zhao", "zheng", "qian", "chen", "ma"):
        await world.say(who, who, "/help")
        shown[who] = text_of(await world.last_from_bot(who))
    leader, handler, head, guide = shown["li"], shown["liuxiao"], shown["zhao"], shown["zheng"]
    supervisor, director, admin = shown["qian"], shown["chen"], shown["ma"]
    assert "同意" in leader and "/submit" not in leader and "/pending" in leader
    assert "/due" in leader and "/status" in leader
    assert "/submit" in handler and "/bind" not in handler
    assert "/pending" not in handler and "/urges" not in handler and "/due" not in handler
    assert "/pending" in head and "/submit" in head  # 赵敏 heads the municipal section
    assert "/report" in guide and "/done" in guide and "/submit" not in guide
    assert "/pending" not in guide
    assert "/urges" in supervisor and "/submit" not in supervisor
    assert "/urges" in director and "/pending" in director
    assert "/bind" in admin and "/urges" in admin  # ma's locale is English
    assert "make this group the work group" in admin


async def test_projects_roll_up_with_lights_late_first(world: World) -> None:
    await world.say("chen", "leaders", "/projects")
    text = text_of(await world.last_from_bot("leaders"))
    assert "重点项目 8 个" in text  # the director sees the districts' and township's too
    lines = [line for line in text.splitlines() if "KP-00" in line]
    assert lines[0].startswith("🔴") and "KP-004" in lines[0]
    assert lines[1].startswith("🔴") and "KP-007" in lines[1]
    assert lines[2].startswith("🟡") and "KP-002" in lines[2]
    assert any(line.startswith("✅") and "KP-005" in line for line in lines)
    assert "提前介入" in text and "已办结待跟进" in text


async def test_the_command_menu_is_published_in_both_languages(world: World) -> None:
    published = {entry["language_code"]: entry["commands"] for entry in await world.ctl.commands()}
    assert {c["command"] for c in published["zh"]} >= {"projects", "report", "submit", "help"}
    zh = {c["command"]: c["description"] for c in published["zh"]}
    en = {c["command"]: c["description"] for c in published["en"]}
    assert zh["submit"] == "提交审批事项"
    assert en["submit"] == "Submit an item for approval"


async def test_an_unknown_command_gets_a_clear_reply(world: World) -> None:
    await world.say("liuxiao", "KP-002", "/frobnicate now")
    assert "无法识别的命令 /frobnicate" in text_of(await world.last_from_bot("KP-002"))


async def test_unregistered_people_cannot_see_projects(world: World) -> None:
    await world.say("huang", "huang", "/projects")
    assert "尚未在绿灯登记" in text_of(await world.last_from_bot("huang"))
