"""Moving the sandbox's clock: what the messages it causes are dated, where each jump lands,
a demo that starts quiet, and the jump to the next moment something happens."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.runner import DB_FILE
from tests.sandbox.conftest import LI, LIUXIAO, TIANTAI, Running, text_of

HE = 100003
SHANGHAI = ZoneInfo("Asia/Shanghai")
NUDGE_WORDS = ("黄灯预警", "红灯超期", "仍在超期", "催办通知", "补发")

Json = dict[str, Any]


def shown_at(date: int, history: list[list[float]]) -> float:
    """A message's date as the chat page shows it (``offsetAt`` in sandbox/web/app.js)."""
    if not history:
        return float(date)
    offset = history[0][1]
    for since, value in history:
        if since <= date + 0.5:
            offset = value
    return date + (history[0][1] if date < history[0][0] else offset)


async def all_messages(sandbox: Running) -> dict[int, list[Json]]:
    info = await sandbox.get("/sandbox/info")
    chat_ids = [c["chat_id"] for c in info["chats"]]
    chat_ids += [p["telegram_id"] for p in info["people"] if p["started"]]
    return {chat_id: await sandbox.ctl.chat(chat_id) for chat_id in chat_ids}


def local_time(unix: float) -> str:
    return datetime.fromtimestamp(unix, SHANGHAI).strftime("%H:%M")


def instant(clock: Json) -> float:
    return datetime.fromisoformat(clock["now"]).timestamp()


async def test_messages_caused_by_a_jump_are_dated_after_it_in_order(sandbox: Running) -> None:
    await sandbox.submit_item(LIUXIAO, TIANTAI, "微波站迁建选址方案")
    await sandbox.bot_said(TIANTAI, "一般事项审批 #")
    for holder in (LI, HE):  # the A and B posts get their cards before any jump
        await sandbox.bot_said(holder, "微波站迁建选址方案")
    await sandbox.bot_said(LIUXIAO, "受理回执")  # and the submitter the receipt
    sent = 0
    for _ in range(7):
        before = await all_messages(sandbox)
        start = instant((await sandbox.get("/sandbox/info"))["clock"])
        moved = await sandbox.post("/sandbox/advance", {"working_days": 1})
        sent += moved["sent"]
        end, history = instant(moved["clock"]), moved["clock"]["history"]
        for chat_id, messages in (await all_messages(sandbox)).items():
            new = messages[len(before[chat_id]):]
            shown = [shown_at(m["date"], history) for m in new]
            for message, at in zip(new, shown, strict=True):
                # Caused by the jump: after its start (not a second before it), by its end.
                assert start + 60 <= at <= end + 1, (chat_id, text_of(message), start, at, end)
                # Sent at the moment it fell due, on the way: on time, not a catch-up.
                assert "补发" not in text_of(message)
                if text_of(message).startswith(("🟡", "🔴")):
                    assert local_time(at) == "17:30", text_of(message)
            assert shown == sorted(shown), chat_id
    assert sent > 0


def set_aside(sandbox: Running) -> list[tuple[str, str | None]]:
    with contextlib.closing(sqlite3.connect(sandbox.data_dir / DB_FILE)) as connection:
        rows = connection.execute("SELECT level, channel FROM nudge").fetchall()
    return [(level, channel) for level, channel in rows]


async def test_a_fresh_demo_starts_quiet_with_its_lights_on(sandbox: Running) -> None:
    said = [text_of(m) for messages in (await all_messages(sandbox)).values()
            for m in messages if m.get("from", {}).get("is_bot")]
    assert said and not [t for t in said if any(word in t for word in NUDGE_WORDS)]
    # What was already past at the start (KP-004 overdue, KP-002 due tomorrow) is on record
    # as handled, so the first sweep does not send it late.
    assert set_aside(sandbox) and all(channel == "none" for _, channel in set_aside(sandbox))
    # The demo's supervision items: one red (urged already), one yellow; the red one's past
    # nudges set aside as well.
    with contextlib.closing(sqlite3.connect(sandbox.data_dir / DB_FILE)) as connection:
        items = connection.execute("SELECT state FROM supervisionitem ORDER BY id").fetchall()
        levels = connection.execute(
            "SELECT DISTINCT level FROM nudge WHERE target_kind = 'item'").fetchall()
    assert items == [("urged",), ("assigned",)]
    assert {level for (level,) in levels} >= {"red", "office-red"}
    await sandbox.post("/sandbox/sweep")
    await sandbox.ctl.send_text(LI, LI, "/projects")
    projects = text_of(await sandbox.bot_said(LI, "KP-004 雁城危房重建"))
    assert "🔴 KP-004" in projects and "🟡 KP-002" in projects
    assert not [t for messages in (await all_messages(sandbox)).values() for m in messages
                if any(word in (t := text_of(m)) for word in NUDGE_WORDS)]


async def test_to_the_next_due_lands_on_it_and_says_what_beforehand(sandbox: Running) -> None:
    for body in ({"to": "tomorrow"}, {"to": "next_due", "hours": 1}, {"to": None}):
        assert (await sandbox.post("/sandbox/advance", body, status=400))["error"]
    seen: list[str] = []
    for _ in range(3):
        ahead = await sandbox.get("/sandbox/next")
        at = datetime.fromisoformat(ahead["at"])
        assert at > datetime.fromisoformat(ahead["clock"]["now"])
        assert ahead["text"].startswith(f"周{'一二三四五六日'[at.weekday()]} {at:%m-%d %H:%M} · ")
        assert ahead["what"] in {"yellow", "red", "urge", "repeat", "due"}
        # A project's step or milestone, or a supervision item (督查事项), by its code.
        assert (ahead["subject"].get("project") or ahead["subject"]["code"]) in ahead["text"]
        moved = await sandbox.post("/sandbox/advance", {"to": "next_due"})
        assert abs(instant(moved["clock"]) - at.timestamp()) < 5  # right on it
        assert moved["sent"] > 0 and moved["failed"] == 0
        seen.append(ahead["at"])
    assert seen == sorted(set(seen))
    # 红灯 for KP-002's milestone went out at its due, on time.
    red = await sandbox.bot_said(LI, "微波站迁建选址确定")
    assert text_of(red).startswith("🔴") and "补发" not in text_of(red)
    assert local_time(red["date"]) == "17:30"


LEADERS = -1001000000100  # 局领导群


async def test_the_leaders_read_the_weekly_digest_once_the_clock_passes_monday_morning(
        sandbox: Running) -> None:
    def digests(messages: list[Json]) -> list[Json]:
        return [m for m in messages if text_of(m).startswith("📰 每周简报")]

    await sandbox.post("/sandbox/advance", {"hours": 1})  # Monday 11-23: this week's is past
    assert digests(await sandbox.ctl.chat(LEADERS)) == []
    moved = await sandbox.post("/sandbox/advance", {"working_days": 5})  # Monday 11-30 08:30
    assert moved["clock"]["now"].startswith("2026-11-30T08:30")
    [digest] = digests(await sandbox.ctl.chat(LEADERS))
    assert text_of(digest).startswith("📰 每周简报 · 11月23日周一 – 11月29日周日")
    await sandbox.post("/sandbox/advance", {"hours": 1})
    assert len(digests(await sandbox.ctl.chat(LEADERS))) == 1
