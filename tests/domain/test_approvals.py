"""The approval engine on a real database: every mode and decision kind, the stopped clock,
rounds, delegation, concurrency, and the audit chain."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.casetypes import (
    CaseTypes,
    default_case_types_path,
    load_case_types,
    parse_case_types,
)
from bot.domain.rules.errors import (
    CaseClosed,
    MissingField,
    NotAllowed,
    NotYourTurn,
    Refusal,
)
from bot.domain.rules.policy import Policy
from bot.domain.rules.vocabulary import AssignmentState, Decision
from bot.domain.usecases.approvals import (
    add_signer,
    check_press,
    decide,
    resubmit,
    submit_case,
    transfer,
    withdraw,
)
from bot.domain.usecases.case_view import case_view, pending_for
from bot.domain.usecases.comments import add_comment
from bot.domain.usecases.delegation import set_away
from bot.domain.usecases.people import Actor, identify
from bot.domain.usecases.reporting import FileRef, file_report
from sandbox.demo import DEMO_USERS
from storage.db import SessionFactory
from storage.models import Assignment, AuditEvent, Case, Lane, Report, Step
from storage.store import Store

from .conftest import MONDAY

SH = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkCalendar()
POLICY = Policy()
TYPES = load_case_types(default_case_types_path())
PERMIT = {"applicant": "雁城建投", "site": "雁城路12号"}
EXTRA = parse_case_types("""
case_types:
  - code: countersign
    name: 会签
    steps:
      - {name: 领导会签, mode: all, assignees: [{role: leader}], limit: 2}
      - {name: 局长审定, mode: single, assignees: [{role: director}], limit: 1}
