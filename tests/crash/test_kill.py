"""The crash proof (issue #11): ``greenlight run --polling`` as a child process against the
emulator, through ``GREENLIGHT_CRASH_FLOWS`` (200) scripted flows of the demo bureau's
people (reports, submissions, decisions, returns and resubmissions, working days passing on
the shared clock), killed with SIGKILL at seeded random points (``GREENLIGHT_CRASH_SEED``)
and started again each time. Afterwards, with the last process stopped: no report lost, no
decision doubled, no nudge lost or doubled, every card true; the counts are printed.

On SQLite by default, on PostgreSQL with ``GREENLIGHT_TEST_DATABASE_URL``.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
from collections import Counter
from datetime import datetime, time
from pathlib import Path

import pytest

from bot.clock_file import FileClock
from bot.config import load_settings
from bot.services import Services
from sandbox.emulator.client import ControlClient
from sandbox.emulator.config import EmulatorConfig
from storage.db import create_engine, create_session_factory
from tests.crash.checks import NOTED, Checker, Findings
from tests.crash.flows import Run
from tests.crash.harness import BotProcess, CrashEmulator, SharedClock
from tests.e2e.conftest import START, TOKEN, DemoSnapshot

FLOWS = int(os.environ.get("GREENLIGHT_CRASH_FLOWS", "200"))
SEED = int(os.environ.get("GREENLIGHT_CRASH_SEED", "11"))


def bot_env(emu: CrashEmulator, database_url: str, folder: Path, clock: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREENLIGHT_")}
    env.update({
        "GREENLIGHT_BOT_TOKEN": TOKEN, "GREENLIGHT_API_BASE_URL": emu.base_url,
        "GREENLIGHT_DATABASE_URL": database_url, "GREENLIGHT_DATA_DIR": str(folder),
        "GREENLIGHT_CLOCK_FILE": str(clock), "GREENLIGHT_SWEEP_INTERVAL_SECONDS": "5",
        "GREENLIGHT_PACE_GROUP_WINDOW_SECONDS": "1", "GREENLIGHT_WEEKLY_DIGEST": "off",
    })
    return env


def warnings_logged(stderr: str) -> Counter[str]:
    """The bot's warnings and errors, by their words (numbers and ids left out)."""
    found: Counter[str] = Counter()
    for line in stderr.splitlines():
        match = re.search(r"\b(WARNING|ERROR|CRITICAL)\b\s+\S+\s*:?\s*(.*)", line)
        if match:
            found[f"{match[1]} " + re.sub(r"\d+", "N", match[2])[:110]] += 1
    return found


def table(run: Run, findings: Findings, kills: Counter[str], seconds: float) -> str:
    c = findings.counts
    ledger = run.ledger
    spent = ", ".join(f"{k} {v:.0f} s" for k, v in sorted(ledger.seconds.items()))
    rows = [
        ("flows", f"{sum(ledger.flows.values())} "
                  + " ".join(f"{k} {n}" for k, n in sorted(ledger.flows.items()))),
        ("kills", f"{sum(kills.values())}: " + ", ".join(
            f"{point} {n}" for point, n in sorted(kills.items()))),
        ("reports", f"sent {c['reports_sent']}, stored {c['reports_stored']}, "
                    f"lost {findings.n('reports lost')}, cards missing "
                    f"{findings.n('report cards missing')}, cards doubled "
                    f"{findings.n('report cards doubled')}"),
        ("decisions", f"presses {c['presses']}, decisions {c['decisions']}, doubled "
                      f"{findings.n('decisions doubled')}, lost {findings.n('decisions lost')}"),
        ("nudges", f"claimed {c['nudges_claimed']}, sent {c['nudges_sent']}, shown "
                   f"{c['nudge_messages']}, lost {findings.n('nudges lost')}, doubled "
                   f"{findings.n('nudges doubled')} (and as logged possible "
                   f"{findings.n('nudges doubled as logged')}), urge notices "
                   f"{c['urge_notices']}"),
        ("cards", f"cases {c['cases']}, cards checked {c['cards_checked']}, stale "
                  f"{findings.n('stale cards')} ({c['wrong_buttons']} of them with buttons "
                  f"of another state), claims never sent "
                  f"{findings.n('card claims never sent')}, untracked with buttons "
                  f"{findings.n('untracked buttons of a finished turn')}, cases without a "
                  f"group card {findings.n('cases without a group card')}"),
        ("turns", f"unannounced {findings.n('turns unannounced')}"),
        ("flows cut short", ", ".join(f"{k} {n}" for k, n in ledger.outcomes.items()) or "none"),
        ("run", f"{seconds:.0f} s ({spent}), {run.bot.starts} processes, seed {SEED}"),
    ]
    return "\n".join(f"{name:>16}  {value}" for name, value in rows)


