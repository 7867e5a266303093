"""Organisation import: parsing with line-accurate errors, and upserts against a real database.

The database comes from the shared fixtures in ``tests/conftest.py``: an empty, migrated
SQLite file per test, or PostgreSQL when ``GREENLIGHT_TEST_DATABASE_URL`` is set.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import SQLModel

import bot.domain.rules.org_file as org_module
from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.org_file import OrgFile, OrgFileError, parse_org
from bot.domain.rules.vocabulary import ProjectStatus
from bot.domain.usecases.org_import import ImportReport, apply_org, import_org_file
from sandbox.demo import DEMO_CHATS, DEMO_USERS, EXAMPLE_TODAY, demo_org_yaml, working_day
from storage.db import SessionFactory
from storage.models import (
    AuditEvent,
    Chat,
    Milestone,
    Person,
    Project,
    ProjectMember,
    Report,
    RoleGrant,
    Section,
)
from storage.store import Store

SH = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "org.yaml"
DATA = Path(__file__).resolve().parent / "data" / "org"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=SH)
ORG_TABLES: tuple[type[SQLModel], ...] = (
    Section, Person, RoleGrant, Chat, Project, ProjectMember, Milestone)
T = TypeVar("T")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


@pytest.fixture(scope="module")
def example_text() -> str:
    return EXAMPLE.read_text(encoding="utf-8")


async def in_session(sessions: SessionFactory, work: Callable[[Store], Awaitable[T]]) -> T:
    """Run ``work`` in its own session and commit, like one CLI run."""
    async with sessions() as session:
        store = Store(session)
        result = await work(store)
        await store.commit()
        return result


async def import_text(sessions: SessionFactory, yaml_text: str,
                      now: datetime = NOW) -> ImportReport:
    org = parse_org(yaml_text, "org.yaml")
    return await in_session(sessions, lambda store: apply_org(store, org, now=now))


async def snapshot(sessions: SessionFactory) -> dict[str, list[dict[str, Any]]]:
    async def read(store: Store) -> dict[str, list[dict[str, Any]]]:
        return {model.__name__: [row.model_dump() for row in await store.all(
            model, order_by=model.id)] for model in ORG_TABLES}  # type: ignore[attr-defined]
    return await in_session(sessions, read)


def counts(report: ImportReport) -> dict[str, tuple[int, int, int, int]]:
    return {kind: (c.created, c.updated, c.unchanged, c.removed)
            for kind, c in report.counts.items()}


def errors_of(yaml_text: str) -> str:
    with pytest.raises(OrgFileError) as caught:
        parse_org(yaml_text, "org.yaml")
    return str(caught.value)


# --------------------------------------------------------------------------- parsing


def test_example_parses_cleanly(example_text: str) -> None:
    org = parse_org(example_text, "org.yaml")
    assert [s.code for s in org.sections] == [
        "office", "building", "municipal", "legal", "supervision", "yc-planning", "zh-planning",
        "dy-office"]
    assert [u.code for u in org.units] == ["city", "yancheng", "zhuhui", "dongyang"]
    assert len(org.people) == 20
    assert [p.code for p in org.projects] == [f"KP-00{i}" for i in range(1, 9)]
    assert {p.status for p in org.projects} == set(ProjectStatus)  # every status is shown
    assert len(org.chats) == 10
    assert org.warnings == ()
    li = next(p for p in org.people if p.key == "li")
    assert (li.name, li.telegram_id, li.backup, li.section) == ("李副局长", 100002, "he", "office")
    kp2 = next(p for p in org.projects if p.code == "KP-002")
    assert kp2.milestones[1].title == "微波站迁建选址确定"
    assert kp2.milestones[1].due == date(2026, 11, 24)
    assert kp2.milestones[0].done == date(2026, 11, 6)


def test_example_is_the_demo_rendered_for_its_day(example_text: str, cal: WorkCalendar) -> None:
    example = parse_org(example_text, "org.yaml")
    demo = parse_org(demo_org_yaml(EXAMPLE_TODAY, cal), "demo.yaml")
    for part in ("sections", "people", "chats", "projects"):
        assert getattr(example, part) == getattr(demo, part), part
    assert example == demo


def test_demo_constants_match_the_demo_org(cal: WorkCalendar) -> None:
    org = parse_org(demo_org_yaml(EXAMPLE_TODAY, cal), "demo.yaml")
    people = {p.key: p for p in org.people}
    staff = {key for key, user in DEMO_USERS.items() if user.staff}
    assert staff == set(people)
    for key in staff:
        assert DEMO_USERS[key].telegram_id == people[key].telegram_id
        assert DEMO_USERS[key].first_name == people[key].name
        assert DEMO_USERS[key].username == people[key].username
    assert len({u.telegram_id for u in DEMO_USERS.values()}) == len(DEMO_USERS)
    chats = {c.telegram_id: c for c in org.chats}
    assert {c.chat_id for c in DEMO_CHATS.values()} == set(chats)
    for chat in DEMO_CHATS.values():
        assert chat.type == "supergroup"
        assert chats[chat.chat_id].title == chat.title
        assert chats[chat.chat_id].kind == chat.kind
        assert chats[chat.chat_id].project == chat.project
        assert set(chat.members) <= staff
    kp4 = next(p for p in org.projects if p.code == "KP-004")
    assert set(DEMO_CHATS["KP-004"].members) >= {
        "li", "he", "zhangfan", "wujing", "lin", "wang"}  # leader, B post, handlers, guide, head
    assert DEMO_CHATS["KP-002"].chat_id == -1001000000002
    assert DEMO_USERS["li"].telegram_id == 100002
    assert kp4.leader == "li"


# today → (KP-002's open milestone due, KP-004's open milestone due), from the State Council
# notices: National Day 2026 is Oct 1–7, Mid-autumn Fri Sep 25, Sat Oct 10 is a make-up day.
DEMO_DAYS = {
    date(2026, 11, 23): (date(2026, 11, 24), date(2026, 11, 18)),  # a Monday
    date(2026, 9, 30): (date(2026, 10, 8), date(2026, 9, 24)),  # the eve of National Day
    date(2026, 10, 3): (date(2026, 10, 9), date(2026, 9, 28)),  # inside the holiday
    date(2026, 10, 9): (date(2026, 10, 10), date(2026, 9, 29)),  # before the make-up Saturday
    date(2027, 3, 10): (date(2027, 3, 11), date(2027, 3, 5)),  # 2027: weekend rule only
}


def open_milestone(org: OrgFile, code: str) -> Any:
    project = next(p for p in org.projects if p.code == code)
    return next(m for m in project.milestones if m.done is None)


@pytest.mark.parametrize("today", list(DEMO_DAYS), ids=str)
def test_demo_parses_with_dates_from_the_calendar(today: date, cal: WorkCalendar) -> None:
    org = parse_org(demo_org_yaml(today, cal), "demo.yaml")
    assert org.warnings == ()
    kp2_due, kp4_due = DEMO_DAYS[today]
    assert open_milestone(org, "KP-002").due == kp2_due
    assert open_milestone(org, "KP-004").due == kp4_due
    for project in org.projects:
        for milestone in project.milestones:
            assert cal.is_workday(milestone.due), (project.code, milestone)
    done = [p for p in org.projects if p.status == ProjectStatus.DONE]
    assert done and all(m.done is not None for p in done for m in p.milestones)


@pytest.mark.parametrize("today", list(DEMO_DAYS), ids=str)
@pytest.mark.parametrize("hour", [time(9, 0), time(16, 0), time(19, 30)], ids=str)
def test_demo_lights(today: date, hour: time, cal: WorkCalendar) -> None:
    """KP-002 yellow (≤ 1 working day left), KP-004 red (a few working days late),
    KP-001 and KP-003 green, whatever the time of day."""
    org = parse_org(demo_org_yaml(today, cal), "demo.yaml")
    now = datetime.combine(today, hour, tzinfo=SH)

    def left(code: str) -> int:
        due = cal.close_of(open_milestone(org, code).due)
        return cal.remaining_working_days(now, due).days

    assert 0 <= left("KP-002") <= 1
    assert now < cal.close_of(open_milestone(org, "KP-002").due)
    assert -4 <= left("KP-004") <= -3
    assert now >= cal.close_of(open_milestone(org, "KP-004").due)
    assert left("KP-001") > 1
    assert left("KP-003") > 1
    if cal.is_workday(today) and hour < cal.office_hours.closing:
        assert left("KP-002") == 1
        assert left("KP-004") == -3


def test_working_day_offsets(cal: WorkCalendar) -> None:
    today = date(2026, 9, 30)
    assert working_day(today, cal, 0) == today
    assert working_day(today, cal, 1) == date(2026, 10, 8)
    assert working_day(today, cal, 3) == date(2026, 10, 10)  # make-up Saturday
    assert working_day(today, cal, -1) == date(2026, 9, 29)
    assert working_day(today, cal, -3) == date(2026, 9, 24)  # skips Mid-autumn and a weekend
    assert working_day(date(2026, 10, 4), cal, 0) == date(2026, 10, 8)


# --------------------------------------------------------------------------- errors


def test_every_error_is_reported_with_line_and_field() -> None:
    path = DATA / "errors.yaml"
    with pytest.raises(OrgFileError) as caught:
        parse_org(path.read_text(encoding="utf-8"), "errors.yaml")
    roles = "admin, director, leader, handler, guide, supervisor"
    person_fields = ("key, name, telegram_id, username, locale, section, roles, backup, active,"
                     " unit")
    statuses = "pre_intervention, in_progress, done, done_follow_up"
    assert str(caught.value).splitlines() == [
        "errors.yaml line 4: sections[1].code: duplicate section code 'building'"
        " (first at line 3)",
        "errors.yaml line 5: sections[2].head: unknown person 'nobody'",
        "errors.yaml line 10: people[0].section: unknown section 'buildng'",
        f"errors.yaml line 11: people[0].roles[1]: unknown role 'boss' (expected one of: {roles})",
        "errors.yaml line 14: people[1].telegram_id: duplicate telegram id 100004"
        " (first at line 9)",
        "errors.yaml line 15: people[1].roles: expected a list, got 'leader'",
        "errors.yaml line 16: people[1].backup: 'li' cannot be their own backup",
        "errors.yaml line 17: people[2].key: duplicate person key 'wang' (first at line 7)",
        "errors.yaml line 19: people[2].locale: unknown locale 'fr' (expected one of: zh, en)",
        f"errors.yaml line 20: people[2].secton: unknown field (expected one of: {person_fields})",
        "errors.yaml line 21: people[3].key: missing",
        "errors.yaml line 22: people[3].telegram_id: expected an integer, got 'abc'",
        "errors.yaml line 24: chats[0].telegram_id: a group chat id is negative, got 12345",
        "errors.yaml line 25: chats[1].project: only a project chat names a project"
        " (this one is 'leaders')",
        "errors.yaml line 26: chats[2].kind: unknown chat kind 'lobby'"
        " (expected one of: project, leaders, supervision, other)",
        f"errors.yaml line 30: projects[0].status: unknown status 'ongoing'"
        f" (expected one of: {statuses})",
        "errors.yaml line 31: projects[0].leader: unknown person 'lee'",
        "errors.yaml line 32: projects[0].handlers[1]: 'wang' is listed twice",
        "errors.yaml line 33: projects[0].green_channel: expected true or false, got 'maybe'",
        "errors.yaml line 36: projects[0].milestones[1].due: 2026-11-01 is before the previous"
        " milestone's due date 2026-12-01 (list milestones in order)",
        "errors.yaml line 37: projects[0].milestones[2].due: not a date (YYYY-MM-DD):"
        " '2026-13-01'",
        "errors.yaml line 38: projects[0].milestones[3].due: missing",
        "errors.yaml line 39: projects[1].code: duplicate project code 'kp-001'"
        " (first at line 28)",
        "errors.yaml line 40: projects[1].name: expected a single value, got a list",
    ]
    assert len(caught.value.issues) == 24
    assert caught.value.issues[2].line == 10
    assert caught.value.issues[2].path == "people[0].section"


PEOPLE_HEAD = """\
sections:
  - {code: building, name: 建筑工程规划管理科}
