"""Supervision items' use cases on a real database: what registration accepts, and of many
simultaneous presses on one step exactly one is recorded."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.errors import (
    BadDate,
    ItemStep,
    NotAllowed,
    UnknownAssignee,
    UnknownSupervisionItem,
)
from bot.domain.rules.policy import Policy
from bot.domain.rules.vocabulary import ItemState
from bot.domain.usecases import supervision_items as items
from bot.domain.usecases.people import Actor, identify
from sandbox.demo import DEMO_USERS
from storage.db import SessionFactory
from storage.models import ItemEvent, SupervisionItem
from storage.store import Store
from tests.domain.conftest import MONDAY

CALENDAR, POLICY = WorkCalendar(), Policy()


async def actor(store: Store, key: str) -> Actor:
    found = await identify(store, DEMO_USERS[key].telegram_id)
    assert found is not None
    return found


async def registered(sessions: SessionFactory, due: str = "5",
                     assignee: str = "building") -> int:
    async with sessions() as session:
        store = Store(session)
        item = await items.register(store, await actor(store, "zhou"), title="议题材料",
                                    requirement="两周内形成", assignee=assignee, due=due,
                                    now=MONDAY, today=MONDAY.date(), policy=POLICY)
        return item.id


async def test_registration_checks_who_and_when(bureau: SessionFactory) -> None:
    async with bureau() as session:
        store = Store(session)
        zhou, liuxiao = await actor(store, "zhou"), await actor(store, "liuxiao")
        args = {"title": "t", "requirement": "r", "now": MONDAY, "today": MONDAY.date(),
                "policy": POLICY}
        with pytest.raises(NotAllowed):
            await items.register(store, liuxiao, assignee="building", due="5", **args)
        with pytest.raises(UnknownAssignee):
            await items.register(store, zhou, assignee="规划科", due="5", **args)
        with pytest.raises(BadDate):
            await items.register(store, zhou, assignee="wang", due="0", **args)
        with pytest.raises(BadDate):
            await items.register(store, zhou, assignee="wang", due="2026-11-20", **args)
    first = await registered(bureau, "5个工作日", "建筑工程规划管理科")
    second = await registered(bureau, "12月10日", "@liu_xiao")
    async with bureau() as session:
        store = Store(session)
        one, two = await store.get(SupervisionItem, first), await store.get(SupervisionItem,
                                                                               second)
        assert one is not None and two is not None
        assert (one.code, one.limit_days, one.section_id is not None) == ("DC-2026-001", 5,
                                                                          True)
        assert (two.code, str(two.due_on), two.assignee_id is not None) == (
            "DC-2026-002", "2026-12-10", True)
        zhou = await actor(store, "zhou")
        assert await items.find_item(store, "dc-2026-2", zhou.person) == two
        # An item of the city's office is unknown to a district's people, but to whom
        # answers it (刘晓 is in the city too: reach; 顾晨 of 雁城区 is not).
        gu = await actor(store, "gu")
        with pytest.raises(UnknownSupervisionItem):
            await items.find_item(store, "dc-2026-2", gu.person)
        with pytest.raises(UnknownAssignee):  # nor may the city register for a unit it lacks
            await items.find_assignee(store, "nobody", zhou.person)


@pytest.mark.parametrize("presses", [2, 20])
async def test_simultaneous_presses_record_one_step(bureau: SessionFactory,
                                                    presses: int) -> None:
    item_id = await registered(bureau)
    async with bureau() as session:
        store = Store(session)
        zhou = await actor(store, "zhou")
        await items.assign(store, zhou, await items.find_item(
            store, item_id, zhou.person), now=MONDAY, calendar=CALENDAR, today=MONDAY.date())

    async def archive_or_urge(n: int) -> str:
        async with bureau() as session:
            store = Store(session)
            who = await actor(store, "zhou" if n % 2 else "qian")
            item = await items.find_item(store, item_id, who.person)
            try:
                if n % 2:
                    await items.bulletin(store, who, item, now=MONDAY, calendar=CALENDAR)
                else:
                    await items.give_feedback(store, await actor(store, "wang"), item,
                                              text="已完成", files=[], now=MONDAY,
                                              policy=POLICY)
            except ItemStep:
                await session.rollback()
                return "refused"
            return "done"

    outcomes = await asyncio.gather(*(archive_or_urge(n) for n in range(presses)))
    assert "done" in outcomes
    async with bureau() as session:
        store = Store(session)
        item = await store.get(SupervisionItem, item_id)
        events = await store.all(ItemEvent, item_id=item_id)
        assert item is not None and item.version == 2 + outcomes.count("done")
        assert len(events) == 2 + outcomes.count("done")
        answers = [e for e in events if e.act.value == "f"]
        assert len(answers) <= 1
        if answers:
            assert item.state is ItemState.REVIEWING
        assert (await store.verify_audit_chain()).broken is None
