"""The first-question ledger (首问负责制台账) through the chat: /ask records who asked what and
owns it; the owner hears yellow and red once each on the injected clock; it is handed over,
closed with its outcome (by ✅ or command), listed, refused to others, and exported.

The world's clock starts on Monday 2026-11-23 10:00 (Shanghai); the limit is 3 working days,
so an entry recorded then is due Thursday 11-26 at 17:30.
"""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from storage.models import Inquiry, Nudge
from tests.e2e.conftest import World, button, buttons, text_of

SH = ZoneInfo("Asia/Shanghai")
ASKED = "/ask 黄先生 13800000000：天立学校选址批复什么时候能下来？"
CLOSE = "✅ 填写办理结果并办结"
OUTCOME = "已一次性告知所需材料，并引导至窗口受理"


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


async def entries(world: World) -> list[Inquiry]:
    async with world.db() as store:
        return await store.all(Inquiry, order_by=Inquiry.id)


async def reminders(world: World) -> list[tuple[int, str]]:
    async with world.db() as store:
        keys = {p.id: p.key for p in await store.people()}
        return [(n.target_id, f"{keys[n.person_id]}:{n.level}")
                for n in await store.all(Nudge, order_by=Nudge.id) if n.target_kind == "ask"]


async def test_record_remind_hand_over_and_close(world: World) -> None:
    await world.say("liuxiao", "liuxiao", ASKED)
    card = await world.last_from_bot("liuxiao")
    text = text_of(card)
    assert text.startswith("📒 首问登记 #1")
    assert "来访人：黄先生 13800000000" in text and "天立学校选址批复" in text
    assert "首问责任人：刘晓 · 答复时限 11月26日周四 17:30" in text
    assert set(buttons(card)) == {CLOSE}
    # The due is a date-time entity: the reader's app may show it in their own zone.
    assert {"type": "date_time", "unix_time": int(at(11, 26, 17, 30).timestamp())}.items() <= \
        next(e for e in card["entities"] if e["type"] == "date_time").items()
    [entry] = await entries(world)
    assert (entry.asker, entry.closed_at) == ("黄先生 13800000000", None)

    # Nothing the day it was asked; yellow on Wednesday evening's eve of the due day, once.
    world.clock.set(at(11, 24))
    await world.sweep()
    assert await reminders(world) == []
    world.clock.set(at(11, 26, 8, 31))
    await world.sweep()
    world.clock.set(at(11, 26, 8, 40))
    await world.sweep()
    assert await reminders(world) == [(1, "liuxiao:yellow")]
    assert text_of(await world.last_from_bot("liuxiao")).startswith("🟡 首问登记 #1 即将到期")

    # Handed over to 赵敏: she is told privately, with the ✅ button, and hears the yellow.
    await world.say("liuxiao", "liuxiao", "/ask #1 to @zhao_min")
    assert text_of(await world.last_from_bot("liuxiao")) == "📒 首问登记 #1 已转交赵敏。"
    told = await world.last_from_bot("zhao")
    assert text_of(told).startswith("📒 刘晓 转交给您首问登记 #1，请跟进办结：")
    await world.sweep()
    assert await reminders(world) == [(1, "liuxiao:yellow"), (1, "zhao:yellow")]

    # Late: red to the owner and to the first person asked, once.
    world.clock.set(at(11, 27, 9))
    await world.sweep()
    await world.sweep()
    assert sorted(await reminders(world)) == [
        (1, "liuxiao:red"), (1, "liuxiao:yellow"), (1, "zhao:red"), (1, "zhao:yellow")]

    # Someone else may not close it; ✅ from the owner asks for the outcome and closes it.
    await world.say("wang", "wang", "/asks")
    mine = await world.last_from_bot("wang")
    pressed = await world.press("wang", "wang", mine["message_id"], button(told, CLOSE),
                                forge=True)
    assert pressed["answer"]["show_alert"] is True
    await world.press("zhao", "zhao", told["message_id"], button(told, CLOSE))
    asked = await world.last_from_bot("zhao")
    assert "办理结果" in text_of(asked)
    await world.say("zhao", "zhao", OUTCOME, reply_to=asked["message_id"])
    assert text_of(await world.last_from_bot("zhao")) == f"✅ 首问登记 #1 已办结：{OUTCOME}"
    [entry] = await entries(world)
    assert entry.outcome == OUTCOME and entry.next_at is None
    # A second close is refused, saying by whom; no more reminders.
    await world.say("liuxiao", "liuxiao", "/ask #1 done 再次办结")
    assert "已于" in text_of(await world.last_from_bot("liuxiao"))
    assert "赵敏" in text_of(await world.last_from_bot("liuxiao"))
    world.clock.set(at(12, 3, 9))
    await world.sweep()
    assert len(await reminders(world)) == 4


