"""Through the real stack: the Bot API emulator and the bot polling it, in one process.

Uses the end-to-end tests' world (``tests/e2e/conftest.build_world`` / ``tear_down``): a
fresh emulator on a free port, the demo bureau imported, everyone's private chat started,
the bot polling with ``handle_as_tasks=False``. A control call with ``wait`` returns once
the emulator has seen the bot confirm the update, i.e. its next ``getUpdates`` after the
handler finished; so every latency below is "user acts → the bot is done with it"
(every reply, card and edit already made), an upper bound by one ``getUpdates`` round trip.

The bot's own ``FloodControl`` (25 messages/s overall, 19 a minute per group, under what
Telegram allows) is lifted while measuring, so the figures show the bot's processing, not
the pacing it adds on purpose; with it, one group gets at most 19 new messages a minute.

Run: ``python -m bench.e2e [--quick] [--json [PATH]] [--db ...]``
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench._common import (
    Report,
    StatementCounter,
    Target,
    add_db_option,
    brief,
    database_kinds,
    fresh_database,
    parser,
    run_main,
)
from bot.app import App
from bot.telegram import FloodControl, Pace, SlidingWindow
from storage.models import Report as ReportRow
from tests.e2e.conftest import (
    World,
    build_world,
    button,
    buttons,
    tear_down,
    text_of,
)

# Targets -----------------------------------------------------------------------------------
REPORT = Target(250e-3, "s", "the bot's own share of /report → card; real Telegram adds ~2"
                " round trips and the card should still show within a second", stat="p95")
SUBMIT = Target(500e-3, "s", "/submit, the kind picked (2 updates) → group card + 2 private"
                " cards: shown within a second over real Telegram", stat="p95")
PRESS = Target(25e-3, "s", "press → answer + 3 card edits + the handler told (5 API calls):"
               " the button's spinner should stop at once; with the emulator local, what is"
               " left is the bot's own work, and at 25 ms a decider tapping through /pending"
               " never waits on the bot nor holds SQLite's write lock long", stat="p95")
STATEMENTS = Target(15, "", "SQL statements per Approve press on a group card: a press reads the"
                    " step, its assignments and the case's cards, writes the decision and the"
                    " audit row, and updates the cards; ~15 batched statements cover that, and"
                    " each one costs the bot ~0.3–0.5 ms of CPU through the async ORM")
THROUGHPUT = Target(30.0, "/s", "Telegram lets a bot send ~30 messages/s; the bot should handle"
                    " updates at least as fast as it may answer them", higher_is_better=True)

# Who reports where: each demo project's group and one of its handlers.
REPORTERS = (("KP-001", "zhangfan"), ("KP-002", "liuxiao"), ("KP-003", "liuxiao"),
             ("KP-004", "zhangfan"), ("KP-005", "wujing"), ("KP-006", "zhangfan"))
KIND = "一般事项审批"  # the packaged "item" case type: one or-sign step, A post or B post
# Where items are submitted: project, handler, A post (leader), B post.
APPROVALS = (("KP-002", "liuxiao", "li", "he"), ("KP-003", "liuxiao", "he", "li"),
             ("KP-004", "wujing", "li", "he"))


def flood_control(app: App) -> FloodControl:
    manager = app.bot.session.middleware
    for index in range(len(manager)):
        middleware = manager[index]
        if isinstance(middleware, FloodControl):
            return middleware
    raise LookupError("the bot has no FloodControl middleware")


def lift(flood: FloodControl) -> None:
    flood.overall = SlidingWindow(10**9, 1)
    flood.pace = Pace(per_second=10**9, per_group=10**9, per_chat=10**9)
    flood.chats.clear()


async def report_latency(kind: str, world: World, report: Report, iterations: int) -> None:
    report.section(f"/report in a project group → card ({iterations} reports over"
                   f" {len(REPORTERS)} groups)")
    samples, wrong = [], 0
    for i in range(iterations):
        where, who = REPORTERS[i % len(REPORTERS)]
        started = time.perf_counter()
        sent = await world.say(who, where, f"/report 基准测试进展 {i}：现场踏勘完成")
        samples.append(time.perf_counter() - started)
        card = await world.last_from_bot(where)
        replied = (card.get("reply_to_message") or {}).get("message_id")
        if replied != sent["message"]["message_id"] or f"基准测试进展 {i}" not in text_of(card):
            wrong += 1
    if wrong:
        report.alert(f"{wrong} of {iterations} reports got no card in reply")
    report.timing(f"{kind}.report", "/report → card visible", samples, target=REPORT)


async def submit(world: World, who: str, where: str, title: str) -> float:
    """What ``tests/e2e/conftest.submit_item`` does (``/submit``, pick the kind, answer
    "ordinary" if asked about the green channel), timing only the user's actions."""
    started = time.perf_counter()
    await world.say(who, where, f"/submit {title}")
    seconds = time.perf_counter() - started
    picker = await world.last_from_bot(where)
    started = time.perf_counter()
    await world.press(who, where, picker["message_id"], button(picker, KIND))
    seconds += time.perf_counter() - started
    asked = await world.last_from_bot(where)
    if "绿色通道" in text_of(asked) and buttons(asked):
        started = time.perf_counter()
        await world.press(who, where, asked["message_id"], button(asked, "普通"))
        seconds += time.perf_counter() - started
    return seconds