people:
  - key: li
    name: 李副局长
"""

ERROR_CASES = [
    # The brief's example message, verbatim.
    (PEOPLE_HEAD + "    section: buildng\n",
     "org.yaml line 6: people[0].section: unknown section 'buildng'"),
    (PEOPLE_HEAD + "    name: 李\n",
     "org.yaml line 6: people[0].name: duplicate field (first at line 5)"),
    (PEOPLE_HEAD + "    telegram_id: -5\n",
     "org.yaml line 6: people[0].telegram_id: a user id is a positive integer, got -5"),
    (PEOPLE_HEAD + "    telegram_id: true\n",
     "org.yaml line 6: people[0].telegram_id: expected an integer, got 'true'"),
    (PEOPLE_HEAD + "    username: 'li deputy'\n",
     "org.yaml line 6: people[0].username: 'li deputy' is not a Telegram username"),
    (PEOPLE_HEAD + "    roles: [leader, leader]\n",
     "org.yaml line 6: people[0].roles[1]: 'leader' is listed twice"),
    (PEOPLE_HEAD + "    backup: he\n",
     "org.yaml line 6: people[0].backup: unknown person 'he'"),
    (PEOPLE_HEAD + "    active: no way\n",
     "org.yaml line 6: people[0].active: expected true or false, got 'no way'"),
    (PEOPLE_HEAD + "    roles: {leader: true}\n",
     "org.yaml line 6: people[0].roles: expected a list, got a mapping"),
    (PEOPLE_HEAD + "  - key: li ming\n    name: 李明\n",
     "org.yaml line 6: people[1].key: 'li ming' is not a valid key (letters, digits, _ . -)"),
    (PEOPLE_HEAD + "  - key: zhang\n    name: '   '\n",
     "org.yaml line 7: people[1].name: empty"),
    (PEOPLE_HEAD + "  - key: zhang\n    name:\n",
     "org.yaml line 7: people[1].name: empty"),
    (PEOPLE_HEAD + "  - just a name\n",
     "org.yaml line 6: people[1]: expected a mapping, got 'just a name'"),
    ("sections:\n  - {code: b, name: " + "科" * 201 + "}\n",
     "org.yaml line 2: sections[0].name: longer than 200 characters"),
    ("chats:\n  - {telegram_id: -1, kind: project, title: a, project: KP-9}\n",
     "org.yaml line 2: chats[0].project: unknown project 'KP-9'"),
    ("chats:\n  - {telegram_id: -1, kind: other, title: a}\n"
     "  - {telegram_id: -1, kind: other, title: b}\n",
     "org.yaml line 3: chats[1].telegram_id: duplicate chat id -1 (first at line 2)"),
    ("chats:\n  - {telegram_id: -1, kind: project, title: a, project: kp-1}\n"
     "  - {telegram_id: -2, kind: project, title: b, project: KP-1}\n"
     "projects:\n  - {code: KP-1, name: 一, status: done}\n",
     "org.yaml line 3: chats[1].project: project 'KP-1' already has a chat (line 2)"),
    ("chats:\n  - {telegram_id: -1, kind: project}\n",
     "org.yaml line 2: chats[0].title: missing"),
    ("projects:\n  - code: KP-1\n    name: 一\n    status: done\n    milestones:\n"
     "      - {title: 方案, due: 2026-11-01, done: 11/02/2026}\n",
     "org.yaml line 6: projects[0].milestones[0].done: not a date (YYYY-MM-DD): '11/02/2026'"),
    ("projects:\n  - code: KP-1\n    name: 一\n    status: done\n    milestones:\n"
     "      - {title: 方案, due: 2026-11-01 10:00:00}\n",
     "org.yaml line 6: projects[0].milestones[0].due: not a date (YYYY-MM-DD):"
     " '2026-11-01 10:00:00'"),
    ("projects:\n  - code: KP-0000000000000000000000000000001\n    name: 一\n    status: done\n",
     "org.yaml line 2: projects[0].code: longer than 32 characters"),
    ("projects:\n  - {code: KP-1, name: 一}\n",
     "org.yaml line 2: projects[0].status: missing"),
    ("peoples: []\n",
     "org.yaml line 1: peoples: unknown field (expected one of: units, sections, people,"
     " chats, projects)"),
    ("people:\n  key: li\n", "org.yaml line 2: people: expected a list, got a mapping"),
    ("- {key: li}\n", "org.yaml line 1: expected a mapping, got a list"),
    ("", "org.yaml line 1: the file is empty"),
    ("# nothing but a comment\n", "org.yaml line 1: the file is empty"),
    ("people:\n  - key: li\n   name: x\n",
     "org.yaml line 3: invalid YAML: expected <block end>, but found '<block mapping start>'"),
    ("people: [\n", "org.yaml line 2: invalid YAML: expected the node content, but found"
     " '<stream end>'"),
]


@pytest.mark.parametrize(("yaml_text", "message"), ERROR_CASES)
def test_error_message(yaml_text: str, message: str) -> None:
    assert errors_of(yaml_text) == message


async def test_import_file_that_cannot_be_read(store: Store, tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(OrgFileError, match=r"nope\.yaml: cannot read the file"):
        await import_org_file(store, missing, now=NOW)


def test_warnings() -> None:
    org = parse_org("""\
