"""The lights board's first load over many open steps, against /projects' roll-up.

The demo bureau is imported, then N open approval steps (one pending case each, spread over
the bureau's projects, due from 5 working days late to 20 ahead) are inserted in bulk, as
``bench.sweep`` does. Measured per size:

* a board load: ``bot.domain.usecases.board.board`` for the whole organisation (every
  project and open step with its light, grouped and sorted), then its JSON as the API sends
  it — the board's "first load";
* the baseline: ``projects.overview`` (what ``/projects`` runs), which reads project by
  project; the ratio says how many times faster the board's batched reads are;
* SQL statements per board load (fixed, whatever N) and the JSON's size.

Run: ``python -m bench.board [--quick] [--json [PATH]] [--db ...] [--sizes 10000 100000]``
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench._common import (
    Report,
    StatementCounter,
    Target,
    add_db_option,
    database_kinds,
    fresh_database,
    import_demo_bureau,
    parser,
    run_main,
)
from bench.sweep import NOW, populate
from bot.board.web import board_json
from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.policy import Policy
from bot.domain.rules.scope import WHOLE
from bot.domain.usecases.board import BoardFilter, board
from bot.domain.usecases.projects import overview
from bot.i18n import translator
from storage.db import create_engine, create_session_factory
from storage.models import Person
from storage.store import Store

FIRST_LOAD = Target(0.3, "s", "the issue's target: the board's first load for the city ≤ 300 ms"
                    " on PostgreSQL at 100 000 open steps")
STATEMENTS = Target(10, "", "a board load reads in a fixed number of statements, never one per"
                    " project or step")


async def measure(kind: str, report: Report, workdir: Path, steps: int, repeats: int) -> None:
    url = await fresh_database(kind, workdir, f"board-{steps}")
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    calendar, policy, t = WorkCalendar(), Policy(), translator("zh")
    try:
        await import_demo_bureau(sessions, NOW.date(), NOW)
        started = time.perf_counter()
        lights = await populate(sessions, steps, calendar)
        # Statistics, as autovacuum gathers them after a bulk load: without them PostgreSQL
        # plans the counting join as if the tables were empty (seconds instead of ms).
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
        report.section(f"[{kind}] {steps:,} open steps (inserted in"
                       f" {time.perf_counter() - started:.1f} s): {dict(lights)} at now")
        viewer = Person(key="bench", name="基准")
        loads, baselines, size, statements = [], [], 0, 0
        for _ in range(repeats):
            with StatementCounter(engine) as counter:
                started = time.perf_counter()
                async with sessions() as session:
                    found = await board(Store(session), WHOLE, NOW, calendar, policy)
                size = len(json.dumps(board_json(found, t, viewer, BoardFilter(), NOW),
                                      ensure_ascii=False).encode())
                loads.append(time.perf_counter() - started)
            statements = counter.statements
            started = time.perf_counter()
            async with sessions() as session:
                await overview(Store(session), NOW, calendar, policy)
            baselines.append(time.perf_counter() - started)
        report.timing(f"{kind}.{steps}.first_load", "board load (use case + JSON), whole bureau",
                      loads, target=FIRST_LOAD)
        report.timing(f"{kind}.{steps}.projects_rollup", "baseline: /projects' overview",
                      baselines)
        report.ratio(f"{kind}.{steps}.vs_rollup", "board vs /projects (times faster)",
                     min(baselines), min(loads))
        report.value(f"{kind}.{steps}.statements", "SQL statements per board load",
                     statements, "", target=STATEMENTS)
        report.value(f"{kind}.{steps}.json_bytes", "the board's JSON", size, "B")
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser("board", "the lights board's first load over many open steps")
    add_db_option(p)
    p.add_argument("--sizes", type=int, nargs="+", default=None,
                   help="open steps (default: 10000 100000; --quick: 10000)")
    p.add_argument("--repeats", type=int, default=None, help="timed passes per size")
    args = p.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    sizes = args.sizes or ([10_000] if args.quick else [10_000, 100_000])
    report = Report("board", "lights board first load (board use case + JSON)",
                    quick=args.quick)
    kinds = database_kinds(args.db)
    report.data["databases"] = kinds
    report.data["sizes"] = sizes
    with tempfile.TemporaryDirectory(prefix="greenlight-bench-") as tmp:
        for kind in kinds:
            for steps in sizes:
                asyncio.run(measure(kind, report, Path(tmp), steps, repeats))
    return report.finish(args.json)


if __name__ == "__main__":
    run_main(main)
