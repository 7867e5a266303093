"""A process that stops between a commit and its messages leaves nothing unsaid (issue #11,
"Restarts that repair").

Each test leaves the database as a process killed at that point would (the change committed
through the use case, its messages never sent), then runs the sweep that a restarted
process (or any worker, every interval) runs: turns are announced once, cards show the
case as it is, the group card, the approval notice and a report's card arrive once.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot.domain.rules.vocabulary import CardKind, CaseState, Decision
from bot.domain.usecases.approvals import decide, submit_case
from bot.domain.usecases.people import Actor, identify
from storage.models import Case, Project, Report, Step
from tests.e2e.conftest import RETRY, Json, World, button, buttons, submit_item, text_of

PERMIT = "雁城路12号住宅楼建设工程规划许可"
ITEM = "微波站迁建选址方案"


async def actor(world: World, who: str) -> Actor:
    async with world.db() as store:
        found = await identify(store, world.uid(who))
    assert found is not None
    return found


async def submitted_by_a_stopped_process(world: World) -> int:
    """zhangfan's planning permit in KP-004, committed; its cards never sent."""
    who = await actor(world, "zhangfan")
    services = world.app.services
    permit = next(t for t in services.case_types if t.code == "building_permit")
    async with world.db() as store:
        [project] = await store.all(Project, code="KP-004")
        case = await submit_case(store, who, project, permit, title=PERMIT,
                                 details={"applicant": "雁城建投", "site": "雁城路12号"},
                                 files=[], green_channel=False, now=services.now(),
                                 calendar=services.calendar, policy=services.policy)
        await store.commit()
        return case.id


async def decided_by_a_stopped_process(world: World, who: str, case_id: int,
                                       decision: Decision = Decision.APPROVE) -> None:
    """``who`` decides the open step; the decision is committed, no card is touched."""
    services = world.app.services
    deciding = await actor(world, who)
    async with world.db() as store:
        [step] = [s for s in await store.all(Step, case_id=case_id) if s.state == "open"]
        await decide(store, deciding, step.id, decision, reason="材料不全" if
                     decision is Decision.RETURN else None, now=services.now(),
                     calendar=services.calendar, policy=services.policy)
        await store.commit()


async def cards_behind(world: World) -> list[int]:
    async with world.db() as store:
        return await store.cases_behind(10)


async def about(world: World, where: str, title: str) -> list[Json]:
    """What the bot said in ``where`` about the item ``title`` (not the welcome, not the
    demo's own milestone nudges)."""
    return [m for m in await world.from_bot(where) if title in text_of(m)]


async def now(world: World, where: str, message: Json) -> Json:
    return await world.ctl.message(world.cid(where), message["message_id"])


async def test_a_case_whose_messages_a_stopped_process_never_sent_is_shown_by_the_sweep(
        world: World) -> None:
    case_id = await submitted_by_a_stopped_process(world)
    assert await cards_behind(world) == [case_id]
    assert not await about(world, "KP-004", PERMIT) and not await about(world, "wang", PERMIT)

    await world.sweep()
    [group_card] = await about(world, "KP-004", PERMIT)
    assert "处务会" in text_of(group_card)
    [wang_card] = await about(world, "wang", PERMIT)
    assert "同意" in " ".join(buttons(wang_card))
    assert await cards_behind(world) == []

    # The section head's decision is committed; the process stops before any card.
    await decided_by_a_stopped_process(world, "wang", case_id)
    assert await cards_behind(world) == [case_id]
    await world.sweep()
    assert buttons(await now(world, "wang", wang_card)) == {}  # the turn is over
    assert "局长办公会" in text_of(await now(world, "KP-004", group_card))
    [chen_card] = await about(world, "chen", PERMIT)
    assert "同意" in " ".join(buttons(chen_card))

    # The director approves; the process stops before the submitter hears of it.
    await decided_by_a_stopped_process(world, "chen", case_id)
    await world.sweep()
    await world.sweep()  # nothing is behind any more: nothing is said twice
    told = [m for m in await world.from_bot("zhangfan") if "已审批通过" in text_of(m)]
    assert len(told) == 1
    assert "✅ 审批通过" in text_of(await now(world, "KP-004", group_card))
    for card, where in ((group_card, "KP-004"), (chen_card, "chen")):
        assert buttons(await now(world, where, card)) == {}
    assert len(await about(world, "KP-004", PERMIT)) == 1
    assert len(await about(world, "chen", PERMIT)) == 1
    assert await cards_behind(world) == []


