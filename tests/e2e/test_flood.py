"""The bot under a flood, with the emulator enforcing Telegram's limits (issue #11).

- A sweep's 1 000 nudges into 200 groups go out as fast as the bot's pace allows nudges,
  without one 429, none lost and none twice.
- Two workers pacing through one Redis together stay under the limits.
- A press waits for no bulk refresh of cards.

Time is scaled: every window (the global second, a group's minute) is shortened by the same
factor on the emulator's side and the bot's, so the flood takes seconds, not a minute.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
import yaml
from aiogram import Bot
from redis.asyncio import Redis
from sqlmodel import col, select

from bot import shared_state
from bot.domain.rules.org_file import parse_org
from bot.domain.usecases.org_import import apply_org
from bot.shared_state import RedisWindows
from bot.telegram import EDITS, NEW_MESSAGES, Lane, Pace, build_bot, lane_limit, sending_in
from sandbox.demo import demo_org
from sandbox.emulator import ControlClient, Emulator, EmulatorConfig
from storage.models import Nudge, Person
from tests.conftest import TEST_REDIS_URL
from tests.e2e.conftest import (
    START,
    DemoSnapshot,
    Json,
    World,
    build_world,
    eventually,
    tear_down,
)

# Windows are this many times shorter than Telegram's. Not more: each window of the bot's
# lasts from a request's end, and on a busy machine (two cores, tests in parallel) a shorter
# one would measure the machine, not the pace.
SCALE = 3
TELEGRAM_PER_SECOND, TELEGRAM_PER_GROUP = 30, 20  # Telegram's limits, which the emulator keeps
# The production pace, its windows shortened alike.
SCALED_PACE = Pace(second=1 / SCALE, group_window=60 / SCALE, chat_window=1 / SCALE)
GROUPS = 200
# Late milestones per group's project: one nudge each, its handler being its leader and the
# head of its section too.
MILESTONES = 5
COUNTED = {"sendMessage", "editMessageText", "editMessageReplyMarkup", "editMessageCaption",
           "sendPhoto", "sendDocument", "sendMediaGroup"}
assert {m[0].lower() + m[1:] for m in NEW_MESSAGES | EDITS} <= COUNTED


async def flooded_bureau(world: World) -> list[int]:
    """The demo bureau with 200 more projects, each with its own group and handler, whose
    milestones are all late since yesterday. Nobody has a private chat with the bot, so every
    nudge is a mention in its project's group."""
    t = world.app.services
    org = demo_org(START.date(), t.calendar)
    due = t.calendar.working_day_before(START.date(), 1)
    chats = []
    for n in range(GROUPS):
        key, code, chat_id, user_id = f"h{n}", f"FL-{n:03d}", -1009000000 - n, 900000 + n
        org["sections"].append({"code": f"fl{n}", "name": f"防汛{n}科", "head": key})
        org["people"].append({"key": key, "name": f"经办{n}", "telegram_id": user_id,
                              "section": f"fl{n}", "roles": ["leader", "handler"]})
        org["chats"].append({"telegram_id": chat_id, "kind": "project", "title": code,
                             "project": code})
        org["projects"].append({
            "code": code, "name": f"防汛项目{n}", "status": "in_progress", "leader": key,
            "section": f"fl{n}", "handlers": [key], "guides": [],
            "milestones": [{"title": f"节点{m}", "due": due} for m in range(MILESTONES)]})
        await world.ctl.create_user(user_id, f"经办{n}")
        await world.ctl.create_chat(chat_id, "supergroup", code, members=[user_id])
        chats.append(chat_id)
    async with world.db() as store:
        await apply_org(store, parse_org(yaml.safe_dump(org, allow_unicode=True), "flood.yaml"),
                        now=t.now())
        keys = [f"h{n}" for n in range(GROUPS)]
        for person in (await store.session.execute(
                select(Person).where(col(Person.key).in_(keys)))).scalars():
            person.dm_blocked = True  # they never opened a private chat: known already
        await store.commit()
    return chats


