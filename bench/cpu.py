"""The bot's own CPU per ``/report`` update, against a floor: a bare aiogram bot.

The Bot API emulator and the driver (the control client that acts as the users) run in a
child process; this process runs only the bot under test, so its CPU time
(``time.process_time``: every thread, aiosqlite's included) over a batch of updates is the
bot's own: parsing the update, middlewares, database, rendering, HTTP to the emulator.

Two bots handle the same ``/report <text>`` messages from the same handlers in the same six
project groups, one after the other, against the same emulator:

* **Greenlight**, built as the end-to-end tests build it (demo bureau, SQLite or
  PostgreSQL), ``FloodControl`` lifted as in ``bench.e2e``;
* **the floor**: a ``Dispatcher`` with one ``Router`` whose handler answers ``/report`` with
  ``message.reply`` of a similar card text; no database, no middleware.

Both poll with ``handle_as_tasks=False`` and warm up on a few updates before the timed
batch. Wall-clock latency per update (user sends → the bot confirmed it, as in ``bench.e2e``)
is measured by the driver. ``--profile`` then runs one more batch of Greenlight under
cProfile (on the thread's CPU clock) and prints where its CPU goes.

Run: ``python -m bench.cpu [--quick] [--json [PATH]] [--db ...] [--updates N] [--profile]``
"""

from __future__ import annotations

import asyncio
import cProfile
import html
import logging
import multiprocessing
import pstats
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

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
from bench.e2e import REPORTERS, flood_control, lift
from bot.app import App, create_app
from bot.config import load_settings
from bot.domain.rules.clock import ManualClock
from sandbox.demo import DEMO_CHATS, DEMO_USERS
from sandbox.emulator.client import ControlClient
from tests.e2e.conftest import RETRY, START, TOKEN, demo_bureau, start_polling

# Targets -----------------------------------------------------------------------------------
REPORT_CPU = Target(4e-3, "s", "the bot's own CPU per /report: at 4 ms one core handles 250"
                    " updates/s, ~8× the ~30 messages/s Telegram lets a bot send, so a busy"
                    " bureau never queues on the bot; the floor (a bare aiogram bot that only"
                    " replies) costs ~2.5–3 ms here, so 4 ms leaves ~1–1.5 ms for the database"
                    " and the card", stat="mean")

Json = dict[str, Any]
Sends = list[tuple[int, int, str]]


# --------------------------------------------------------------------------- the child


def _child(conn: Connection) -> None:
    """The emulator and the driver, in a process of their own."""
    asyncio.run(_serve(conn))


async def _serve(conn: Connection) -> None:
    from sandbox.emulator.config import EmulatorConfig
    from sandbox.emulator.server import Emulator

    logging.getLogger("aiohttp").setLevel(logging.WARNING)
    emu = Emulator(EmulatorConfig(port=0, bot_token=TOKEN, strict=True))
    await emu.start()
    ctl = ControlClient(emu.base_url)
    loop = asyncio.get_running_loop()
    conn.send(emu.base_url)
    try:
        while True:
            command, argument = await loop.run_in_executor(None, conn.recv)
            if command == "send":
                conn.send(await _drive(ctl, argument))
            elif command == "violations":
                conn.send(list(await ctl.violations()))
            else:
                break
    finally:
        await ctl.close()
        await emu.stop()


async def _drive(ctl: ControlClient, sends: Sends) -> tuple[list[float], int]:
    """Each message in turn, waiting until the bot confirmed it; latencies, and how many got
    no reply from the bot in reply to them."""
    latencies, unanswered = [], 0
    for user, chat, text in sends:
        started = time.perf_counter()
        sent = await ctl.send_text(user, chat, text)
        latencies.append(time.perf_counter() - started)
        shown = [m for m in await ctl.chat(chat) if m.get("from", {}).get("is_bot")]
        replied = (shown[-1].get("reply_to_message") or {}).get("message_id") if shown else None
        if replied != sent["message"]["message_id"]:
            unanswered += 1
    return latencies, unanswered


