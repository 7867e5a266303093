"""Deadlines end to end: the sweep walks each open step, milestone and missing material up the
escalation ladder (yellow, red, the urge notice at red + 5 working days, a reminder every 3
working days while red), each rung once per person, in office hours only (green-channel
cases excepted), marking catch-ups late; deemed approvals first; durable across restarts,
dead processes and a second process sweeping at the same time. Whoever holds the open turn
is reminded too, privately with the buttons of their card, which work from the reminder.

Time only moves when a test moves ``world.clock``; nothing sleeps. Sweeps at 08:31 see a rung
one minute after it could first go out (office hours open at 08:30), so nothing is late
unless a test says so.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text, update
from sqlmodel import col

from bot.app import create_app
from bot.domain.rules.calendar import CalendarImport, DayOverride
from bot.domain.rules.ladder import RungKind
from bot.domain.usecases import nudging
from bot.domain.usecases.calendar_admin import import_calendar
from bot.domain.usecases.nudging import MILESTONE, Upcoming, upcoming
from bot.jobs import SweepResult
from bot.scheduling import JOBS_TABLE, SWEEP_JOB_ID
from sandbox.demo import DEMO_USERS
from storage.models import AuditEvent, Case, Milestone, Nudge, Person, Project, Step, UrgeNotice
from tests.e2e.conftest import (
    RETRY,
    SHANGHAI,
    Json,
    World,
    build_world,
    button,
    buttons,
    restart_bot,
    submit_item,
    tear_down,
    text_of,
)

ITEM = "微波站迁建选址方案"  # 一般事项审批 in KP-002: 3 working days, 李副局长 or 何副局长
NUDGE_HEADS = ("🟡", "🔴", "📮", "⏰", "⚠️")
LATE = "（补发：应于"
Claim = tuple[str, str]  # (person key, level)


def at(month: int, day: int, hour: int = 10, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def office_mornings(first: date, last: date) -> list[datetime]:
    """08:31 on every day from ``first`` to ``last`` (days off included: nothing goes out)."""
    return [datetime(d.year, d.month, d.day, 8, 31, tzinfo=SHANGHAI)
            for d in (first + timedelta(days=n) for n in range((last - first).days + 1))]


# -- arranging -------------------------------------------------------------------------------


async def finish_milestones(world: World, *codes: str) -> None:
    """Mark the demo's open milestones done (of these projects, or all), so that only the
    cases of a test are nudged."""
    async with world.db() as store:
        ids = [p.id for p in await store.all(Project) if not codes or p.code in codes]
        await store.session.execute(update(Milestone).where(
            col(Milestone.project_id).in_(ids), col(Milestone.done_on).is_(None),
        ).values(done_on=date(2026, 11, 20)))
        await store.commit()


async def submit(world: World, title: str = ITEM, *, kind: str = "一般事项审批",
                 who: str = "liuxiao", where: str = "KP-002") -> Json:
    return await submit_item(world, title, who=who, where=where, kind=kind)


async def submit_permit(world: World, title: str, *, green: bool) -> Json:
    """zhangfan submits a planning permit in KP-004 (处务会: 王建国, 5 days; halved, rounded
    up to 3, in the green channel)."""
    await world.say("zhangfan", "KP-004", f"/submit {title}")
    picker = await world.last_from_bot("KP-004")
    await world.press("zhangfan", "KP-004", picker["message_id"],
                      button(picker, "建设工程规划许可"))
    for answer in ("雁城建投", "雁城路12号"):
        asked = await world.last_from_bot("KP-004")
        await world.say("zhangfan", "KP-004", answer, reply_to=asked["message_id"])
    asked = await world.last_from_bot("KP-004")
    await world.press("zhangfan", "KP-004", asked["message_id"],
                      button(asked, "绿色通道" if green else "普通"))
    return await world.last_from_bot("KP-004")


async def sweep_at(world: World, when: datetime) -> SweepResult:
    world.clock.set(when)
    return await world.sweep()


async def abandon(world: World, kind: str, target_id: int, level: str, people: list[str],
                  created_at: datetime) -> None:
    """Claims a process committed and then died without sending (sent_at stays NULL)."""
    async with world.db() as store:
        for key in people:
            person = await store.person_by_key(key)
            assert person is not None and person.id is not None
            store.add(Nudge(target_kind=kind, target_id=target_id, person_id=person.id,
                            level=level, created_at=created_at))
        await store.commit()


async def return_case(world: World, card: Json, when: datetime) -> Json:
    """李副局长 returns case #1 from his private card; the notice 刘晓 gets."""
    world.clock.set(when)
    await world.press("li", "li", card["message_id"], button(card, "退回"))
    asked = await world.last_from_bot("li")
    await world.say("li", "li", "请补充微波站产权单位意见", reply_to=asked["message_id"])
    assert (await the_case(world)).state == "supplement"
    return await world.last_from_bot("liuxiao")


async def resubmit(world: World, notice: Json, when: datetime) -> None:
    """刘晓 resubmits from the notice, without material (/skip)."""
    world.clock.set(when)
    await world.press("liuxiao", "liuxiao", notice["message_id"], button(notice, "重新提交"))
    prompt = await world.last_from_bot("liuxiao")
    await world.say("liuxiao", "liuxiao", "/skip", reply_to=prompt["message_id"])
    assert (await the_case(world)).state == "pending"


# -- looking ---------------------------------------------------------------------------------


async def claims(world: World, kind: str | None = None, target_id: int | None = None
                 ) -> list[Nudge]:
    async with world.db() as store:
        found = await store.all(Nudge, order_by=Nudge.id)
    return [n for n in found if (kind is None or n.target_kind == kind)
            and (target_id is None or n.target_id == target_id)]


async def who_got(world: World, kind: str | None = None, target_id: int | None = None
                  ) -> list[Claim]:
    """(person key, level) of every claim, sorted."""
    keys = await person_keys(world)
    return sorted((keys[n.person_id], n.level) for n in await claims(world, kind, target_id))


async def person_keys(world: World) -> dict[int, str]:
    async with world.db() as store:
        return {p.id: p.key for p in await store.all(Person) if p.id is not None}


async def nudges_in(world: World, where: str) -> list[Json]:
    """The bot's deadline messages in a chat (not its welcome, cards or answers)."""
    return [m for m in await world.from_bot(where) if text_of(m).startswith(NUDGE_HEADS)
            or text_of(m).split("\n", 1)[-1].startswith(NUDGE_HEADS)]


async def daily(world: World, mornings: list[datetime]) -> dict[date, list[Claim]]:
    """Sweep at each given instant; what each sweep claimed, by day (days with none left out).
    """
    keys = await person_keys(world)
    seen = {n.id for n in await claims(world)}
    schedule: dict[date, list[Claim]] = {}
    for when in mornings:
        await sweep_at(world, when)
        new = [n for n in await claims(world) if n.id not in seen]
        seen |= {n.id for n in new}
        if new:
            schedule[when.date()] = sorted((keys[n.person_id], n.level) for n in new)
    return schedule


async def step_of(world: World, case_id: int, seq: int = 1) -> Step:
    async with world.db() as store:
        step = await store.one(Step, case_id=case_id, seq=seq)
    assert step is not None
    return step


async def audit(world: World, action: str) -> list[dict[str, object]]:
    async with world.db() as store:
        events = await store.all(AuditEvent, order_by=AuditEvent.id, action=action)
    return [json.loads(e.data) | {"subject": e.subject} for e in events]


async def the_case(world: World, case_id: int = 1) -> Case:
    async with world.db() as store:
        case = await store.get(Case, case_id)
    assert case is not None
    return case


