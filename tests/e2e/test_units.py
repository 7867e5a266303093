"""A city, its districts and a township, through the chat: each person sees and acts on their
unit and everything below it, by command, by button, and by forged button; a township's case
climbs to the district that decides it.

The demo: 市城乡规划管理局 (the city: 陈局长 the director, KP-001…006), 雁城区分局 (董局长, a
leader; 顾晨; KP-007), 珠晖区分局 (潘局长, its director) and its township 东阳渡镇 (唐主任 heads
its office; 许乡; KP-008, led by 潘局长).
"""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook

from bot.domain.rules.vocabulary import ProjectStatus
from storage.models import Project
from tests.e2e.conftest import World, button, buttons, submit_item, text_of

KP8 = "KP-008"


def codes(text: str) -> list[str]:
    return sorted(set(re.findall(r"KP-00\d", text)))


async def project_id(world: World, code: str) -> int:
    async with world.db() as store:
        project = await store.project_by_code(code)
        assert project is not None
        return project.id


async def test_projects_lists_the_askers_subtree(world: World) -> None:
    for who, seen in (("chen", [f"KP-00{i}" for i in range(1, 9)]), ("dong", ["KP-007"]),
                      ("pan", [KP8]), ("xu", [KP8]), ("gu", ["KP-007"])):
        await world.say(who, who, "/projects")
        text = text_of(await world.last_from_bot(who))
        assert codes(text) == seen, (who, text)
        assert f"重点项目 {len(seen)} 个" in text


async def test_stats_urges_and_exports_are_the_askers_subtree(world: World) -> None:
    await world.say("pan", "pan", "/stats")
    shown = await world.from_bot("pan")
    assert text_of(shown[-4]).startswith("📊 1 个重点项目：推进中 1 个")
    await world.say("chen", "chen", "/stats")
    assert text_of((await world.from_bot("chen"))[-4]).startswith("📊 8 个重点项目：")

    await submit_item(world, "卫生院选址意见书", who="xu", where=KP8)
    await submit_item(world, "微波站迁建选址方案")
    for who, seen in (("pan", [KP8]), ("chen", ["KP-002", KP8])):
        await world.say(who, who, "/export cases")
        sent = await world.last_from_bot(who)
        book = load_workbook(io.BytesIO(await world.ctl.file(sent["document"]["file_id"])))
        rows = list(book["cases"].iter_rows(values_only=True))[1:]
        assert sorted(row[2] for row in rows) == seen, who
    # The audit trail is the whole organisation's chain: not a district's to take away.
    await world.say("pan", "pan", "/export audit")
    assert "导出" in text_of(await world.last_from_bot("pan"))
    assert "document" not in await world.last_from_bot("pan")

    await world.say("pan", "pan", "/urges")
    assert "东阳渡镇" not in text_of(await world.last_from_bot("pan"))  # nothing counted yet


async def test_a_director_steers_their_subtree_only_even_by_forged_button(
        world: World) -> None:
    """潘局长 is a director: he may change KP-008's status (his township's), not the city's
    KP-002, whether by command or by a button forged from the one he was given."""
    await world.say("pan", "pan", "/status KP-008")
    prompt = await world.last_from_bot("pan")
    assert buttons(prompt)
    await world.say("pan", "pan", "/status KP-002")
    assert "KP-002" in text_of(await world.last_from_bot("pan"))
    assert not buttons(await world.last_from_bot("pan"))
    kp2 = await project_id(world, "KP-002")
    done = list(ProjectStatus).index(ProjectStatus.DONE)
    pressed = await world.press("pan", "pan", prompt["message_id"], f"ps:{kp2}:{done}",
                                forge=True)
    assert pressed["answer"]["show_alert"] is True
    async with world.db() as store:
        project = await store.get(Project, kp2)
        assert project is not None and project.status == ProjectStatus.IN_PROGRESS
    # The same button for his own project works.
    kp8 = await project_id(world, KP8)
    await world.press("pan", "pan", prompt["message_id"], f"ps:{kp8}:{done}", forge=True)
    async with world.db() as store:
        project = await store.get(Project, kp8)
        assert project is not None and project.status == ProjectStatus.DONE


