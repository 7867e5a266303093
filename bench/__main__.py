"""Run every benchmark (quick unless ``--full``) and print a summary table.

Run: ``python -m bench [--quick | --full] [--json [PATH]] [--db auto|sqlite|postgresql]
[--only NAME ...]``

Exit code 0 whatever the figures say; 1 only if a benchmark crashed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from typing import Any

from bench._common import OVER, fmt, machine, write_json

BENCHMARKS = ("calendar", "decisions", "sweep", "board", "e2e", "cpu", "units")
WITH_DB = {"decisions", "sweep", "board", "e2e", "cpu", "units"}


def summary_rows(results: dict[str, dict[str, Any]]) -> list[tuple[str, str, str, str, str]]:
    """(benchmark, figure, value, target, verdict) for every figure with a target or a ratio."""
    rows = []
    for name, data in results.items():
        if "error" in data:
            rows.append((name, "—", "—", "—", f"ERROR: {data['error']}"))
            continue
        for key, figure in data["figures"].items():
            target = figure.get("target")
            if target is None and figure["unit"] != "x":
                continue
            stat = target["stat"] if target and "stats" in figure else ""
            value = fmt(figure["value"], figure["unit"]) + (f" {stat}" if stat else "")
            if target is None:
                rows.append((name, key, value, "", ""))
                continue
            sign = "≥" if target["higher_is_better"] else "≤"
            limit = f"{sign} {fmt(target['limit'], target['unit'])}"
            verdict = (f"{fmt(figure['headroom'], 'x')} headroom" if figure["ok"] else OVER)
            if figure.get("error"):
                verdict += f" (failed: {figure['error']})"
            rows.append((name, key, value, limit, verdict))
        for alert in data.get("alerts", []):
            rows.append((name, "ALERT", "", "", alert))
    return rows


def print_table(rows: list[tuple[str, str, str, str, str]]) -> None:
    headers = ("benchmark", "figure", "value", "target", "verdict")
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(f"\n{line}\n{'-' * len(line)}")
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="short runs (the default)")
    mode.add_argument("--full", action="store_true", help="full runs")
    p.add_argument("--json", nargs="?", const="bench-results.json", default=None,
                   metavar="PATH", help="write every result to one JSON file")
    p.add_argument("--db", choices=("auto", "sqlite", "postgresql"), default="auto")
    p.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS))
    args = p.parse_args(argv)
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    crashed = False
    for name in args.only:
        bench_args = [] if args.full else ["--quick"]
        if name in WITH_DB:
            bench_args += ["--db", args.db]
        module = importlib.import_module(f"bench.{name}")
        try:
            results[name] = module.main(bench_args)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            crashed = True
    print(f"\n=== summary ({'full' if args.full else 'quick'}, "
          f"{time.perf_counter() - started:.0f} s) ===")
    rows = summary_rows(results)
    print_table(rows)
    over = sum(1 for r in rows if r[4].startswith(OVER))
    alerts = sum(1 for r in rows if r[1] == "ALERT")
    print(f"\n{over} figure(s) {OVER}, {alerts} alert(s)"
          + (", a benchmark CRASHED" if crashed else ""))
    if args.json:
        write_json(args.json, {"machine": machine(), "results": results})
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
