"""The lights board's use case on a real database: the demo bureau's projects and open steps
with the lights /projects shows, grouped by section, late first; its filters; a case's
timeline; and a fixed number of statements whatever the number of open steps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event

from bot.domain.rules.scope import WHOLE
from bot.domain.rules.vocabulary import Decision, Light, StepState
from bot.domain.usecases.board import Board, BoardFilter, board, timeline
from bot.domain.usecases.projects import overview
from bot.domain.usecases.scope import unit_scope
from storage.db import SessionFactory
from storage.models import Unit
from storage.store import Store

from .test_approvals import CALENDAR, POLICY, Bureau

ORDER = {Light.RED: 0, Light.YELLOW: 1, Light.GREEN: 2, None: 3}


@pytest.fixture
def desk(bureau: SessionFactory) -> Bureau:
    return Bureau(bureau)


EVERYTHING = BoardFilter()


async def load(desk: Bureau, wanted: BoardFilter = EVERYTHING, *,
               now: datetime | None = None, english: bool = False) -> Board:
    async with desk.sessions() as session:
        return await board(Store(session), WHOLE, now or desk.now, CALENDAR, POLICY, wanted,
                           english=english)


def cards(found: Board) -> list[tuple[str, Light | None]]:
    return [(card.code, card.light) for group in found.groups for section in group.sections
            for card in section.projects]


async def test_every_project_with_the_light_projects_shows(desk: Bureau) -> None:
    await desk.submit()  # an open step on KP-002
    found = await load(desk)
    async with desk.sessions() as session:
        rollup = await overview(Store(session), desk.now, CALENDAR, POLICY)
    assert sorted(cards(found)) == sorted((line.project.code, line.light) for line in rollup)
    # The city's leader sees the city, its district and township, each a group.
    assert sorted(name for _, name in found.units) == ["东阳渡镇", "市城乡规划管理局", "雁城区分局"]
    assert sorted(group.name or "" for group in found.groups) == sorted(
        name or "" for _, name in found.units)


async def test_late_first_within_and_across_sections(desk: Bureau) -> None:
    found = await load(desk)
    sections = found.groups[0].sections
    for section in sections:
        lights = [ORDER[card.light] for card in section.projects]
        assert lights == sorted(lights), section.name
    worst = [min(ORDER[card.light] for card in section.projects) for section in sections]
    assert worst == sorted(worst)
    assert all(section.name for section in sections)


async def test_an_open_step_shows_its_holder_and_turns_red_at_its_due(desk: Bureau) -> None:
    case_id = await desk.submit()
    step = await desk.step(case_id)
    assert step.due_at is not None
    found = await load(desk)
    line = next(s for g in found.groups for sec in g.sections for c in sec.projects
                if c.code == "KP-002" for s in c.steps)
    assert (line.case_id, line.name, line.light) == (case_id, step.name, Light.GREEN)
    assert line.holders == ["李副局长", "何副局长"]  # the A and B posts of an or-sign
    late = await load(desk, now=step.due_at + timedelta(minutes=1))
    kp2 = next(c for g in late.groups for sec in g.sections for c in sec.projects
               if c.code == "KP-002")
    assert kp2.light == Light.RED and kp2.steps[0].light == Light.RED
    assert late.steps_by_light[Light.RED] == 1
    assert cards(late)[0] == ("KP-002", Light.RED) or ORDER[cards(late)[0][1]] == 0


async def test_filters(desk: Bureau) -> None:
    await desk.submit()
    await desk.submit(project="KP-003")
    everything = await load(desk)
    for light in Light:
        only = await load(desk, BoardFilter(light=light))
        assert sorted(cards(only)) == sorted((code, found) for code, found in cards(everything)
                                             if found == light)
    section_id = everything.groups[0].sections[0].section_id
    assert section_id is not None
    by_section = await load(desk, BoardFilter(section_id=section_id))
    assert [s.section_id for s in by_section.groups[0].sections] == [section_id]
    # 李副局长 holds the turns of both items: only their projects, only their steps.
    li = await desk.person_id("li")
    held = await load(desk, BoardFilter(person_id=li))
    assert sorted(code for code, _ in cards(held)) == ["KP-002", "KP-003"]
    assert all("李副局长" in step.holders for g in held.groups for sec in g.sections
               for card in sec.projects for step in card.steps)
    # 刘晓 handles KP-002 and KP-003 and holds no turn.
    liuxiao = await desk.person_id("liuxiao")
    handled = await load(desk, BoardFilter(person_id=liuxiao))
    assert {"KP-002", "KP-003"} <= {code for code, _ in cards(handled)}
    assert (li, "李副局长") in everything.people
    assert await load(desk, BoardFilter(person_id=-1)) is not None
    assert cards(await load(desk, BoardFilter(person_id=-1))) == []


async def test_a_case_timeline_with_decisions(desk: Bureau) -> None:
    case_id = await desk.submit("building_permit", project="KP-004", who="zhangfan",
                                details={"applicant": "雁城建投", "site": "雁城路12号"})
    assert await desk.decide("wang", case_id) == "approved_step"
    async with desk.sessions() as session:
        found = await timeline(Store(session), WHOLE, case_id, desk.now, CALENDAR, POLICY)
    assert found is not None
    assert found.case.project_code == "KP-004" and found.submitter == "张帆"
    first, second = found.steps[:2]
    assert first.state == StepState.APPROVED and first.light is None
    assert [(d.who, d.decision) for d in first.decisions] == [("王建国", Decision.APPROVE)]
    assert second.state == StepState.OPEN and second.light == Light.GREEN
    assert [d.who for d in second.decisions] == ["陈局长"]  # holds the turn now
    async with desk.sessions() as session:
        assert await timeline(Store(session), WHOLE, 10_000, desk.now, CALENDAR, POLICY) \
            is None


async def unit_id(desk: Bureau, code: str) -> int:
    async with desk.sessions() as session:
        unit = await Store(session).one(Unit, code=code)
        assert unit is not None
        return unit.id


async def test_a_viewer_sees_exactly_their_subtree(desk: Bureau) -> None:
    city_case = await desk.submit()  # on KP-002, a city project
    ids = {code: await unit_id(desk, code) for code in ("dongyang", "zhuhui", "city")}
    async with desk.sessions() as session:
        store = Store(session)
        township = await unit_scope(store, ids["dongyang"])
        district = await unit_scope(store, ids["zhuhui"])
        city = await unit_scope(store, ids["city"])
        seen = {name: await board(store, scope, desk.now, CALENDAR, POLICY)
                for name, scope in (("township", township), ("district", district),
                                    ("city", city))}
    assert [code for code, _ in cards(seen["township"])] == ["KP-008"]
    assert [code for code, _ in cards(seen["district"])] == ["KP-008"]  # its township's
    assert len(cards(seen["city"])) == len(cards(await load(desk)))
    assert [name for _, name in seen["township"].units] == ["东阳渡镇"]
    async with desk.sessions() as session:
        store = Store(session)
        assert await timeline(store, township, city_case, desk.now, CALENDAR, POLICY) is None
        assert await timeline(store, city, city_case, desk.now, CALENDAR, POLICY) is not None


async def test_the_unit_filter_is_a_subtree(desk: Bureau) -> None:
    zhuhui = await load(desk, BoardFilter(unit_id=await unit_id(desk, "zhuhui")))
    assert [code for code, _ in cards(zhuhui)] == ["KP-008"]
    yancheng = await load(desk, BoardFilter(unit_id=await unit_id(desk, "yancheng")))
    assert [code for code, _ in cards(yancheng)] == ["KP-007"]


@contextmanager
def statements(sessions: SessionFactory) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = sessions.kw["bind"].sync_engine

    def count(*args: object) -> None:
        if not str(args[2]).lstrip().upper().startswith("BEGIN"):  # SQLite's own
            seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_a_board_load_costs_the_same_statements_whatever_its_size(
        desk: Bureau, bureau: SessionFactory) -> None:
    await desk.submit()
    with statements(bureau) as few:
        await load(desk)
    for project in ("KP-002", "KP-003", "KP-002", "KP-003"):
        await desk.submit(project=project)
    with statements(bureau) as many:
        found = await load(desk)
    assert sum(found.steps_by_light.values()) == 5
    assert len(many) == len(few) == 9, many
    li = await desk.person_id("li")
    with statements(bureau) as filtered:
        await load(desk, BoardFilter(person_id=li, light=Light.GREEN))
    assert len(filtered) == 10  # the person's steps counted apart


async def test_a_project_lists_its_earliest_steps_and_counts_the_rest(
        desk: Bureau, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.domain.usecases.board.STEPS_SHOWN", 2)
    first = await desk.submit()
    desk.now += timedelta(days=1)
    second = await desk.submit()
    desk.now += timedelta(days=1)
    await desk.submit()
    await desk.submit(project="KP-003")
    found = await load(desk, now=desk.now - timedelta(days=2))
    kp2 = next(c for g in found.groups for sec in g.sections for c in sec.projects
               if c.code == "KP-002")
    assert [step.case_id for step in kp2.steps] == [first, second]
    assert kp2.steps_more == 1 and sum(kp2.steps_by_light.values()) == 3
    kp3 = next(c for g in found.groups for sec in g.sections for c in sec.projects
               if c.code == "KP-003")
    assert len(kp3.steps) == 1 and kp3.steps_more == 0


async def test_a_board_of_many_projects_lists_steps_once_a_unit_is_picked(
        desk: Bureau, monkeypatch: pytest.MonkeyPatch) -> None:
    """A province's first view lists its projects with their lights, not their steps (a
    phone cannot show a thousand projects' steps); a unit picked lists its steps."""
    import bot.domain.usecases.board as module

    await desk.submit()  # an open step on KP-002 (the city's)
    monkeypatch.setattr(module, "MANY_PROJECTS", 3)
    whole = await load(desk)
    assert whole.steps_hidden
    kp2 = next(c for g in whole.groups for s in g.sections for c in s.projects
               if c.code == "KP-002")
    assert kp2.steps == [] and kp2.steps_more == 1  # counted, not listed
    async with desk.sessions() as session:
        city = next(u for u in await Store(session).units() if u.code == "city")
        kp2_section = kp2.section_id
    assert (await load(desk, BoardFilter(unit_id=city.id))).steps_hidden  # still the city
    picked = await load(desk, BoardFilter(section_id=kp2_section))
    assert not picked.steps_hidden
    assert [len(c.steps) for g in picked.groups for s in g.sections for c in s.projects
            if c.code == "KP-002"] == [1]


