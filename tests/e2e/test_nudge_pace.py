"""Nudges under Telegram's limits (#9, class 7): a sweep's messages to one group wait for that
group's minute only; the other groups, private chats and people using the bot meanwhile are
not held up; and not one 429 comes back, edits of cards included.

Nobody has opened a private chat with the bot here, so every nudge is a mention in its
project's group, and a group's "minute" lasts a second.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

from bot.telegram import Lane, Pace, lane_limit
from storage.models import Nudge
from tests.e2e.conftest import build_world, tear_down

WINDOW = 1.0  # seconds standing in for a group's minute
PER_GROUP = 4  # what the emulator lets through per window; the bot keeps one under


async def test_a_sweep_paces_each_group_apart_and_answers_meanwhile(
        database_url: str, tmp_path: Path) -> None:
    world, task = await build_world(database_url, tmp_path, started=set(),
                                    pace=Pace(per_group=PER_GROUP - 1, group_window=WINDOW))
    try:
        groups = {world.cid(key) for key in ("KP-001", "KP-002", "KP-003", "KP-004")}
        await world.ctl.set_flood_limits(per_group_per_minute=PER_GROUP,
                                         group_window_seconds=WINDOW)
        world.clock.advance(timedelta(days=60))  # every demo milestone is late by now
        before = len(await world.ctl.requests())
        sweep = asyncio.create_task(world.sweep())
        await asyncio.sleep(0)
        await world.say("li", "li", "/help")  # a leader uses the bot while the sweep runs
        result = await sweep
        calls = (await world.ctl.requests())[before:]

        assert [c for c in calls if c["error_code"] == 429] == []  # edits included
        to_group: dict[int, list[int]] = defaultdict(list)
        for index, call in enumerate(calls):
            chat = call["params"].get("chat_id")
            if chat is not None and int(chat) in groups:
                to_group[int(chat)].append(index)
        busy = [chat for chat, sent in to_group.items() if len(sent) >= PER_GROUP]
        assert busy, {chat: len(sent) for chat, sent in to_group.items()}  # a group waited
        # Each group's first message went out before any group's window was used up: no
        # group waited for another's minute.
        first_wait = min(to_group[chat][PER_GROUP - 1] for chat in busy)
        assert all(sent[0] < first_wait for sent in to_group.values())
        [help_answer] = [i for i, c in enumerate(calls) if c["method"] == "sendMessage"
                         and int(c["params"]["chat_id"]) == world.uid("li")
                         and "/projects" in c["params"]["text"]]
        assert help_answer < max(max(sent) for sent in to_group.values())
        async with world.db() as store:
            nudges = await store.all(Nudge)
        assert result.sent == len(nudges) > 0 and result.failed == 0
        assert all(n.sent_at is not None for n in nudges)
        # The sweep took about what the busiest group's windows allow nudges (their share of
        # the group's minute), not the sum over groups (the emulator stamps each call with the
        # time it arrived, and logs it when answered: the bot's long poll, begun early and
        # answered last, says nothing of the sweep).
        share = lane_limit(PER_GROUP - 1, Lane.NUDGE)
        windows = max(math.ceil(len(sent) / share) for sent in to_group.values()) - 1
        arrived = [calls[i]["at"] for sent in to_group.values() for i in sent]
        took = max(arrived) - min(arrived)
        assert windows * WINDOW <= took + 0.05
        assert took <= 1.5 * windows * WINDOW + 1, (took, windows)
    finally:
        assert await tear_down(world, task) == []
