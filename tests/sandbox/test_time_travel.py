"""Moving the sandbox's clock: what the messages it causes are dated, where each jump lands,
a demo that starts quiet, and the jump to the next moment something happens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.sandbox.conftest import LI, LIUXIAO, TIANTAI, Running, text_of

HE = 100003

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


def instant(clock: Json) -> float:
    return datetime.fromisoformat(clock["now"]).timestamp()


async def test_messages_caused_by_a_jump_are_dated_after_it_in_order(sandbox: Running) -> None:
    await sandbox.submit_item(LIUXIAO, TIANTAI, "微波站迁建选址方案")
    await sandbox.bot_said(TIANTAI, "一般事项审批 #")
    for holder in (LI, HE):  # the A and B posts get their cards before any jump
        await sandbox.bot_said(holder, "微波站迁建选址方案")
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
            assert shown == sorted(shown), chat_id
    assert sent > 0
