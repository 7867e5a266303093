"""Nudge: the sweep pings the handler and the guide yellow before the limit and red after,
in private or, when Telegram refuses (403), by a mention in the project group; once per
level and person, across restarts; a failed send is retried, a flood limit waited out."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from bot.app import create_app
from storage.models import Nudge
from tests.e2e.conftest import (
    SHANGHAI,
    World,
    build_world,
    button,
    submit_item,
    tear_down,
    text_of,
)

ITEM = "微波站迁建选址方案"
# Submitted Monday 2026-11-23 10:00 with a 3-working-day limit: due Thursday 17:30.
TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
WEDNESDAY = datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI)
THURSDAY_EVENING = datetime(2026, 11, 26, 18, 0, tzinfo=SHANGHAI)


async def submit(world: World) -> None:
    await submit_item(world, ITEM)


async def nudges(world: World) -> list[Nudge]:
    async with world.db() as store:
        return await store.all(Nudge, order_by=Nudge.id)


async def test_yellow_then_red_to_the_handler_and_the_guide_once_each(world: World) -> None:
    await submit(world)
    world.clock.set(TUESDAY)
    assert (await world.sweep()).sent == 0  # two working days left: green
    world.clock.set(WEDNESDAY)
    assert (await world.sweep()).sent == 2
    for person in ("liuxiao", "zheng"):
        text = text_of(await world.last_from_bot(person))
        assert text.startswith(f"🟡 黄灯预警：「{ITEM}」（KP-002 天台山公园）")
        assert "时限为 11月26日周四 17:30，剩余 1 个工作日" in text
        assert "等待 李副局长 或 何副局长 处理" in text
    assert (await world.sweep()).sent == 0
    world.clock.set(THURSDAY_EVENING)
    assert (await world.sweep()).sent == 2
    for person in ("liuxiao", "zheng"):
        assert text_of(await world.last_from_bot(person)).startswith("🔴 红灯超期")
    world.clock.advance(timedelta(days=1))
    assert (await world.sweep()).sent == 0
    sent = [(n.person_id, n.level, n.channel) for n in await nudges(world)]
    assert sorted(sent) == sorted([(8, "yellow", "private"), (11, "yellow", "private"),
                                   (8, "red", "private"), (11, "red", "private")])


async def test_a_decided_item_is_not_nudged(world: World) -> None:
    await submit(world)
    private = await world.last_from_bot("li")
    await world.press("li", "li", private["message_id"], button(private, "同意"))
    world.clock.set(THURSDAY_EVENING)
    assert (await world.sweep()).sent == 0
    assert await nudges(world) == []


async def test_a_guide_who_never_started_the_bot_is_mentioned_in_the_group(
        database_url: str, tmp_path: Path) -> None:
    world, task = await build_world(database_url, tmp_path,
                                    started={"li", "he", "liuxiao", "ma"})
    try:
        await submit(world)
        world.clock.set(WEDNESDAY)
        await world.sweep()
        in_group = await world.last_from_bot("KP-002")
        assert text_of(in_group).startswith("郑引导\n🟡 黄灯预警")
        assert any(e.get("url") == "tg://user?id=100011" or e.get("user", {}).get("id") == 100011
                   for e in in_group["entities"])
        world.clock.set(THURSDAY_EVENING)
        await world.sweep()
        assert text_of(await world.last_from_bot("KP-002")).startswith("郑引导\n🔴 红灯超期")
        tried = [r for r in await world.ctl.requests("sendMessage")
                 if r["params"].get("chat_id") == 100011]
        assert [r["error_code"] for r in tried] == [403]  # refused once, then straight to group
        guide = [(n.level, n.channel, (n.error or "")[:3]) for n in await nudges(world)
                 if n.person_id == 11]
        assert guide == [("yellow", "group", "403"), ("red", "group", "pri")]
    finally:
        assert await tear_down(world, task) == []


async def test_nothing_is_sent_twice_after_a_restart(world: World) -> None:
    await submit(world)
    world.clock.set(WEDNESDAY)
    assert (await world.sweep()).sent == 2
    restarted = await create_app(world.app.settings, clock=world.clock)
    try:
        assert (await restarted.jobs.sweep()).sent == 0
        world.clock.set(THURSDAY_EVENING)
        assert (await restarted.jobs.sweep()).sent == 2
    finally:
        await restarted.close()
    assert len(await nudges(world)) == 4


async def test_a_failed_send_is_retried_by_a_later_sweep_and_sent_once(world: World) -> None:
    await submit(world)
    world.clock.set(WEDNESDAY)
    await world.ctl.inject_fault("sendMessage", "500", count=2)
    result = await world.sweep()
    assert (result.sent, result.failed) == (0, 2)
    assert all(n.sent_at is None for n in await nudges(world))
    assert (await world.sweep()).sent == 0  # a fresh claim is not retaken at once
    world.clock.advance(timedelta(minutes=6))
    assert (await world.sweep()).sent == 2
    assert [n.channel for n in await nudges(world)] == ["private", "private"]
    assert (await world.sweep()).sent == 0


async def test_a_flood_limit_is_waited_out(world: World) -> None:
    await submit(world)
    world.clock.set(WEDNESDAY)
    await world.ctl.inject_fault("sendMessage", "429", count=1, retry_after=1)
    assert (await world.sweep()).sent == 2
    answered = [r["error_code"] for r in await world.ctl.requests("sendMessage")][-3:]
    assert answered == [429, None, None]


async def test_the_sweep_is_scheduled_once_with_the_configured_interval(world: World) -> None:
    from bot.app import schedule_sweep
    from bot.jobs import SWEEP_JOB_ID

    world.app.scheduler.start(paused=True)
    schedule_sweep(world.app)
    schedule_sweep(world.app)  # registering again replaces the job, never adds a second
    jobs = world.app.scheduler.get_jobs()
    assert [job.id for job in jobs] == [SWEEP_JOB_ID]
    assert jobs[0].trigger.interval == timedelta(seconds=60)
    assert jobs[0].max_instances == 1
