"""The sweep's planning on a real database: claims made in batches, each once, in order;
claims another process made first are left to it; each case's ladder read once; whoever
holds the turn is told, once per level, unless the case type's own ladder leaves them out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event

from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.casetypes import (
    CaseType,
    default_case_types_path,
    load_case_types,
    parse_case_types,
)
from bot.domain.rules.ladder import DEFAULT_LADDER
from bot.domain.rules.policy import Policy
from bot.domain.rules.vocabulary import Decision
from bot.domain.usecases import nudging
from bot.domain.usecases.approvals import decide, submit_case, withdraw
from bot.domain.usecases.people import identify
from bot.jobs import plan_windows
from sandbox.demo import DEMO_USERS
from storage.db import SessionFactory
from storage.models import Milestone, Nudge, Step
from storage.store import Store

from .conftest import MONDAY

THURSDAY = MONDAY + timedelta(days=3)  # a three-day item is due today at 17:30: yellow
CALENDAR = WorkCalendar()
POLICY = Policy()
ITEM = load_case_types(default_case_types_path()).get("item")


class CountingStore(Store):
    """A store that notes which cases' definitions it was asked for."""

    asked: list[int]

    async def case_definitions(self, case_ids: Sequence[int]) -> dict[int, str]:
        self.asked.extend(case_ids)
        return await super().case_definitions(case_ids)


@pytest.fixture
async def quiet(bureau: SessionFactory) -> SessionFactory:
    """The bureau with its milestones done: only the cases call for nudges."""
    async with bureau() as session:
        store = Store(session)
        for milestone in await store.all(Milestone):
            milestone.done_on = MONDAY.date()
        await store.commit()
    return bureau


async def plan_nudges(store: Store, now: datetime, calendar: WorkCalendar, policy: Policy,
                      ladders: nudging.CaseLadders) -> nudging.Plan:
    """Every window's plan of a sweep in one, without delivery: a look at all its claims."""
    whole = nudging.Plan()
    async for plan in plan_windows(store, now, calendar, policy, ladders):
        whole.nudges += plan.nudges
        whole.urges += plan.urges
        whole.uncertain_years += plan.uncertain_years
        whole.looked_at += plan.looked_at
    return whole


async def submit_items(sessions: SessionFactory, count: int) -> list[int]:
    assert ITEM is not None
    ids = []
    async with sessions() as session:
        store = Store(session)
        actor = await identify(store, DEMO_USERS["liuxiao"].telegram_id)
        project = await store.project_by_code("KP-002")
        assert actor is not None and project is not None
        for index in range(count):
            case = await submit_case(store, actor, project, ITEM, title=f"事项 {index}",
                                     details={}, files=[], green_channel=False, now=MONDAY,
                                     calendar=CALENDAR, policy=POLICY)
            assert case.id is not None
            ids.append(case.id)
    return ids


async def sweep(sessions: SessionFactory, now: datetime,
                ladders: nudging.CaseLadders) -> nudging.Plan:
    async with sessions() as session:
        return await plan_nudges(Store(session), now, CALENDAR, POLICY, ladders)


async def test_claims_another_process_made_first_are_left_to_it(
        quiet: SessionFactory) -> None:
    async with quiet() as session:
        store = Store(session)
        liuxiao = await store.person_by_key("liuxiao")
        assert liuxiao is not None
        row = {"target_kind": "step", "target_id": 7, "person_id": liuxiao.id,
               "level": "yellow", "created_at": MONDAY, "late": False}
        [first] = await store.claim_nudges([row])
        again = await store.claim_nudges([row, {**row, "level": "red"}])
        assert [(n.level, n.id != first.id) for n in again] == [("red", True)]
        again[0].sent_at = MONDAY  # the rows it returns are the session's own
        await store.commit()
    async with quiet() as session:
        rows = await Store(session).all(Nudge, order_by=Nudge.id)
    assert [(n.level, n.sent_at is not None) for n in rows] == [("yellow", False),
                                                                ("red", True)]


async def test_many_subjects_are_claimed_in_batches_once_each_in_order(
        quiet: SessionFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nudging, "BATCH", 2)
    cases = await submit_items(quiet, 5)
    ladders = nudging.CaseLadders()
    planned = await sweep(quiet, THURSDAY, ladders)
    subjects = [p.subject.case.id for p in planned.nudges if p.subject.case is not None]
    assert subjects == sorted(subjects) and set(subjects) == set(cases)
    per_case = Counter(subjects)
    assert set(per_case.values()) == {4}  # the handler, the guide, the A and the B post
    assert {p.reached.key for p in planned.nudges} == {"yellow"}
    assert all(p.nudge.id is not None and p.nudge.sent_at is None for p in planned.nudges)

    assert (await sweep(quiet, THURSDAY + timedelta(minutes=1), ladders)).nudges == []
    async with quiet() as session:
        assert await Store(session).count(Nudge) == 20


