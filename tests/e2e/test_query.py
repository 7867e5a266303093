"""Applicants' query codes: the submitter's receipt, /query for anyone, wrong codes limited."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.usecases.query import MISS
from storage.models import AuditEvent, Case
from tests.e2e.conftest import World, submit_item, text_of

APPLICANT = 990_001  # an applicant: not in the org file, never in a group


async def applicant(world: World) -> int:
    await world.ctl.create_user(APPLICANT, "张先生")
    await world.say(APPLICANT, APPLICANT, "/start")
    return APPLICANT


async def the_case(world: World) -> Case:
    async with world.db() as store:
        [case] = await store.all(Case)
    return case


async def test_the_submitter_gets_a_receipt_to_forward_with_code_and_expected_date(
        world: World) -> None:
    before = len(await world.from_bot("liuxiao"))
    await submit_item(world, "微波站迁建选址方案")
    case = await the_case(world)
    [receipt] = (await world.from_bot("liuxiao"))[before:]
    text = text_of(receipt)
    assert text.startswith("🧾 受理回执 · 微波站迁建选址方案 · ")
    assert f"查询码：{case.query_code}" in text
    assert "预计办结：" in text
    assert f"/query {case.query_code}" in text


async def test_anyone_may_ask_by_code_and_sees_nothing_internal(world: World) -> None:
    await submit_item(world, "微波站迁建选址方案")
    case = await the_case(world)
    who = await applicant(world)
    await world.say(who, who, f"/query {case.query_code.lower()}")
    text = text_of(await world.last_from_bot(who))
    assert text.startswith("🔎 微波站迁建选址方案 · ")
    assert f"查询码：{case.query_code}" in text and "办理状态：⏳ 办理中" in text
    assert "当前环节：" in text and "预计办结：" in text
    for staff in ("刘晓", "李副局长", "何副局长", "赵敏", "郑"):  # no staff names
        assert staff not in text


async def test_a_wrong_code_is_logged_and_too_many_are_refused_for_an_hour(
        world: World) -> None:
    await submit_item(world, "微波站迁建选址方案")
    case = await the_case(world)
    who = await applicant(world)
    for n in range(5):
        await world.say(who, who, f"/query WRONG{n}")
        assert text_of(await world.last_from_bot(who)) == (
            f"没有查询码为 WRONG{n} 的事项。请核对回执上的查询码后重试。")
    await world.say(who, who, f"/query {case.query_code}")  # even the right one, for now
    assert text_of(await world.last_from_bot(who)).startswith("查询码错误次数过多，请于 ")
    async with world.db() as store:
        misses = [e for e in await store.audit_trail() if e.action == MISS]
    assert [e.subject for e in misses] == [f"tg:{who}"] * 5
    world.clock.advance(timedelta(hours=1, minutes=1))
    await world.say(who, who, f"/query {case.query_code}")
    assert text_of(await world.last_from_bot(who)).startswith("🔎 微波站迁建选址方案")


async def test_query_without_a_code_or_in_a_group_explains(world: World) -> None:
    who = await applicant(world)
    await world.say(who, who, "/query")
    assert text_of(await world.last_from_bot(who)) == (
        "用法：/query 查询码，查询码见受理回执。")
    await world.say("liuxiao", "KP-002", "/query ABC")
    assert text_of(await world.last_from_bot("KP-002")) == (
        "查询码请私聊查询：在私聊中向我发送 /query 查询码。")
    async with world.db() as store:
        assert not [e for e in await store.all(AuditEvent) if e.action == MISS]