async def test_lights_counted_in_the_database_agree_with_those_worked_out_step_by_step(
        desk: Bureau, monkeypatch: pytest.MonkeyPatch) -> None:
    """The province path (lights counted by the database from the moments the dues' lights
    give) shows what the detailed path shows: each project's light and its steps per light,
    at moments when the steps are green, yellow and red, with filters."""
    import bot.domain.usecases.board as module

    await desk.submit()  # item: 3 working days on KP-002
    await desk.submit("building_permit", project="KP-004", who="zhangfan",
                      details={"applicant": "甲", "site": "乙"})
    desk.now += timedelta(days=1)
    await desk.submit(project="KP-003")
    some = await desk.step(await desk.submit(project="KP-002"))
    assert some.due_at is not None

    def seen(found: Board) -> list[tuple[str, Light | None, dict[Light, int]]]:
        return sorted((card.code, card.light, dict(card.steps_by_light))
                      for group in found.groups for section in group.sections
                      for card in section.projects)

    async with desk.sessions() as session:
        li = await Store(session).person_by_key("li")
        assert li is not None
    lights: set[Light] = set()
    for moment in (desk.now, some.due_at - timedelta(hours=20), some.due_at + timedelta(days=3)):
        for wanted in (EVERYTHING, BoardFilter(light=Light.RED),
                       BoardFilter(light=Light.YELLOW), BoardFilter(person_id=li.id)):
            detailed = await load(desk, wanted, now=moment)
            monkeypatch.setattr(module, "MANY_PROJECTS", 0)
            counted = await load(desk, wanted, now=moment)
            monkeypatch.setattr(module, "MANY_PROJECTS", 100)
            assert counted.steps_hidden and not detailed.steps_hidden
            assert seen(counted) == seen(detailed), (moment, wanted)
            assert counted.steps_by_light == detailed.steps_by_light
            assert counted.projects_by_light == detailed.projects_by_light
            lights |= set(detailed.steps_by_light)
    assert lights == set(Light)  # every light was met