# On demand (GREENLIGHT_CRASH_PROOF=1): two runs of seven so far showed one nudge shown
# twice that the bot did not log as possible, not yet understood. Never under libfaketime (CI's
# runs with the clock moved): it shifts the monotonic clock too, and the bot processes'
# scheduler then never wakes for the next sweep (their dates come from the clock file anyway).
@pytest.mark.skipif(not os.environ.get("GREENLIGHT_CRASH_PROOF")
                    or "faketime" in os.environ.get("LD_PRELOAD", ""),
                    reason="on demand: GREENLIGHT_CRASH_PROOF=1 (and not under libfaketime)")
async def test_a_bot_killed_at_random_loses_and_doubles_nothing(
        database_url: str, tmp_path: Path, demo_snapshot: DemoSnapshot) -> None:
    loop = asyncio.get_running_loop()
    began = loop.time()
    emu = CrashEmulator(EmulatorConfig(port=0, bot_token=TOKEN, strict=True))
    await emu.start()
    await demo_snapshot.restore(database_url)
    emu.load_world(demo_snapshot.emulator)
    ctl = ControlClient(emu.base_url)
    clock = SharedClock(tmp_path / "clock.json", START)
    services = Services.from_settings(load_settings(
        bot_token=TOKEN, api_base_url=emu.base_url, database_url=database_url,
        data_dir=tmp_path), FileClock(clock.path))
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    bot = BotProcess(tmp_path, bot_env(emu, database_url, tmp_path, clock.path))
    emu.bot = bot
    run = Run(emu, ctl, bot, clock, sessions, services, random.Random(SEED))
    try:
        await bot.start()
        for _ in range(FLOWS):
            await run.flow()
        # The last process settles: the next working day's office hour (every claim older
        # than the five minutes after which a dead process's claims are retaken), two sweeps.
        await run.keep_up()
        day = run.office_hour_of_next_working_day(clock.now()).date()
        to = datetime.combine(day, time(10, 0), tzinfo=services.settings.tz)
        clock.jump(to)
        await run.swept_since(to)
        await run.swept_since(await run.last_sweep() or to)
        assert emu.queue.pending_count == 0
        assert await bot.stop() == 0, bot.stderr_tail()
        findings = await Checker(ctl, sessions, services, run.ledger, emu.sent_by,
                                 bot.ended, bot.stderr()).run()
        violations = list(await ctl.violations())
    finally:
        await bot.close()
        await ctl.close()
        await emu.stop()
        await engine.dispose()
    kills = bot.kills
    print(f"\n{table(run, findings, kills, loop.time() - began)}")
    logged = warnings_logged(bot.stderr())
    print("bot warnings and errors: " + (", ".join(
        f"{n}× {what}" for what, n in logged.most_common(12)) or "none"))
    print(findings.describe())
    assert violations == [], "Bot API spec violations:\n" + "\n".join(violations)
    assert sum(kills.values()) >= FLOWS // 10, kills  # about one flow in four has one
    failed = tuple(k for k in findings.found if k not in NOTED)
    assert not failed, findings.describe(failed)
