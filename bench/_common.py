"""What every benchmark shares: targets, statistics, printing, JSON, databases.

A benchmark measures and prints; it never fails on a figure. A figure that misses its
target is printed with ``OVER TARGET`` and listed in the JSON's ``over_target``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import sqlite3
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import Engine, event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import SessionFactory, create_engine, is_sqlite
from storage.migrate import upgrade

PG_URL_VARIABLE = "GREENLIGHT_TEST_DATABASE_URL"
OVER = "OVER TARGET"
BUSY_LOAD_PER_CPU = 0.5  # warn above this load average per CPU: timings get noisy

# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    """A limit a figure should meet: at most ``limit`` (or at least, ``higher_is_better``).

    ``stat`` names the statistic of a timing the limit applies to (median or p95).
    """

    limit: float
    unit: str  # "s" | "B" | "/s" | "x"
    why: str
    higher_is_better: bool = False
    stat: str = "median"

    def met(self, value: float) -> bool:
        return value >= self.limit if self.higher_is_better else value <= self.limit

    def headroom(self, value: float) -> float:
        """How many times better than the limit (below 1: missed)."""
        if self.higher_is_better:
            return value / self.limit if self.limit else math.inf
        return self.limit / value if value > 0 else math.inf

    def describe(self) -> str:
        sign = "≥" if self.higher_is_better else "≤"
        return f"{sign} {fmt(self.limit, self.unit)}"

    def as_json(self) -> dict[str, Any]:
        return {"limit": self.limit, "unit": self.unit, "stat": self.stat,
                "higher_is_better": self.higher_is_better, "why": self.why}


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Stats:
    n: int
    median: float
    p95: float
    min: float
    max: float
    mean: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        if not samples:
            raise ValueError("no samples")
        ordered = sorted(samples)
        p95 = (statistics.quantiles(ordered, n=20, method="inclusive")[18]
               if len(ordered) > 1 else ordered[0])
        return cls(len(ordered), statistics.median(ordered), p95, ordered[0], ordered[-1],
                   statistics.fmean(ordered))

    def get(self, stat: str) -> float:
        return float(getattr(self, stat))

    def as_json(self) -> dict[str, float]:
        return {"n": self.n, "median": self.median, "p95": self.p95, "min": self.min,
                "max": self.max, "mean": self.mean}


def fmt(value: float, unit: str) -> str:
    """A human figure: seconds scaled to ns/µs/ms/s, bytes to KiB/MiB, rates, ratios."""
    if unit == "s":
        for scale, name in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
            if abs(value) >= scale:
                return f"{value / scale:.3g} {name}" if value < 1000 else f"{value:,.0f} s"
        return f"{value * 1e9:.3g} ns"
    if unit == "B":
        for scale, name in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if abs(value) >= scale:
                return f"{value / scale:.3g} {name}"
        return f"{value:.0f} B"
    if unit == "/s":
        return f"{value:,.1f} /s" if value < 100 else f"{value:,.0f} /s"
    if unit == "x":
        return f"{value:,.1f}×" if value < 100 else f"{value:,.0f}×"
    return f"{value:g} {unit}".strip()


def time_batches(call: Callable[[], object], *, batches: int, per_batch: int) -> list[float]:
    """Seconds per call, one sample per batch of ``per_batch`` calls (hides timer overhead)."""
    samples = []
    counter = time.perf_counter
    for _ in range(batches):
        start = counter()
        for _ in range(per_batch):
            call()
        samples.append((counter() - start) / per_batch)
    return samples


# --------------------------------------------------------------------------- SQL


_IN_LIST = re.compile(r"\((?:\s*(?:\?|\$\d+|%\(\w+\)s)\s*,)+\s*(?:\?|\$\d+|%\(\w+\)s)\s*\)")


_COLUMNS = re.compile(r"^SELECT .*? FROM")


class StatementCounter:
    """SQL statements and transactions on an engine while attached (engine events).

    ``statements`` counts what reached the driver except the ``BEGIN`` that SQLite's engine
    issues itself (counted as a transaction); ``begins``, ``commits`` and ``rollbacks``
    count transactions. ``texts`` keeps each statement with IN-lists folded, so identical
    queries group whatever their parameters."""

    def __init__(self, engine: AsyncEngine | Engine) -> None:
        self.engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
        self.texts: list[str] = []
        self.sequence: list[str] = []  # statements with BEGIN, COMMIT, ROLLBACK, in order
        self.begins = self.commits = self.rollbacks = 0

    @property
    def statements(self) -> int:
        return len(self.texts)

    def _execute(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):
            folded = _IN_LIST.sub("(?…)", " ".join(statement.split()))
            self.texts.append(folded)
            self.sequence.append(folded)

    def _begin(self, _conn: Any) -> None:
        self.begins += 1
        self.sequence.append("BEGIN")

    def _commit(self, _conn: Any) -> None:
        self.commits += 1
        self.sequence.append("COMMIT")

    def _rollback(self, _conn: Any) -> None:
        self.rollbacks += 1
        self.sequence.append("ROLLBACK")

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._execute)
        event.listen(self.engine, "begin", self._begin)
        event.listen(self.engine, "commit", self._commit)
        event.listen(self.engine, "rollback", self._rollback)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._execute)
        event.remove(self.engine, "begin", self._begin)
        event.remove(self.engine, "commit", self._commit)
        event.remove(self.engine, "rollback", self._rollback)

    def top(self, count: int = 10) -> list[tuple[int, str]]:
        """The most repeated statements, as (times, text)."""
        return [(n, text) for text, n in Counter(self.texts).most_common(count)]


def brief(sql: str) -> str:
    """A statement without its column list: ``SELECT … FROM step WHERE …``."""
    return _COLUMNS.sub("SELECT … FROM", sql, count=1)


# --------------------------------------------------------------------------- reporting


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(terse=True),
        "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "loadavg_1m": round(load[0], 2),
    }


class Report:
    """Prints figures as they come and keeps them for the JSON file and the summary."""

    def __init__(self, name: str, title: str, *, quick: bool) -> None:
        self.name = name
        self.started = time.perf_counter()
        self.data: dict[str, Any] = {
            "benchmark": name,
            "title": title,
            "mode": "quick" if quick else "full",
            "when": datetime.now().astimezone().isoformat(timespec="seconds"),
            "machine": machine(),
            "figures": {},
            "over_target": [],
            "alerts": [],
        }
        print(f"\n=== {name}: {title} ({self.data['mode']}) ===", flush=True)
        load, cpus = self.data["machine"]["loadavg_1m"], self.data["machine"]["cpus"] or 1
        if load > BUSY_LOAD_PER_CPU * cpus:
            print(f"   note: load average {load} on {cpus} CPUs: other work is running, the"
                  " figures will be noisy", flush=True)

    @property
    def figures(self) -> dict[str, Any]:
        figures: dict[str, Any] = self.data["figures"]
        return figures

    def section(self, heading: str) -> None:
        print(f"\n-- {heading}", flush=True)

    def note(self, line: str) -> None:
        print(f"   {line}", flush=True)

    def alert(self, line: str) -> None:
        """Something that must be looked at (a correctness problem seen while measuring)."""
        self.data["alerts"].append(line)
        print(f"\n   !!!!!!!! {line} !!!!!!!!\n", flush=True)

    def _check(self, key: str, label: str, value: float, target: Target | None,
               entry: dict[str, Any]) -> str:
        if target is None:
            return ""
        ok = target.met(value)
        entry["target"] = target.as_json()
        entry["ok"] = ok
        entry["headroom"] = target.headroom(value)
        if ok:
            return f"  target {target.describe()} → {fmt(target.headroom(value), 'x')} headroom"
        self.data["over_target"].append(key)
        return (f"  target {target.describe()} → {OVER}"
                f" ({fmt(1 / target.headroom(value), 'x')} the limit)")

    def timing(self, key: str, label: str, samples: Sequence[float], *,
               target: Target | None = None, detail: str = "") -> Stats:
        """Seconds per operation: prints median and p95, checks the target's statistic."""
        stats = Stats.of(samples)
        entry: dict[str, Any] = {"label": label, "unit": "s", "stats": stats.as_json()}
        stat = target.stat if target else "median"
        entry["value"] = stats.get(stat)
        verdict = self._check(key, label, stats.get(stat), target, entry)
        self.figures[key] = entry
        extra = f" ({detail})" if detail else ""
        print(f"   {label:<44} median {fmt(stats.median, 's'):>9}   p95 {fmt(stats.p95, 's'):>9}"
              f"   n={stats.n}{extra}{verdict}", flush=True)
        return stats

    def value(self, key: str, label: str, value: float, unit: str, *,
              target: Target | None = None, detail: str = "") -> float:
        entry: dict[str, Any] = {"label": label, "unit": unit, "value": value}
        verdict = self._check(key, label, value, target, entry)
        self.figures[key] = entry
        extra = f" ({detail})" if detail else ""
        print(f"   {label:<44} {fmt(value, unit):>9}{extra}{verdict}", flush=True)
        return value

    def ratio(self, key: str, label: str, slower: float, faster: float, *,
              target: Target | None = None, detail: str = "") -> float:
        """``slower / faster`` as a ratio figure ("180×")."""
        return self.value(key, label, slower / faster if faster > 0 else math.inf, "x",
                          target=target, detail=detail)

    def finish(self, json_path: str | None) -> dict[str, Any]:
        self.data["seconds"] = round(time.perf_counter() - self.started, 2)
        over = self.data["over_target"]
        status = f"{len(over)} {OVER}: {', '.join(over)}" if over else "all figures on target"
        alerts = f"; {len(self.data['alerts'])} ALERT(S)" if self.data["alerts"] else ""
        print(f"\n   {self.name}: {status}{alerts} ({self.data['seconds']} s)", flush=True)
        if json_path:
            write_json(json_path, self.data)
        return self.data


