"""A province-sized organisation: ``/projects`` for the city, a district and a township.

A tree of 1 city, 10 districts and 100 townships (10 per district) is stored as units with
their materialized paths, each unit with one section; 10 000 people are spread over the
sections; 10 projects per unit (1 110 in all), and N open approval steps (one pending case
each, 100 000 by default) spread over the projects with due dates from 5 working days overdue
to 20 ahead. Measured:

* the lights board's first load for the same people (the use case and its JSON, as
  ``GET /board/api/overview`` sends it), with its SQL statements;
* the roll-up ``/projects`` computes (``usecases.projects.overview``: every project of the
  asker's subtree with its light, its current milestone and its open items) for a city
  person (the whole province), a district's and a township's, with the SQL statements each
  takes (a fixed number, whatever the size);
* the scope itself (``usecases.scope.scope_of``: the asker's subtree from the path);
* the baseline, in the same run: one bare query that reads the open steps' (project, due)
  rows of the same subtree, with no light worked out: the floor any roll-up pays to read
  what it shows. The ratio says what the lights and the grouping cost on top.

Run: ``python -m bench.units [--quick] [--json [PATH]] [--db ...] [--steps 100000]``
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, text
from sqlmodel import col

from bench._common import (
    Report,
    StatementCounter,
    Target,
    add_db_option,
    database_kinds,
    fresh_database,
    parser,
    run_main,
)
from bot.board.web import board_json
from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.policy import Policy
from bot.domain.rules.vocabulary import CaseState, ProjectStatus, StepMode, StepState
from bot.domain.usecases.board import BoardFilter, board
from bot.domain.usecases.projects import overview
from bot.domain.usecases.scope import scope_of
from bot.i18n import translator
from storage.db import SessionFactory, create_engine, create_session_factory
from storage.models import AT_ONCE, Case, Milestone, Person, Project, Section, Step, Unit
from storage.scoping import project_in
from storage.store import Store

ROLLUP = Target(0.3, "s", "the city's /projects over a province (100 000 open steps) must"
                " answer like any other command: ≤ 300 ms on PostgreSQL", stat="median")
BOARD = Target(0.3, "s", "the lights board's first load for the city over a province: ≤ 300 ms"
               " on PostgreSQL", stat="median")
SCOPE = Target(0.005, "s", "every roll-up and every right asks for the asker's subtree first:"
               " one indexed query, ≤ 5 ms", stat="median")

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)  # a Monday in office hours
DISTRICTS, TOWNSHIPS_EACH, PEOPLE, PROJECTS_EACH = 10, 10, 10_000, 10
SEED = 11
CHUNK = 5000


async def populate(sessions: SessionFactory, steps: int, calendar: WorkCalendar
                   ) -> dict[str, int]:
    """The tree, its sections, people, projects (each with a milestone) and open steps;
    returns the person id of a city, a district and a township person."""
    rng = random.Random(SEED)
    async with sessions() as session:
        units: list[dict[str, Any]] = [{"id": 1, "code": "city", "name": "市", "parent_id": None,
                                        "path": "/1/"}]
        for d in range(DISTRICTS):
            did = 2 + d * (TOWNSHIPS_EACH + 1)
            units.append({"id": did, "code": f"d{d}", "name": f"区{d}", "parent_id": 1,
                          "path": f"/1/{did}/"})
            for t in range(TOWNSHIPS_EACH):
                tid = did + 1 + t
                units.append({"id": tid, "code": f"d{d}t{t}", "name": f"镇{d}-{t}",
                              "parent_id": did, "path": f"/1/{did}/{tid}/"})
        await session.execute(insert(Unit), units)
        await session.execute(insert(Section), [
            {"id": u["id"], "code": f"s-{u['code']}", "name": f"{u['name']}规划股",
             "unit_id": u["id"]} for u in units])
        await session.execute(insert(Person), [
            {"id": i + 1, "key": f"p{i}", "name": f"人员{i}",
             "unit_id": units[i % len(units)]["id"], "section_id": units[i % len(units)]["id"],
             "active": True, "dm_blocked": False, "locale_chosen": False}
            for i in range(PEOPLE)])
        projects: list[dict[str, Any]] = []
        for u in units:
            for k in range(PROJECTS_EACH):
                projects.append({"id": len(projects) + 1, "code": f"P-{u['id']}-{k}",
                                 "name": f"项目{u['id']}-{k}", "status": ProjectStatus.IN_PROGRESS,
                                 "section_id": u["id"], "unit_id": u["id"], "work_plan": "",
                                 "follow_through": "", "green_channel": False})
        await session.execute(insert(Project), projects)
        today = calendar.deadline(NOW, 0).due_day
        working = [o for o in range(today.toordinal() - 15, today.toordinal() + 40)
                   if calendar.is_workday(today.fromordinal(o))]
        here = working.index(today.toordinal())
        await session.execute(insert(Milestone), [
            {"project_id": p["id"], "seq": 1, "title": "节点",
             "due_on": today.fromordinal(working[here + rng.randrange(-3, 10)]),
             "next_at": AT_ONCE} for p in projects])
        for first in range(0, steps, CHUNK):
            cases, rows = [], []
            for i in range(first, min(steps, first + CHUNK)):
                project = projects[i % len(projects)]
                due = calendar.close_of(today.fromordinal(working[here + rng.randrange(-5, 21)]))
                cases.append({
                    "id": i + 1, "project_id": project["id"], "type_code": "item",
                    "title": f"事项 {i}", "submitter_id": 1 + i % PEOPLE,
                    "state": CaseState.PENDING, "query_code": f"U{i:09d}",
                    "created_at": NOW - timedelta(days=7), "definition": "{}", "details": "{}",
                    "body": "", "green_channel": False, "round": 1, "version": 1})
                rows.append({
                    "case_id": i + 1, "round": 1, "seq": 1, "name": "审批",
                    "mode": StepMode.ANY, "limit_days": rng.choice((3, 5, 10)),
                    "timeout_policy": "none", "state": StepState.OPEN,
                    "started_at": due - timedelta(days=4), "due_at": due, "due_uncertain": False,
                    "deemed": False, "cc": "[]", "version": 1, "next_at": AT_ONCE})
            await session.execute(insert(Case), cases)
            await session.execute(insert(Step), rows)
        if session.get_bind().dialect.name == "postgresql":  # ids given: move the sequences on
            for table in ("unit", "section", "person", "project", "case"):
                await session.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), max(id))"
                    f" FROM \"{table}\""))
        await session.commit()
    # Person i + 1 is in the i-th unit listed: the city, the first district, its first township.
    return {"city": 1, "district": 2, "township": 3}


async def floor(sessions: SessionFactory, person_id: int) -> int:
    """The baseline: read the subtree's open steps' (project, due) rows, nothing more."""
    async with sessions() as session:
        store = Store(session)
        person = await store.get(Person, person_id)
        assert person is not None
        scope = await scope_of(store, person)
        query = (select(col(Case.project_id), col(Step.due_at))
                 .join(Case, col(Case.id) == col(Step.case_id))
                 .join(Project, col(Project.id) == col(Case.project_id))
                 .where(col(Step.state) == StepState.OPEN, project_in(scope)))
        return len((await session.execute(query)).all())


async def rollup(sessions: SessionFactory, person_id: int, calendar: WorkCalendar,
                 policy: Policy) -> int:
    async with sessions() as session:
        store = Store(session)
        person = await store.get(Person, person_id)
        assert person is not None
        lines = await overview(store, NOW, calendar, policy, await scope_of(store, person))
        return len(lines)


async def board_load(sessions: SessionFactory, person_id: int, calendar: WorkCalendar,
                     policy: Policy) -> int:
    """What ``GET /board/api/overview`` does for this person: the use case and its JSON."""
    async with sessions() as session:
        store = Store(session)
        person = await store.get(Person, person_id)
        assert person is not None
        found = await board(store, await scope_of(store, person), NOW, calendar, policy)
        data = board_json(found, translator("zh"), person, BoardFilter(), NOW)
        return len(json.dumps(data, ensure_ascii=False))


async def scope_only(sessions: SessionFactory, person_id: int) -> int:
    async with sessions() as session:
        store = Store(session)
        person = await store.get(Person, person_id)
        assert person is not None
        scope = await scope_of(store, person)
        return len(scope.unit_ids or ())


async def samples(repeats: int, action: Any) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = await action()
        times.append(time.perf_counter() - started)
    return times, result


async def measure(kind: str, report: Report, workdir: Path, steps: int, repeats: int) -> None:
    url = await fresh_database(kind, workdir, f"units-{steps}")
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    calendar, policy = WorkCalendar(), Policy()
    try:
        started = time.perf_counter()
        who = await populate(sessions, steps, calendar)
        # Statistics, as autovacuum gathers them after a bulk load (PostgreSQL would plan
        # the joins as for empty tables; SQLite's ANALYZE feeds its planner the same way).
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
        async with sessions() as session:
            units = int(await session.scalar(select(func.count()).select_from(Unit)) or 0)
        report.section(f"[{kind}] {units} units, {PEOPLE:,} people, {units * PROJECTS_EACH:,}"
                       f" projects, {steps:,} open steps (inserted in"
                       f" {time.perf_counter() - started:.1f} s)")
        for level, person_id in who.items():
            with StatementCounter(engine) as counter:  # once, warming the calendar's tables
                await rollup(sessions, person_id, calendar, policy)
            statements = counter.statements
            times, shown = await samples(repeats, lambda p=person_id: rollup(
                sessions, p, calendar, policy))
            target = ROLLUP if level == "city" and kind == "postgresql" else None
            stats = report.timing(f"{kind}.{steps}.{level}.rollup",
                                  f"/projects for a {level} person ({shown} projects)", times,
                                  target=target, detail=f"{statements} SQL statements")
            with StatementCounter(engine) as counter:
                await board_load(sessions, person_id, calendar, policy)
            times, size = await samples(repeats, lambda p=person_id: board_load(
                sessions, p, calendar, policy))
            report.timing(f"{kind}.{steps}.{level}.board",
                          f"  board's first load ({size // 1024} KiB of JSON)", times,
                          target=BOARD if level == "city" and kind == "postgresql" else None,
                          detail=f"{counter.statements} SQL statements")
            base, rows = await samples(repeats, lambda p=person_id: floor(sessions, p))
            base_stats = report.timing(f"{kind}.{steps}.{level}.floor",
                                       f"  baseline: read its {rows:,} open steps", base)
            report.ratio(f"{kind}.{steps}.{level}.ratio", "  roll-up / baseline",
                         stats.median, base_stats.median)
        times, _ = await samples(repeats * 3, lambda: scope_only(sessions, who["district"]))
        report.timing(f"{kind}.{steps}.scope", "a district person's subtree (scope_of)", times,
                      target=SCOPE)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser("units", "a province's tree: /projects for the city, a district, a township")
    add_db_option(p)
    p.add_argument("--steps", type=int, default=None,
                   help="open steps (default 100000; --quick: 10000)")
    p.add_argument("--repeats", type=int, default=None, help="timed passes per roll-up")
    args = p.parse_args(argv)
    steps = args.steps or (10_000 if args.quick else 100_000)
    repeats = args.repeats or (3 if args.quick else 7)
    report = Report("units", "a province's tree: scoped roll-ups", quick=args.quick)
    kinds = database_kinds(args.db)
    report.data["databases"] = kinds
    report.data["steps"] = steps
    with tempfile.TemporaryDirectory(prefix="greenlight-bench-") as tmp:
        for kind in kinds:
            asyncio.run(measure(kind, report, Path(tmp), steps, repeats))
    return report.finish(args.json)


if __name__ == "__main__":
    run_main(main)