async def told_by_notice(world: World, made: list[Nudge]) -> set[int]:
    """The claims a section head heard of through the urge notice of the same sweep: it says
    it all, in one message (it counts as one entry)."""
    async with world.db() as store:
        notices = {(u.target_kind, u.target_id, u.head_id): u.issued_at
                   for u in await store.all(UrgeNotice) if u.head_id}
    return {n.id for n in made
            if notices.get((n.target_kind, n.target_id, n.person_id)) == n.created_at}


def entries(messages: list[Json]) -> int:
    """How many nudges these private messages carry (a digest carries several)."""
    count = 0
    for message in messages:
        text = text_of(message)
        if text.startswith("⏰"):
            count += len(text.split("\n\n")) - 1
        elif text.startswith(NUDGE_HEADS):
            count += 1
    return count


# -- 1. one case along the default ladder ----------------------------------------------------


async def test_a_case_goes_yellow_then_red_to_the_right_people_once_in_office_hours(
        world: World) -> None:
    await finish_milestones(world)
    await submit(world)  # Monday 10:00, 3 working days: due Thursday 17:30
    for when in (at(11, 23, 17), at(11, 24, 10), at(11, 24, 17, 29)):
        assert (await sweep_at(world, when)).sent == 0  # green
    # Yellow is reached at Tuesday's close, when the office has gone home: held overnight.
    for when in (at(11, 24, 17, 30), at(11, 24, 22), at(11, 25, 8, 29)):
        assert (await sweep_at(world, when)).sent == 0
    assert await claims(world) == []
    # The handler, the guide, and both posts whose turn it is (李 A, 何 B).
    assert (await sweep_at(world, at(11, 25, 8, 30))).sent == 4
    assert await who_got(world) == [("he", "yellow"), ("li", "yellow"), ("liuxiao", "yellow"),
                                    ("zheng", "yellow")]
    for person in ("liuxiao", "zheng"):
        [yellow] = await nudges_in(world, person)
        assert text_of(yellow) == (
            f"🟡 黄灯预警：「{ITEM}」#1 的「分管领导审批」环节（KP-002 天台山公园）\n"
            "时限 11月26日周四 17:30，剩余 1 个工作日。\n"
            "⏳ 等待 李副局长 或 何副局长 处理\n"
            f"查询码：{(await the_case(world)).query_code}")
    for when in (at(11, 25, 8, 31), at(11, 25, 15), at(11, 26, 17, 29)):
        assert (await sweep_at(world, when)).sent == 0
    # Red at Thursday's close: held through the evening and the night, out at 08:30.
    for when in (at(11, 26, 17, 30), at(11, 26, 18), at(11, 26, 23, 59), at(11, 27, 8, 29)):
        assert (await sweep_at(world, when)).sent == 0
    # The handler, the leader in charge, the section head and both posts: 李 is the leader
    # and the A post, and hears it once.
    assert (await sweep_at(world, at(11, 27, 8, 30))).sent == 4
    for when in (at(11, 27, 8, 31), at(11, 27, 10), at(11, 27, 16)):
        assert (await sweep_at(world, when)).sent == 0
    assert await who_got(world) == [("he", "red"), ("he", "yellow"), ("li", "red"),
                                    ("li", "yellow"), ("liuxiao", "red"), ("liuxiao", "yellow"),
                                    ("zhao", "red"), ("zheng", "yellow")]
    assert all(n.channel == "private" and not n.late for n in await claims(world))
    for person in ("liuxiao", "li", "zhao", "he"):
        red = (await nudges_in(world, person))[-1]
        assert text_of(red).startswith(f"🔴 红灯超期：「{ITEM}」#1")
        assert "时限 11月26日周四 17:30，已超期，不足 1 个工作日。" in text_of(red)
        assert LATE not in text_of(red)  # held by quiet hours, not late
    assert [len(await nudges_in(world, p)) for p in ("liuxiao", "zheng", "li", "zhao", "he")
            ] == [2, 1, 2, 1, 2]


async def test_a_green_channel_case_is_nudged_in_the_evening(world: World) -> None:
    await finish_milestones(world)
    await submit(world)  # ordinary: due Thursday 17:30
    card = await submit_permit(world, "雁城危房重建规划许可", green=True)
    assert "时限 11月26日周四 17:30" in text_of(card)  # 5 days halved: 3
    async with world.db() as store:
        permit = await store.get(Case, 2)
    assert permit is not None and permit.green_channel
    # Tuesday 17:31: the green-channel case is yellow at once (to the handler, the guide and
    # 王建国, whose turn it is), the ordinary one waits.
    assert (await sweep_at(world, at(11, 24, 17, 31))).sent == 3
    assert await who_got(world, "step") == [("lin", "yellow"), ("wang", "yellow"),
                                            ("zhangfan", "yellow")]
    [yellow] = await nudges_in(world, "zhangfan")
    assert text_of(yellow).startswith("🟡 黄灯预警：「雁城危房重建规划许可」#2 的「处务会」环节")
    assert LATE not in text_of(yellow)
    assert (await sweep_at(world, at(11, 25, 8, 30))).sent == 4  # the ordinary one's yellow
    # Thursday 17:31 and late at night: the green channel goes red, the ordinary case waits
    # (王建国 is the section head and the holder: one red).
    assert (await sweep_at(world, at(11, 26, 17, 31))).sent == 3
    assert (await sweep_at(world, at(11, 26, 23))).sent == 0
    assert sorted(k for k, level in await who_got(world, "step", (await step_of(world, 2)).id)
                  if level == "red") == ["li", "wang", "zhangfan"]
    assert (await sweep_at(world, at(11, 27, 8, 30))).sent == 4
    assert not any(n.late for n in await claims(world))


# -- 2. the urge notice, then reminders ------------------------------------------------------


async def test_the_urge_notice_at_red_plus_five_then_a_reminder_every_three_days(
        world: World) -> None:
    await finish_milestones(world)
    await submit(world)
    schedule = await daily(world, office_mornings(date(2026, 11, 27), date(2026, 12, 11)))
    # Due Thu 11-26. Working days after it: Fri 27 (1), Mon 30, Tue 1, Wed 2 (3: the first
    # reminder the next morning), Thu 3 (5: the urge notice the next morning), Fri 4, Mon 7
    # (6), Tue 8, Wed 9, Thu 10 (9). The reminders go to both posts whose turn it is too.
    assert schedule == {
        date(2026, 11, 27): [("he", "red"), ("li", "red"), ("liuxiao", "red"), ("zhao", "red")],
        date(2026, 12, 2): [("he", "repeat-1"), ("li", "repeat-1"), ("liuxiao", "repeat-1"),
                            ("zhao", "repeat-1")],
        date(2026, 12, 4): [("qian", "urge"), ("zhao", "urge"), ("zhou", "urge")],
        date(2026, 12, 7): [("he", "repeat-2"), ("li", "repeat-2"), ("liuxiao", "repeat-2"),
                            ("zhao", "repeat-2")],
        date(2026, 12, 10): [("he", "repeat-3"), ("li", "repeat-3"), ("liuxiao", "repeat-3"),
                             ("zhao", "repeat-3")],
    }
    assert not any(n.late for n in await claims(world))
    async with world.db() as store:
        [urge] = await store.all(UrgeNotice)
    assert (urge.target_kind, urge.sent_at is not None) == ("step", True)
    assert len(await audit(world, "urge.issued")) == 1
    notice = (
        "📮 催办通知书 · KP-002 天台山公园\n"
        f"「{ITEM}」#1 的「分管领导审批」环节（KP-002 天台山公园）已于 11月26日周四 17:30 到期，"
        "现已超期 5 个工作日。\n"
        "责任科室：市政规划科（科长：赵敏）\n"
        "请科长亲自跟进，并书面说明延误原因和整改措施：请点下方「✍️ 书面说明」。")
    # The section head: the notice, privately, with ✍️, and no second message about it.
    zhao = [text_of(m) for m in await nudges_in(world, "zhao")]
    assert zhao.count(notice) == 1
    assert not any(t.startswith("📮 催办通知:") for t in zhao)
    [with_button] = [m for m in await world.from_bot("zhao") if text_of(m) == notice]
    assert list(buttons(with_button)) == ["✍️ 书面说明"]
    # Every supervision chat: the same notice, with the button.
    [in_chat] = await world.from_bot("supervision")
    assert text_of(in_chat) == notice and list(buttons(in_chat)) == ["✍️ 书面说明"]
    # The supervisors: their nudge.
    for supervisor in ("zhou", "qian"):
        [nudge] = await nudges_in(world, supervisor)
        assert text_of(nudge).startswith(f"📮 催办通知：「{ITEM}」#1")
    # Reminders: each its own message, the latest count of days late.
    liuxiao = [text_of(m) for m in await nudges_in(world, "liuxiao")]
    assert [t.split("：")[0] for t in liuxiao] == ["🔴 红灯超期"] + ["🔴 仍在超期"] * 3
    assert "已超期 9 个工作日" in liuxiao[-1]


