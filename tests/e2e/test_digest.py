"""The weekly digest in the leaders' group: once per week, from Monday 08:30 (a holiday moves
it to the next working day: see tests/domain/test_digest.py), with what finished, what turned
red and who is late, then the /stats charts; a failed send is tried again at the next run."""

from __future__ import annotations

from datetime import datetime

from storage.models import WeeklyDigest
from tests.e2e.conftest import SHANGHAI, World, button, submit_item, text_of

MONDAY = datetime(2026, 11, 30, 8, 30, tzinfo=SHANGHAI)


async def a_week_of_work(world: World) -> None:
    """Monday 11-23: one item approved at once, another left with nobody deciding (due
    Thursday 11-26 17:30, late by the next Monday)."""
    approved = await submit_item(world, "微波站迁建选址方案")
    await world.press("li", "KP-002", approved["message_id"], button(approved, "✅ 同意"))
    await submit_item(world, "公园总体方案送审稿")


async def test_monday_morning_the_leaders_read_the_week_once(world: World) -> None:
    await a_week_of_work(world)
    world.clock.set(MONDAY.replace(minute=29))
    assert await world.app.jobs.weekly_digest() is False  # not yet
    before = len(await world.from_bot("leaders"))
    world.clock.set(MONDAY)
    assert await world.app.jobs.weekly_digest() is True
    new = (await world.from_bot("leaders"))[before:]
    assert len(new) == 4 and all(m.get("photo") for m in new[1:])
    text = text_of(new[0])
    assert text.startswith("📰 每周简报 · 11月23日周一 – 11月29日周日\n")
    assert "✅ 本周办结（1）\n• KP-002 微波站迁建选址方案\n" in text
    assert "🔴 本周转红（" in text and "KP-002 公园总体方案送审稿 · 分管领导审批" in text
    assert "⏰ 目前超期（1）\n• KP-002 公园总体方案送审稿 · 分管领导审批：已超期 " in text
    assert "等待 " in text and "李副局长" in text
    # Later that day, and on Wednesday: that week's digest is out already.
    world.clock.set(MONDAY.replace(hour=15))
    assert await world.app.jobs.weekly_digest() is False
    world.clock.set(MONDAY.replace(month=12, day=2))  # Wednesday
    assert await world.app.jobs.weekly_digest() is False
    assert len(await world.from_bot("leaders")) == before + 4
    async with world.db() as store:
        [digest] = await store.all(WeeklyDigest)
    assert digest.week == "2026-W49" and digest.sent_at is not None


async def test_a_digest_telegram_refused_goes_out_at_the_next_run(world: World) -> None:
    world.clock.set(MONDAY)
    # Every try of the bot's retry policy (5) fails.
    await world.ctl.inject_fault("sendMessage", "500", count=5, chat_id=world.cid("leaders"))
    assert await world.app.jobs.weekly_digest() is False
    async with world.db() as store:
        assert await store.all(WeeklyDigest) == []  # the claim given back
    world.clock.set(MONDAY.replace(month=12, day=1))  # Tuesday's run
    assert await world.app.jobs.weekly_digest() is True
    assert text_of((await world.from_bot("leaders"))[-4]).startswith("📰 每周简报")