async def test_a_catch_up_is_planned_a_window_at_a_time_each_claimed_before_the_next_is_read(
        quiet: SessionFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """After an outage everything is due at once: each window's plan comes out (to be
    delivered) before the next window is read, so no plan holds more than a window's claims;
    together they claim what one plan would, once each."""
    monkeypatch.setattr(nudging, "WINDOW", 2)
    cases = await submit_items(quiet, 5)
    plans: list[list[int]] = []
    claimed_when_yielded: list[int] = []
    async with quiet() as session:
        store = Store(session)
        async for plan in plan_windows(store, THURSDAY, CALENDAR, POLICY,
                                       nudging.CaseLadders()):
            plans.append(sorted({p.subject.case.id for p in plan.nudges
                                 if p.subject.case is not None}))
            async with quiet() as other:  # committed, as another session sees it
                claimed_when_yielded.append(await Store(other).count(Nudge))
    steps = [ids for ids in plans if ids]
    assert len(steps) == 3 and all(len(ids) <= 2 for ids in steps)
    assert [case_id for ids in steps for case_id in ids] == cases
    assert claimed_when_yielded[:3] == [8, 16, 20]  # 4 people per item, each window kept
    assert plans[-1] == []  # the last: abandoned claims retaken (none here)
    assert (await sweep(quiet, THURSDAY + timedelta(minutes=1), nudging.CaseLadders())
            ).nudges == []


async def test_each_open_cases_ladder_is_read_once_and_closed_cases_forgotten(
        quiet: SessionFactory) -> None:
    first, second = await submit_items(quiet, 2)
    ladders = nudging.CaseLadders()
    async with quiet() as session:
        store = CountingStore(session)
        store.asked = []
        await plan_nudges(store, MONDAY, CALENDAR, POLICY, ladders)
        assert sorted(store.asked) == [first, second]
        assert ladders.by_case == {first: DEFAULT_LADDER, second: DEFAULT_LADDER}

        store.asked = []
        await plan_nudges(store, MONDAY + timedelta(minutes=1), CALENDAR, POLICY, ladders)
        assert store.asked == []  # nothing new: nothing read again

        actor = await identify(store, DEMO_USERS["liuxiao"].telegram_id)
        assert actor is not None
        await withdraw(store, actor, first, now=MONDAY)
        await plan_nudges(store, MONDAY + timedelta(minutes=2), CALENDAR, POLICY, ladders)
        assert list(ladders.by_case) == [second]


async def submit_as(sessions: SessionFactory, case_type: CaseType) -> int:
    async with sessions() as session:
        store = Store(session)
        actor = await identify(store, DEMO_USERS["liuxiao"].telegram_id)
        project = await store.project_by_code("KP-002")
        assert actor is not None and project is not None
        case = await submit_case(store, actor, project, case_type, title="方案", details={},
                                 files=[], green_channel=False, now=MONDAY, calendar=CALENDAR,
                                 policy=POLICY)
        assert case.id is not None
        return case.id


def told(plan: nudging.Plan) -> list[tuple[str, str]]:
    return sorted((p.person.key or "", p.reached.key) for p in plan.nudges)


async def test_whoever_holds_the_turn_hears_yellow_and_red_once_per_level(
        quiet: SessionFactory) -> None:
    assert ITEM is not None
    await submit_as(quiet, ITEM)  # 李 (A post, also the leader in charge) or 何 (B post)
    ladders = nudging.CaseLadders()
    yellow = await sweep(quiet, THURSDAY, ladders)
    assert told(yellow) == [("he", "yellow"), ("li", "yellow"), ("liuxiao", "yellow"),
                            ("zheng", "yellow")]
    red = await sweep(quiet, THURSDAY + timedelta(days=1), ladders)  # Friday: late
    # 李 is both the leader in charge and a holder: one red.
    assert told(red) == [("he", "red"), ("li", "red"), ("liuxiao", "red"), ("zhao", "red")]


async def test_a_countersigner_who_signed_is_no_longer_reminded(quiet: SessionFactory) -> None:
    countersign = parse_case_types("""
case_types:
  - code: countersign
    name: 会签
    steps:
      - {name: 领导会签, mode: all, assignees: [{role: leader}], limit: 3}
""", "extra.yaml").get("countersign")
    assert countersign is not None
    case_id = await submit_as(quiet, countersign)
    async with quiet() as session:
        store = Store(session)
        actor = await identify(store, DEMO_USERS["li"].telegram_id)
        assert actor is not None
        [step] = await store.all(Step, case_id=case_id)
        assert step.id is not None
        await decide(store, actor, step.id, Decision.APPROVE, now=MONDAY, calendar=CALENDAR,
                     policy=POLICY)
    plan = await sweep(quiet, THURSDAY, nudging.CaseLadders())
    assert told(plan) == [("he", "yellow"), ("liuxiao", "yellow"), ("zheng", "yellow")]


async def test_a_case_types_own_ladder_without_holders_leaves_them_out(
        quiet: SessionFactory) -> None:
    own = parse_case_types("""
case_types:
  - code: quiet_item
    name: 不提醒审批人的事项
    ladder:
      yellow: [handler]
      red: [handler, leader]
    steps:
      - name: 分管领导审批
        mode: any
        assignees: [project_leader, leader_backup]
        limit: 3
""", "own.yaml").get("quiet_item")
    assert own is not None
    await submit_as(quiet, own)
    ladders = nudging.CaseLadders()
    assert told(await sweep(quiet, THURSDAY, ladders)) == [("liuxiao", "yellow")]
    assert told(await sweep(quiet, THURSDAY + timedelta(days=1), ladders)) == [
        ("li", "red"), ("liuxiao", "red")]  # 李 as the leader in charge; 何 not at all


class Statements:
    """The SQL a sweep sends (an event on the real engine the tests use)."""

    def __init__(self, sessions: SessionFactory) -> None:
        self.engine = sessions.kw["bind"].sync_engine
        self.seen: list[str] = []

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: object, _cursor: object, statement: str, *_args: object) -> None:
        self.seen.append(" ".join(statement.split()))


