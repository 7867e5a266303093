"""A busy group slows only its own messages (#9, class 6).

The bot paces itself to a group's limit, and that wait (like every call to Telegram and every
retry) happens with no transaction open: on SQLite an open write transaction locks the whole
database, so a report waiting for its group's minute used to keep every other update waiting
too. Here the group's "minute" is two seconds, so a burst of reports outruns it at once.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot.telegram import Pace
from storage.models import Report
from tests.e2e.conftest import DemoSnapshot, build_world, eventually, tear_down, text_of

WINDOW = 2.0  # seconds standing in for a group's minute
BURST = 25  # more than a group's 20 a minute
HELP = "/help"


async def test_a_burst_of_reports_waits_for_its_group_and_nobody_else(
        database_url: str, tmp_path: Path, demo_snapshot: DemoSnapshot,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    world, task = await build_world(database_url, tmp_path, snapshot=demo_snapshot,
                                    handle_as_tasks=True, pace=Pace(group_window=WINDOW))
    try:
        await world.ctl.set_flood_limits(per_group_per_minute=20, group_window_seconds=WINDOW)
        group, li = world.cid("KP-002"), world.uid("li")
        await asyncio.gather(*(
            world.ctl.send_text(world.uid("liuxiao"), group, f"/report 第{n}次现场踏勘",
                                wait=False) for n in range(1, BURST + 1)))
        await world.ctl.send_text(li, li, HELP, wait=False)

        async def all_carded() -> bool:
            cards = [m for m in await world.from_bot("KP-002") if "进展汇报" in text_of(m)]
            return len(cards) >= BURST

        await eventually(all_carded, f"{BURST} report cards")
        sent = await world.ctl.requests("sendMessage")
        to_group = [i for i, r in enumerate(sent) if int(r["params"]["chat_id"]) == group]
        [help_answer] = [i for i, r in enumerate(sent) if int(r["params"]["chat_id"]) == li]
        # The leader's /help went out while the group's last reports still waited for its
        # window: the 20th message of the group cannot go before the window has passed.
        assert help_answer < to_group[19]
        assert [r for r in await world.ctl.requests() if not r["ok"]] == []  # not one 429
        async with world.db() as store:
            reports = await store.all(Report)
        assert sorted(r.text for r in reports) == sorted(
            f"第{n}次现场踏勘" for n in range(1, BURST + 1))
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    finally:
        assert await tear_down(world, task) == []
