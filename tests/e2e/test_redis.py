"""What several workers share: conversation state in Redis (``GREENLIGHT_REDIS_URL``, not in
the database), following the update's unit of work and surviving a restart; the sweep's turn
across processes; and the calendar, which another worker's change reaches at the next sweep."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

from aiogram.fsm.storage.base import StorageKey
from redis.asyncio import Redis
from sqlalchemy import text
from sqlmodel import select

from bot import shared_state
from bot.domain.usecases.calendar_admin import set_day
from bot.jobs import SWEEP_LOCK
from storage.db import (
    SessionFactory,
    create_engine,
    create_session_factory,
    is_sqlite,
    unit_of_work,
)
from storage.models import FsmRecord
from storage.store import Store
from tests.conftest import TEST_REDIS_URL
from tests.e2e.conftest import (
    DemoSnapshot,
    World,
    build_world,
    restart_bot,
    tear_down,
    text_of,
)
from tests.e2e.test_decisions import press, submit

KEY = StorageKey(bot_id=1, chat_id=10, user_id=20)


async def test_a_conversation_is_kept_in_redis_and_survives_a_restart(
        database_url: str, tmp_path: Path, demo_snapshot: DemoSnapshot,
        redis_prefix: str) -> None:
    world, task = await build_world(database_url, tmp_path, snapshot=demo_snapshot,
                                    redis_url=TEST_REDIS_URL, redis_prefix=redis_prefix)
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        await submit(world)
        await press(world, "li", "li", await world.last_from_bot("li"), "转交")
        await press(world, "li", "li", await world.last_from_bot("li"), "孙立")
        prompt = await world.last_from_bot("li")
        assert text_of(prompt) == "请回复转交给 孙立 的理由。"
        keys = [key.decode() async for key in redis.scan_iter(match=f"{redis_prefix}:fsm:*")]
        assert any(key.endswith(":state") for key in keys), keys
        async with world.db() as store:
            assert list((await store.session.execute(select(FsmRecord))).scalars()) == []
        task = await restart_bot(world, task)
        await world.say("li", "li", "法规审批科先行把关", reply_to=prompt["message_id"])
        assert text_of(await world.last_from_bot("li")) == "🔁 已转交。"
        assert "🔁 李副局长 转交 · 法规审批科先行把关" in text_of(await world.last_from_bot("sun"))
    finally:
        await redis.aclose()
        assert await tear_down(world, task) == []


async def test_state_set_in_a_rolled_back_transaction_never_reaches_redis(
        sessions: SessionFactory, redis_prefix: str) -> None:
    redis = Redis.from_url(TEST_REDIS_URL)
    fsm = shared_state.storage(redis, redis_prefix)
    try:
        async with sessions() as session, session.begin():
            with unit_of_work(session):
                await fsm.set_state(KEY, "asking")
                await fsm.set_data(KEY, {"case": 1})
                assert await fsm.get_state(KEY) == "asking"  # the update reads its own
                await session.execute(text("SELECT 1"))
                await session.rollback()
                await fsm.write_kept()
        assert await fsm.get_state(KEY) is None and await fsm.get_data(KEY) == {}

        async with sessions() as session:
            with unit_of_work(session):
                await session.execute(text("SELECT 1"))
                await fsm.set_state(KEY, "asking")
                await session.commit()
                await fsm.set_data(KEY, {"case": 2})  # after the commit, nothing open
                await fsm.write_kept()
        assert await fsm.get_state(KEY) == "asking"
        assert await fsm.get_data(KEY) == {"case": 2}
    finally:
        await fsm.close()


async def test_the_sweep_is_skipped_while_another_worker_sweeps(
        database_url: str, tmp_path: Path, demo_snapshot: DemoSnapshot,
        redis_prefix: str) -> None:
    world, task = await build_world(database_url, tmp_path, snapshot=demo_snapshot,
                                    redis_url=TEST_REDIS_URL, redis_prefix=redis_prefix)
    redis = Redis.from_url(TEST_REDIS_URL)
    engine = create_engine(database_url)
    try:
        assert not (await world.app.jobs.sweep()).skipped
        if is_sqlite(database_url):
            held = shared_state.RedisTurn(redis, f"{redis_prefix}:sweep")
            async with held.take() as taken:
                assert taken
                assert (await world.app.jobs.sweep()).skipped
        else:
            async with engine.connect() as other:
                await other.execute(text("SELECT pg_advisory_lock(:key)"),
                                    {"key": SWEEP_LOCK})
                assert (await world.app.jobs.sweep()).skipped
                await other.execute(text("SELECT pg_advisory_unlock(:key)"),
                                    {"key": SWEEP_LOCK})
        assert not (await world.app.jobs.sweep()).skipped
    finally:
        await engine.dispose()
        await redis.aclose()
        assert await tear_down(world, task) == []


async def test_a_calendar_change_made_by_another_worker_reaches_this_one_at_its_sweep(
        world: World) -> None:
    day = date(2026, 11, 27)  # a Friday
    assert world.app.services.calendar.is_workday(day)
    engine = create_engine(world.app.settings.db_url)  # another worker's connection
    try:
        async with create_session_factory(engine)() as session:
            await set_day(Store(session), day=day, is_workday=False, name="调休",
                          source="/calendar on another worker", now=world.clock.now())
            await session.commit()
    finally:
        await engine.dispose()
    assert world.app.services.calendar.is_workday(day)
    await world.sweep()
    assert not world.app.services.calendar.is_workday(day)


async def test_a_persons_lock_is_shared_by_workers_and_outliving_it_is_no_failure(
        redis_prefix: str) -> None:
    first, second = Redis.from_url(TEST_REDIS_URL), Redis.from_url(TEST_REDIS_URL)
    try:  # two workers' connections
        mine = shared_state.isolation(first, redis_prefix)
        theirs = shared_state.isolation(second, redis_prefix)
        order: list[str] = []

        async def handle(locks: shared_state.PersonLocks, name: str,
                         held: asyncio.Event | None = None) -> None:
            async with locks.lock(KEY):
                order.append(f"{name} in")
                if held is not None:
                    held.set()
                await asyncio.sleep(0.2)
                order.append(f"{name} out")

        held = asyncio.Event()
        one = asyncio.create_task(handle(mine, "one", held))
        await held.wait()
        await handle(theirs, "two")
        await one
        assert order == ["one in", "one out", "two in", "two out"]

        brief = shared_state.PersonLocks(first, key_builder=shared_state.key_builder(
            redis_prefix), lock_kwargs={"timeout": 0.05})
        async with brief.lock(KEY):
            await asyncio.sleep(0.2)  # the lock expires meanwhile: released without an error
    finally:
        await first.aclose()
        await second.aclose()