class Driver:
    """This process's end of the child: asks it to act, waits without spending CPU."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child_end = context.Pipe()
        self.process = context.Process(target=_child, args=(child_end,), daemon=True)
        self.process.start()
        self.base_url: str = self.conn.recv()

    async def ask(self, command: str, argument: Any = None) -> Any:
        self.conn.send((command, argument))
        return await asyncio.get_running_loop().run_in_executor(None, self.conn.recv)

    def close(self) -> None:
        self.conn.send(("stop", None))
        self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()


# --------------------------------------------------------------------------- the bots


async def greenlight(url: str, workdir: Path, base_url: str) -> tuple[App, asyncio.Task[None]]:
    """The end-to-end tests' world, the emulator elsewhere: demo bureau, everyone started."""
    clock = ManualClock(START)
    config = load_settings(bot_token=TOKEN, api_base_url=base_url, database_url=url,
                           data_dir=workdir)
    app = await create_app(config, clock=clock, retry=RETRY)
    async with ControlClient(base_url) as ctl:
        await demo_bureau(app, ctl)
        task = await start_polling(app)
        for user in DEMO_USERS.values():
            await ctl.send_text(user.telegram_id, user.telegram_id, "/start")
    lift(flood_control(app))
    return app, task


def floor_dispatcher() -> Dispatcher:
    """The least a bot can do for ``/report``: reply with a card-sized text."""
    router = Router(name="floor")

    @router.message(Command("report"))
    async def report(message: Message, command: CommandObject) -> None:
        assert message.from_user is not None
        await message.reply(
            f"📝 <b>{html.escape(message.chat.title or '')}</b> 进展汇报\n"
            f"{html.escape(command.args or '')}\n"
            f"🟢 当前节点：方案设计 · 剩余 5 个工作日\n"
            f"— {html.escape(message.from_user.full_name)} · 11月23日周一 10:00")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher


async def run_floor(base_url: str) -> tuple[Bot, Dispatcher, asyncio.Task[None]]:
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)),
              default=DefaultBotProperties(parse_mode="HTML"))
    dispatcher = floor_dispatcher()
    polling = asyncio.Event()

    async def started() -> None:
        polling.set()

    dispatcher.startup.register(started)
    task = asyncio.create_task(dispatcher.start_polling(
        bot, handle_as_tasks=False, polling_timeout=10, handle_signals=False,
        close_bot_session=True))
    await asyncio.wait_for(polling.wait(), 10)
    return bot, dispatcher, task


async def stop(dispatcher: Dispatcher, task: asyncio.Task[None]) -> None:
    await dispatcher.stop_polling()
    await asyncio.wait_for(task, 10)


# --------------------------------------------------------------------------- measuring


def reports(count: int, label: str) -> Sends:
    sends = []
    for i in range(count):
        where, who = REPORTERS[i % len(REPORTERS)]
        sends.append((DEMO_USERS[who].telegram_id, DEMO_CHATS[where].chat_id,
                      f"/report {label} {i}：现场踏勘完成，方案已报规划科审查"))
    return sends


async def cpu_of(driver: Driver, sends: Sends) -> tuple[float, list[float], int]:
    """This process's CPU seconds while the driver sends, the latencies, the unanswered."""
    before = time.process_time()
    latencies, unanswered = await driver.ask("send", sends)
    return time.process_time() - before, latencies, unanswered


async def measure_one(name: str, label: str, driver: Driver, report: Report, key: str,
                      updates: int, warmup: int) -> float:
    await driver.ask("send", reports(warmup, f"{name} 预热"))
    cpu, latencies, unanswered = await cpu_of(driver, reports(updates, f"{name} 基准测试"))
    if unanswered:
        report.alert(f"{name}: {unanswered} of {updates} reports got no reply")
    per_update = cpu / updates
    target = REPORT_CPU if key.endswith("greenlight_cpu") else None
    report.value(key, f"{label}: bot CPU per update", per_update, "s", target=target,
                 detail=f"{cpu * 1e3:.0f} ms for {updates}")
    report.timing(key.replace("_cpu", "_wall"), f"{label}: /report → reply (wall)", latencies)
    return per_update