async def test_a_sweep_of_a_thousand_nudges_goes_at_the_pace_without_a_429(
        database_url: str, tmp_path: Path, demo_snapshot: DemoSnapshot) -> None:
    world, task = await build_world(database_url, tmp_path, snapshot=demo_snapshot,
                                    pace=SCALED_PACE)
    try:
        await world.ctl.set_flood_limits(per_group_per_minute=TELEGRAM_PER_GROUP,
                                         group_window_seconds=60 / SCALE,
                                         global_per_second=TELEGRAM_PER_SECOND,
                                         global_window_seconds=1 / SCALE)
        groups = set(await flooded_bureau(world))
        before = len(await world.ctl.requests())
        result = await world.sweep()
        calls = [c for c in (await world.ctl.requests())[before:] if c["method"] in COUNTED]

        # None lost, none twice: every claimed nudge sent once, each group got its five.
        async with world.db() as store:
            nudges = await store.all(Nudge)
        assert result.sent == len(nudges) >= GROUPS * MILESTONES and result.failed == 0
        assert all(n.sent_at is not None for n in nudges)
        to_groups = Counter(int(c["params"]["chat_id"]) for c in calls
                            if int(c["params"]["chat_id"]) in groups)
        assert set(to_groups.values()) == {MILESTONES} and len(to_groups) == GROUPS
        said = Counter((c["params"]["chat_id"], c["params"]["text"]) for c in calls)
        assert max(said.values()) == 1
        for chat in list(groups)[:3]:  # as the groups show them
            assert len(await world.from_bot(chat)) == MILESTONES
        refused = [c for c in calls if c["error_code"] == 429]

        # As fast as the nudges' share of the pace allows: the sweep's every message (the demo
        # bureau's own nudges too) counted between the first arriving and the last.
        arrived = sorted(c["at"] for c in calls)
        took = arrived[-1] - arrived[0]
        nudge_limit = lane_limit(SCALED_PACE.per_second, Lane.NUDGE)
        minimum = math.floor((len(calls) - 1) / nudge_limit) * SCALED_PACE.second
        telegram = math.floor((len(calls) - 1) / TELEGRAM_PER_SECOND) * SCALED_PACE.second
        print(f"\nflood: {len(calls)} messages ({GROUPS * MILESTONES} nudges into {GROUPS} "
              f"groups) in {took:.2f} s; minimum at the nudges' pace ({nudge_limit} a "
              f"{SCALED_PACE.second:g} s window) {minimum:.2f} s, ratio {took / minimum:.3f}; at "
              f"Telegram's own limit ({TELEGRAM_PER_SECOND} a window) {telegram:.2f} s, ratio "
              f"{took / telegram:.3f}; 429s: {len(refused)}")
        assert refused == []
        assert minimum * 0.99 <= took <= 1.1 * minimum
    finally:
        assert await tear_down(world, task) == []


# -- workers and lanes, on the bot's own sending path ----------------------------------------

TOKEN = "424242:FLOOD-TEST"
USER = 8001
FEW_GROUPS = [-1008000000 - n for n in range(20)]


@asynccontextmanager
async def limited_emulator(group_window: float) -> AsyncIterator[tuple[Emulator, ControlClient]]:
    """An emulator keeping Telegram's limits, its second and a group's minute shortened."""
    async with (Emulator(EmulatorConfig(port=0, bot_token=TOKEN)) as emu,
                ControlClient(emu.base_url) as control):
        await control.set_flood_limits(per_group_per_minute=TELEGRAM_PER_GROUP,
                                       group_window_seconds=group_window,
                                       global_per_second=TELEGRAM_PER_SECOND,
                                       global_window_seconds=1 / SCALE)
        await control.create_user(USER, "李副局长")
        await control.send_text(USER, USER, "/start", wait=False)
        for chat in FEW_GROUPS:
            await control.create_chat(chat, "supergroup", f"项目群{chat}", members=[USER])
        yield emu, control


@asynccontextmanager
async def worker(base_url: str, pace: Pace, redis_prefix: str | None,
                 redis_url: str = TEST_REDIS_URL) -> AsyncIterator[Bot]:
    """One worker's bot, pacing through Redis when given a prefix there."""
    async with AsyncExitStack() as stack:
        shared = None
        if redis_prefix is not None:
            redis = Redis.from_url(redis_url)
            stack.push_async_callback(redis.aclose)
            shared = RedisWindows(redis, redis_prefix)
        bot = build_bot(TOKEN, base_url, pace=pace, shared=shared)
        await stack.enter_async_context(bot.context())
        yield bot


def counted(emu: Emulator) -> list[Json]:
    return [e for e in emu.request_log if e["method"] in COUNTED]


