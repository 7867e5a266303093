"""Units: the org file's tree, its import (materialized paths), and who sees what.

The demo bureau is a city (市城乡规划管理局) with two district branches (雁城区分局, 珠晖区分局)
and one township under 珠晖区 (东阳渡镇); its people and projects are spread over them.
"""

from __future__ import annotations

import pytest

from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.org_file import OrgFileError, parse_org
from bot.domain.rules.policy import Policy
from bot.domain.rules.scope import WHOLE, Scope
from bot.domain.usecases.access import may_read_project
from bot.domain.usecases.org_import import ROOT_CODE
from bot.domain.usecases.people import identify, may_report
from bot.domain.usecases.projects import overview
from bot.domain.usecases.scope import scope_of, within_reach
from bot.domain.usecases.stats import gather
from bot.domain.usecases.supervision import urge_counts
from storage.db import SessionFactory
from storage.models import Chat, Person, Project, Section, Unit
from storage.store import Store
from tests.domain.conftest import MONDAY
from tests.domain.test_org import NOW, import_text, in_session

TREE = """\
units:
  - {code: city, name: 市局}
  - {code: east, name: 东区, parent: city}
  - {code: west, name: 西区, parent: city}
  - {code: town, name: 某镇, parent: east}
sections:
  - {code: hq, name: 办公室}
  - {code: east-s, name: 东区规划股, unit: east}
  - {code: town-s, name: 镇规划办, unit: town}
people:
  - {key: boss, name: 局长, section: hq, roles: [director]}
  - {key: e1, name: 东区经办, section: east-s, roles: [handler]}
  - {key: t1, name: 镇经办, section: town-s, roles: [handler]}
  - {key: w1, name: 西区领导, unit: west, roles: [leader]}
chats:
  - {telegram_id: -100, kind: leaders, title: 东区领导群, unit: east}
  - {telegram_id: -101, kind: project, title: 镇项目群, project: P-T}
projects:
  - {code: P-C, name: 市项目, status: in_progress, section: hq}
  - {code: P-E, name: 东区项目, status: in_progress, section: east-s}
  - {code: P-T, name: 镇项目, status: in_progress, section: town-s}
  - {code: P-W, name: 西区项目, status: in_progress, unit: west}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(OrgFileError) as caught:
        parse_org(text, "org.yaml")
    return str(caught.value).splitlines()


# --------------------------------------------------------------------------- the file


def test_units_default_down_the_file() -> None:
    org = parse_org(TREE, "org.yaml")
    assert [(u.code, u.parent) for u in org.units] == [
        ("city", None), ("east", "city"), ("west", "city"), ("town", "east")]
    people = {p.key: p for p in org.people}
    assert org.unit_of_person(people["e1"]) == "east"  # from the section
    assert org.unit_of_person(people["w1"]) == "west"  # said outright
    assert org.unit_of_person(people["boss"]) is None  # the root
    projects = {p.code: p for p in org.projects}
    assert org.unit_of_project(projects["P-T"]) == "town"
    assert org.unit_of_project(projects["P-W"]) == "west"
    chats = {c.telegram_id: c for c in org.chats}
    assert org.unit_of_chat(chats[-101]) == "town"  # its project's
    assert org.unit_of_chat(chats[-100]) == "east"


@pytest.mark.parametrize(("text", "message"), [
    ("units:\n  - {code: a, name: A}\n  - {code: b, name: B}\n",
     "org.yaml line 2: units: exactly one unit has no parent (the root); found 'a', 'b'"),
    ("units:\n  - {code: a, name: A, parent: b}\n  - {code: b, name: B, parent: a}\n",
     "org.yaml line 2: units: exactly one unit has no parent (the root); found none"),
    ("units:\n  - {code: a, name: A, parent: a}\n",
     "org.yaml line 2: units[0].parent: 'a' cannot be its own parent"),
    ("units:\n  - {code: a, name: A}\n  - {code: a, name: B, parent: a}\n",
     "org.yaml line 3: units[1].code: duplicate unit code 'a' (first at line 2)"),
    ("units:\n  - {code: a, name: A}\nsections:\n  - {code: s, name: S, unit: nowhere}\n",
     "org.yaml line 4: sections[0].unit: unknown unit 'nowhere'"),
    ("people:\n  - {key: p, name: P, roles: [handler], unit: city}\n",
     "org.yaml line 2: people[0].unit: unknown unit 'city'"),
])
def test_bad_trees_are_refused(text: str, message: str) -> None:
    assert message in problems(text)


def test_a_circle_is_named() -> None:
    found = problems("units:\n  - {code: r, name: R}\n  - {code: a, name: A, parent: b}\n"
                     "  - {code: b, name: B, parent: a}\n")
    assert "org.yaml line 3: units[1].parent: 'a' is its own ancestor" in found


# --------------------------------------------------------------------------- the import


async def test_the_tree_is_stored_with_paths(sessions: SessionFactory) -> None:
    report = await import_text(sessions, TREE)
    assert report.counts["units"].created == 4

    async def check(store: Store) -> None:
        units = {u.code: u for u in await store.units()}
        city, east, town = units["city"], units["east"], units["town"]
        assert city.path == f"/{city.id}/" and city.parent_id is None
        assert town.path == f"/{city.id}/{east.id}/{town.id}/"
        assert await store.subtree_ids(east.id) == {east.id, town.id}
        assert await store.subtree_ids(city.id) == {u.id for u in units.values()}
        assert [u.code for u in await store.unit_chain(town.id)] == ["town", "east", "city"]
        sections = {s.code: s for s in await store.all(Section)}
        assert sections["town-s"].unit_id == town.id and sections["hq"].unit_id == city.id
        projects = {p.code: p for p in await store.all(Project)}
        assert projects["P-T"].unit_id == town.id
        assert projects["P-W"].unit_id == units["west"].id
        chat = await store.chat_by_tg(-100)
        assert chat is not None and chat.unit_id == east.id
    await in_session(sessions, check)
    assert not (await import_text(sessions, TREE)).changed


async def test_moving_a_unit_moves_its_subtree_on_reimport(sessions: SessionFactory) -> None:
    await import_text(sessions, TREE)
    moved = TREE.replace("{code: town, name: 某镇, parent: east}",
                         "{code: town, name: 某镇, parent: west}")
    report = await import_text(sessions, moved)
    assert report.counts["units"].updated == 1

    async def check(store: Store) -> None:
        units = {u.code: u for u in await store.units()}
        assert units["town"].path == f"/{units['city'].id}/{units['west'].id}/{units['town'].id}/"
        assert units["town"].id in await store.subtree_ids(units["west"].id)
        assert units["town"].id not in await store.subtree_ids(units["east"].id)
    await in_session(sessions, check)


async def test_a_flat_file_is_one_unit(sessions: SessionFactory) -> None:
    flat = "sections:\n  - {code: s, name: S}\npeople:\n  - {key: p, name: P, section: s}\n"
    report = await import_text(sessions, flat)
    assert report.counts["units"].created == 1

    async def check(store: Store) -> None:
        (root,) = await store.units()
        assert (root.code, root.parent_id, root.path) == (ROOT_CODE, None, f"/{root.id}/")
        person = await store.person_by_key("p")
        assert person is not None and person.unit_id == root.id
        assert await scope_of(store, person) == WHOLE
    await in_session(sessions, check)
    assert (await import_text(sessions, flat)).counts["units"].unchanged == 1


# --------------------------------------------------------------------------- who sees what


async def test_each_sees_their_subtree(sessions: SessionFactory) -> None:
    await import_text(sessions, TREE)

    async def check(store: Store) -> None:
        people = {p.key: p for p in await store.all(Person)}
        units = {u.code: u.id for u in await store.units()}
        projects = {p.code: p for p in await store.all(Project)}
        assert await scope_of(store, people["boss"]) == WHOLE
        assert await scope_of(store, people["e1"]) == Scope(frozenset(
            {units["east"], units["town"]}))
        assert await scope_of(store, people["t1"]) == Scope(frozenset({units["town"]}))
        cal, policy = WorkCalendar(), Policy()
        for key, seen in (("boss", ["P-C", "P-E", "P-T", "P-W"]), ("e1", ["P-E", "P-T"]),
                          ("t1", ["P-T"]), ("w1", ["P-W"])):
            scope = await scope_of(store, people[key])
            lines = await overview(store, NOW, cal, policy, scope)
            assert sorted(line.project.code for line in lines) == seen, key
            for code, project in projects.items():
                assert await within_reach(store, people[key], project.unit_id) == (code in seen)
    await in_session(sessions, check)


async def test_rights_stop_at_the_subtree(bureau: SessionFactory) -> None:
    """The demo: 许乡 (东阳渡镇's handler) reports on the township's project only; 潘局长
    (珠晖区) reads it too; 顾晨 (雁城区) reads neither; the city's director reads all."""
    async def check(store: Store) -> None:
        kp2, kp7, kp8 = [await store.project_by_code(c) for c in ("KP-002", "KP-007", "KP-008")]
        assert kp2 is not None and kp7 is not None and kp8 is not None

        async def actor(key: str):  # type: ignore[no-untyped-def]
            person = await store.person_by_key(key)
            assert person is not None and person.tg_user_id is not None
            found = await identify(store, person.tg_user_id)
            assert found is not None
            return found
        xu, pan, gu, chen = [await actor(k) for k in ("xu", "pan", "gu", "chen")]
        assert await may_report(store, xu, kp8) and not await may_report(store, xu, kp7)
        assert not await may_report(store, xu, kp2)
        assert await may_read_project(store, pan, kp8)  # the leader, a level up
        assert not await may_read_project(store, gu, kp8)
        assert not await may_report(store, gu, kp2)  # a handler, but of another unit
        assert all([await may_read_project(store, chen, p) for p in (kp2, kp7, kp8)])
    await in_session(bureau, check)


async def test_roll_ups_are_scoped(bureau: SessionFactory) -> None:
    async def check(store: Store) -> None:
        cal = WorkCalendar()
        pan = await store.person_by_key("pan")
        assert pan is not None
        scope = await scope_of(store, pan)
        stats = await gather(store, MONDAY, cal, cal.tz, scope=scope)
        assert stats.projects == 1  # KP-008 only
        everything = await gather(store, MONDAY, cal, cal.tz)
        assert everything.projects == 8
        counts = await urge_counts(store, 2026, cal.tz, scope)
        assert set(counts.names.values()) <= {"潘局长", "唐主任", "许乡"}
    await in_session(bureau, check)


async def test_a_leaders_chat_serves_its_unit(bureau: SessionFactory) -> None:
    async def check(store: Store) -> None:
        chat = await store.chat_by_tg(-1001000000008)
        assert chat is not None
        units = {u.code: u.id for u in await store.units()}
        assert chat.unit_id == units["dongyang"]
        assert await store.one(Chat, tg_chat_id=-1001000000100) is not None
        assert {u.code for u in await store.all(Unit)} == {"city", "yancheng", "zhuhui",
                                                          "dongyang"}
    await in_session(bureau, check)