async def statements_per_report(app: App, driver: Driver, report: Report, kind: str,
                                 count: int = 12) -> None:
    """SQL statements and transactions per /report (a separate batch: counting costs CPU)."""
    with StatementCounter(app.engine) as counter:
        await driver.ask("send", reports(count, "计数"))
    report.value(f"{kind}.report_statements", "SQL statements per /report",
                 counter.statements / count, "")
    report.value(f"{kind}.report_transactions", "transactions per /report",
                 counter.begins / count, "", detail=f"{counter.commits / count:g} commits")
    for times, sql in counter.top(20):
        report.note(f"{times / count:5.2g} × {brief(sql)[:200]}")


async def profile(driver: Driver, updates: int, top: int) -> str:
    """cProfile on the main thread's CPU clock (waiting is not counted). Coroutine resumes
    count as calls and make cumulative times of nested coroutines meaningless, so what is
    printed is self time: per package, then per function."""
    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    await driver.ask("send", reports(updates, "剖析"))
    profiler.disable()
    entries = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in entries.values()) or 1.0
    packages: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    for (filename, line, name), entry in entries.items():
        where = _short(filename)
        packages[where.split("/", 1)[0] if "/" in where else where] += entry[2]
        functions[f"{where}:{line}({name})"] += entry[2]
    per = 1e3 / updates
    lines = [f"self CPU under cProfile (inflated by its overhead): {total * per:.1f} ms"
             " per update; by package:"]
    lines += [f"  {t * per:6.2f} ms {t / total:6.1%}  {name}" for name, t in
              packages.most_common(12)]
    lines.append(f"by function, top {top}:")
    lines += [f"  {t * per:6.2f} ms {t / total:6.1%}  {name}" for name, t in
              functions.most_common(top)]
    return "\n".join(lines)


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/wt-bench/", "/lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


async def measure(kind: str, report: Report, workdir: Path, *, updates: int, warmup: int,
                  profile_top: int) -> None:
    url = await fresh_database(kind, workdir, "cpu")
    driver = Driver()
    try:
        report.section(f"[{kind}] Greenlight: {updates} × /report over {len(REPORTERS)} groups"
                       f" (after {warmup} to warm up)")
        app, task = await greenlight(url, workdir, driver.base_url)
        try:
            bot_cpu = await measure_one("greenlight", "Greenlight", driver, report,
                                        f"{kind}.greenlight_cpu", updates, warmup)
            await statements_per_report(app, driver, report, kind)
            if profile_top:
                report.note(f"cProfile of {updates} more (main thread's CPU):")
                print(await profile(driver, updates, profile_top), flush=True)
        finally:
            await stop(app.dispatcher, task)
        report.section(f"[{kind}] the floor: a bare aiogram bot, the same updates")
        _bot, dispatcher, floor_task = await run_floor(driver.base_url)
        try:
            floor_cpu = await measure_one("floor", "floor bot", driver, report,
                                          f"{kind}.floor_cpu", updates, warmup)
        finally:
            await stop(dispatcher, floor_task)
        report.ratio(f"{kind}.cpu_ratio", "Greenlight / floor, CPU per update", bot_cpu,
                     floor_cpu)
        violations = await driver.ask("violations")
        if violations:
            report.alert(f"{len(violations)} Bot API spec violations, e.g. {violations[0]}")
    finally:
        driver.close()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser("cpu", "the bot's own CPU per /report update, against a bare aiogram bot")
    add_db_option(p)
    p.add_argument("--updates", type=int, default=None,
                   help="updates timed per bot (default 300, quick 100)")
    p.add_argument("--warmup", type=int, default=None, help="updates before timing (default 20)")
    p.add_argument("--profile", nargs="?", type=int, const=40, default=0, metavar="TOP",
                   help="also print a cProfile of Greenlight's /report (TOP functions)")
    args = p.parse_args(argv)
    updates = args.updates or (100 if args.quick else 300)
    warmup = args.warmup if args.warmup is not None else 20
    report = Report("cpu", "the bot's CPU per /report update vs a bare aiogram bot",
                    quick=args.quick)
    kinds = database_kinds(args.db)
    report.data["databases"] = kinds
    logging.getLogger("aiogram").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="greenlight-bench-") as tmp:
        for kind in kinds:
            workdir = Path(tmp) / kind
            workdir.mkdir()
            asyncio.run(measure(kind, report, workdir, updates=updates, warmup=warmup,
                                profile_top=args.profile))
    return report.finish(args.json)


if __name__ == "__main__":
    run_main(main)