def write_json(path: str, data: Any) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n",
                      encoding="utf-8")
    print(f"   results written to {target}", flush=True)


# --------------------------------------------------------------------------- command line


def parser(name: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"python -m bench.{name}", description=description)
    p.add_argument("--quick", action="store_true", help="a short run (fewer iterations)")
    p.add_argument("--json", nargs="?", const=f"bench-{name}.json", default=None, metavar="PATH",
                   help=f"also write the results as JSON (default: bench-{name}.json)")
    return p


def add_db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db", choices=("auto", "sqlite", "postgresql"), default="auto",
        help=f"auto: SQLite, plus PostgreSQL when {PG_URL_VARIABLE} is set (that database is"
             " wiped and migrated, as the test suite does)")


def database_kinds(choice: str) -> list[str]:
    if choice == "sqlite":
        return ["sqlite"]
    if choice == "postgresql":
        if not os.environ.get(PG_URL_VARIABLE):
            print(f"   --db postgresql needs {PG_URL_VARIABLE}; using SQLite", file=sys.stderr)
            return ["sqlite"]
        return ["postgresql"]
    return ["sqlite", "postgresql"] if os.environ.get(PG_URL_VARIABLE) else ["sqlite"]


# --------------------------------------------------------------------------- databases


async def fresh_database(kind: str, workdir: Path, name: str = "bench") -> str:
    """An empty database at the newest schema: a new SQLite file, or the PostgreSQL test
    database wiped (``DROP SCHEMA public CASCADE``) and migrated."""
    if kind == "sqlite":
        path = workdir / f"{name}.db"
        path.unlink(missing_ok=True)
        url = f"sqlite+aiosqlite:///{path}"
    else:
        url = os.environ[PG_URL_VARIABLE]
    engine = create_engine(url)
    try:
        if not is_sqlite(url):
            async with engine.begin() as connection:
                await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
        await upgrade(engine)
    finally:
        await engine.dispose()
    return url


async def import_demo_bureau(sessions: SessionFactory, today: date, now: datetime) -> None:
    """The demo bureau (``sandbox/demo.py``) imported as an org file."""
    from bot.domain.rules.calendar import WorkCalendar
    from bot.domain.rules.org_file import parse_org
    from bot.domain.usecases.org_import import apply_org
    from sandbox.demo import demo_org_yaml
    from storage.store import Store

    async with sessions() as session:
        store = Store(session)
        org = parse_org(demo_org_yaml(today, WorkCalendar()), "demo.yaml")
        await apply_org(store, org, now=now)
        await store.commit()


def run_main(main: Callable[[list[str] | None], object]) -> None:
    """``python -m bench.x``: run and exit 0 whatever the figures say."""
    main(sys.argv[1:])
    sys.exit(0)
