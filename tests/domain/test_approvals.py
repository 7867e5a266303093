"""Approval rules on a real database: one decision under concurrent presses, the audit chain."""

from __future__ import annotations

import asyncio
from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from bot.domain.approvals import case_view, decide, submit_case
from bot.domain.calendar import WorkCalendar
from bot.domain.errors import AlreadyDecided, NotYourTurn, StaleCard
from bot.domain.org import apply_org, parse_org
from bot.domain.people import Actor, identify
from bot.domain.policy import Policy
from bot.domain.reporting import FileRef, file_report
from bot.domain.vocabulary import Decision
from sandbox.demo import DEMO_USERS, demo_org_yaml
from storage.db import SessionFactory
from storage.models import Assignment, AuditEvent, Case, Project, Report
from storage.store import Store

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
CALENDAR = WorkCalendar()
POLICY = Policy()


@pytest.fixture
async def bureau(sessions: SessionFactory) -> SessionFactory:
    async with sessions() as session:
        store = Store(session)
        await apply_org(store, parse_org(demo_org_yaml(NOW.date(), CALENDAR), "demo.yaml"),
                        now=NOW)
        await store.commit()
    return sessions


async def actor(store: Store, key: str) -> Actor:
    found = await identify(store, DEMO_USERS[key].telegram_id)
    assert found is not None
    return found


async def submit(sessions: SessionFactory, title: str = "选址方案") -> tuple[int, int]:
    async with sessions() as session:
        store = Store(session)
        project = await store.project_by_code("KP-002")
        assert project is not None
        view = await submit_case(store, await actor(store, "liuxiao"), project, title=title,
                                 files=[], now=NOW, calendar=CALENDAR, policy=POLICY)
        await store.commit()
        assert view.case.id is not None and view.steps[0].step.id is not None
        return view.case.id, view.steps[0].step.id


async def press(sessions: SessionFactory, key: str, step_id: int,
                decision: Decision = Decision.APPROVE) -> str:
    async with sessions() as session:
        store = Store(session)
        try:
            await decide(store, await actor(store, key), step_id, decision,
                         reason="理由" if decision is Decision.RETURN else None,
                         now=NOW, policy=POLICY)
        except (AlreadyDecided, StaleCard) as refused:
            return refused.code
        return "decided"


@pytest.mark.parametrize("presses", [2, 100])
async def test_concurrent_presses_by_a_and_b_record_exactly_one_decision(
        bureau: SessionFactory, presses: int) -> None:
    case_id, step_id = await submit(bureau)
    who = ["li", "he"] * (presses // 2)
    decisions = [Decision.APPROVE, Decision.RETURN] * (presses // 2)
    outcomes = await asyncio.gather(*(press(bureau, k, step_id, d)
                                      for k, d in zip(who, decisions, strict=True)))
    assert outcomes.count("decided") == 1
    assert set(outcomes) == {"decided", "already_decided"}
    async with bureau() as session:
        store = Store(session)
        decided = [a for a in await store.all(Assignment) if a.decision]
        assert len(decided) == 1
        case = await store.get(Case, case_id)
        assert case is not None and case.state in {"approved", "returned"}
        events = [e.action for e in await store.audit_trail(f"case:{case_id}")]
        assert events.count("case.approve") + events.count("case.return") == 1
        assert await store.verify_audit_chain() is None


async def test_a_person_outside_the_step_is_refused(bureau: SessionFactory) -> None:
    _, step_id = await submit(bureau)
    async with bureau() as session:
        store = Store(session)
        with pytest.raises(NotYourTurn):
            await decide(store, await actor(store, "zhao"), step_id, Decision.APPROVE,
                         reason=None, now=NOW, policy=POLICY)


async def test_the_audit_chain_detects_a_rewritten_event(bureau: SessionFactory) -> None:
    case_id, step_id = await submit(bureau)
    await press(bureau, "li", step_id)
    async with bureau() as session:
        store = Store(session)
        trail = await store.audit_trail()
        assert [e.action for e in trail][-2:] == ["case.submitted", "case.approve"]
        assert all(b.prev_hash == a.hash for a, b in pairwise(trail))
        assert await store.verify_audit_chain() is None
        forged = trail[-1]
        await session.execute(update(AuditEvent).where(AuditEvent.id == forged.id)  # type: ignore[arg-type]
                              .values(data='{"reason": "改写"}'))
        await session.commit()
        assert await store.verify_audit_chain() == forged.id
    async with bureau() as session:
        view = await case_view(Store(session), case_id, NOW, CALENDAR, POLICY)
        assert view.case.state == "approved"


async def test_album_items_filed_at_once_make_one_report(bureau: SessionFactory) -> None:
    async def file_item(n: int) -> None:
        async with bureau() as session:
            store = Store(session)
            project = await store.project_by_code("KP-001")
            assert project is not None
            ref = FileRef("photo", f"file-{n}", f"unique-{n}")
            await file_report(store, await actor(store, "zhangfan"), project,
                              text="航拍" if n == 0 else "", files=[ref], tg_chat_id=-100,
                              message_id=10 + n, media_group_id="album-1", now=NOW,
                              calendar=CALENDAR, policy=POLICY)
            await store.commit()

    await asyncio.gather(*(file_item(n) for n in range(4)))
    async with bureau() as session:
        store = Store(session)
        [report] = await store.all(Report)
        assert report.text == "航拍"
        assert len(await store.attachments(report_id=report.id)) == 4
        project = await store.project_by_code("KP-001")
        assert isinstance(project, Project)
