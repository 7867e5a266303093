"""The approval core on a real database: ``submit_case`` and ``decide``, and simultaneous presses.

Each operation runs in its own session and transaction, as one Telegram update does in the
bot (``UnitOfWork``), against the demo bureau (``sandbox/demo.py``) imported with the org
importer. The contention run fires N ``decide()`` calls at once, each with its own session,
from the A and B posts of one or-sign (``any``) step, and checks that exactly one decision
was recorded.

Run: ``python -m bench.decisions [--quick] [--json [PATH]] [--db auto|sqlite|postgresql]``
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlmodel import col

from bench._common import (
    Report,
    Target,
    add_db_option,
    database_kinds,
    fresh_database,
    import_demo_bureau,
    parser,
    run_main,
)
from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.casetypes import default_case_types_path, load_case_types
from bot.domain.rules.errors import Refusal
from bot.domain.rules.policy import Policy
from bot.domain.rules.vocabulary import Decision, StepState
from bot.domain.usecases.approvals import Outcome, decide, submit_case
from bot.domain.usecases.people import Actor, identify
from sandbox.demo import DEMO_USERS
from storage.db import SessionFactory, create_engine, create_session_factory
from storage.models import Assignment, Project, Step
from storage.store import Store

# Targets -----------------------------------------------------------------------------------
SUBMIT = Target(50e-3, "s", "the database's share of answering /submit: the card should be"
                " up within ~1 s over real Telegram, which needs 3 API calls", stat="p95")
DECIDE = Target(50e-3, "s", "the database's share of a button press, which Telegram wants"
                " answered at once (the spinner shows until then)", stat="p95")
CONTENTION = Target(250e-3, "s", "the slowest of simultaneous presses is answered (told who"
                    " decided) as promptly as one press feels: ≤ 0.25 s", stat="p95")

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)  # a Monday in office hours
PROJECT = "KP-002"  # leader 李 (A post), B post 何
CASE_TYPE = "item"  # the packaged case type whose one step is an or-sign: A post or B post
HANDLER, A_POST, B_POST = "liuxiao", "li", "he"
RETURN_EVERY = 5  # every 5th decision is a return with a reason


class Bureau:
    def __init__(self, sessions: SessionFactory, project: Project,
                 actors: dict[str, Actor]) -> None:
        self.sessions = sessions
        self.project = project
        self.actors = actors
        self.calendar = WorkCalendar()
        self.policy = Policy()
        self.submitted = 0
        case_type = load_case_types(default_case_types_path()).get(CASE_TYPE)
        assert case_type is not None, CASE_TYPE
        self.case_type = case_type

    async def submit(self, now: datetime) -> int:
        """One submission as a unit of work, committed as the bot's edge does; the open
        step's id."""
        self.submitted += 1
        async with self.sessions() as session:
            store = Store(session)
            case = await submit_case(store, self.actors[HANDLER], self.project, self.case_type,
                                     title=f"基准测试事项 {self.submitted}", details={}, files=[],
                                     green_channel=False, now=now, calendar=self.calendar,
                                     policy=self.policy)
            step = await store.one(Step, case_id=case.id, state=StepState.OPEN)
            await store.commit()
        assert step is not None and step.id is not None
        return step.id

    async def decide(self, who: str, step_id: int, decision: Decision,
                     now: datetime) -> Outcome | Refusal:
        """One press as a unit of work: what decide() returned, or the refusal it raised."""
        reason = "请补充材料（基准测试）" if decision is Decision.RETURN else None
        async with self.sessions() as session:
            try:
                outcome = await decide(Store(session), self.actors[who], step_id, decision,
                                       reason=reason, now=now, calendar=self.calendar,
                                       policy=self.policy)
                await session.commit()
                return outcome
            except Refusal as refusal:
                return refusal

    async def decisions_recorded(self, step_id: int) -> int:
        async with self.sessions() as session:
            query = (select(func.count()).select_from(Assignment)
                     .where(col(Assignment.step_id) == step_id,
                            col(Assignment.decision).is_not(None)))
            return int((await session.execute(query)).scalar_one())


async def open_bureau(url: str) -> tuple[Bureau, Any]:
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    await import_demo_bureau(sessions, START.date(), START)
    async with sessions() as session:
        store = Store(session)
        project = await store.project_by_code(PROJECT)
        actors = {}
        for key in (HANDLER, A_POST, B_POST):
            actor = await identify(store, DEMO_USERS[key].telegram_id)
            assert actor is not None, key
            actors[key] = actor
    assert project is not None
    return Bureau(sessions, project, actors), engine