async def test_a_township_handler_cannot_touch_the_district_or_the_city(world: World) -> None:
    await world.say("xu", "xu", "/done KP-007")
    assert "KP-007" in text_of(await world.last_from_bot("xu"))
    await world.say("xu", "xu", "/done KP-002")
    assert "KP-002" in text_of(await world.last_from_bot("xu"))
    async with world.db() as store:
        for code in ("KP-002", "KP-007"):
            project = await store.project_by_code(code)
            assert project is not None
            assert [m.done_on for m in await store.milestones(project.id)][1] is None


async def test_a_township_permit_climbs_to_its_district_director(world: World) -> None:
    """建设工程规划许可 at 东阳渡镇: 处务会 by the township office's head (唐主任), then
    局长办公会 by the director of the nearest unit that has one: 珠晖区's 潘局长, not the
    city's 陈局长."""
    await world.say("xu", KP8, "/submit 卫生院规划许可")
    picker = await world.last_from_bot(KP8)
    await world.press("xu", KP8, picker["message_id"], button(picker, "建设工程规划许可"))
    for answer in ("东阳渡镇人民政府", "东阳渡镇卫生路1号"):  # 建设单位, 建设地点
        asked = await world.last_from_bot(KP8)
        await world.say("xu", KP8, answer, reply_to=asked["message_id"])
    asked = await world.last_from_bot(KP8)
    await world.press("xu", KP8, asked["message_id"], button(asked, "普通"))
    card = await world.last_from_bot(KP8)
    assert "唐主任" in text_of(card), text_of(card)
    await world.press("tang", KP8, card["message_id"], button(card, "✅ 同意"))
    card = await world.ctl.message(world.cid(KP8), card["message_id"])
    text = text_of(card)
    assert "潘局长" in text and "陈局长" not in text, text


async def test_the_city_drills_down_and_a_district_cannot_climb(world: World) -> None:
    await world.say("chen", "chen", "/projects")
    shown = await world.last_from_bot("chen")
    assert text_of(shown).startswith("🏛 市城乡规划管理局 · 重点项目 8 个")
    assert set(buttons(shown)) == {"🔴1 雁城区分局 (1)", "🟡1 珠晖区分局 (1)"}
    await world.press("chen", "chen", shown["message_id"], button(shown, "🟡1 珠晖区分局 (1)"))
    now = await world.ctl.message(world.cid("chen"), shown["message_id"])
    assert text_of(now).startswith("🏛 珠晖区分局 · 重点项目 1 个")
    assert codes(text_of(now)) == [KP8]
    assert set(buttons(now)) == {"🟡1 东阳渡镇 (1)", "⬆ 市城乡规划管理局"}
    await world.press("chen", "chen", shown["message_id"], button(now, "⬆ 市城乡规划管理局"))
    back = await world.ctl.message(world.cid("chen"), shown["message_id"])
    assert text_of(back) == text_of(shown)
    # By name or code, typed.
    await world.say("chen", "chen", "/projects yancheng")
    assert codes(text_of(await world.last_from_bot("chen"))) == ["KP-007"]
    await world.say("chen", "chen", "/projects 东阳渡镇")
    assert codes(text_of(await world.last_from_bot("chen"))) == [KP8]

    # 潘局长 (珠晖区) has no ⬆ to the city, cannot name it, nor forge its button.
    await world.say("pan", "pan", "/projects")
    mine = await world.last_from_bot("pan")
    assert set(buttons(mine)) == {"🟡1 东阳渡镇 (1)"}
    await world.say("pan", "pan", "/projects yancheng")
    assert text_of(await world.last_from_bot("pan")) == "您管辖范围内没有单位“yancheng”。"
    async with world.db() as store:
        city = await store.unit_by_code_or_name("city")
        assert city is not None
    pressed = await world.press("pan", "pan", mine["message_id"], f"un:{city.id}", forge=True)
    assert pressed["answer"]["show_alert"] is True
    assert "KP-002" not in text_of(await world.ctl.message(world.cid("pan"), mine["message_id"]))