async def test_an_urge_notice_the_head_could_not_get_still_reaches_supervision(
        world: World) -> None:
    await finish_milestones(world)
    await submit(world)
    await daily(world, office_mornings(date(2026, 11, 27), date(2026, 12, 3)))
    world.clock.set(at(12, 4, 8, 31))
    # The head's private copy: Telegram fails every try, until the bot gives up on it.
    await world.ctl.inject_fault("sendMessage", "500", count=RETRY.attempts,
                                 chat_id=world.uid("zhao"))
    assert (await world.sweep()).urges == 1
    [notice] = await world.from_bot("supervision")
    assert text_of(notice).startswith("📮 催办通知书 · KP-002 天台山公园")
    # The head hears of it by the urge nudge instead (it has no ✍️ button).
    zhao = [text_of(m) for m in await nudges_in(world, "zhao")]
    assert zhao[-1].startswith(f"📮 催办通知：「{ITEM}」#1")
    assert not any(t.startswith("📮 催办通知书") for t in zhao)


async def test_a_head_without_a_private_chat_gets_one_message_for_the_urge(
        world: World) -> None:
    """赵敏 blocked the bot. After a week without sweeps the step is five working days late:
    the urge notice (with its ✍️) mentions her in the project's group and says all there is;
    no red, no second "urge" nudge and no "still red" reminder for her in the same sweep."""
    await finish_milestones(world)
    await submit(world)
    await world.ctl.block_bot(world.users["zhao"])
    world.clock.set(at(12, 4, 8, 31))
    await world.sweep()
    mentioned = [text_of(m) for m in await world.from_bot("KP-002")
                 if "赵敏" in text_of(m).split("\n", 1)[0]]
    assert [t.split("\n", 1)[1].split(" ")[0] for t in mentioned] == ["📮"], mentioned
    assert "📮 催办通知书" in mentioned[0]
    keys = await person_keys(world)
    mine = {n.level: n.channel for n in await claims(world) if keys[n.person_id] == "zhao"}
    assert mine["red"] == mine["urge"] == mine["repeat-1"] == "group"  # told, by the notice


async def test_a_failed_urge_notice_to_the_head_is_sent_again_later(world: World) -> None:
    await finish_milestones(world)
    await submit(world)
    await daily(world, office_mornings(date(2026, 11, 27), date(2026, 12, 3)))
    world.clock.set(at(12, 4, 8, 31))
    await world.ctl.inject_fault("sendMessage", "500", count=RETRY.attempts,  # given up on
                                 chat_id=world.uid("zhao"))
    await world.sweep()
    await daily(world, [at(12, 4, 8, 40), at(12, 4, 10)])
    assert any(text_of(m).startswith("📮 催办通知书") and buttons(m)
               for m in await world.from_bot("zhao"))


# -- 3. across holidays ----------------------------------------------------------------------


async def test_across_national_day_the_holiday_week_is_not_counted(world: World) -> None:
    await finish_milestones(world)
    world.clock.set(at(9, 24))  # Thursday; Mid-Autumn Fri 25 – Sun 27, then Mon 28 – Wed 30
    card = await submit(world)
    assert "时限 9月30日周三 17:30" in text_of(card)
    schedule = await daily(world, office_mornings(date(2026, 9, 25), date(2026, 10, 14)))
    # National Day: Oct 1 – 7 off, Saturday Oct 10 a make-up working day. Red waits for
    # Oct 8; red + 3 is Oct 10 (the reminder on Monday 12), red + 5 is Tuesday Oct 13.
    assert schedule == {
        date(2026, 9, 29): [("he", "yellow"), ("li", "yellow"), ("liuxiao", "yellow"),
                            ("zheng", "yellow")],
        date(2026, 10, 8): [("he", "red"), ("li", "red"), ("liuxiao", "red"), ("zhao", "red")],
        date(2026, 10, 12): [("he", "repeat-1"), ("li", "repeat-1"), ("liuxiao", "repeat-1"),
                             ("zhao", "repeat-1")],
        date(2026, 10, 14): [("qian", "urge"), ("zhao", "urge"), ("zhou", "urge")],
    }
    assert not any(n.late for n in await claims(world))  # the holiday made nothing late
    [notice] = await world.from_bot("supervision")
    assert "已于 9月30日周三 17:30 到期，现已超期 5 个工作日。" in text_of(notice)


async def test_an_uncovered_year_counts_weekends_only_and_admins_hear_once_per_year(
        world: World) -> None:
    await finish_milestones(world)
    world.clock.set(at(2, 3, year=2027))  # Wednesday; no official holidays for 2027 yet
    first = await submit(world, "春节前报批一")
    await submit(world, "春节前报批二")
    # Weekends only: Thu 4, Fri 5, Mon 8 (whatever the Spring Festival will be).
    assert "时限 2月8日周一 17:30" in text_of(first)
    assert "剩余 3 个工作日（待定：2027 年法定节假日尚未公布）" in text_of(first)
    async with world.db() as store:
        assert [s.due_uncertain for s in await store.all(Step, order_by=Step.id)] == [True, True]
    # The first warning fails (Telegram 500, however often it is tried): the sweep goes on,
    # a later one sends it.
    await world.ctl.inject_fault("sendMessage", "500", count=RETRY.attempts)
    assert (await sweep_at(world, at(2, 3, 10, 1, 2027))).failed == 1
    assert [n.sent_at for n in await claims(world, "calendar")] == [None]
    for when in (at(2, 3, 10, 2, 2027), at(2, 3, 22, 0, 2027), at(2, 4, 8, 31, 2027)):
        await sweep_at(world, when)
    warnings = await world.from_bot("ma")
    assert [text_of(m) for m in warnings][-1].startswith(
        "⚠️ There are no official holidays for 2027 yet: due dates in 2027 are counted with "
        "weekends only and marked uncertain.")
    assert (await who_got(world, "calendar", 2027)) == [("ma", "uncertain")]
    yellow = await daily(world, office_mornings(date(2027, 2, 5), date(2027, 2, 5)))
    assert yellow == {date(2027, 2, 5): [(key, "yellow") for key in ("he", "li", "liuxiao", "zheng")
                                         for _case in (1, 2)]}

    # The State Council notice comes in (as typed here: Sat Feb 6 – Sun Feb 14 off).
    async with world.db() as store:
        await import_calendar(store, CalendarImport(
            tuple(DayOverride(date(2027, 2, d), False, "春节") for d in range(6, 15)), (2027,)),
            source="test notice", now=world.clock.now())
        await store.commit()
        await world.app.services.reload_calendar(store)
    schedule = await daily(world, office_mornings(date(2027, 2, 6), date(2027, 2, 23)))
    # Red waits for Mon 15; red + 3 is Wed 17, red + 5 Fri 19: the holiday is not counted
    # (by weekends alone the urge notice would have come on Tue 16).
    assert {day: sorted({level for _, level in got}) for day, got in schedule.items()} == {
        date(2027, 2, 15): ["red"], date(2027, 2, 18): ["repeat-1"],
        date(2027, 2, 22): ["urge"], date(2027, 2, 23): ["repeat-2"]}
    # One warning, however many cases and sweeps.
    assert len([m for m in await world.from_bot("ma") if "2027" in text_of(m)]) == 1
    assert len(await claims(world, "calendar")) == 1