people:
  - {key: li, name: 李副局长, roles: [leader], backup: he}
  - {key: he, name: 何副局长, telegram_id: 100003}
  - {key: wu, name: 吴静, telegram_id: 100010, roles: [handler], active: false}
projects:
  - {code: KP-1, name: 一, status: in_progress, leader: he, handlers: [wu], guides: [wu]}
""", "org.yaml")
    assert org.warnings == (
        "org.yaml line 2: people[0].telegram_id: 'li' is a leader but has no telegram_id:"
        " they cannot approve in Telegram",
        "org.yaml line 3: people[1]: 'he' has no roles",
        "org.yaml line 6: projects[0].leader: 'he' does not have the leader role",
        "org.yaml line 6: projects[0].handlers: 'wu' is not active",
        "org.yaml line 6: projects[0].guides: 'wu' does not have the guide role",
        "org.yaml line 6: projects[0].guides: 'wu' is not active",
    )


def test_domain_module_stays_pure() -> None:
    tree = ast.parse(Path(org_module.__file__).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & {"aiogram", "sqlalchemy", "sqlmodel", "time"}
    assert "datetime.now" not in Path(org_module.__file__).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- importing


async def test_import_creates_the_bureau(store: Store, example_text: str) -> None:
    org = parse_org(example_text, "org.yaml")
    report = await apply_org(store, org, now=NOW)
    members = sum(len(p.handlers) + len(p.guides) for p in org.projects)
    milestones = sum(len(p.milestones) for p in org.projects)
    assert counts(report) == {
        "units": (4, 0, 0, 0),
        "sections": (8, 0, 0, 0), "people": (20, 0, 0, 0), "chats": (10, 0, 0, 0),
        "projects": (8, 0, 0, 0), "members": (members, 0, 0, 0),
        "milestones": (milestones, 0, 0, 0),
    }
    assert report.warnings == []
    assert report.not_in_file == {"units": (), "sections": (), "people": (), "chats": (),
                                  "projects": ()}

    people = {p.key: p for p in await store.all(Person)}
    by_id = {p.id: p.key for p in people.values()}
    sections = {s.code: s for s in await store.all(Section)}
    # A/B posts, roles, sections, Telegram identity
    assert by_id[people["li"].backup_id] == "he"
    assert by_id[people["he"].backup_id] == "li"
    assert people["chen"].backup_id is None
    assert await store.roles_of(people["chen"].id) == {"director"}  # type: ignore[arg-type]
    assert await store.roles_of(people["ma"].id) == {"admin"}  # type: ignore[arg-type]
    assert people["ma"].locale == "en" and people["li"].locale is None
    assert people["li"].tg_user_id == 100002 and people["li"].username == "li_deputy"
    assert people["wang"].username is None
    assert people["liuxiao"].section_id == sections["municipal"].id
    assert by_id[sections["building"].head_id] == "wang"
    assert (await store.person_by_tg(100011)).key == "zheng"  # type: ignore[union-attr]
    # The five ones of KP-002
    kp2 = await store.project_by_code("kp-002")
    assert kp2 is not None and kp2.id is not None
    assert (kp2.name, kp2.status) == ("天台山公园", "in_progress")
    assert by_id[kp2.leader_id] == "li"
    assert kp2.section_id == sections["municipal"].id
    assert kp2.work_plan.startswith("公园范围内的微波站须迁建")
    assert kp2.follow_through.startswith("市政规划科牵头")
    assert kp2.green_channel is False
    assert (await store.project_by_code("KP-001")).green_channel is True  # type: ignore[union-attr]
    assert [p.key for p in await store.members(kp2.id, "handler")] == ["liuxiao"]
    assert [p.key for p in await store.members(kp2.id, "guide")] == ["zheng"]
    kp4 = await store.project_by_code("KP-004")
    assert kp4 is not None and kp4.id is not None
    assert [p.key for p in await store.members(kp4.id, "handler")] == ["zhangfan", "wujing"]
    assert [(m.seq, m.title, m.due_on, m.done_on) for m in await store.milestones(kp2.id)] == [
        (1, "现状地形及管线资料移交", date(2026, 11, 9), date(2026, 11, 6)),
        (2, "微波站迁建选址确定", date(2026, 11, 24), None),
        (3, "公园总体方案批复", date(2026, 12, 9), None),
        (4, "建设工程规划许可", date(2026, 12, 28), None),
    ]
    # Chats and their links
    chat = await store.chat_by_tg(-1001000000002)
    assert chat is not None and (chat.kind, chat.title) == ("project", "天台山公园工作群")
    assert kp2.chat_id == chat.id
    assert (await store.project_by_tg_chat(-1001000000005)).code == "KP-005"  # type: ignore[union-attr]
    leaders = await store.chat_by_tg(-1001000000100)
    assert leaders is not None and leaders.kind == "leaders"
    assert await store.one(Project, chat_id=leaders.id) is None
    # One audit event with the counts
    events = await store.audit_trail("org")
    assert [e.action for e in events] == ["org.imported"]
    assert events[0].at == NOW.astimezone(UTC)
    assert json.loads(events[0].data)["counts"]["people"]["created"] == 20


async def test_reimport_changes_nothing(sessions: SessionFactory, example_text: str) -> None:
    first = await import_text(sessions, example_text)
    assert first.changed
    before = await snapshot(sessions)
    again = await import_text(sessions, example_text)
    assert not again.changed
    assert {kind: (c.created, c.updated, c.removed) for kind, c in again.counts.items()} == {
        kind: (0, 0, 0) for kind in again.counts}
    assert {kind: c.unchanged for kind, c in again.counts.items()} == {
        kind: c.created for kind, c in first.counts.items()}
    assert await snapshot(sessions) == before  # not one value changed, nothing duplicated
    third = await import_text(sessions, example_text)
    assert counts(third) == counts(again)

    async def audit_actions(store: Store) -> list[str]:
        return [e.action for e in await store.audit_trail()]
    assert await in_session(sessions, audit_actions) == ["org.imported"] * 3


@pytest.mark.parametrize("today", [date(2026, 9, 30), date(2027, 3, 10)], ids=str)
async def test_demo_imports_and_reimports(sessions: SessionFactory, cal: WorkCalendar,
                                          today: date) -> None:
    demo = demo_org_yaml(today, cal)
    await import_text(sessions, demo)
    before = await snapshot(sessions)
    assert not (await import_text(sessions, demo)).changed
    assert await snapshot(sessions) == before
    # Another day's rendering moves the milestones' dates: updates, in place.
    later = await import_text(sessions, demo_org_yaml(date(today.year, today.month, 11), cal))
    assert later.counts["milestones"].updated > 0
    assert later.counts["milestones"].created == 0 and later.counts["milestones"].removed == 0
    after = await snapshot(sessions)
    assert [m["id"] for m in after["Milestone"]] == [m["id"] for m in before["Milestone"]]


def edit(source: str, old: str, new: str) -> str:
    assert source.count(old) == 1, old
    return source.replace(old, new)


async def test_changed_file_updates(sessions: SessionFactory, example_text: str) -> None:
    await import_text(sessions, example_text)
    before = await snapshot(sessions)
    changed = example_text
    changed = edit(changed, "name: 天台山公园\n", "name: 天台山森林公园\n")  # renamed project
    # zheng and lin swap Telegram ids (the column is unique: must not collide)
    changed = edit(changed, "telegram_id: 100011", "telegram_id: 999")
    changed = edit(changed, "telegram_id: 100012", "telegram_id: 100011")
    changed = edit(changed, "telegram_id: 999", "telegram_id: 100012")
    changed = edit(changed, "      - {title: 建设工程规划许可, due: 2026-12-28}\n", "")
    changed = edit(changed, "locale: en                   # reads the bot in English\n"
                            "    section: office\n    roles: [admin]",
                   "locale: en\n    section: office\n    roles: [supervisor]")  # admin revoked
    changed = edit(changed, "    backup: li                   # and the other way round\n", "")
    changed = edit(changed, "handlers: [zhangfan, wujing]", "handlers: [wujing]")
    changed = edit(changed, "title: 局领导群}", "title: 局党组会}")
    changed = edit(changed, "{title: 设计方案初稿, due: 2026-12-01}",
                   "{title: 设计方案初稿, due: 2026-12-01, done: 2026-11-20}")

    report = await import_text(sessions, changed)
    assert counts(report) == {
        "units": (0, 0, 4, 0),
        "sections": (0, 0, 8, 0),
        "people": (0, 4, 16, 0),  # zheng, lin, ma, he
        "chats": (0, 1, 9, 0),
        "projects": (0, 3, 5, 0),  # KP-002 renamed and shortened, KP-003, KP-004
        "members": (0, 0, 14, 1),
        "milestones": (0, 1, 26, 1),
    }

    async def check(store: Store) -> None:
        assert (await store.person_by_tg(100011)).key == "lin"  # type: ignore[union-attr]
        assert (await store.person_by_tg(100012)).key == "zheng"  # type: ignore[union-attr]
        ma = await store.person_by_key("ma")
        assert ma is not None and ma.id is not None
        assert await store.roles_of(ma.id) == {"supervisor"}
        assert await store.count(RoleGrant, role="admin") == 0
        he = await store.person_by_key("he")
        assert he is not None and he.backup_id is None
        kp2 = await store.project_by_code("KP-002")
        assert kp2 is not None and kp2.id is not None and kp2.name == "天台山森林公园"
        assert [m.title for m in await store.milestones(kp2.id)] == [
            "现状地形及管线资料移交", "微波站迁建选址确定", "公园总体方案批复"]
        kp4 = await store.project_by_code("KP-004")
        assert kp4 is not None and kp4.id is not None
        assert [p.key for p in await store.members(kp4.id, "handler")] == ["wujing"]
        kp3 = await store.project_by_code("KP-003")
        assert kp3 is not None and kp3.id is not None
        assert (await store.milestones(kp3.id))[1].done_on == date(2026, 11, 20)
        assert (await store.chat_by_tg(-1001000000100)).title == "局党组会"  # type: ignore[union-attr]
    await in_session(sessions, check)
    after = await snapshot(sessions)
    assert len(after["Person"]) == len(before["Person"])
    assert [p["id"] for p in after["Person"]] == [p["id"] for p in before["Person"]]
    assert len(after["Milestone"]) == len(before["Milestone"]) - 1
    # ... and importing the changed file again changes nothing more
    assert not (await import_text(sessions, changed)).changed


async def test_entries_not_in_the_file_are_left_alone(sessions: SessionFactory,
                                                      example_text: str) -> None:
    await import_text(sessions, example_text)
    before = await snapshot(sessions)
    report = await import_text(sessions, """\