""", "extra.yaml")


class Bureau:
    """Acting as demo people, each action in its own session like one Telegram update."""

    def __init__(self, sessions: SessionFactory, types: CaseTypes = TYPES) -> None:
        self.sessions, self.types, self.now = sessions, types, MONDAY

    async def actor(self, store: Store, key: str) -> Actor:
        found = await identify(store, DEMO_USERS[key].telegram_id)
        assert found is not None
        return found

    async def person_id(self, key: str) -> int:
        async with self.sessions() as session:
            person = await Store(session).person_by_key(key)
            assert person is not None and person.id is not None
            return person.id

    async def submit(self, type_code: str = "item", *, project: str = "KP-002",
                     who: str = "liuxiao", details: dict[str, str] | None = None,
                     green: bool = False) -> int:
        case_type = self.types.get(type_code) or EXTRA.get(type_code)
        assert case_type is not None
        async with self.sessions() as session:
            store = Store(session)
            found = await store.project_by_code(project)
            assert found is not None
            case = await submit_case(store, await self.actor(store, who), found, case_type,
                                     title="方案", details=details or {}, files=[],
                                     green_channel=green, now=self.now, calendar=CALENDAR,
                                     policy=POLICY)
            assert case.id is not None
            return case.id

    async def step(self, case_id: int) -> Step:
        """The current step, or once the case is over the last one that ran."""
        async with self.sessions() as session:
            view = await case_view(Store(session), case_id, self.now, CALENDAR, POLICY)
            if view.current is not None:
                return view.current.step
            return [s.step for s in view.steps if s.step.state != "waiting"][-1]

    async def decide(self, who: str, case_id: int, decision: Decision = Decision.APPROVE,
                     **kwargs: object) -> str:
        step = await self.step(case_id)
        assert step.id is not None
        async with self.sessions() as session:
            store = Store(session)
            try:
                outcome = await decide(store, await self.actor(store, who), step.id, decision,
                                       now=self.now, calendar=CALENDAR, policy=POLICY,
                                       **kwargs)  # type: ignore[arg-type]
            except Refusal as refused:
                return refused.code
            return outcome.event

    async def holders(self, case_id: int) -> dict[str, str]:
        """Person key -> assignment state, in the current step."""
        async with self.sessions() as session:
            view = await case_view(Store(session), case_id, self.now, CALENDAR, POLICY)
            assert view.current is not None
            return {a.person.key: a.assignment.state for lane in view.current.lanes
                    for a in lane.assignments if a.state in (
                        AssignmentState.PENDING, AssignmentState.WAITING)}

    async def case(self, case_id: int) -> Case:
        async with self.sessions() as session:
            case = await Store(session).get(Case, case_id)
            assert case is not None
            return case


@pytest.fixture
def desk(bureau: SessionFactory) -> Bureau:
    return Bureau(bureau)


async def test_sequential_steps_open_one_after_the_other(desk: Bureau) -> None:
    case_id = await desk.submit("building_permit", project="KP-004", who="zhangfan",
                                details=PERMIT)
    assert await desk.holders(case_id) == {"wang": "pending"}  # the section head
    first = await desk.step(case_id)
    assert first.due_at == datetime(2026, 11, 30, 17, 30, tzinfo=SH)  # 5 working days
    assert await desk.decide("wang", case_id) == "approved_step"
    assert await desk.holders(case_id) == {"chen": "pending"}  # director meeting
    async with desk.sessions() as session:
        view = await case_view(Store(session), case_id, desk.now, CALENDAR, POLICY)
    assert [p.key for p in view.current.cc] == ["li"]  # type: ignore[union-attr]
    assert view.details == PERMIT
    assert await desk.decide("chen", case_id) == "approved_case"
    assert (await desk.case(case_id)).state == "approved"


async def test_a_required_field_must_be_filled(desk: Bureau) -> None:
    with pytest.raises(MissingField):
        await desk.submit("building_permit", project="KP-004", who="zhangfan",
                          details={"site": "雁城路12号"})


async def test_countersign_needs_every_leader(desk: Bureau) -> None:
    desk.types = EXTRA
    case_id = await desk.submit("countersign")
    assert await desk.holders(case_id) == {"li": "pending", "he": "pending"}
    assert await desk.decide("li", case_id) == "approved"
    assert await desk.holders(case_id) == {"he": "pending"}
    assert await desk.decide("li", case_id) == "already_decided"
    assert await desk.decide("he", case_id) == "approved_step"
    assert await desk.holders(case_id) == {"chen": "pending"}


async def test_or_sign_takes_the_first_decision(desk: Bureau) -> None:
    case_id = await desk.submit("item")
    assert await desk.holders(case_id) == {"li": "pending", "he": "pending"}
    assert await desk.decide("he", case_id) == "approved_case"
    assert await desk.decide("li", case_id) == "already_decided"


async def test_a_joint_step_waits_for_every_department_and_its_longest_limit(
        desk: Bureau) -> None:
    case_id = await desk.submit("joint_review", project="KP-002")
    step = await desk.step(case_id)
    async with desk.sessions() as session:
        lanes = await Store(session).all(Lane, order_by=Lane.seq, step_id=step.id)
    assert [lane.limit_days for lane in lanes] == [10, 15]
    assert step.due_at == lanes[1].due_at == CALENDAR.deadline(MONDAY, 15).due
    building, municipal = ("wang", "zhao")
    assert await desk.decide(building, case_id) == "approved"
    assert await desk.decide("zhangfan", case_id) == "already_decided"  # or-sign in the lane
    assert await desk.decide(municipal, case_id) == "approved_step"
    assert await desk.holders(case_id) == {"li": "pending", "he": "pending"}


async def test_return_to_the_submitter_stops_the_clock_and_resubmission_resumes_it(
        desk: Bureau) -> None:
    case_id = await desk.submit("item")  # Monday 10:00, 3 working days: due Thursday 17:30
    assert (await desk.step(case_id)).due_at == datetime(2026, 11, 26, 17, 30, tzinfo=SH)
    desk.now = datetime(2026, 11, 25, 11, 0, tzinfo=SH)  # Wednesday: 1 working day left
    assert await desk.decide("li", case_id, Decision.RETURN, reason="补充管线资料") == "returned"
    assert (await desk.case(case_id)).state == "supplement"
    async with desk.sessions() as session:
        [lane] = await Store(session).all(Lane)
    assert lane.remaining_days == 1
    assert await desk.decide("he", case_id) == "case_closed"  # nothing to decide meanwhile
    desk.now = datetime(2026, 12, 7, 9, 0, tzinfo=SH)  # Monday, twelve days later
    async with desk.sessions() as session:
        store = Store(session)
        await resubmit(store, await desk.actor(store, "liuxiao"), case_id, note="已补充",
                       files=[], now=desk.now, calendar=CALENDAR, policy=POLICY)
    step = await desk.step(case_id)
    assert step.due_at == datetime(2026, 12, 8, 17, 30, tzinfo=SH)  # the 1 day left, resumed
    assert await desk.holders(case_id) == {"li": "pending", "he": "pending"}
    assert await desk.decide("he", case_id) == "approved_case"


async def test_return_to_an_earlier_step_starts_a_new_round_there(desk: Bureau) -> None:
    case_id = await desk.submit("building_permit", project="KP-004", who="zhangfan",
                                details=PERMIT)
    await desk.decide("wang", case_id)
    assert await desk.decide("chen", case_id, Decision.RETURN, reason="处务会意见不全",
                             return_to=1) == "returned_to_step"
    case = await desk.case(case_id)
    assert (case.state, case.round) == ("pending", 2)
    assert await desk.holders(case_id) == {"wang": "pending"}
    assert (await desk.step(case_id)).seq == 1
    assert await desk.decide("wang", case_id) == "approved_step"
    assert await desk.decide("chen", case_id, Decision.RETURN, reason="x",
                             return_to=2) == "bad_return_target"
    assert await desk.decide("chen", case_id) == "approved_case"


async def test_withdraw_is_for_the_submitter_while_the_case_is_open(desk: Bureau) -> None:
    case_id = await desk.submit("item")
    async with desk.sessions() as session:
        store = Store(session)
        with pytest.raises(NotAllowed):
            await withdraw(store, await desk.actor(store, "zhao"), case_id, now=desk.now)
        await withdraw(store, await desk.actor(store, "liuxiao"), case_id, now=desk.now)
        with pytest.raises(CaseClosed):
            await withdraw(store, await desk.actor(store, "liuxiao"), case_id, now=desk.now)
    assert (await desk.case(case_id)).state == "withdrawn"
    assert await desk_decide_on_any_step(desk, "li", case_id) == "case_closed"


async def desk_decide_on_any_step(desk: Bureau, who: str, case_id: int) -> str:
    async with desk.sessions() as session:
        store = Store(session)
        [step] = await store.all(Step, case_id=case_id)
        assert step.id is not None
        try:
            await check_press(store, await desk.actor(store, who), step.id)
        except Refusal as refused:
            return refused.code
        return "open"


async def test_transfer_hands_the_turn_over_with_a_reason(desk: Bureau) -> None:
    desk.types = EXTRA
    case_id = await desk.submit("countersign")
    step = await desk.step(case_id)
    assert step.id is not None
    zhou = await desk.person_id("zhou")
    async with desk.sessions() as session:
        store = Store(session)
        await transfer(store, await desk.actor(store, "li"), step.id, zhou, reason="督查事项",
                       now=desk.now, calendar=CALENDAR, policy=POLICY)
    assert await desk.holders(case_id) == {"he": "pending", "zhou": "pending"}
    assert await desk.decide("li", case_id) == "transferred"
    await desk.decide("he", case_id)
    assert await desk.decide("zhou", case_id) == "approved_step"


async def test_assignments_arriving_while_away_go_to_the_delegate(desk: Bureau) -> None:
    async with desk.sessions() as session:
        store = Store(session)
        he = await store.person_by_key("he")
        assert he is not None
        await set_away(store, await desk.actor(store, "chen"), starts_on=date(2026, 11, 23),
                       ends_on=date(2026, 11, 27), delegate=he, note="出差", today=MONDAY.date(),
                       now=desk.now)
    case_id = await desk.submit("building_permit", project="KP-004", who="zhangfan",
                                details=PERMIT)
    await desk.decide("wang", case_id)
    assert await desk.holders(case_id) == {"he": "pending"}
    async with desk.sessions() as session:
        store = Store(session)
        [held] = await store.all(Assignment, state="pending")
        chen = await store.person_by_key("chen")
        assert chen is not None and held.on_behalf_of_id == chen.id
    assert await desk.decide("he", case_id) == "approved_case"


async def test_a_signer_added_before_me_decides_first(desk: Bureau) -> None:
    case_id = await desk.submit("building_permit", project="KP-004", who="zhangfan",
                                details=PERMIT)
    step = await desk.step(case_id)
    assert step.id is not None
    sun = await desk.person_id("sun")
    async with desk.sessions() as session:
        store = Store(session)
        await add_signer(store, await desk.actor(store, "wang"), step.id, sun, before=True,
                         now=desk.now, calendar=CALENDAR)
    assert await desk.holders(case_id) == {"wang": "waiting", "sun": "pending"}
    assert await desk.decide("wang", case_id) == "not_yet_your_turn"
    assert await desk.decide("sun", case_id) == "approved"
    assert await desk.decide("wang", case_id) == "approved_step"


async def test_a_signer_added_after_me_must_approve_too(desk: Bureau) -> None:
    case_id = await desk.submit("item")
    step = await desk.step(case_id)
    assert step.id is not None
    chen = await desk.person_id("chen")
    async with desk.sessions() as session:
        store = Store(session)
        await add_signer(store, await desk.actor(store, "li"), step.id, chen, before=False,
                         now=desk.now, calendar=CALENDAR)
        with pytest.raises(NotAllowed):
            await add_signer(store, await desk.actor(store, "li"), step.id, chen, before=False,
                             now=desk.now, calendar=CALENDAR)
    assert await desk.decide("chen", case_id) == "not_yet_your_turn"
    assert await desk.decide("li", case_id) == "approved"  # he released, chen's turn now
    assert await desk.holders(case_id) == {"chen": "pending"}
    assert await desk.decide("chen", case_id) == "approved_case"


async def test_the_green_channel_shortens_limits(desk: Bureau) -> None:
    case_id = await desk.submit("building_permit", project="KP-004", who="zhangfan",
                                details=PERMIT, green=True)
    step = await desk.step(case_id)
    assert step.limit_days == 3 and step.due_at == CALENDAR.deadline(MONDAY, 3).due


async def test_pending_lists_my_turns_newest_last(desk: Bureau) -> None:
    first = await desk.submit("item")
    second = await desk.submit("item", project="KP-001", who="zhangfan")
    li = await desk.person_id("li")
    async with desk.sessions() as session:
        items = await pending_for(Store(session), li, desk.now, CALENDAR, POLICY)
    assert [item.view.case.id for item in items] == [first, second]


async def test_comments_are_kept_until_the_case_closes(desk: Bureau) -> None:
    case_id = await desk.submit("item")
    async with desk.sessions() as session:
        store = Store(session)
        await add_comment(store, await desk.actor(store, "zheng"), case_id, "请附现场照片",
                          tg_chat_id=None, tg_message_id=None, now=desk.now, policy=POLICY)
    await desk.decide("li", case_id)
    async with desk.sessions() as session:
        store = Store(session)
        view = await case_view(store, case_id, desk.now, CALENDAR, POLICY)
        assert [(c.text, p.key) for c, p in view.comments] == [("请附现场照片", "zheng")]
        with pytest.raises(CaseClosed):
            await add_comment(store, await desk.actor(store, "zheng"), case_id, "晚了",
                              tg_chat_id=None, tg_message_id=None, now=desk.now, policy=POLICY)


async def test_someone_outside_the_step_is_refused(desk: Bureau) -> None:
    case_id = await desk.submit("item")
    assert await desk.decide("zhao", case_id) == "not_your_turn"
    async with desk.sessions() as session:
        store = Store(session)
        step = await desk.step(case_id)
        assert step.id is not None
        with pytest.raises(NotYourTurn):
            await check_press(store, await desk.actor(store, "zhao"), step.id)
        with pytest.raises(NotYourTurn):
            await check_press(store, await desk.actor(store, "wang"), step.id)


@pytest.mark.parametrize("presses", [2, 100])
async def test_concurrent_presses_by_a_and_b_record_exactly_one_decision(
        desk: Bureau, presses: int) -> None:
    case_id = await desk.submit("item")
    who = ["li", "he"] * (presses // 2)
    decisions = [Decision.APPROVE, Decision.RETURN] * (presses // 2)
    outcomes = await asyncio.gather(*(
        desk.decide(k, case_id, d, reason="理由" if d is Decision.RETURN else None)
        for k, d in zip(who, decisions, strict=True)))
    winners = [o for o in outcomes if o in ("approved_case", "returned")]
    assert len(winners) == 1
    assert set(outcomes) - set(winners) <= {"already_decided", "case_closed"}
    async with desk.sessions() as session:
        store = Store(session)
        assert len([a for a in await store.all(Assignment) if a.decision]) == 1
        events = [e.action for e in await store.audit_trail(f"case:{case_id}")]
        assert events.count("case.approve") + events.count("case.return") == 1
        assert (await store.verify_audit_chain()).broken is None


async def test_concurrent_countersign_approvals_all_count_and_open_the_next_step_once(
        desk: Bureau) -> None:
    desk.types = EXTRA
    case_id = await desk.submit("countersign")
    outcomes = await asyncio.gather(desk.decide("li", case_id), desk.decide("he", case_id))
    assert sorted(outcomes) == ["approved", "approved_step"]
    async with desk.sessions() as session:
        store = Store(session)
        assert len(await store.all(Step, case_id=case_id, state="open")) == 1
        pending = await store.all(Assignment, state="pending")
    assert [a.person_id for a in pending] == [await desk.person_id("chen")]


async def test_the_audit_chain_detects_a_rewritten_event(desk: Bureau) -> None:
    case_id = await desk.submit("item")
    await desk.decide("li", case_id)
    async with desk.sessions() as session:
        store = Store(session)
        trail = await store.audit_trail()
        assert [e.action for e in trail][-2:] == ["case.submitted", "case.approve"]
        assert all(b.prev_hash == a.hash for a, b in pairwise(trail))
        assert (await store.verify_audit_chain()).broken is None
        forged = trail[-1]
        await session.execute(update(AuditEvent).where(AuditEvent.id == forged.id)  # type: ignore[arg-type]
                              .values(data='{"reason": "改写"}'))
        await session.commit()
        verdict = await store.verify_audit_chain()
        assert verdict.broken is not None and verdict.broken.event.id == forged.id
        assert not verdict.broken.link and verdict.events == len(trail)


async def test_album_items_filed_at_once_make_one_report(bureau: SessionFactory) -> None:
    desk = Bureau(bureau)

    async def file_item(n: int) -> None:
        async with bureau() as session:
            store = Store(session)
            project = await store.project_by_code("KP-001")
            assert project is not None
            ref = FileRef("photo", f"file-{n}", f"unique-{n}")
            await file_report(store, await desk.actor(store, "zhangfan"), project,
                              text="航拍" if n == 0 else "", files=[ref], tg_chat_id=-100,
                              message_id=10 + n, media_group_id="album-1", now=MONDAY,
                              calendar=CALENDAR, policy=POLICY)
            await store.commit()

    await asyncio.gather(*(file_item(n) for n in range(4)))
    async with bureau() as session:
        store = Store(session)
        [report] = await store.all(Report)
        assert report.text == "航拍"
        assert len(await store.attachments(report_id=report.id)) == 4

