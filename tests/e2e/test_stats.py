"""/stats for leaders: the whole in words, then three charts; refused to others and in
project groups."""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.conftest import World, button, submit_item, text_of


async def test_a_leader_gets_the_figures_and_three_charts_in_private(world: World) -> None:
    card = await submit_item(world, "微波站迁建选址方案")
    await world.press("li", "KP-002", card["message_id"], button(card, "✅ 同意"))
    world.clock.advance(timedelta(minutes=30))
    await world.say("chen", "chen", "/stats")
    shown = await world.from_bot("chen")
    text = text_of(shown[-4])
    assert text.startswith("📊 8 个重点项目：")
    assert "当前未办结环节 " in text and "各科室" in text
    assert "按时" in text
    photos = shown[-3:]
    assert all(m.get("photo") for m in photos), photos
    assert len({m.get("media_group_id") for m in photos}) == 1
    for message in photos:
        largest = max(message["photo"], key=lambda p: p["width"] * p["height"])
        png = await world.ctl.file(largest["file_id"])
        assert png.startswith(b"\x89PNG") and len(png) > 10_000


async def test_stats_is_for_leaders_and_not_in_a_project_group(world: World) -> None:
    await world.say("liuxiao", "liuxiao", "/stats")
    assert text_of(await world.last_from_bot("liuxiao")) == (
        "只有局领导、督查室和管理员可以查看统计。")
    await world.say("li", "KP-002", "/stats")
    assert text_of(await world.last_from_bot("KP-002")) == (
        "统计数据仅供领导查看：请私聊我，或在局领导群中发送。")
    await world.say("chen", "leaders", "/stats")
    assert text_of((await world.from_bot("leaders"))[-4]).startswith("📊 8 个重点项目：")


async def test_export_sends_a_spreadsheet_privately_to_those_who_may_have_it(
        world: World) -> None:
    import io

    from openpyxl import load_workbook

    await submit_item(world, "微波站迁建选址方案")
    await world.say("chen", "chen", "/export cases")
    sent = await world.last_from_bot("chen")
    assert sent["document"]["file_name"] == "cases-2026-01-01-2026-11-23.xlsx"
    assert sent["caption"] == "共 1 行，1月1日周四 – 11月23日周一"
    book = load_workbook(io.BytesIO(await world.ctl.file(sent["document"]["file_id"])))
    rows = list(book["cases"].iter_rows(values_only=True))
    assert rows[0][:4] == ("编号", "查询码", "项目", "事项")
    assert rows[1][2:4] == ("KP-002", "微波站迁建选址方案") and len(rows) == 2
    # Not for handlers, not in a group, not for an unknown kind.
    await world.say("liuxiao", "liuxiao", "/export cases")
    assert text_of(await world.last_from_bot("liuxiao")) == (
        "只有局领导、督查室和管理员可以导出记录。")
    await world.say("chen", "leaders", "/export cases")
    assert text_of(await world.last_from_bot("leaders")) == (
        "导出文件只在私聊中发送：请私聊我发送 /export。")
    await world.say("chen", "chen", "/export everything")
    assert text_of(await world.last_from_bot("chen")).startswith("用法：/export 类别")