async def test_a_card_a_stopped_process_was_sending_is_sent_again_and_logged_as_maybe_twice(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    await submit_item(world, ITEM)
    [li_card] = await about(world, "li", ITEM)
    async with world.db() as store:
        [case] = await store.all(Case)
        [mine] = [c for c in await store.cards(case.id) if c.person_id is not None
                  and c.kind is CardKind.PRIVATE and c.tg_chat_id == world.uid("li")]
        # As if the process stopped while Telegram was taking the card: the claim is kept,
        # its message id never recorded, and the case's cards are behind.
        mine.tg_message_id = None
        case.changes += 1
        await store.commit()
        case_id = case.id
    caplog.set_level(logging.WARNING)
    await world.sweep()
    [_, again] = await about(world, "li", ITEM)
    assert text_of(again) == text_of(li_card) and buttons(again) == buttons(li_card)
    [logged] = [r.getMessage() for r in caplog.records if "may arrive twice" in r.getMessage()]
    assert f"of case {case_id} was being sent when a process stopped" in logged
    async with world.db() as store:
        cards = await store.cards(case_id)
    assert all(c.tg_message_id is not None for c in cards)
    assert Counter(c.kind for c in cards)[CardKind.PRIVATE] == 2  # li's and he's (A/B posts)
    await world.sweep()
    assert len(await about(world, "li", ITEM)) == 2


async def test_a_return_a_stopped_process_never_told_reaches_the_submitter(world: World) -> None:
    await submit_item(world, ITEM)
    async with world.db() as store:
        [case] = await store.all(Case)
    await decided_by_a_stopped_process(world, "li", case.id, Decision.RETURN)
    receipt = await about(world, "liuxiao", ITEM)  # the 🧾 receipt of the submission
    await world.sweep()
    [told] = (await about(world, "liuxiao", ITEM))[len(receipt):]
    assert "材料不全" in text_of(told) and "📤 重新提交" in buttons(told)
    async with world.db() as store:
        assert (await store.get(Case, case.id)).state is CaseState.SUPPLEMENT
    for who in ("li", "he"):
        [card] = await about(world, who, ITEM)
        assert buttons(card) == {}, who


async def test_a_report_filed_without_its_card_gets_it_from_the_sweep_once(
        world: World) -> None:
    before = await world.from_bot("KP-002")
    await world.ctl.inject_fault("sendMessage", "500", count=RETRY.attempts)
    sent = await world.say("liuxiao", "KP-002", "/report 微波站新址已完成现场踏勘")
    assert len(await world.from_bot("KP-002")) == len(before) + 1  # the apology only
    await world.sweep()  # too soon: its own update may still be posting it
    assert len(await world.from_bot("KP-002")) == len(before) + 1
    world.clock.advance(timedelta(minutes=6))
    await world.sweep()
    card = await world.last_from_bot("KP-002")
    assert "进展汇报 · KP-002" in text_of(card) and "现场踏勘" in text_of(card)
    assert card["reply_to_message"]["message_id"] == sent["message"]["message_id"]
    async with world.db() as store:
        [report] = (await store.session.execute(select(Report))).scalars()
        assert report.card_message_id == card["message_id"]
    await world.sweep()
    assert len(await world.from_bot("KP-002")) == len(before) + 2


async def test_a_change_under_way_is_not_counted_as_shown_before_its_cards_are(
        world: World) -> None:
    """The count a sync shows is the one it read: a later change stays behind."""
    group = await submit_item(world, ITEM)
    async with world.db() as store:
        [case] = await store.all(Case)
        await store.mark_shown(case.id, case.changes - 1)  # never moved back
        await store.commit()
        shown = (await store.session.execute(
            select(col(Case.shown), col(Case.changes)).where(col(Case.id) == case.id))).one()
    assert shown[0] == shown[1]
    pressed = await world.press("li", "KP-002", group["message_id"], button(group, "同意"))
    assert pressed["answer"]["show_alert"] is False
    assert await cards_behind(world) == []


async def test_a_press_handled_too_late_to_be_answered_still_updates_every_card(
        world: World) -> None:
    """Delivered again after a restart, a press is past Telegram's 15 s for an answer: the
    decision it records must still reach every card and the submitter."""
    group = await submit_item(world, ITEM)
    [li_card] = await about(world, "li", ITEM)
    world.emu.config.callback_answer_timeout = 0.0  # every answer comes too late
    pressed = await world.press("li", "li", li_card["message_id"], button(li_card, "同意"))
    assert pressed["answer"] is None
    assert buttons(await now(world, "li", li_card)) == {}
    assert "✅ 审批通过" in text_of(await now(world, "KP-002", group))
    assert buttons(await now(world, "KP-002", group)) == {}
    assert [t for t in map(text_of, await about(world, "liuxiao", ITEM)) if "已审批通过" in t]
    assert await cards_behind(world) == []