async def approval_latency(kind: str, world: World, report: Report, iterations: int) -> None:
    report.section(f"/submit and pick the kind, then a press on the group or a private card"
                   f" ({iterations} items)")
    submits, presses, wrong = [], [], 0
    counted: list[StatementCounter] = []
    for i in range(iterations):
        where, handler, a_post, b_post = APPROVALS[i % len(APPROVALS)]
        submits.append(await submit(world, handler, where, f"基准测试事项 {i}"))
        group_card = await world.last_from_bot(where)
        presser = a_post if i % 2 == 0 else b_post
        in_private = i % 4 >= 2
        card = await world.last_from_bot(presser) if in_private else group_card
        chat = presser if in_private else where
        data = button(card, "✅ 同意")
        with StatementCounter(world.app.engine) as counter:
            started = time.perf_counter()
            pressed = await world.press(presser, chat, card["message_id"], data)
            presses.append(time.perf_counter() - started)
        if not in_private:
            counted.append(counter)
        answer = (pressed.get("answer") or {}).get("text") or ""
        shown = await world.ctl.message(world.cid(where), group_card["message_id"])
        privates = [await world.last_from_bot(p) for p in (a_post, b_post)]
        if not answer or buttons(shown) or any(buttons(m) for m in privates):
            wrong += 1
    if wrong:
        report.alert(f"{wrong} of {iterations} presses left a card with buttons or got no answer")
    report.timing(f"{kind}.submit", "/submit + kind picked → group + private cards", submits,
                  target=SUBMIT)
    report.timing(f"{kind}.press", "press → answer + every card edited", presses, target=PRESS)
    if counted:
        statements_per_press(kind, report, counted)


def statements_per_press(kind: str, report: Report, counted: list[StatementCounter]) -> None:
    """SQL per Approve press on a group card: the counts (the same for every press, unless
    the cards differ), then one press's statements grouped, most repeated first."""
    report.section(f"SQL per Approve press on a group card ({len(counted)} presses)")
    most = max(counted, key=lambda c: c.statements)
    report.value(f"{kind}.press_statements", "SQL statements per press (most)", most.statements,
                 "", target=STATEMENTS,
                 detail=f"fewest {min(c.statements for c in counted)}; BEGIN not counted")
    report.value(f"{kind}.press_transactions", "transactions per press (most)",
                 max(c.begins for c in counted), "",
                 detail=f"{most.commits} commits, {most.rollbacks} rollbacks in the largest")
    report.note("the largest press's statements, identical ones grouped:")
    for times, sql in most.top(25):
        report.note(f"  {times:3d} × {brief(sql)[:200]}")
    report.data.setdefault("press_sql", {})[kind] = most.sequence


async def throughput(kind: str, world: World, report: Report, burst: int) -> None:
    report.section(f"a burst of {burst} /report updates across {len(REPORTERS)} groups, queued"
                   " at once (no waiting), the last one awaited")
    async with world.db() as store:
        before = int((await store.session.execute(
            select(func.count()).select_from(ReportRow))).scalar_one())
    started = time.perf_counter()
    for i in range(burst):
        where, who = REPORTERS[i % len(REPORTERS)]
        last = i == burst - 1
        await world.ctl.send_text(world.uid(who), world.cid(where), f"/report 批量汇报 {i}",
                                  wait=last, timeout=120.0)
    elapsed = time.perf_counter() - started
    async with world.db() as store:
        after = int((await store.session.execute(
            select(func.count()).select_from(ReportRow))).scalar_one())
    if after - before != burst:
        report.alert(f"the burst filed {after - before} reports, not {burst}")
    report.value(f"{kind}.updates_per_second", "updates handled per second", burst / elapsed, "/s",
                 target=THROUGHPUT, detail=f"{burst} in {elapsed:.2f} s, one card each")


async def measure(kind: str, report: Report, workdir: Path, *, reports: int, approvals: int,
                  burst: int) -> None:
    url = await fresh_database(kind, workdir, "e2e")
    started = time.perf_counter()
    world, task = await build_world(url, workdir)
    report.note(f"[{kind}] world built in {time.perf_counter() - started:.2f} s"
                " (emulator, migrations, demo bureau, 15 × /start)")
    try:
        lift(flood_control(world.app))
        await report_latency(kind, world, report, reports)
        await approval_latency(kind, world, report, approvals)
        await throughput(kind, world, report, burst)
    finally:
        violations = await tear_down(world, task)
    if violations:
        report.alert(f"{len(violations)} Bot API spec violations, e.g. {violations[0]}")
    report.data.setdefault("violations", {})[kind] = len(violations)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser("e2e", "latency and throughput through the emulator and the polling bot")
    add_db_option(p)
    p.add_argument("--iterations", type=int, default=None,
                   help="reports and approvals timed (default 50, quick 20)")
    p.add_argument("--burst", type=int, default=None, help="updates in the throughput burst")
    args = p.parse_args(argv)
    iterations = args.iterations or (20 if args.quick else 50)
    burst = args.burst or (60 if args.quick else 200)
    report = Report("e2e", "emulator + polling bot: latency and throughput", quick=args.quick)
    kinds = database_kinds(args.db)
    report.data["databases"] = kinds
    logging.getLogger("aiogram").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="greenlight-bench-") as tmp:
        for kind in kinds:
            if len(kinds) > 1:
                report.section(f"database: {kind}")
            workdir = Path(tmp) / kind
            workdir.mkdir()
            asyncio.run(measure(kind, report, workdir, reports=iterations,
                                approvals=iterations, burst=burst))
    return report.finish(args.json)


if __name__ == "__main__":
    run_main(main)
