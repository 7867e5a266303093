"""Who holds a turn now: the rule itself, then on a real database for every way a step is
decided (or-sign, countersign, joint lanes, added signers, delegation, a paused step), each
time agreeing with which presses are accepted."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain.rules.errors import Refusal
from bot.domain.rules.turns import (
    Colleague,
    busy_in_lane,
    holds_turn,
    turn_holders,
    why_not_hand_turn,
)
from bot.domain.rules.vocabulary import AssignmentState, Decision, StepState
from bot.domain.usecases.approvals import add_signer, check_press
from bot.domain.usecases.delegation import set_away
from storage.db import SessionFactory
from storage.models import Assignment, Person, Step
from storage.store import Store

from .conftest import MONDAY
from .test_approvals import CALENDAR, EXTRA, PERMIT, Bureau

SH = ZoneInfo("Asia/Shanghai")


ME, SUBMITTER, BUSY, OTHER = 1, 2, 3, 4


@pytest.mark.parametrize(("colleague", "why"), [
    (Colleague(OTHER, active=True, on_telegram=True, has_role=True), None),
    (None, "unknown_person"),
    (Colleague(OTHER, active=False, on_telegram=True, has_role=True), "unknown_person"),
    (Colleague(OTHER, active=True, on_telegram=False, has_role=True), "unknown_person"),
    (Colleague(OTHER, active=True, on_telegram=True, has_role=False), "unknown_person"),
    (Colleague(ME, active=True, on_telegram=True, has_role=True), "self"),
    (Colleague(SUBMITTER, active=True, on_telegram=True, has_role=True), "submitter"),
    (Colleague(BUSY, active=True, on_telegram=True, has_role=True), "already_assigned"),
])
def test_who_a_turn_may_be_handed_to(colleague: Colleague | None, why: str | None) -> None:
    assert why_not_hand_turn(colleague, actor_id=ME, submitter_id=SUBMITTER,
                             busy={ME, BUSY}) == why


def test_busy_in_a_lane_are_those_holding_or_waiting_for_a_turn_there() -> None:
    def row(person: int, lane: int, state: AssignmentState) -> Assignment:
        return Assignment(step_id=1, lane_id=lane, person_id=person, state=state)
    rows = [row(1, 1, AssignmentState.PENDING), row(2, 1, AssignmentState.WAITING),
            row(3, 1, AssignmentState.DECIDED), row(4, 1, AssignmentState.TRANSFERRED),
            row(5, 2, AssignmentState.PENDING)]
    assert busy_in_lane(rows, 1) == {1, 2}


@pytest.mark.parametrize("step_state", list(StepState))
@pytest.mark.parametrize("assignment_state", list(AssignmentState))
def test_a_turn_is_held_by_a_pending_assignment_of_an_open_step(
        step_state: StepState, assignment_state: AssignmentState) -> None:
    step = Step(id=7, case_id=1, round=1, seq=1, name="审批", state=step_state)
    assignment = Assignment(id=1, step_id=7, lane_id=1, person_id=3, state=assignment_state,
                            created_at=MONDAY)
    expected = step_state is StepState.OPEN and assignment_state is AssignmentState.PENDING
    assert holds_turn(step, assignment) is expected
    assert turn_holders(step, [assignment]) == ([assignment] if expected else [])
    other_step = Assignment(id=2, step_id=8, lane_id=2, person_id=3, state=assignment_state,
                            created_at=MONDAY)
    assert not holds_turn(step, other_step)


class Desk(Bureau):
    async def holding(self, case_id: int) -> list[str]:
        """The keys of whoever holds a turn of the case's current step, by the rule; and
        checked against the presses: exactly they are let through."""
        step = await self.step(case_id)
        assert step.id is not None
        async with self.sessions() as session:
            store = Store(session)
            held = turn_holders(step, await store.assignments(step.id))
            keys = []
            for turn in held:
                person = await store.get(Person, turn.person_id)
                assert person is not None
                keys.append(person.key)
            for person in await store.all(Person, order_by=Person.id):
                actor = await self.actor(store, person.key) if person.tg_user_id else None
                if actor is None:
                    continue
                try:
                    await check_press(store, actor, step.id)
                    accepted = True
                except Refusal:
                    accepted = False
                assert accepted is (person.key in keys), person.key
        return sorted(keys)


@pytest.fixture
def desk(bureau: SessionFactory) -> Desk:
    return Desk(bureau)


async def test_both_posts_of_an_or_sign_hold_it_until_one_decides(desk: Desk) -> None:
    case_id = await desk.submit("item")
    assert await desk.holding(case_id) == ["he", "li"]
    assert await desk.decide("he", case_id) == "approved_case"
    assert await desk.holding(case_id) == []


async def test_each_countersigner_holds_it_until_they_have_signed(desk: Desk) -> None:
    desk.types = EXTRA
    case_id = await desk.submit("countersign")
    assert await desk.holding(case_id) == ["he", "li"]
    assert await desk.decide("li", case_id) == "approved"
    assert await desk.holding(case_id) == ["he"]


async def test_each_open_joint_lane_has_its_holders(desk: Desk) -> None:
    case_id = await desk.submit("joint_review", project="KP-002")
    building, municipal = ["wang", "zhangfan", "zheng"], ["liuxiao", "zhao"]
    assert await desk.holding(case_id) == sorted(building + municipal)
    assert await desk.decide("wang", case_id) == "approved"  # the building lane is done
    assert await desk.holding(case_id) == municipal


async def test_an_added_signer_holds_it_only_once_their_turn_has_come(desk: Desk) -> None:
    case_id = await desk.submit("item")
    step = await desk.step(case_id)
    assert step.id is not None
    chen = await desk.person_id("chen")
    async with desk.sessions() as session:
        store = Store(session)
        await add_signer(store, await desk.actor(store, "li"), step.id, chen, before=False,
                         now=desk.now, calendar=CALENDAR)
    assert await desk.holding(case_id) == ["he", "li"]  # chen waits for li
    assert await desk.decide("li", case_id) == "approved"
    assert await desk.holding(case_id) == ["chen"]


async def test_a_delegate_holds_what_arrived_while_the_person_was_away(desk: Desk) -> None:
    async with desk.sessions() as session:
        store = Store(session)
        he = await store.person_by_key("he")
        assert he is not None
        await set_away(store, await desk.actor(store, "chen"), starts_on=date(2026, 11, 23),
                       ends_on=date(2026, 11, 27), delegate=he, note="出差",
                       today=MONDAY.date(), now=desk.now)
    case_id = await desk.submit("building_permit", project="KP-004", who="zhangfan",
                                details=PERMIT)
    await desk.decide("wang", case_id)
    assert await desk.holding(case_id) == ["he"]  # for chen, who holds nothing meanwhile


async def test_nobody_holds_a_step_back_with_the_handler(desk: Desk) -> None:
    case_id = await desk.submit("joint_review", project="KP-002")
    desk.now = datetime(2026, 11, 24, 10, 0, tzinfo=SH)
    assert await desk.decide("wang", case_id, Decision.RETURN, reason="补充") == "returned"
    step = await desk.step(case_id)
    assert step.state == StepState.PAUSED and step.id is not None
    async with desk.sessions() as session:
        everyone = await Store(session).assignments(step.id)
    # The municipal lane's turns are still pending, but nobody may decide meanwhile.
    assert any(a.state == AssignmentState.PENDING for a in everyone)
    assert await desk.holding(case_id) == []
