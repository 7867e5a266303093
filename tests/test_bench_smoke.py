"""The benchmarks still run: each one's ``main()`` in a tiny configuration, in-process.

No figure is checked (benchmarks measure, they don't fail); only that each run completes
and writes the JSON keys the summary and reviewers rely on. SQLite only, whatever
``GREENLIGHT_TEST_DATABASE_URL`` says (the benchmarks would wipe that database).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from bench import __main__ as runner

TOP_LEVEL = {"benchmark", "title", "mode", "when", "machine", "figures", "over_target", "alerts",
             "seconds"}

# benchmark -> (tiny configuration, figures its JSON must have)
CASES: dict[str, tuple[list[str], set[str]]] = {
    "calendar": (["--batches", "3"], {
        "deadline_1wd", "deadline_30wd", "deadline_250wd", "remaining_3wd", "remaining_250wd",
        "cold_covered", "cold_uncovered", "cached_vs_uncached", "naive_250wd", "speedup_250wd",
        "speedup_cached_250wd"}),
    "decisions": (["--db", "sqlite", "--cases", "5", "--rounds", "2"], {
        "sqlite.submit_case", "sqlite.decide", "sqlite.contention_2", "sqlite.contention_8",
        "sqlite.contention_2_double", "sqlite.contention_8_double"}),
    "sweep": (["--db", "sqlite", "--sizes", "120"], {
        "sqlite.120.first", "sqlite.120.idle", "sqlite.120.first_per_step",
        "sqlite.120.first_peak", "sqlite.120.idle_peak", "sqlite.120.write_during_sweep",
        "sqlite.120.due", "sqlite.120.due_peak",
        "sqlite.120.write_during_first"}),
    "board": (["--db", "sqlite", "--sizes", "120"], {
        "sqlite.120.first_load", "sqlite.120.projects_rollup", "sqlite.120.vs_rollup",
        "sqlite.120.statements", "sqlite.120.json_bytes"}),
    "e2e": (["--db", "sqlite", "--iterations", "4", "--burst", "6"], {
        "sqlite.report", "sqlite.submit", "sqlite.press", "sqlite.updates_per_second",
        "sqlite.press_statements", "sqlite.press_transactions"}),
    "units": (["--db", "sqlite", "--steps", "300", "--repeats", "1"], {
        "sqlite.300.city.rollup", "sqlite.300.city.floor", "sqlite.300.city.ratio",
        "sqlite.300.township.rollup", "sqlite.300.scope"}),
    "cpu": (["--db", "sqlite", "--updates", "3", "--warmup", "1", "--profile", "5"], {
        "sqlite.greenlight_cpu", "sqlite.greenlight_wall", "sqlite.floor_cpu",
        "sqlite.floor_wall", "sqlite.cpu_ratio", "sqlite.report_statements",
        "sqlite.report_transactions"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_benchmark_runs_and_writes_its_figures(name: str, tmp_path: Path) -> None:
    extra, expected = CASES[name]
    path = tmp_path / f"{name}.json"
    benchmark = importlib.import_module(f"bench.{name}")  # one broken import fails one test
    returned = benchmark.main(["--quick", "--json", str(path), *extra])
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["benchmark"] == returned["benchmark"] == name
    assert set(written) >= TOP_LEVEL
    assert set(written["figures"]) >= expected, expected - set(written["figures"])
    for key, figure in written["figures"].items():
        assert {"label", "unit", "value"} <= set(figure), key
        if "target" in figure:
            assert {"ok", "headroom"} <= set(figure), key
    rows = runner.summary_rows({name: written})
    assert rows and all(len(row) == 5 for row in rows)
    runner.print_table(rows)