async def test_lists_are_the_owners_and_the_overseers(world: World) -> None:
    await world.say("liuxiao", "liuxiao", ASKED)
    await world.say("xu", "xu", "/ask 村民张某：卫生院新址在哪里？")
    await world.say("liuxiao", "liuxiao", "/asks")
    mine = text_of(await world.last_from_bot("liuxiao"))
    assert mine.startswith("📒 未办结的首问登记 1 条") and "#1 黄先生" in mine
    await world.say("zhao", "zhao", "/asks")
    assert text_of(await world.last_from_bot("zhao")) == "📒 您没有未办结的首问登记。"
    # The city's supervision office sees both; the township's handler may not ask for all.
    await world.say("qian", "qian", "/asks all")
    both = text_of(await world.last_from_bot("qian"))
    assert "#1 黄先生" in both and "#2 村民张某" in both
    await world.say("xu", "xu", "/asks all")
    assert "#2" not in text_of(await world.last_from_bot("xu"))
    # 许乡's entry: not the city handler's to close; out of a district handler's reach.
    await world.say("liuxiao", "liuxiao", "/ask #2 done 已答复")
    assert text_of(await world.last_from_bot("liuxiao")) == "您没有此项操作权限。"
    await world.say("gu", "gu", "/ask #2 done 已答复")
    assert text_of(await world.last_from_bot("gu")) == (
        "没有编号为 #2 的首问登记。发送 /asks 查看您的登记。")


async def test_bad_asks_are_answered_and_change_nothing(world: World) -> None:
    for bad in ("/ask", "/ask 没有冒号的问题", "/ask #1", "/ask #x done 好"):
        await world.say("liuxiao", "liuxiao", bad)
        assert text_of(await world.last_from_bot("liuxiao")).startswith("用法：/ask")
    await world.say("liuxiao", "liuxiao", "/ask 黄先生：" + "问" * 3001)
    assert "3001" in text_of(await world.last_from_bot("liuxiao"))
    await world.say("liuxiao", "liuxiao", ASKED)
    await world.say("liuxiao", "liuxiao", "/ask #1 to @nobody_here")
    assert "nobody_here" in text_of(await world.last_from_bot("liuxiao"))
    [entry] = await entries(world)
    assert entry.owner_id == entry.asked_id


async def test_the_ledger_is_exported(world: World) -> None:
    await world.say("liuxiao", "liuxiao", ASKED)
    await world.say("liuxiao", "liuxiao", "/ask #1 done 已告知")
    await world.say("chen", "chen", "/export ledger")
    sent = await world.last_from_bot("chen")
    book = load_workbook(io.BytesIO(await world.ctl.file(sent["document"]["file_id"])))
    rows = list(book["ledger"].iter_rows(values_only=True))
    assert rows[0][:5] == ("编号", "登记时间", "首问责任人", "来访人", "咨询事项")
    assert rows[1][2:6] == ("刘晓", "黄先生 13800000000", "天立学校选址批复什么时候能下来？",
                            "刘晓")
    assert rows[1][9] == "已告知"