# -- 4. the stopped clock --------------------------------------------------------------------


async def test_a_returned_case_is_not_nudged_until_resubmitted_then_against_its_new_due(
        world: World) -> None:
    await finish_milestones(world)
    await submit(world)
    # Tuesday: 2 working days left.
    notice = await return_case(world, await world.last_from_bot("li"), at(11, 24))
    # The old due passes and a week goes by: nothing while the clock is stopped.
    for when in office_mornings(date(2026, 11, 25), date(2026, 11, 30)):
        assert (await sweep_at(world, when)).sent == 0
    assert await claims(world) == []
    # Monday 10:00 the supplement comes: the 2 days left run from now, due Wednesday.
    await resubmit(world, notice, at(11, 30))
    schedule = await daily(world, office_mornings(date(2026, 11, 30), date(2026, 12, 4)))
    assert schedule == {
        date(2026, 12, 1): [("he", "yellow"), ("li", "yellow"), ("liuxiao", "yellow"),
                            ("zheng", "yellow")],
        date(2026, 12, 3): [("he", "red"), ("li", "red"), ("liuxiao", "red"), ("zhao", "red")],
    }
    [yellow, red] = await nudges_in(world, "liuxiao")
    assert "时限 12月2日周三 17:30，剩余 1 个工作日。" in text_of(yellow)
    assert "时限 12月2日周三 17:30，已超期，不足 1 个工作日。" in text_of(red)


async def test_a_case_returned_when_red_goes_red_again_after_resubmission(world: World) -> None:
    await finish_milestones(world)
    await submit(world)
    card = await world.last_from_bot("li")
    assert (await sweep_at(world, at(11, 27, 8, 31))).sent == 4  # red
    notice = await return_case(world, card, at(11, 27, 10))
    await resubmit(world, notice, at(11, 30, 10))
    due = (await step_of(world, 1)).due_at
    assert due is not None and due > at(11, 30, 10)
    await daily(world, office_mornings(date(2026, 12, 1), date(2026, 12, 2)))
    for person in ("liuxiao", "li", "zhao", "he"):  # once per due: the old, then the new
        reds = [m for m in await nudges_in(world, person) if "红灯超期" in text_of(m)]
        assert len(reds) == 2, person


# -- 5–7. timeout policies and a case type's own ladder --------------------------------------

CASE_TYPES = """\
case_types:
  - code: internal
    name: 内部审核
    steps:
      - name: 科室初审
        mode: single
        assignees: [section_head]
        limit: 2
        timeout: deemed_approval
      - name: 分管领导审批
        mode: any
        assignees: [project_leader, leader_backup]
        limit: 3
  - code: filing
    name: 内部备案
    steps:
      - name: 科室备案
        mode: single
        assignees: [section_head]
        limit: 1
        timeout: deemed_approval
  - code: pressing
    name: 督办件
    steps:
      - name: 分管领导审核
        mode: any
        assignees: [project_leader, leader_backup]
        limit: 2
        timeout: escalate
  - code: rush
    name: 加急事项
    steps:
      - name: 分管领导审批
        mode: any
        assignees: [project_leader, leader_backup]
        limit: 1
  - code: quick
    name: 简易事项
    ladder:
      red: [holders]
      repeat: {every: 1, to: [holders]}
    steps:
      - name: 分管领导审批
        mode: any
        assignees: [project_leader, leader_backup]
        limit: 1
  - code: countersign
    name: 领导会签
    steps:
      - name: 局领导会签
        mode: all
        assignees: [{role: leader}]
        limit: 3
  - code: plain
    name: 经办提醒事项
    ladder:
      yellow: [handler, guide]
      red: [handler, section_head]
    steps:
      - name: 分管领导审批
        mode: any
        assignees: [project_leader, leader_backup]
        limit: 3
"""