people:
  - {key: liuxiao, name: 刘晓, telegram_id: 100008, roles: [handler]}
""")
    assert counts(report)["people"] == (0, 1, 0, 0)  # lost the section only
    assert report.not_in_file["people"] == tuple(sorted(
        k for k, u in DEMO_USERS.items() if u.staff and k != "liuxiao"))
    assert report.not_in_file["sections"] == (
        "building", "dy-office", "legal", "municipal", "office", "supervision", "yc-planning",
        "zh-planning")
    assert report.not_in_file["projects"] == tuple(f"KP-00{i}" for i in range(1, 9))
    assert len(report.not_in_file["chats"]) == 10
    after = await snapshot(sessions)
    for table in ("Section", "RoleGrant", "Chat", "Project", "ProjectMember", "Milestone"):
        assert after[table] == before[table], table
    changed = [(b, a) for b, a in zip(before["Person"], after["Person"], strict=True) if a != b]
    assert [(b["key"], b["section_id"] is not None, a["section_id"]) for b, a in changed] == [
        ("liuxiao", True, None)]


async def test_telegram_id_taken_from_someone_not_in_the_file(sessions: SessionFactory,
                                                             example_text: str) -> None:
    await import_text(sessions, example_text)
    report = await import_text(sessions, """\
people:
  - {key: liuxiao2, name: 刘晓, telegram_id: 100008, roles: [handler]}