async def due_now(sessions: SessionFactory, now: datetime) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    async with sessions() as session:
        store = Store(session)
        for window in await nudging.due_windows(store, now):
            planning = nudging.Planning(store, now, CALENDAR, POLICY, nudging.CaseLadders())
            await planning.read_due(window)
            found += [(due.kind, due.id) for due in planning.due]
    return found


async def test_a_sweep_with_nothing_due_reads_no_open_row_however_many_are_open(
        quiet: SessionFactory) -> None:
    """After a first sweep every open step waits for its next moment (here the close of
    Tuesday, when the three-day items turn yellow); a sweep before it reads none of them,
    and sends the same statements for 3 open steps as for 30."""
    ladders = nudging.CaseLadders()
    counts = []
    for count in (3, 27):
        await submit_items(quiet, count)
        await sweep(quiet, MONDAY + timedelta(minutes=1), ladders)
        assert await due_now(quiet, MONDAY + timedelta(minutes=2)) == []
        with Statements(quiet) as statements:
            assert (await sweep(quiet, MONDAY + timedelta(minutes=2), ladders)).nudges == []
        counts.append(len(statements.seen))
        reads = [s for s in statements.seen if s.startswith("SELECT") and " step" in s]
        assert reads and all("next_at <=" in s for s in reads), reads
    assert counts[0] == counts[1]

    yellow = CALENDAR.close_of(MONDAY.date() + timedelta(days=1))  # Tuesday 17:30
    assert await due_now(quiet, yellow - timedelta(seconds=1)) == []
    assert len(await due_now(quiet, yellow)) == 30


async def test_a_step_that_changes_is_looked_at_by_the_next_sweep(quiet: SessionFactory) -> None:
    [case_id] = await submit_items(quiet, 1)
    ladders = nudging.CaseLadders()
    await sweep(quiet, MONDAY + timedelta(minutes=1), ladders)
    assert await due_now(quiet, MONDAY + timedelta(minutes=2)) == []
    async with quiet() as session:
        store = Store(session)
        actor = await identify(store, DEMO_USERS["liuxiao"].telegram_id)
        assert actor is not None
        await withdraw(store, actor, case_id, now=MONDAY + timedelta(minutes=2))
        [step] = await store.steps(case_id)
        await store.commit()
    assert await due_now(quiet, MONDAY + timedelta(minutes=3)) == [("step", step.id)]
    await sweep(quiet, MONDAY + timedelta(minutes=3), ladders)
    async with quiet() as session:
        assert (await Store(session).get(Step, step.id)).next_at is None  # type: ignore[union-attr]
