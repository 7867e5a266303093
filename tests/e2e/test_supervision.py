"""The supervision side end to end: urge notices and their written answers, the urge counts
and their export, the calendar kept by admins, and missing materials (容缺受理)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from pathlib import Path

from openpyxl import load_workbook
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.i18n import translator
from storage.models import AuditEvent, CalendarOverride, MissingItem, Nudge, UrgeNotice
from tests.e2e.conftest import SHANGHAI, Json, World, button, buttons, submit_item, text_of

# KP-004's milestone was due Wed 11-18 17:30; its 5th working day after is Wed 11-25, so the
# urge notice is due at that close and goes out at the next office hour.
URGE_DAY = datetime(2026, 11, 26, 8, 31, tzinfo=SHANGHAI)


async def notice_in(world: World, where: str) -> Json:
    """The urge notice in a chat (other nudges may come after it)."""
    return [m for m in await world.from_bot(where) if "📮 催办通知书" in text_of(m)][-1]


async def urges(world: World) -> list[UrgeNotice]:
    async with world.db() as store:
        return await store.all(UrgeNotice, order_by=UrgeNotice.id)


async def test_an_urge_notice_goes_to_the_section_head_and_the_supervision_office(
        world: World) -> None:
    await world.sweep()  # Monday: KP-004's milestone is red, not yet urged
    assert await urges(world) == []
    world.clock.set(URGE_DAY)
    result = await world.sweep()
    assert result.urges == 1
    [urge] = await urges(world)
    assert urge.target_kind == "milestone" and urge.sent_at is not None
    head_copy = await notice_in(world, "wang")
    office_copy = await notice_in(world, "supervision")
    for notice in (head_copy, office_copy):
        text = text_of(notice)
        assert text.startswith("📮 催办通知书 · KP-004 雁城危房重建")
        assert "节点「局长办公会议题材料报送」" in text and "已超期 5 个工作日" in text
        assert "责任科室：建筑工程规划管理科（科长：王建国）" in text
        assert set(buttons(notice)) == {"✍️ 书面说明"}
    assert (await world.sweep()).urges == 0  # once only
    async with world.db() as store:
        urged = {n.person_id for n in await store.all(Nudge, level="urge")}
        wang = await store.person_by_key("wang")
        zhou = await store.person_by_key("zhou")
        assert wang is not None and zhou is not None and {wang.id, zhou.id} <= urged


async def test_the_section_head_answers_in_writing_once(world: World) -> None:
    world.clock.set(URGE_DAY)
    await world.sweep()
    notice = await notice_in(world, "wang")
    office = await notice_in(world, "supervision")
    refused = await world.press("zhou", "supervision", office["message_id"],
                                button(office, "书面说明"))
    assert refused["answer"]["text"] == "只有责任科室科长可以书面说明此催办通知书。"
    pressed = await world.press("wang", "wang", notice["message_id"], button(notice, "书面说明"))
    assert pressed["answer"]["text"] == "请回复延误原因。"
    ask_cause = await world.last_from_bot("wang")
    assert "请回复延误原因" in text_of(ask_cause)
    await world.say("wang", "wang", "议题材料涉及产权核查，用时超出预期",
                    reply_to=ask_cause["message_id"])
    ask_plan = await world.last_from_bot("wang")
    assert "请回复整改措施" in text_of(ask_plan)
    await world.say("wang", "wang", "12月1日前补齐材料并提交局长办公会",
                    reply_to=ask_plan["message_id"])
    assert text_of(await world.last_from_bot("wang")) == "📝 书面说明已记录，并已报送督查室。"
    posted = text_of(await world.last_from_bot("supervision"))
    assert posted.startswith("📝 催办通知书 #1 书面说明 · KP-004")
    assert "说明人：王建国" in posted and "延误原因：议题材料涉及产权核查，用时超出预期" in posted
    assert "整改措施：12月1日前补齐材料并提交局长办公会" in posted
    [urge] = await urges(world)
    assert (urge.cause, urge.plan) == ("议题材料涉及产权核查，用时超出预期",
                                       "12月1日前补齐材料并提交局长办公会")
    # Answered: neither copy keeps its ✍️ button, and a press on a stale one is refused.
    for where, copy in (("wang", notice), ("supervision", office)):
        shown = next(m for m in await world.from_bot(where)
                     if m["message_id"] == copy["message_id"])
        assert text_of(shown) == text_of(copy) and not buttons(shown)
    again = await world.press("wang", "wang", notice["message_id"], button(notice, "书面说明"),
                              forge=True)
    assert again["answer"]["text"].startswith("该催办通知书已由 王建国 于")
    assert again["answer"]["text"].endswith("书面说明，无需再答。")
    assert "请回复延误原因" not in text_of(await world.last_from_bot("wang"))
    async with world.db() as store:
        actions = [e.action for e in await store.all(AuditEvent, order_by=AuditEvent.id)]
    assert actions.count("urge.issued") == 1 and actions.count("urge.answered") == 1


async def test_urge_counts_for_supervisors_and_their_export(world: World, tmp_path: Path,
                                                            monkeypatch) -> None:  # type: ignore[no-untyped-def]
    world.clock.set(URGE_DAY)
    await world.sweep()
    await world.say("liuxiao", "KP-002", "/urges")
    assert text_of(await world.last_from_bot("KP-002")) == (
        "只有督查室、局长和管理员可以查看催办统计。")
    await world.say("zhou", "supervision", "/urges")
    table = text_of(await world.last_from_bot("supervision"))
    assert table.startswith("📊 2026 年催办统计")
    by_person = table.split("按人员")[1]
    assert "王建国: " in by_person
    wang_line = next(line for line in by_person.splitlines() if line.startswith("王建国"))
    assert wang_line.endswith("/ 1")  # one urge notice
    # The supervision office hears of every urge notice; it is not the one urged.
    assert "周正" not in by_person and "钱主任" not in by_person
    monkeypatch.setenv("GREENLIGHT_DATABASE_URL", world.app.settings.db_url)
    export = tmp_path / "urges.xlsx"
    result = await asyncio.to_thread(  # the command runs its own event loop
        CliRunner().invoke, cli, ["export", "urges", str(export), "--year", "2026"])
    assert result.exit_code == 0, result.output
    book = load_workbook(export)
    people = book.worksheets[0]
    rows = {row[0]: row[1:] for row in people.iter_rows(min_row=2, values_only=True)}
    assert rows["王建国"][2] == 1 and rows["王建国"][3] == sum(rows["王建国"][:3])
    assert people.cell(1, 4).value == "催办通知书 urge notices"


async def test_the_calendar_is_shown_to_all_and_changed_by_admins(world: World) -> None:
    await world.say("liuxiao", "liuxiao", "/calendar 2027")
    shown = text_of(await world.last_from_bot("liuxiao"))
    assert shown.startswith("📅 2027 年") and "尚未录入" in shown
    await world.say("liuxiao", "liuxiao", "/calendar 2027-02-06 holiday 春节")
    assert text_of(await world.last_from_bot("liuxiao")) == "只有管理员可以修改工作日历。"
    await world.say("ma", "ma", "/calendar 2027-02-06 holiday Spring Festival")
    day_off = translator("en").full_day(date(2027, 2, 6))
    assert text_of(await world.last_from_bot("ma")) == f"📅 {day_off} is now a day off."
    await world.say("ma", "ma", "/calendar 2027-02-06 holiday Spring Festival")
    assert text_of(await world.last_from_bot("ma")) == "Nothing to change."
    await world.say("ma", "ma", "/calendar 2027-13-01 holiday x")
    assert "is not a date I understand" in text_of(await world.last_from_bot("ma"))
    async with world.db() as store:
        [row] = await store.all(CalendarOverride)
    assert (row.is_workday, row.name) == (False, "Spring Festival")
    assert world.app.services.calendar.day_info(row.day).source == "override"


async def test_missing_materials_are_listed_nudged_and_ticked_off(world: World) -> None:
    await submit_item(world, "微波站迁建选址方案")
    await world.say("liuxiao", "KP-002", "/missing #1 11-25 地形图")
    by = translator("zh").full_day(date(2026, 11, 25))
    assert text_of(await world.last_from_bot("KP-002")) == (
        f"🧩 #1：容缺材料「地形图」须于 {by} 前补齐。")
    card = next(m for m in await world.from_bot("KP-002") if "一般事项审批 #1" in text_of(m))
    shown = text_of(await world.ctl.message(world.cid("KP-002"), card["message_id"]))
    assert f"🧩 容缺：地形图（{translator('zh').day(date(2026, 11, 25))}前补齐）" in shown
    await world.say("zhou", "supervision", "/missing #1 11-25 别的")
    assert "只有 KP-002 的经办人" in text_of(await world.last_from_bot("supervision"))
    await world.say("liuxiao", "KP-002", "/missing #1 2026-11-01 过期的")
    assert "无法识别日期" in text_of(await world.last_from_bot("KP-002"))
    await world.say("liuxiao", "KP-002", "/missing #1")
    listing = text_of(await world.last_from_bot("KP-002"))
    assert "🧩 #1 容缺受理" in listing and f"地形图 — {by} 前补齐" in listing
    world.clock.set(datetime(2026, 11, 25, 8, 31, tzinfo=SHANGHAI))  # due today: yellow
    await world.sweep()
    async with world.db() as store:
        pinged = {(n.person_id, n.level) for n in await store.all(Nudge, target_kind="missing")}
        liuxiao = await store.person_by_key("liuxiao")
        zheng = await store.person_by_key("zheng")
    assert liuxiao is not None and zheng is not None
    assert pinged == {(liuxiao.id, "yellow"), (zheng.id, "yellow")}
    await world.say("liuxiao", "KP-002", "/supplied #1 地形图")
    assert text_of(await world.last_from_bot("KP-002")) == "✅ #1：「地形图」已补齐。"
    shown = text_of(await world.ctl.message(world.cid("KP-002"), card["message_id"]))
    assert "✅ 地形图 已补齐" in shown and "容缺：地形图" not in shown
    await world.say("liuxiao", "KP-002", "/supplied #1 地形图")
    assert "没有登记名为「地形图」的容缺材料" in text_of(await world.last_from_bot("KP-002"))
    world.clock.set(datetime(2026, 11, 27, 8, 31, tzinfo=SHANGHAI))  # would be red: supplied
    await world.sweep()
    async with world.db() as store:
        assert {n.level for n in await store.all(Nudge, target_kind="missing")} == {"yellow"}
        [item] = await store.all(MissingItem)
        assert item.supplied_at is not None