""")
    assert counts(report)["people"] == (1, 0, 0, 0)
    assert report.warnings == [
        "org.yaml line 2: telegram id 100008 moved from 'liuxiao' (not in file) to 'liuxiao2'"]

    async def check(store: Store) -> None:
        assert (await store.person_by_tg(100008)).key == "liuxiao2"  # type: ignore[union-attr]
        old = await store.person_by_key("liuxiao")
        assert old is not None and old.tg_user_id is None and old.name == "刘晓"
        assert await store.count(Person) == 21
    await in_session(sessions, check)


async def test_chats_move_between_projects(sessions: SessionFactory, example_text: str) -> None:
    await import_text(sessions, example_text)
    swapped = edit(example_text, "title: 天台山公园工作群, project: KP-002}",
                   "title: 天台山公园工作群, project: KP-003}")
    swapped = edit(swapped, "title: 康乐公园工作群, project: KP-003}",
                   "title: 康乐公园工作群, project: KP-002}")
    report = await import_text(sessions, swapped)
    assert counts(report)["projects"] == (0, 2, 6, 0)
    assert counts(report)["chats"] == (0, 0, 10, 0)

    async def check(store: Store) -> None:
        assert (await store.project_by_tg_chat(-1001000000002)).code == "KP-003"  # type: ignore[union-attr]
        assert (await store.project_by_tg_chat(-1001000000003)).code == "KP-002"  # type: ignore[union-attr]
    await in_session(sessions, check)

    # A chat turned into the leaders' group unlinks its project; a warning says it has none.
    unlinked = edit(swapped, "{telegram_id: -1001000000001, kind: project,"
                             " title: 天立旗舰学校选址工作群, project: KP-001}",
                    "{telegram_id: -1001000000001, kind: other, title: 天立旗舰学校选址工作群}")
    report = await import_text(sessions, unlinked)
    assert counts(report)["projects"] == (0, 1, 7, 0)
    line = unlinked.splitlines().index("  - code: KP-001") + 1
    assert report.warnings == [
        f"org.yaml line {line}: projects[0]: project KP-001 has no work group chat"
        " (link one under chats: or with /bind)"]

    async def check_unlinked(store: Store) -> None:
        kp1 = await store.project_by_code("KP-001")
        assert kp1 is not None and kp1.chat_id is None
    await in_session(sessions, check_unlinked)


async def test_project_bound_elsewhere_keeps_its_chat(sessions: SessionFactory) -> None:
    """A project whose chat the file does not list keeps the link (e.g. made with /bind);
    a project not in the file loses a chat the file gives to another project."""
    base = """\