async def measure(kind: str, report: Report, workdir: Path, *, cases: int, rounds: int,
                  contenders: tuple[int, ...]) -> None:
    url = await fresh_database(kind, workdir, "decisions")
    bureau, engine = await open_bureau(url)
    try:
        report.section(f"[{kind}] submit_case() and its commit, one session each ({cases} cases)")
        steps: list[int] = []
        samples = []
        for i in range(cases):
            started = time.perf_counter()
            steps.append(await bureau.submit(START + timedelta(seconds=i)))
            samples.append(time.perf_counter() - started)
        stats = report.timing(f"{kind}.submit_case", "submit_case()", samples, target=SUBMIT)
        report.value(f"{kind}.submit_rate", "  submissions per second (one at a time)",
                     1 / stats.mean, "/s")

        report.section(f"[{kind}] decide() on an open step, one session each ({cases} presses,"
                       f" every {RETURN_EVERY}th a return)")
        samples = []
        outcomes: Counter[str] = Counter()
        refused = 0
        for i, step_id in enumerate(steps):
            who = A_POST if i % 2 == 0 else B_POST
            decision = Decision.RETURN if i % RETURN_EVERY == RETURN_EVERY - 1 else Decision.APPROVE
            started = time.perf_counter()
            result = await bureau.decide(who, step_id, decision, START + timedelta(minutes=5 + i))
            samples.append(time.perf_counter() - started)
            outcomes[type(result).__name__] += 1
            refused += isinstance(result, Refusal)
        if refused:
            report.alert(f"[{kind}] plain decisions were refused: {dict(outcomes)}")
        stats = report.timing(f"{kind}.decide", "decide()", samples, target=DECIDE)
        report.value(f"{kind}.decide_rate", "  decisions per second (one at a time)",
                     1 / stats.mean, "/s")

        for n in contenders:
            await contention(kind, report, bureau, n, rounds)
    finally:
        await engine.dispose()


async def contention(kind: str, report: Report, bureau: Bureau, n: int, rounds: int) -> None:
    report.section(f"[{kind}] contention: {n} simultaneous decide() on one or-sign step,"
                   f" A and B posts alternating ({rounds} rounds)")
    samples = []
    seen: Counter[str] = Counter()
    doubles = empties = 0
    for r in range(rounds):
        now = START + timedelta(hours=2, minutes=r)
        step_id = await bureau.submit(now)
        presses = [
            bureau.decide(A_POST if i % 2 == 0 else B_POST, step_id,
                          Decision.RETURN if (r + i) % RETURN_EVERY == 0 else Decision.APPROVE,
                          now + timedelta(seconds=30))
            for i in range(n)
        ]
        started = time.perf_counter()
        results = await asyncio.gather(*presses, return_exceptions=True)
        samples.append(time.perf_counter() - started)
        winners = sum(isinstance(x, Outcome) for x in results)
        seen.update(type(x).__name__ for x in results)
        recorded = await bureau.decisions_recorded(step_id)
        if recorded > 1 or winners > 1:
            doubles += 1
            report.alert(f"DOUBLE DECISION [{kind}] step {step_id}: {recorded} decisions"
                         f" recorded, {winners} presses told they won")
        elif recorded == 0 or winners == 0:
            empties += 1
            report.alert(f"NO DECISION [{kind}] step {step_id}: {n} presses, none recorded"
                         f" ({[type(x).__name__ for x in results]})")
    report.timing(f"{kind}.contention_{n}", f"all {n} presses resolved", samples,
                  target=CONTENTION)
    report.value(f"{kind}.contention_{n}_double", "  rounds with a DOUBLE DECISION", doubles, "",
                 detail=f"{rounds} rounds; outcomes: {dict(seen)}")
    report.figures[f"{kind}.contention_{n}_double"]["outcomes"] = dict(seen)
    report.figures[f"{kind}.contention_{n}_double"]["no_decision_rounds"] = empties
    if doubles == 0 and empties == 0:
        report.note(f"exactly one decision recorded in each of the {rounds} rounds")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser("decisions", "submit_case/decide on a real database, and simultaneous presses")
    add_db_option(p)
    p.add_argument("--cases", type=int, default=None, help="cases submitted and decided")
    p.add_argument("--rounds", type=int, default=None, help="contention rounds per N")
    p.add_argument("--contenders", type=int, nargs="+", default=[2, 8],
                   help="N simultaneous presses (default: 2 8)")
    args = p.parse_args(argv)
    cases = args.cases or (60 if args.quick else 300)
    rounds = args.rounds or (8 if args.quick else 40)
    report = Report("decisions", "approval core: submit_case, decide, contention",
                    quick=args.quick)
    kinds = database_kinds(args.db)
    report.data["databases"] = kinds
    with tempfile.TemporaryDirectory(prefix="greenlight-bench-") as tmp:
        for kind in kinds:
            asyncio.run(measure(kind, report, Path(tmp), cases=cases, rounds=rounds,
                                contenders=tuple(args.contenders)))
    return report.finish(args.json)


if __name__ == "__main__":
    run_main(main)
