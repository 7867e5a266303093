"""The sweep's planning on a real database: claims made in batches, each once, in order;
claims another process made first are left to it; each case's ladder read once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from bot.domain import nudging
from bot.domain.approvals import submit_case, withdraw
from bot.domain.calendar import WorkCalendar
from bot.domain.casetypes import default_case_types_path, load_case_types
from bot.domain.ladder import DEFAULT_LADDER
from bot.domain.people import identify
from bot.domain.policy import Policy
from sandbox.demo import DEMO_USERS
from storage.db import SessionFactory
from storage.models import Milestone, Nudge
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
        return await nudging.plan(Store(session), now, CALENDAR, POLICY, ladders)


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
    assert set(per_case.values()) == {2}  # the handler and the project's guide
    assert {p.reached.key for p in planned.nudges} == {"yellow"}
    assert all(p.nudge.id is not None and p.nudge.sent_at is None for p in planned.nudges)

    assert (await sweep(quiet, THURSDAY + timedelta(minutes=1), ladders)).nudges == []
    async with quiet() as session:
        assert await Store(session).count(Nudge) == 10


async def test_each_open_cases_ladder_is_read_once_and_closed_cases_forgotten(
        quiet: SessionFactory) -> None:
    first, second = await submit_items(quiet, 2)
    ladders = nudging.CaseLadders()
    async with quiet() as session:
        store = CountingStore(session)
        store.asked = []
        await nudging.plan(store, MONDAY, CALENDAR, POLICY, ladders)
        assert sorted(store.asked) == [first, second]
        assert ladders.by_case == {first: DEFAULT_LADDER, second: DEFAULT_LADDER}

        store.asked = []
        await nudging.plan(store, MONDAY + timedelta(minutes=1), CALENDAR, POLICY, ladders)
        assert store.asked == []  # nothing new: nothing read again

        actor = await identify(store, DEMO_USERS["liuxiao"].telegram_id)
        assert actor is not None
        await withdraw(store, actor, first, now=MONDAY)
        await nudging.plan(store, MONDAY + timedelta(minutes=2), CALENDAR, POLICY, ladders)
        assert list(ladders.by_case) == [second]
