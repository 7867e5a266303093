"""A case's cards fall behind in the transaction of every change to what they show, whoever
makes it, and catch up only to what a sync read (``Case.changes`` / ``Case.shown``)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import col

from bot.domain.usecases.comments import add_comment
from storage.db import SessionFactory
from storage.models import Case, Lane, Step
from storage.store import Store

from .test_approvals import PERMIT, POLICY, Bureau, desk

__all__ = ["desk"]  # the fixture


async def counts(sessions: SessionFactory, case_id: int) -> tuple[int, int]:
    async with sessions() as session:
        changes, shown = (await session.execute(
            select(col(Case.changes), col(Case.shown)).where(col(Case.id) == case_id))).one()
        return int(changes), int(shown)


async def behind(sessions: SessionFactory) -> list[int]:
    async with sessions() as session:
        return await Store(session).cases_behind(10)


async def comment(desk: Bureau, case_id: int, who: str, text: str) -> None:
    async with desk.sessions() as session:
        store = Store(session)
        await add_comment(store, await desk.actor(store, who), case_id, text, tg_chat_id=None,
                          tg_message_id=None, now=desk.now, policy=POLICY)


async def test_every_change_to_what_cards_show_puts_the_case_behind(desk: Bureau) -> None:
    case_id = await desk.submit("building_permit", project="KP-004", who="zhangfan",
                                details=PERMIT)
    changes, shown = await counts(desk.sessions, case_id)
    assert changes >= 1 and shown == 0
    assert await behind(desk.sessions) == [case_id]
    async with desk.sessions() as session:
        await Store(session).mark_shown(case_id, changes)
    assert await behind(desk.sessions) == []

    await desk.decide("wang", case_id)  # assignments, lane, step and case in one transaction
    after_decision, _ = await counts(desk.sessions, case_id)
    assert after_decision > changes
    await comment(desk, case_id, "zhou", "请补充现场照片")  # a comment only: no case row touched
    after_comment, shown = await counts(desk.sessions, case_id)
    assert after_comment > after_decision and shown == changes
    assert await behind(desk.sessions) == [case_id]


async def test_the_sweeps_bookkeeping_and_a_lane_of_an_unloaded_step_count_right(
        desk: Bureau) -> None:
    case_id = await desk.submit()
    before, _ = await counts(desk.sessions, case_id)
    async with desk.sessions() as session:  # the sweep sets a step's next moment: not shown
        [step] = await Store(session).all(Step, case_id=case_id)
        step.next_at = desk.now + timedelta(days=1)
    assert await counts(desk.sessions, case_id) == (before, 0)
    async with desk.sessions() as session:  # a lane changed without its step read
        [lane] = (await session.execute(select(Lane))).scalars()
        lane.name = "分管领导审批（调整）"
    assert await counts(desk.sessions, case_id) == (before + 1, 0)


async def test_changes_made_at_once_by_two_workers_are_all_counted(desk: Bureau) -> None:
    case_id = await desk.submit()
    before, _ = await counts(desk.sessions, case_id)
    await asyncio.gather(comment(desk, case_id, "zhou", "一"), comment(desk, case_id, "li", "二"))
    assert await counts(desk.sessions, case_id) == (before + 2, 0)


async def test_what_cards_show_never_moves_back(desk: Bureau) -> None:
    case_id = await desk.submit()
    changes, _ = await counts(desk.sessions, case_id)
    async with desk.sessions() as session:
        await Store(session).mark_shown(case_id, changes)
    async with desk.sessions() as session:  # a slower sync that read an older count
        await Store(session).mark_shown(case_id, changes - 1)
    assert await counts(desk.sessions, case_id) == (changes, changes)