async def test_two_workers_pacing_through_one_redis_stay_under_the_limits_together(
        redis_prefix: str) -> None:
    group_window = 1.0  # a group's minute, shortened on both sides alike
    pace = Pace(second=1 / SCALE, group_window=group_window)
    per_worker, groups = 150, FEW_GROUPS[:10]  # 30 messages a group: over its minute's 20
    async with (limited_emulator(group_window) as (emu, _),
                worker(emu.base_url, pace, redis_prefix) as one,
                worker(emu.base_url, pace, redis_prefix) as two):
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.gather(*(bot.send_message(groups[n % len(groups)], f"{name} {n}")
                               for bot, name in ((one, "甲"), (two, "乙"))
                               for n in range(per_worker)))
        took = loop.time() - started
        sent = counted(emu)
        refused = [e for e in sent if e["error_code"] == 429]
        # Each worker alone could send its 150 in six windows: together they take what the
        # shared pace allows for 300 (the groups' minutes run out in parallel meanwhile).
        minimum = math.floor((2 * per_worker - 1) / pace.per_second) * pace.second
        print(f"\ntwo workers: {len(sent)} messages in {took:.2f} s (minimum {minimum:.2f} s "
              f"at {pace.per_second} a {pace.second:g} s window together), 429s: "
              f"{len(refused)}")
        assert refused == [] and len(sent) == 2 * per_worker
        assert took >= minimum * 0.99
        redis = Redis.from_url(TEST_REDIS_URL)
        try:  # the windows live under the prefix, and expire
            keys = [k.decode() async for k in redis.scan_iter(match=f"{redis_prefix}:pace:*")]
            assert f"{redis_prefix}:pace:all" in keys
            assert all([await redis.pttl(k) > 0 for k in keys])
        finally:
            await redis.aclose()


async def test_a_press_waits_for_no_bulk_refresh_of_cards() -> None:
    await press_under_bulk_refresh(None)


async def test_a_press_on_another_worker_waits_for_no_bulk_refresh_of_cards(
        redis_prefix: str) -> None:
    await press_under_bulk_refresh(redis_prefix)


async def press_under_bulk_refresh(redis_or_not: str | None) -> None:
    """A refresh of 600 cards across 20 groups fills what bulk may of every group's minute and
    of each second; a press meanwhile (on the same worker, or on another one when the two
    pace through Redis) goes at once."""
    pace = Pace(second=1 / SCALE, group_window=60 / SCALE)
    async with AsyncExitStack() as stack:
        emu, _ = await stack.enter_async_context(limited_emulator(60 / SCALE))
        refresher = await stack.enter_async_context(worker(emu.base_url, pace, redis_or_not))
        presser = refresher if redis_or_not is None else await stack.enter_async_context(
            worker(emu.base_url, pace, redis_or_not))
        cards = {chat: (await refresher.send_message(chat, "卡片")).message_id
                 for chat in FEW_GROUPS}
        group, card = FEW_GROUPS[0], cards[FEW_GROUPS[0]]

        async def refresh(chat: int, version: int) -> None:
            with sending_in(Lane.BULK):
                await refresher.edit_message_text(f"卡片 v{version}", chat_id=chat,
                                                  message_id=cards[chat])

        bulk = [asyncio.create_task(refresh(chat, v)) for v in range(30) for chat in cards]
        loop = asyncio.get_running_loop()
        share = lane_limit(pace.per_group, Lane.BULK)

        async def filled() -> bool:  # the card and its edits: all bulk may of the minute
            return sum(1 for e in counted(emu) if int(e["params"]["chat_id"]) == group) >= share

        await eventually(filled, "the refresh to fill the group's minute")
        started = loop.time()
        await presser.edit_message_text("卡片 ✅ 已同意", chat_id=group, message_id=card)
        await presser.send_message(USER, "✅ 已同意，谢谢。")
        waited = loop.time() - started
        still = sum(not task.done() for task in bulk)
        for task in bulk:
            task.cancel()
        await asyncio.gather(*bulk, return_exceptions=True)
        refused = [e for e in counted(emu) if e["error_code"] == 429]
        where = "one worker" if redis_or_not is None else "two workers"
        print(f"\na press under a refresh of {len(bulk)} cards ({where}): waited "
              f"{waited:.3f} s with {still} edits still waiting; "
              f"429s: {len(refused)}")
        assert still > len(bulk) / 2  # the refresh was far from done
        assert waited < pace.second  # not a group's minute: within one second's window
        assert refused == []


async def test_a_redis_that_hangs_leaves_each_worker_pacing_alone(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.shared_state")

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # takes the commands, answers none

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pace = Pace(second=1 / SCALE)
    try:
        async with (limited_emulator(60 / SCALE) as (emu, _),
                    worker(emu.base_url, pace, "hung", f"redis://127.0.0.1:{port}/0") as bot):
            loop = asyncio.get_running_loop()
            took = []
            for batch in range(2):
                started = loop.time()
                await asyncio.gather(*(bot.send_message(FEW_GROUPS[n % 20], f"提醒 {batch} {n}")
                                       for n in range(30)))
                took.append(loop.time() - started)
        sent = counted(emu)
        assert len(sent) == 60 and [e for e in sent if e["error_code"]] == []
        # The first messages waited for Redis once, as long as a pace may; those after did not.
        assert shared_state.PACE_TIMEOUT <= took[0] < shared_state.PACE_TIMEOUT + 2
        assert took[1] < shared_state.PACE_TIMEOUT
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "paces alone" in warnings[0]
    finally:
        server.close()
