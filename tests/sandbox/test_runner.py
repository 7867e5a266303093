"""Sandboxes of their own: time travel with nudges, restarts and a fresh start, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
from pathlib import Path

import aiohttp

from sandbox.demo import DEMO_USERS
from sandbox.runner import CLOCK_FILE, DB_FILE
from tests.sandbox.conftest import (
    KANGLE,
    LIN,
    LIUXIAO,
    TIANTAI,
    ZHENG,
    Running,
    eventually,
    sandbox_running,
    stop,
    text_of,
)


def count_rows(db: Path, table: str) -> int:
    with contextlib.closing(sqlite3.connect(db)) as connection:
        return int(connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])


async def test_the_clock_moves_forward_only_when_asked(sandbox: Running) -> None:
    for body in ({"hours": -1}, {"hours": 0}, {"working_days": 1.5}, {"hours": "x"},
                 {"hours": 1, "working_days": 1}, {}):
        refused = await sandbox.post("/sandbox/advance", body, status=400)
        assert refused["error"]
    info = await sandbox.get("/sandbox/info")
    assert info["clock"]["offset_seconds"] == 0  # refusals moved nothing
    moved = await sandbox.post("/sandbox/advance", {"hours": 1})
    assert abs(moved["clock"]["offset_seconds"] - 3600) < 1 and moved["sent"] == 0
    assert moved["clock"]["offset_text"] == "+1小时"
    assert '"offset_seconds": 3600' in (sandbox.data_dir / CLOCK_FILE).read_text()
    await submissions_turn_yellow_then_red(sandbox)


def step_nudges(sandbox: Running) -> list[tuple[str, str]]:
    """(person key, level) of the nudges about case steps (the demo's milestones aside)."""
    with contextlib.closing(sqlite3.connect(sandbox.data_dir / DB_FILE)) as connection:
        rows = connection.execute(
            "SELECT person.key, nudge.level FROM nudge JOIN person ON person.id = nudge.person_id"
            " WHERE nudge.target_kind = 'step' ORDER BY nudge.id").fetchall()
    return [(key, level) for key, level in rows]


async def submissions_turn_yellow_then_red(sandbox: Running) -> None:
    await sandbox.submit_item(LIUXIAO, TIANTAI, "微波站迁建选址方案")
    await sandbox.submit_item(LIUXIAO, KANGLE, "设计方案初稿")
    await sandbox.bot_said(TIANTAI, "一般事项审批 #")
    await sandbox.bot_said(KANGLE, "一般事项审批 #")

    async def step_until(level: str) -> list[tuple[str, str]]:
        for _ in range(8):  # limit: 3 working days; yellow 1 day before; whatever today is
            before = await sandbox.get("/sandbox/info")
            moved = await sandbox.post("/sandbox/advance", {"working_days": 1})
            assert moved["clock"]["workday"] is True
            assert moved["clock"]["offset_seconds"] > before["clock"]["offset_seconds"]
            assert moved["clock"]["text"].endswith(" 08:30")  # the office opens
            assert moved["clock"]["office_time"] is True
            assert moved["clock"]["text"][:10] > before["clock"]["text"][:10]
            assert moved["failed"] == 0
            reached = [n for n in step_nudges(sandbox) if n[1] == level]
            if reached:
                return reached
        raise AssertionError(f"no {level} nudge after 8 working days")

    # Both cases: 刘晓 twice, each project's guide, and 李 and 何 (the A and B posts) twice.
    yellow = await step_until("yellow")
    assert sorted(yellow) == [("he", "yellow"), ("he", "yellow"), ("li", "yellow"),
                              ("li", "yellow"), ("lin", "yellow"), ("liuxiao", "yellow"),
                              ("liuxiao", "yellow"), ("zheng", "yellow")]
    assert text_of(await sandbox.bot_said(LIUXIAO, "微波站迁建选址方案")).startswith("🟡 黄灯预警")
    assert text_of(await sandbox.bot_said(ZHENG, "微波站迁建选址方案")).startswith("🟡 黄灯预警")
    mention = await sandbox.bot_said(KANGLE, "黄灯预警")
    assert text_of(mention).startswith("林引导\n🟡 黄灯预警")  # 林引导 never started the bot
    overview = await sandbox.get(f"/sandbox/overview?user_id={LIN}")
    assert [(e["method"], e["chat_id"], e["error_code"]) for e in overview["api_errors"]] == [
        ("sendMessage", LIN, 403)]  # the refused private message the sandbox shows

    await sandbox.post("/sandbox/sweep")
    assert len(step_nudges(sandbox)) == 8  # each level goes to a person once

    # To the handler, the leader in charge, the section head and both posts (李 leads
    # 天台山公园 and is the B post of 康乐公园, 何 the other way round: once each per case).
    red = await step_until("red")
    assert sorted(red) == [("he", "red"), ("he", "red"), ("li", "red"), ("li", "red"),
                           ("liuxiao", "red"), ("liuxiao", "red"), ("zhao", "red"),
                           ("zhao", "red")]
    assert text_of(await sandbox.bot_said(LIUXIAO, "设计方案初稿")).startswith("🔴 红灯超期")


async def test_restart_keeps_data_and_time_fresh_starts_empty(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    db = data_dir / DB_FILE
    async with sandbox_running(data_dir) as first:
        await first.ctl.send_text(LIUXIAO, TIANTAI, "/report 第一次汇报")
        await first.bot_said(TIANTAI, "第一次汇报")
        await first.post("/sandbox/advance", {"hours": 2})
    assert count_rows(db, "report") == 1

    async with sandbox_running(data_dir) as second:
        info = await second.get("/sandbox/info")
        assert info["clock"]["offset_seconds"] >= 7200 - 1  # time never goes back
        await second.bot_said(LIUXIAO, "刘晓，您好")  # the emulator is new, the bot is not
    assert count_rows(db, "report") == 1

    async with sandbox_running(data_dir, fresh=True) as third:
        info = await third.get("/sandbox/info")
        assert info["clock"]["offset_seconds"] == 0
        assert count_rows(db, "report") == 0
        assert count_rows(db, "person") == len([u for u in DEMO_USERS.values() if u.staff])


async def test_cancelling_shuts_everything_down(tmp_path: Path) -> None:
    before = asyncio.all_tasks()
    async with sandbox_running(tmp_path / "data") as running:
        await running.ctl.send_text(LIUXIAO, TIANTAI, "/report 关机前最后一条")
        await running.bot_said(TIANTAI, "关机前最后一条")
        task, port = running.task, running.port
        stopped = await stop_running(running)
    assert task.done() and task.cancelled() and stopped

    async def settled() -> bool:
        return not [t for t in asyncio.all_tasks() - before if not t.done()]

    await eventually(settled, "every task the sandbox started to finish", patience=5)
    with socket.socket() as probe:  # the port is free again
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
    async with aiohttp.ClientSession() as http:
        try:
            async with http.get(f"http://127.0.0.1:{port}/sandbox/info") as response:
                raise AssertionError(f"still answering: {response.status}")
        except aiohttp.ClientConnectionError:
            pass


async def stop_running(running: Running) -> bool:
    """Stop the sandbox from inside the ``sandbox_running`` block (its exit then finds it
    stopped)."""
    await stop(running.task)
    return running.task.done()