projects:
  - {code: KP-1, name: 一, status: in_progress}
"""
    await import_text(sessions, base)

    async def bind(store: Store) -> None:
        chat = await store.save(Chat(tg_chat_id=-500, kind="project", title="bound"))
        kp1 = await store.project_by_code("KP-1")
        assert kp1 is not None
        kp1.chat_id = chat.id
    await in_session(sessions, bind)
    report = await import_text(sessions, base)
    assert not report.changed and report.warnings == []

    report = await import_text(sessions, """\
chats:
  - {telegram_id: -500, kind: project, title: bound, project: KP-2}
projects:
  - {code: KP-2, name: 二, status: in_progress}
""")
    assert report.warnings == [
        "org.yaml: project KP-1 (not in file) was unlinked from chat -500,"
        " which the file gives another use"]

    async def check(store: Store) -> None:
        assert (await store.project_by_tg_chat(-500)).code == "KP-2"  # type: ignore[union-attr]
        assert (await store.project_by_code("KP-1")).chat_id is None  # type: ignore[union-attr]
    await in_session(sessions, check)


async def test_milestones_sync_by_position(sessions: SessionFactory) -> None:
    def plan(*milestones: str) -> str:
        items = "".join(f"      - {m}\n" for m in milestones)
        return ("people:\n  - {key: liu, name: 刘晓, telegram_id: 1, roles: [handler]}\n"
                "projects:\n  - code: KP-1\n    name: 一\n    status: in_progress\n"
                "    handlers: [liu]\n    milestones:\n" + items)

    a = "{title: 甲, due: 2026-11-02}"
    b = "{title: 乙, due: 2026-11-09}"
    c = "{title: 丙, due: 2026-11-16}"
    report = await import_text(sessions, plan(a, b))
    assert counts(report)["milestones"] == (2, 0, 0, 0)
    ids = [m["id"] for m in (await snapshot(sessions))["Milestone"]]

    report = await import_text(sessions, plan(a, "{title: 乙改, due: 2026-11-10}", c))
    assert counts(report)["milestones"] == (1, 1, 1, 0)
    rows = (await snapshot(sessions))["Milestone"]
    assert [(r["id"], r["seq"], r["title"]) for r in rows[:2]] == [
        (ids[0], 1, "甲"), (ids[1], 2, "乙改")]
    assert rows[2]["seq"] == 3

    # A progress report points at the third milestone; removing it detaches the report.
    async def file_report(store: Store) -> int:
        project = await store.project_by_code("KP-1")
        author = await store.person_by_key("liu")
        assert project is not None and project.id is not None
        assert author is not None and author.id is not None
        third = (await store.milestones(project.id))[2]
        report = await store.save(Report(
            project_id=project.id, milestone_id=third.id, author_id=author.id, text="进展",
            created_at=NOW, tg_chat_id=-1, source_message_id=7))
        assert report.id is not None
        return report.id
    report_id = await in_session(sessions, file_report)

    report = await import_text(sessions, plan(a))
    assert counts(report)["milestones"] == (0, 0, 1, 2)
    assert report.warnings == [
        "org.yaml line 4: projects[0]: project KP-1 has no work group chat"
        " (link one under chats: or with /bind)",
        "org.yaml line 4: projects[0].milestones: KP-1: milestone 3 '丙' was removed;"
        " 1 progress report(s) no longer point to it",
    ]

    async def check(store: Store) -> None:
        kept = await store.get(Report, report_id)
        assert kept is not None and kept.milestone_id is None and kept.text == "进展"
        assert await store.count(Milestone) == 1
    await in_session(sessions, check)
    report = await import_text(sessions, plan())
    assert counts(report)["milestones"] == (0, 0, 0, 1)


async def test_milestones_with_gaps_in_their_numbering(sessions: SessionFactory) -> None:
    """Rows numbered 3 and 2 (not by this importer; the older row last) are renumbered
    1, 2 by position without clashing on the (project, seq) key, whatever the update order."""
    yaml_text = ("projects:\n  - code: KP-1\n    name: 一\n    status: in_progress\n"
                 "    milestones:\n      - {title: 甲, due: 2026-11-02}\n"
                 "      - {title: 乙, due: 2026-11-09}\n")
    await import_text(sessions, yaml_text)

    async def shift(store: Store) -> None:
        first = (await store.all(Milestone, order_by=Milestone.id))[0]
        first.seq = 3  # now: id 1 → seq 3 (甲), id 2 → seq 2 (乙)
    await in_session(sessions, shift)
    report = await import_text(sessions, yaml_text)
    assert counts(report)["milestones"] == (0, 2, 0, 0)
    rows = (await snapshot(sessions))["Milestone"]
    assert sorted((r["seq"], r["title"]) for r in rows) == [(1, "甲"), (2, "乙")]
    assert not (await import_text(sessions, yaml_text)).changed


async def test_import_org_file_and_actor(sessions: SessionFactory) -> None:
    async def run(store: Store) -> ImportReport:
        return await import_org_file(store, EXAMPLE, now=NOW)
    report = await in_session(sessions, run)
    assert report.counts["projects"].created == 8

    async def second(store: Store) -> ImportReport:
        admin = await store.person_by_key("ma")
        assert admin is not None
        return await import_org_file(store, EXAMPLE, now=NOW, actor_id=admin.id)
    report = await in_session(sessions, second)
    assert not report.changed
    assert str(report).splitlines()[:7] == [
        "units: 0 created, 0 updated, 4 unchanged",
        "sections: 0 created, 0 updated, 8 unchanged",
        "people: 0 created, 0 updated, 20 unchanged",
        "chats: 0 created, 0 updated, 10 unchanged",
        "projects: 0 created, 0 updated, 8 unchanged",
        "members: 0 created, 0 updated, 15 unchanged, 0 removed",
        "milestones: 0 created, 0 updated, 28 unchanged, 0 removed",
    ]

    async def events(store: Store) -> list[AuditEvent]:
        return await store.audit_trail("org")
    trail = await in_session(sessions, events)
    assert [e.actor_id is not None for e in trail] == [False, True]
    assert json.loads(trail[1].data)["file"] == str(EXAMPLE)


async def test_apply_does_not_commit(sessions: SessionFactory, example_text: str) -> None:
    org = parse_org(example_text, "org.yaml")
    async with sessions() as session:
        await apply_org(Store(session), org, now=NOW)
        await session.rollback()
    assert (await snapshot(sessions))["Person"] == []


async def test_naive_now_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        await apply_org(store, OrgFile("x.yaml"), now=datetime(2026, 11, 23, 9, 0))