@pytest.fixture
async def typed(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    """The demo bureau with the case types above, its milestones all done."""
    path = tmp_path / "case_types.yaml"
    path.write_text(CASE_TYPES, encoding="utf-8")
    built, task = await build_world(database_url, tmp_path, case_types_file=path)
    await finish_milestones(built)
    yield built
    violations = await tear_down(built, task)
    assert violations == [], "Bot API spec violations:\n" + "\n".join(violations)


async def test_a_silent_step_is_deemed_approved_at_its_due_and_never_goes_red(
        typed: World) -> None:
    world = typed
    card = await submit(world, "年度绿化养护计划", kind="内部审核")  # due Wednesday 17:30
    await submit(world, "公园标识系统备案", kind="内部备案")  # due Tuesday 17:30
    assert (await sweep_at(world, at(11, 24, 8, 31))).deemed == 0
    # The first sweep after each due deems the step, before any nudge is planned.
    assert (await sweep_at(world, at(11, 25, 8, 31))).deemed == 1  # the filing
    result = await sweep_at(world, at(11, 26, 8, 31))
    assert result.deemed == 1
    first = await step_of(world, 1)
    assert (first.state, first.deemed) == ("approved", True)
    said = await world.from_bot("KP-002")
    [announced] = [m for m in said if text_of(m).startswith("⏰ 超时默许：「年度绿化养护计划")]
    assert text_of(announced) == ("⏰ 超时默许：「年度绿化养护计划」（#1）的「科室初审」环节"
                                  "在时限内无人处理，按规定视为同意。")
    assert announced["reply_to_message"]["message_id"] == card["message_id"]
    shown = text_of(await world.ctl.message(world.cid("KP-002"), card["message_id"]))
    assert "✅ ① 科室初审\n   ⏰ 超时默许：时限内无人处理，视为同意 · 11月26日周四 08:31" in shown
    assert "⏳ ② 分管领导审批\n   🟢 正常 · 时限 12月1日周二 17:30" in shown
    # The next step's deciders get their cards.
    for leader in ("li", "he"):
        assert "⏳ ② 分管领导审批" in text_of(await world.last_from_bot(leader))
    # A one-step case is approved outright, and its submitter told.
    assert (await the_case(world, 2)).state == "approved"
    assert "公园标识系统备案" in text_of(await world.last_from_bot("liuxiao"))
    assert [(e["subject"], e["then"]) for e in await audit(world, "case.deemed_approved")] == [
        ("case:2", "approved_case"), ("case:1", "approved_step")]
    # Nobody hears red for a deemed step, however long the sweeps go on.
    for when in office_mornings(date(2026, 11, 27), date(2026, 12, 3)):
        await sweep_at(world, when)
    levels = {n.level for n in await claims(world, "step", first.id)}
    filing = {n.level for n in await claims(world, "step", (await step_of(world, 2)).id)}
    assert levels <= {"yellow"} and filing <= {"yellow"}
    second = await step_of(world, 1, seq=2)
    assert "red" in {n.level for n in await claims(world, "step", second.id)}  # ordinary step


async def test_escalate_adds_the_director_to_red_and_the_reminders(typed: World) -> None:
    world = typed
    await submit(world, "违法建设整改督办", kind="督办件")  # due Wednesday 17:30
    schedule = await daily(world, office_mornings(date(2026, 11, 24), date(2026, 12, 1)))
    assert schedule == {
        date(2026, 11, 24): [("he", "yellow"), ("li", "yellow"), ("liuxiao", "yellow"),
                             ("zheng", "yellow")],  # not escalated
        date(2026, 11, 26): [("chen", "red"), ("he", "red"), ("li", "red"),
                             ("liuxiao", "red"), ("zhao", "red")],
        date(2026, 12, 1): [("chen", "repeat-1"), ("he", "repeat-1"), ("li", "repeat-1"),
                            ("liuxiao", "repeat-1"), ("zhao", "repeat-1")],
    }
    [red, reminder] = await nudges_in(world, "chen")
    assert text_of(red).startswith("🔴 红灯超期：「违法建设整改督办」#1 的「分管领导审核」环节")
    assert text_of(reminder).startswith("🔴 仍在超期")


async def test_a_case_type_with_its_own_ladder_follows_it(
        typed: World, caplog: pytest.LogCaptureFixture) -> None:
    world = typed
    await submit(world, "临时占道审批", kind="简易事项")  # 1 day: due Tuesday 17:30
    step = await step_of(world, 1)
    mornings = office_mornings(date(2026, 11, 24), date(2026, 12, 3))
    friday = at(11, 27, 8, 31)
    schedule = await daily(world, [m for m in mornings if m < friday])
    # A process claims Friday's reminder and dies before sending it; the next sweep delivers
    # it by this type's ladder (by the default one it would not be due).
    assert step.id is not None
    await abandon(world, "step", step.id, "repeat-2", ["li", "he"], at(11, 27, 8, 20))
    schedule |= await daily(world, [m for m in mornings if m >= friday])
    holders = ["he", "li"]
    # No yellow, red to the holders only, a reminder every working day, no urge notice.
    assert schedule == {
        date(2026, 11, 25): [(p, "red") for p in holders],
        date(2026, 11, 26): [(p, "repeat-1") for p in holders],
        date(2026, 11, 30): [(p, "repeat-3") for p in holders],
        date(2026, 12, 1): [(p, "repeat-4") for p in holders],
        date(2026, 12, 2): [(p, "repeat-5") for p in holders],
        date(2026, 12, 3): [(p, "repeat-6") for p in holders],
    }
    retaken = [n for n in await claims(world) if n.level == "repeat-2"]
    assert [(n.channel, n.error) for n in retaken] == [("private", None)] * 2
    maybe_twice = [r.getMessage() for r in caplog.records if "may arrive twice" in r.getMessage()]
    assert sorted(maybe_twice) == sorted(
        f"nudge {n.id} (step {step.id}, repeat-2) was claimed by a process that stopped before "
        "it recorded it sent: sent again, it may arrive twice" for n in retaken)
    for holder in holders:
        texts = [text_of(m) for m in await nudges_in(world, holder)]
        assert len(texts) == 7 and texts[2].startswith("🔴 仍在超期：「临时占道审批」")
    async with world.db() as store:
        assert await store.all(UrgeNotice) == []
    assert await nudges_in(world, "liuxiao") == [] and await nudges_in(world, "zhao") == []


async def test_a_one_day_step_is_yellow_at_once_and_not_late(typed: World) -> None:
    world = typed
    await submit(world, "防汛抢险临时用地", kind="加急事项")  # Monday 10:00: due Tuesday
    # One working day left from the start: yellow at once, but nothing fell due before the
    # case existed, so the nudge is not a catch-up.
    assert (await sweep_at(world, at(11, 23, 10, 1))).sent == 4
    assert [(n.level, n.late) for n in await claims(world)] == [("yellow", False)] * 4
    [yellow] = await nudges_in(world, "liuxiao")
    assert text_of(yellow).startswith("🟡 黄灯预警：「防汛抢险临时用地」#1")
    assert LATE not in text_of(yellow)


async def test_a_case_stored_without_its_type_follows_the_default_ladder(world: World) -> None:
    await finish_milestones(world)
    await submit(world)
    async with world.db() as store:  # as migration 0002 left cases from before case types
        await store.session.execute(update(Case).values(definition="{}"))
        await store.commit()
    assert (await sweep_at(world, at(11, 25, 8, 31))).sent == 4
    assert await who_got(world) == [("he", "yellow"), ("li", "yellow"), ("liuxiao", "yellow"),
                                    ("zheng", "yellow")]


# -- 8. milestones ---------------------------------------------------------------------------


async def test_the_demo_milestones_nudge_on_the_first_sweep_and_stop_when_done(
        world: World) -> None:
    async with world.db() as store:
        ms = {m.title: m for m in await store.all(Milestone)}
    soon, late = ms["微波站迁建选址确定"], ms["局长办公会议题材料报送"]
    assert soon.id is not None and late.id is not None
    result = await sweep_at(world, at(11, 23, 8, 31))  # Monday, the day the demo shows
    # KP-002's yellow (2) and KP-004's red (4); the districts': KP-007's red (顾晨, 董局长,
    # 冯股长) and KP-008's yellow (许乡).
    assert result.sent == 10
    assert await who_got(world, "milestone", soon.id) == [("liuxiao", "yellow"),
                                                          ("zheng", "yellow")]
    assert await who_got(world, "milestone", late.id) == [
        ("li", "red"), ("wang", "red"), ("wujing", "red"), ("zhangfan", "red")]
    [yellow] = await nudges_in(world, "zheng")
    assert text_of(yellow) == ("🟡 黄灯预警：KP-002 天台山公园 的节点「微波站迁建选址确定」\n"
                               "时限 11月24日周二 17:30，剩余 1 个工作日。")
    [red] = await nudges_in(world, "wang")
    # Red since Wednesday 11-18: the bot was not running then, so it says it is late.
    assert text_of(red) == (
        "🔴 红灯超期（补发：应于 11月18日周三 17:30 提醒）："
        "KP-004 雁城危房重建 的节点「局长办公会议题材料报送」\n"
        "时限 11月18日周三 17:30，已超期 2 个工作日。")
    assert [n.late for n in await claims(world, "milestone", late.id)] == [True] * 4
    assert not any(n.late for n in await claims(world, "milestone", soon.id))

    # KP-004 hands in its material; a process had claimed its first reminder and died.
    await abandon(world, "milestone", late.id, "repeat-1", ["zhangfan"], at(11, 23, 9))
    async with world.db() as store:
        await store.session.execute(update(Milestone).where(
            col(Milestone.id) == late.id).values(done_on=date(2026, 11, 23)))
        await store.commit()
    await daily(world, office_mornings(date(2026, 11, 24), date(2026, 12, 1)))
    assert await who_got(world, "milestone", late.id) == [
        ("li", "red"), ("wang", "red"), ("wujing", "red"), ("zhangfan", "red"),
        ("zhangfan", "repeat-1")]
    [dead] = [n for n in await claims(world, "milestone", late.id) if n.level == "repeat-1"]
    assert (dead.channel, dead.error) == ("none", "no longer due")
    assert [text_of(m) for m in await nudges_in(world, "wang")
            if "局长办公会议题材料报送" in text_of(m)] == [text_of(red)]
    async with world.db() as store:
        # red + 5 came, but it was done (KP-007's, due a day later, went on to an urge)
        assert [u.target_id for u in await store.all(UrgeNotice)
                if u.target_kind == "milestone" and u.target_id == late.id] == []
    # KP-002's milestone, not done, goes on: red on Wednesday, the reminders after.
    assert {level for _, level in await who_got(world, "milestone", soon.id)} == {
        "yellow", "red", "repeat-1"}


async def test_a_nudge_reads_as_chinese(world: World) -> None:
    await sweep_at(world, at(11, 23, 8, 31))
    [yellow] = await nudges_in(world, "zheng")
    assert text_of(yellow).startswith("🟡 黄灯预警：KP-002 天台山公园 的节点")
    [red] = await nudges_in(world, "wang")
    assert text_of(red).startswith("🔴 红灯超期（补发：应于 11月18日周三 17:30 提醒）：KP-004")


# -- 9. catching up after downtime -----------------------------------------------------------


async def test_after_downtime_each_person_gets_the_current_rungs_once_late_in_a_digest(
        world: World) -> None:
    await submit(world)  # due Thursday 11-26
    before = {who: len(await world.from_bot(who)) for who in DEMO_USERS}
    # Nothing swept for eight working days, then one sweep on Thursday 12-3 at 10:00.
    result = await sweep_at(world, at(12, 3))
    assert result.failed == 0
    async with world.db() as store:
        ms = {m.title: m.id for m in await store.all(Milestone)}
    step = (await step_of(world, 1)).id
    # The case (4 working days late): red and the first reminder. KP-002's milestone (6 late):
    # red, the urge and the second reminder only, never the first. KP-003's (1 late): red.
    assert [lv for k, lv in await who_got(world, "step", step) if k == "liuxiao"] == [
        "red", "repeat-1"]
    assert [lv for k, lv in await who_got(world, "milestone", ms["微波站迁建选址确定"])
            if k == "liuxiao"] == ["red", "repeat-2"]
    assert [lv for k, lv in await who_got(world, "milestone", ms["设计方案初稿"])
            if k == "liuxiao"] == ["red"]
    assert all(n.late for n in await claims(world))
    # liuxiao: five at once, so one digest.
    new = (await world.from_bot("liuxiao"))[before["liuxiao"]:]
    [digest] = new
    text = text_of(digest)
    assert text.startswith("⏰ 5 项时限需要您关注\n\n")
    assert text.count(LATE) == 5
    assert "🔴 仍在超期（补发：应于 12月1日周二 17:30 提醒）：「" in text
    # Everyone: each claim once, in one digest when more than 3 (a section head's urge
    # claim is the urge notice itself, a message of its own; a reminder of a turn one
    # holds comes on its own, with the card's buttons: 李 and 何 on the case).
    keys, made = await person_keys(world), await claims(world)
    async with world.db() as store:
        heads = [keys[u.head_id] for u in await store.all(UrgeNotice) if u.head_id]
    # KP-002's and KP-004's milestones, and the district's (KP-007) and township's (KP-008)
    assert sorted(heads) == ["feng", "tang", "wang", "zhao"]
    folded = await told_by_notice(world, made)
    for who in DEMO_USERS:
        new = (await world.from_bot(who))[before[who]:]
        mine = sum(1 for n in made if keys[n.person_id] == who and n.id not in folded)
        notices = heads.count(who)
        held = sum(1 for n in made if keys[n.person_id] == who and n.target_kind == "step"
                   and who in ("li", "he"))
        nudged = mine - held
        assert entries(new) == mine + notices, who
        assert len(new) == held + (1 if nudged > 3 else nudged) + notices, who
        assert sum(1 for m in new if buttons(m)) == held + notices, who
    assert "repeat-1" not in {lv for _, lv in
                              await who_got(world, "milestone", ms["微波站迁建选址确定"])}
    assert (await sweep_at(world, at(12, 3, 10, 5))).sent == 0


async def test_a_catch_up_larger_than_a_window_delivers_every_claim_once(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A long outage: the sweep plans and delivers a window of subjects at a time (here one
    subject per window), and everything still reaches everyone once."""
    monkeypatch.setattr(nudging, "WINDOW", 1)
    await submit(world)
    before = {who: len(await world.from_bot(who)) for who in DEMO_USERS}
    result = await sweep_at(world, at(12, 3))
    assert result.failed == 0 and result.sent > 0
    keys, made = await person_keys(world), await claims(world)
    assert made and all(n.sent_at is not None for n in made)
    folded = await told_by_notice(world, made)
    async with world.db() as store:
        heads = [keys[u.head_id] for u in await store.all(UrgeNotice) if u.head_id]
    for who in DEMO_USERS:
        new = (await world.from_bot(who))[before[who]:]
        assert entries(new) == heads.count(who) + sum(
            1 for n in made if keys[n.person_id] == who and n.id not in folded), who
    assert (await sweep_at(world, at(12, 3, 10, 5))).sent == 0


# -- 10. durability ---------------------------------------------------------------------------


async def test_a_restart_never_resends(database_url: str, tmp_path: Path) -> None:
    world, task = await build_world(database_url, tmp_path)
    try:
        await finish_milestones(world)
        await submit(world)
        assert (await sweep_at(world, at(11, 25, 8, 31))).sent == 4
        for when in (at(11, 25, 8, 32), at(11, 27, 8, 31)):
            old = world.app
            task = await restart_bot(world, task)  # a new process on the same database
            await old.close()
            assert (await world.sweep()).sent == 0  # what the last one sent stays sent
            assert (await sweep_at(world, when)).sent == (4 if when.day == 27 else 0)
        assert await who_got(world) == [
            ("he", "red"), ("he", "yellow"), ("li", "red"), ("li", "yellow"), ("liuxiao", "red"),
            ("liuxiao", "yellow"), ("zhao", "red"), ("zheng", "yellow")]
        assert [len(await nudges_in(world, p)) for p in ("liuxiao", "zheng", "li", "zhao", "he")
                ] == [2, 1, 2, 1, 2]
    finally:
        assert await tear_down(world, task) == []


async def test_a_claim_a_dead_process_left_is_delivered_once(world: World) -> None:
    await finish_milestones(world)
    await submit(world)
    step = (await step_of(world, 1)).id
    assert step is not None
    # At 08:30 a process claimed Wednesday's yellow for both and died before sending.
    await abandon(world, "step", step, "yellow", ["liuxiao", "zheng"], at(11, 25, 8, 30))
    assert (await sweep_at(world, at(11, 25, 8, 31))).sent == 0  # it may still be sending
    other = await create_app(world.app.settings, clock=world.clock)
    try:
        world.clock.set(at(11, 25, 8, 36))
        first, second = await asyncio.gather(world.app.jobs.sweep(), other.jobs.sweep())
        assert first.sent + second.sent == 2
        assert (await other.jobs.sweep()).sent == 0
    finally:
        await other.close()
    assert [(n.channel, n.late) for n in await claims(world)] == [("private", True)] * 2
    for person in ("liuxiao", "zheng"):
        [yellow] = await nudges_in(world, person)
        assert text_of(yellow).startswith("🟡 黄灯预警（补发：应于 11月24日周二 17:30 提醒）：")


async def test_two_processes_sweeping_at_once_never_double_a_nudge(world: World) -> None:
    await submit(world)
    await submit(world, "公园北门临时停车场")
    other = await create_app(world.app.settings, clock=world.clock)
    skipped = 0
    try:
        for when in (at(11, 23, 10, 1), at(11, 25, 8, 31), at(11, 27, 8, 31), at(12, 4, 8, 31)):
            world.clock.set(when)
            results = await asyncio.gather(world.app.jobs.sweep(), other.jobs.sweep(),
                                           world.app.jobs.sweep())
            assert sum(r.failed for r in results) == 0
            skipped += sum(r.skipped for r in results)
    finally:
        await other.close()
    # PostgreSQL: one sweep at a time (advisory lock), the others step aside. SQLite: they
    # all run, and the unique claims keep each nudge single.
    assert (skipped > 0) == (world.app.engine.dialect.name == "postgresql")
    made = await claims(world)
    assert len(made) > 20 and all(n.sent_at is not None for n in made)
    async with world.db() as store:
        urges = await store.all(UrgeNotice)
    assert len(urges) == len({(u.target_kind, u.target_id) for u in urges}) > 0
    assert len(await world.from_bot("supervision")) == len(urges)
    # Every claim reached its person once: a message of its own or an entry of a digest
    # (a section head's urge claim is the urge notice itself).
    keys = await person_keys(world)
    folded = await told_by_notice(world, made)
    for who in DEMO_USERS:
        mine = sum(1 for n in made if keys[n.person_id] == who and n.id not in folded)
        notices = sum(1 for u in urges if u.head_id is not None and keys[u.head_id] == who)
        assert entries(await world.from_bot(who)) == mine + notices, who


# -- 11. Telegram refusing, failing, limiting ------------------------------------------------


async def test_a_guide_who_never_started_the_bot_is_mentioned_in_the_group(
        database_url: str, tmp_path: Path) -> None:
    started = set(DEMO_USERS) - {"zheng"}
    world, task = await build_world(database_url, tmp_path, started=started)
    try:
        await finish_milestones(world, "KP-001", "KP-003", "KP-004", "KP-005", "KP-006")
        await sweep_at(world, at(11, 23, 8, 31))  # KP-002's milestone: yellow
        in_group = await world.last_from_bot("KP-002")
        assert text_of(in_group).startswith(
            "郑引导\n🟡 黄灯预警：KP-002 天台山公园 的节点「微波站迁建选址确定」")
        assert any(e.get("url") == "tg://user?id=100011"
                   or e.get("user", {}).get("id") == 100011 for e in in_group["entities"])
        world.clock.set(at(11, 23, 10))
        await submit(world)
        await sweep_at(world, at(11, 25, 8, 31))  # the case: yellow
        assert text_of(await world.last_from_bot("KP-002")).startswith(
            f"郑引导\n🟡 黄灯预警：「{ITEM}」#1")
        tried = [r for r in await world.ctl.requests("sendMessage")
                 if r["params"].get("chat_id") == 100011]
        assert [r["error_code"] for r in tried] == [403]  # refused once, then the group
        keys = await person_keys(world)
        guide = [(n.target_kind, n.level, n.channel, (n.error or "")[:3])
                 for n in await claims(world) if keys[n.person_id] == "zheng"]
        assert guide == [("milestone", "yellow", "group", "403"),
                         ("step", "yellow", "group", "pri")]
    finally:
        assert await tear_down(world, task) == []


async def test_a_failed_send_is_retried_by_a_later_sweep_in_office_hours_once(
        world: World) -> None:
    await finish_milestones(world)
    await submit(world)
    world.clock.set(at(11, 25, 8, 31))
    # The four yellow nudges fail on every try (Telegram 500), until the bot gives up.
    await world.ctl.inject_fault("sendMessage", "500", count=4 * RETRY.attempts)
    result = await world.sweep()
    assert (result.sent, result.failed) == (0, 4)
    assert all(n.sent_at is None and n.error for n in await claims(world))
    assert (await sweep_at(world, at(11, 25, 8, 32))).sent == 0  # a fresh claim: not yet
    assert (await sweep_at(world, at(11, 25, 12, 10))).sent == 0  # lunch: quiet hours
    assert (await sweep_at(world, at(11, 25, 14))).sent == 4
    assert [(n.channel, n.late) for n in await claims(world)] == [("private", True)] * 4
    assert (await sweep_at(world, at(11, 25, 14, 10))).sent == 0
    for person in ("liuxiao", "zheng"):
        [yellow] = await nudges_in(world, person)
        assert LATE in text_of(yellow)


async def test_a_flood_limit_is_waited_out(world: World) -> None:
    await finish_milestones(world)
    await submit(world)
    world.clock.set(at(11, 25, 8, 31))
    await world.ctl.inject_fault("sendMessage", "429", count=1, retry_after=1)
    assert (await world.sweep()).sent == 4
    answered = [r["error_code"] for r in await world.ctl.requests("sendMessage")][-5:]
    assert answered == [429, None, None, None, None]
    assert [n.channel for n in await claims(world)] == ["private"] * 4


async def test_the_sweep_and_the_due_timers_are_scheduled_once(world: World) -> None:
    await finish_milestones(world)
    await submit(world)
    step = await step_of(world, 1)
    assert step.id is not None and step.due_at is not None
    timers = world.app.timers
    await clear_stored_timers(world)  # another test's timers would fire at start
    await timers.start(world.app.jobs)
    try:
        await timers.schedule_sweep(60)
        await timers.schedule_sweep(60)  # registering again replaces the job, never adds one
        sweeps = [job for job in timers.scheduler.get_jobs() if job.id == SWEEP_JOB_ID]
        assert [job.trigger.interval for job in sweeps] == [timedelta(seconds=60)]
        assert sweeps[0].max_instances == 1
        # A sweep sets a timer at each open step's due, once.
        await world.sweep()
        await world.sweep()
        assert (step.id, step.due_at) in await timers.due_timers()
        assert sum(1 for job in timers.scheduler.get_jobs()
                   if job.id == f"step-due-{step.id}") == 1
        # The timer firing at the due sweeps then (red is held: Thursday's close is quiet);
        # once the step is decided, a stale timer does nothing.
        world.clock.set(step.due_at)
        assert await world.app.jobs.step_due(step.id, step.due_at) == SweepResult()
        card = await world.last_from_bot("li")
        await world.press("li", "li", card["message_id"], button(card, "同意"))
        assert await world.app.jobs.step_due(step.id, step.due_at) is None
    finally:
        await timers.shutdown()
        await clear_stored_timers(world)  # PostgreSQL keeps the job table between tests


async def clear_stored_timers(world: World) -> None:
    async with world.app.engine.begin() as connection:
        if await connection.run_sync(lambda sync: inspect(sync).has_table(JOBS_TABLE)):
            await connection.execute(text(f"DELETE FROM {JOBS_TABLE}"))


# -- 12. whoever must decide ------------------------------------------------------------------

YOURS = "👇 待您审批：下方按钮与审批卡片上的相同。"
YOURS_IN_GROUP = "待您审批：请使用案卷卡片上的按钮。"


async def test_both_posts_of_an_or_sign_get_yellow_and_red_privately_with_their_cards_buttons(
        world: World) -> None:
    await finish_milestones(world)
    await submit(world)
    cards = {post: await world.last_from_bot(post) for post in ("li", "he")}  # turn cards
    assert (await sweep_at(world, at(11, 25, 8, 31))).sent == 4
    assert (await sweep_at(world, at(11, 27, 8, 31))).sent == 4
    for post in ("li", "he"):
        yellow, red = await nudges_in(world, post)
        assert text_of(yellow).startswith(f"🟡 黄灯预警：「{ITEM}」#1")
        assert text_of(red).startswith(f"🔴 红灯超期：「{ITEM}」#1")
        for reminder in (yellow, red):
            assert text_of(reminder).endswith(f"\n{YOURS}")
            # The very buttons of the private card: same labels, same callback data.
            assert buttons(reminder) == buttons(cards[post]) != {}
    # 李 is the leader in charge as well as the A post: one red all the same.
    assert [level for key, level in await who_got(world) if key == "li"] == ["red", "yellow"]
    for other in ("liuxiao", "zheng", "zhao"):  # not theirs to decide: no buttons
        for nudge in await nudges_in(world, other):
            assert buttons(nudge) == {} and YOURS not in text_of(nudge)
    assert {n.channel for n in await claims(world)} == {"private"}


async def test_approving_from_a_reminder_decides_the_step_and_the_reminders_lose_their_buttons(
        world: World) -> None:
    await finish_milestones(world)
    group_card = await submit(world)
    await sweep_at(world, at(11, 25, 8, 31))
    [he_yellow], [li_yellow] = await nudges_in(world, "he"), await nudges_in(world, "li")
    world.clock.set(at(11, 25, 9))
    pressed = await world.press("he", "he", he_yellow["message_id"], button(he_yellow, "同意"))
    assert pressed["answer"]["text"] == "✅ 已同意，谢谢。"
    assert (await the_case(world)).state == "approved"
    group = await world.ctl.message(world.cid("KP-002"), group_card["message_id"])
    assert "✅ 何副局长 同意 · 11月25日周三 09:00" in text_of(group)
    # The buttons go with the turn, on both reminders as on the cards; the text stays.
    for post, reminder in (("he", he_yellow), ("li", li_yellow)):
        shown = await world.ctl.message(world.cid(post), reminder["message_id"])
        assert buttons(shown) == {} and text_of(shown) == text_of(reminder)
    # A press a client still sends from an old copy is refused, saying who decided.
    late = await world.press("li", "li", li_yellow["message_id"], button(li_yellow, "同意"),
                             forge=True)
    assert late["answer"]["show_alert"] is True
    assert late["answer"]["text"] == "该事项已由 何副局长 于 11月25日周三 09:00 同意。"
    assert (await sweep_at(world, at(11, 27, 8, 31))).sent == 0  # nothing left to remind


async def test_a_countersigner_still_to_sign_is_reminded_and_one_who_signed_is_not(
        typed: World) -> None:
    world = typed
    await submit(world, "绿化管理办法修订", kind="领导会签")  # 李 and 何 must both approve
    li_card = await world.last_from_bot("li")
    await world.press("li", "li", li_card["message_id"], button(li_card, "同意"))
    assert (await the_case(world)).state == "pending"
    schedule = await daily(world, office_mornings(date(2026, 11, 24), date(2026, 11, 27)))
    assert schedule == {
        date(2026, 11, 25): [("he", "yellow"), ("liuxiao", "yellow"), ("zheng", "yellow")],
        # 李 hears red as the leader in charge, not as a countersigner: no buttons.
        date(2026, 11, 27): [("he", "red"), ("li", "red"), ("liuxiao", "red"), ("zhao", "red")],
    }
    for nudge in await nudges_in(world, "he"):
        assert set(buttons(nudge)) == {"✅ 同意", "↩️ 退回", "💬 附意见同意", "🔁 转交", "➕ 加签"}
    [red] = await nudges_in(world, "li")
    assert text_of(red).startswith("🔴 红灯超期：「绿化管理办法修订」#1")
    assert buttons(red) == {} and YOURS not in text_of(red)


async def test_a_handler_who_holds_the_turn_hears_each_level_once_with_the_buttons(
        world: World) -> None:
    await finish_milestones(world)
    # 危房重建议题: the handler prepares the material first (5 working days: due Monday).
    await submit(world, "危房重建议题材料", kind="危房重建议题", who="zhangfan",
                 where="KP-004")
    schedule = await daily(world, office_mornings(date(2026, 11, 24), date(2026, 12, 1)))
    assert schedule == {
        date(2026, 11, 27): [("lin", "yellow"), ("zhangfan", "yellow")],
        date(2026, 12, 1): [("li", "red"), ("wang", "red"), ("zhangfan", "red")],
    }
    yellow, red = await nudges_in(world, "zhangfan")
    for reminder in (yellow, red):
        assert text_of(reminder).endswith(f"\n{YOURS}") and "✅ 同意" in buttons(reminder)


async def test_a_holder_without_a_private_chat_is_mentioned_in_the_group_without_buttons(
        database_url: str, tmp_path: Path) -> None:
    world, task = await build_world(database_url, tmp_path, started=set(DEMO_USERS) - {"he"})
    try:
        await finish_milestones(world)
        await submit(world)
        await sweep_at(world, at(11, 25, 8, 31))
        [mention] = [m for m in await world.from_bot("KP-002") if "黄灯预警" in text_of(m)]
        assert text_of(mention).startswith(f"何副局长\n🟡 黄灯预警：「{ITEM}」#1")
        assert text_of(mention).endswith(f"\n{YOURS_IN_GROUP}")
        assert buttons(mention) == {}  # the group card above has them
        [li_yellow] = await nudges_in(world, "li")
        assert text_of(li_yellow).endswith(YOURS) and buttons(li_yellow)
        keys = await person_keys(world)
        assert sorted((keys[n.person_id], n.channel) for n in await claims(world)) == [
            ("he", "group"), ("li", "private"), ("liuxiao", "private"), ("zheng", "private")]
    finally:
        assert await tear_down(world, task) == []


async def test_a_case_type_whose_ladder_leaves_the_holders_out_does_not_remind_them(
        typed: World) -> None:
    world = typed
    await submit(world, "公园导览标识更新", kind="经办提醒事项")  # due Thursday 17:30
    schedule = await daily(world, office_mornings(date(2026, 11, 24), date(2026, 12, 2)))
    assert schedule == {
        date(2026, 11, 25): [("liuxiao", "yellow"), ("zheng", "yellow")],
        date(2026, 11, 27): [("liuxiao", "red"), ("zhao", "red")],
    }
    assert await nudges_in(world, "li") == [] and await nudges_in(world, "he") == []



async def test_the_next_moment_ahead_is_the_earliest_any_subject_waits_for(world: World) -> None:
    services = world.app.services

    async def ahead() -> Upcoming:
        async with world.db() as store:
            found = await upcoming(store, services.now(), services.calendar, services.policy)
        assert found is not None and found.subject is not None
        return found

    await world.sweep()  # Monday 10:00: every subject gets its next moment
    first = await ahead()
    # KP-004's milestone (red since Wed 11-18) has its next reminder at Monday's close.
    assert first.at == datetime(2026, 11, 23, 17, 30, tzinfo=SHANGHAI)
    assert first.subject is not None and first.subject.kind == MILESTONE
    assert first.subject.project.code == "KP-004" and first.rungs == (RungKind.REPEAT,)

    await submit_item(world, "微波站迁建选址方案")  # a step of 3 working days
    world.clock.set(datetime(2026, 11, 24, 8, 31, tzinfo=SHANGHAI))
    await world.sweep()
    later = await ahead()
    assert later.at == datetime(2026, 11, 24, 17, 30, tzinfo=SHANGHAI)
