"""Organisation import: ``greenlight org import FILE.yaml``.

The org file is the administrator's description of the bureau: its sections, its people and
their roles, the Telegram group chats the bot works in, and the key projects with their
"five ones" (五个一: the project, one leader in charge, one responsible section, one work plan,
one follow-through mechanism) and milestones. Importing it twice changes nothing; importing a
changed file updates what changed. ``examples/org.yaml`` is a complete, commented example.

The format (all five top-level lists are optional; nothing else is allowed at the top)::

    units:                           # optional: the organisation's tree (city → district →
      - code: city                   #   township, any depth); without it, one unit
        name: 某市自然资源和规划局
      - code: east                   # stable handle: letters, digits, _ . - (max 64)
        name: 东湖区分局              # required
        parent: city                 # every unit but the one root names its parent
    sections:
      - code: building               # stable handle: letters, digits, _ . - (max 64)
        name: 建筑工程规划管理科      # required
        head: wang                   # optional person key: nudged when the section runs late
        unit: city                   # optional unit code, default the root
    people:
      - key: li                      # stable handle used in this file (max 64)
        name: 李副局长                # required
        telegram_id: 100002          # optional positive integer (someone not on Telegram yet)
        username: li_deputy          # optional Telegram username, with or without @
        locale: zh                   # optional: zh | en (else the person's Telegram language)
        section: office              # optional section code
        unit: city                   # optional: default the section's unit, else the root
        roles: [leader]              # admin | director | leader | handler | guide | supervisor
        backup: he                   # optional: the B post (AB岗) who may act for this person
        active: true                 # optional, default true; false: left the bureau
    chats:                           # Telegram groups; ids are negative
      - {telegram_id: -1001000000002, kind: project, title: 天台山公园工作群, project: KP-002}
      - {telegram_id: -1001000000100, kind: leaders, title: 局领导群}
      #  kind: project | leaders | supervision | other; only a project chat names a project,
      #  and a project has at most one chat; optional unit: a leaders' or supervision chat
      #  serves that unit (default: a project chat its project's unit, else the root)
    projects:
      - code: KP-002                 # max 32; compared case-insensitively
        name: 天台山公园              # required
        status: in_progress          # required: pre_intervention | in_progress | done
                                     #           | done_follow_up
        leader: li                   # the one leader in charge (person key)
        section: municipal           # the one responsible section (section code)
        unit: east                   # optional: default the section's unit, else the root
        handlers: [liuxiao]          # person keys (经办人)
        guides: [zheng]              # person keys (规划引导员)
        work_plan: "…"               # the one work plan (text)
        follow_through: "…"          # the one follow-through mechanism (text)
        green_channel: false         # 绿色通道, default false
        milestones:                  # the plan's milestones, in order of due date
          - {title: 微波站迁建选址确定, due: 2026-11-24}
          - {title: 方案批复, due: 2026-12-15, done: 2026-12-10}

Validation (:func:`parse_org`) is pure and complete: wrong types, unknown fields, duplicate
fields, bad enum values, bad dates (``YYYY-MM-DD``), milestones out of order, duplicate keys,
codes and Telegram ids, a person who is their own backup, and references to sections, people
or projects the file does not define (references resolve within the file). Every problem is
reported, one per line, as ``FILE line N: path: message`` where ``path`` is the field, e.g.
``org.yaml line 14: people[2].section: unknown section 'buildng'`` (list indexes count from 0).

Units: codes are unique, parents must be units of the file, exactly one unit has no parent (the
root) and no unit is its own ancestor. Everyone sees their own unit and everything below it.
A file without ``units`` describes a bureau of one level: everything is in the root unit.

Import (:func:`apply_org`) semantics:

* Sections are matched by code, people by key, chats by Telegram id, projects by code. For
  every entry in the file, the file is the truth: each field it can hold is set to the file's
  value, and an optional field left out means "none" (no telegram_id, no backup, no section
  head...). Roles, a project's handlers and guides, and its milestones are synced to the file.
  Runtime state the file does not describe (who opened a private chat, blocked DMs) is kept.
* Entries absent from the file are left alone and listed as "not in file". The exceptions are
  conflicts the file settles: a Telegram id the file gives to someone else is taken from its
  previous holder, and a chat the file lists is linked to exactly the project it names (or to
  none), so a project linked to it elsewhere loses the link. A project whose chat the file does
  not list keeps its link (a group bound with ``/bind`` stays bound).
* Milestones are synced by position: the i-th milestone of the file updates the i-th stored
  one in place, new ones are added, extra ones removed (progress reports that pointed at a
  removed milestone keep their text but no longer point at it; a warning says so).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

import yaml

from bot.domain.rules.vocabulary import ChatKind, ProjectStatus, Role
from bot.domain.rules.yamlfile import (
    BOOL_TAG,
    Fields,
    Issue,
    Reader,
    YamlFileError,
    compose,
    is_null,
    line_of,
    shape,
)

LOCALES = ("zh", "en")

_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_INT = re.compile(r"[-+]?[0-9]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_USERNAME = re.compile(r"[A-Za-z0-9_]{4,32}")
_BIGINT = 2**63

# Column widths (PostgreSQL enforces them; SQLite would not).
_KEY_MAX, _CODE_MAX, _NAME_MAX, _TITLE_MAX = 64, 32, 200, 255

_LEADING = {Role.LEADER, Role.DIRECTOR}

E = TypeVar("E", bound=StrEnum)


# --------------------------------------------------------------------------- the parsed file


@dataclass(frozen=True)
class UnitSpec:
    code: str
    name: str
    parent: str | None = None  # None: the root
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class SectionSpec:
    code: str
    name: str
    head: str | None = None
    unit: str | None = None  # None: the root
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class PersonSpec:
    key: str
    name: str
    telegram_id: int | None = None
    username: str | None = None
    locale: str | None = None
    section: str | None = None
    roles: tuple[Role, ...] = ()
    backup: str | None = None
    active: bool = True
    unit: str | None = None  # None: the section's unit, else the root
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class ChatSpec:
    telegram_id: int
    kind: ChatKind
    title: str
    project: str | None = None  # a project code, as spelled in the file
    unit: str | None = None  # None: the project's unit, else the root
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class MilestoneSpec:
    title: str
    due: date
    done: date | None = None
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class ProjectSpec:
    code: str
    name: str
    status: ProjectStatus
    leader: str | None = None
    section: str | None = None
    handlers: tuple[str, ...] = ()
    guides: tuple[str, ...] = ()
    work_plan: str = ""
    follow_through: str = ""
    green_channel: bool = False
    milestones: tuple[MilestoneSpec, ...] = ()
    unit: str | None = None  # None: the section's unit, else the root
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class OrgFile:
    """A validated org file. Equality ignores the file name, line numbers and warnings."""

    filename: str = field(compare=False)
    sections: tuple[SectionSpec, ...] = ()
    people: tuple[PersonSpec, ...] = ()
    chats: tuple[ChatSpec, ...] = ()
    projects: tuple[ProjectSpec, ...] = ()
    warnings: tuple[str, ...] = field(default=(), compare=False)  # rendered, one per line
    units: tuple[UnitSpec, ...] = ()

    def unit_of_section(self, code: str | None) -> str | None:
        return next((s.unit for s in self.sections if s.code == code), None)

    def unit_of_person(self, person: PersonSpec) -> str | None:
        return person.unit or self.unit_of_section(person.section)

    def unit_of_project(self, project: ProjectSpec) -> str | None:
        return project.unit or self.unit_of_section(project.section)

    def unit_of_chat(self, chat: ChatSpec) -> str | None:
        if chat.unit is not None or chat.project is None:
            return chat.unit
        project = next((p for p in self.projects if p.code.upper() == chat.project.upper()),
                       None)
        return self.unit_of_project(project) if project else None


OrgIssue = Issue  # one problem: line, field path, message


class OrgFileError(YamlFileError):
    """The org file is wrong; the message has one line per problem (file, line, field)."""


# --------------------------------------------------------------------------- parsing


def parse_org(text: str, filename: str) -> OrgFile:
    """Validate an org file completely; raises :class:`OrgFileError` listing every problem."""
    parser = _Parser(filename)
    root = compose(text, filename, OrgFileError)
    org = parser.parse(root)
    if parser.issues:
        raise OrgFileError(filename, parser.issues)
    return org








def _choices(enum: type[StrEnum]) -> str:
    return ", ".join(member.value for member in enum)


@dataclass
class _Ref:
    """A reference to check once the whole file is read."""

    kind: str  # unit | section | person | project
    value: str
    line: int
    path: str


class _Fields(Fields):
    """One mapping's fields, with the org file's own value kinds."""

    def text(self, name: str, *, max_len: int, required: bool = False,
             multiline: bool = False) -> str | None:
        value = self.scalar(name, required)
        if value is None:
            return None
        value = value.strip() if multiline else " ".join(value.split())
        if not value and required:
            self.error(name, "empty")
            return None
        if len(value) > max_len:
            self.error(name, f"longer than {max_len} characters")
            return None
        return value

    def key(self, name: str, *, max_len: int, required: bool = False) -> str | None:
        value = self.scalar(name, required)
        if value is None:
            return None
        value = value.strip()
        if not _KEY.fullmatch(value):
            self.error(name, f"'{value}' is not a valid key (letters, digits, _ . -)")
            return None
        if len(value) > max_len:
            self.error(name, f"longer than {max_len} characters")
            return None
        return value

    def integer(self, name: str, *, required: bool = False) -> int | None:
        value = self.scalar(name, required)
        if value is None:
            return None
        node = self.values[name]
        if node.tag == BOOL_TAG or not _INT.fullmatch(value.strip()):
            self.error(name, f"expected an integer, got '{value}'")
            return None
        number = int(value)
        if not -_BIGINT <= number < _BIGINT:
            self.error(name, f"{number} is out of range")
            return None
        return number

    def day(self, name: str, *, required: bool = False) -> date | None:
        value = self.scalar(name, required)
        if value is None:
            return None
        value = value.strip()
        try:
            if _DATE.fullmatch(value):
                return date.fromisoformat(value)
        except ValueError:
            pass
        self.error(name, f"not a date (YYYY-MM-DD): '{value}'")
        return None

    def choice(self, name: str, enum: type[E], what: str, *, required: bool = False) -> E | None:
        value = self.scalar(name, required)
        if value is None:
            return None
        try:
            return enum(value.strip())
        except ValueError:
            self.error(name, f"unknown {what} '{value}' (expected one of: {_choices(enum)})")
            return None

    def items(self, name: str, *, required: bool = False) -> list[tuple[str, yaml.Node]]:
        """A list field's entries with their paths; [] when absent, null or not a list."""
        return super().items(name, required=required) or []


T = TypeVar("T")


def _present(items: Iterable[T | None]) -> list[T]:
    return [item for item in items if item is not None]




class _Parser(Reader):
    def __init__(self, filename: str) -> None:
        super().__init__()
        self.filename = filename
        self.warnings: list[Issue] = []
        self.refs: list[_Ref] = []
        self.claimed: dict[tuple[str, Any], int] = {}
        self.project_chats: dict[str, int] = {}  # project code (upper) → its chat's line

    def warn(self, line: int, path: str, message: str) -> None:
        self.warnings.append(Issue(line, path, message))

    def fields(self, node: yaml.Node, path: str, allowed: tuple[str, ...]) -> _Fields | None:
        read = self.mapping(node, path, allowed)
        if read is None:
            return None
        assert isinstance(node, yaml.MappingNode)
        return _Fields(self, node, path, *read)

    def ref(self, kind: str, value: str | None, line: int, path: str) -> None:
        if value is not None:
            self.refs.append(_Ref(kind, value, line, path))

    def key_list(self, fields: _Fields, name: str, kind: str) -> tuple[str, ...]:
        """A list of references (person keys), each checked later; duplicates are errors."""
        out: list[str] = []
        for path, item in fields.items(name):
            if not isinstance(item, yaml.ScalarNode) or is_null(item):
                self.error(line_of(item), path, f"expected a {kind} key, got {shape(item)}")
                continue
            value = str(item.value).strip()
            if value in out:
                self.error(line_of(item), path, f"'{value}' is listed twice")
                continue
            out.append(value)
            self.ref(kind, value, line_of(item), path)
        return tuple(out)

    # ----- the file

    def parse(self, root: yaml.Node) -> OrgFile:
        top = self.fields(root, "", ("units", "sections", "people", "chats", "projects"))
        if top is None:
            return OrgFile(self.filename)
        units = _present(self.unit(n, p) for p, n in top.items("units"))
        self.check_tree(units)
        sections = _present(self.section(n, p) for p, n in top.items("sections"))
        people = _present(self.person(n, p) for p, n in top.items("people"))
        chats = _present(self.chat(n, p) for p, n in top.items("chats"))
        projects = _present(self.project(n, p) for p, n in top.items("projects"))
        self.check_refs(units, sections, people, projects)
        self.file_warnings(people, projects)
        rendered = tuple(w.render(self.filename)
                         for w in sorted(self.warnings, key=lambda w: w.line or 0))
        return OrgFile(self.filename, tuple(sections), tuple(people), tuple(chats),
                       tuple(projects), rendered, tuple(units))

    def claim(self, what: str, value: Any, shown: str, line: int, path: str) -> None:
        """Values that must be unique across the file (keys, codes, Telegram ids)."""
        if value is None:
            return
        first = self.claimed.get((what, value))
        if first is None:
            self.claimed[(what, value)] = line
        else:
            self.error(line, path, f"duplicate {what} {shown} (first at line {first})")

    def check_tree(self, units: list[UnitSpec]) -> None:
        """One root, and no unit among its own ancestors."""
        roots = [u for u in units if u.parent is None]
        if units and len(roots) != 1:
            names = ", ".join(f"'{u.code}'" for u in roots) or "none"
            self.error(units[0].line, "units",
                       f"exactly one unit has no parent (the root); found {names}")
        parents = {u.code: u.parent for u in units}
        for index, unit in enumerate(units):
            seen, current = {unit.code}, unit.parent
            while current is not None and current in parents:
                if current in seen:
                    self.error(unit.line, f"units[{index}].parent",
                               f"'{unit.code}' is its own ancestor")
                    break
                seen.add(current)
                current = parents[current]

    def check_refs(self, units: list[UnitSpec], sections: list[SectionSpec],
                   people: list[PersonSpec], projects: list[ProjectSpec]) -> None:
        known = {
            "unit": {u.code for u in units},
            "section": {s.code for s in sections},
            "person": {p.key for p in people},
            "project": {p.code.upper() for p in projects},
        }
        for ref in self.refs:
            value = ref.value.upper() if ref.kind == "project" else ref.value
            if value not in known[ref.kind]:
                self.error(ref.line, ref.path, f"unknown {ref.kind} '{ref.value}'")

    def file_warnings(self, people: list[PersonSpec], projects: list[ProjectSpec]) -> None:
        by_key = {p.key: p for p in people}
        index = {p.key: i for i, p in enumerate(people)}
        leading = {p.key for p in people if _LEADING & set(p.roles)}
        leading |= {p.leader for p in projects if p.leader is not None}
        approvers = leading | {by_key[k].backup for k in leading
                               if k in by_key and by_key[k].backup is not None}
        for person in people:
            path = f"people[{index[person.key]}]"
            if not person.roles:
                self.warn(person.line, path, f"'{person.key}' has no roles")
            if person.key in approvers and person.telegram_id is None:
                what = "a leader" if person.key in leading else "a leader's backup"
                self.warn(person.line, f"{path}.telegram_id",
                          f"'{person.key}' is {what} but has no telegram_id:"
                          " they cannot approve in Telegram")
        wanted = (("leader", _LEADING), ("handlers", {Role.HANDLER}), ("guides", {Role.GUIDE}))
        for i, project in enumerate(projects):
            for name, roles in wanted:
                keys = (project.leader,) if name == "leader" else getattr(project, name)
                for key in keys:
                    member = by_key.get(key) if key is not None else None
                    if member is None:
                        continue
                    if not roles & set(member.roles):
                        role = "leader" if name == "leader" else name[:-1]
                        self.warn(project.line, f"projects[{i}].{name}",
                                  f"'{key}' does not have the {role} role")
                    if not member.active:
                        self.warn(project.line, f"projects[{i}].{name}",
                                  f"'{key}' is not active")

    # ----- entries

    def unit(self, node: yaml.Node, path: str) -> UnitSpec | None:
        f = self.fields(node, path, ("code", "name", "parent"))
        if f is None:
            return None
        code = f.key("code", max_len=_KEY_MAX, required=True)
        self.claim("unit code", code, f"'{code}'", f.line_of("code"), f.path_of("code"))
        name = f.text("name", max_len=_NAME_MAX, required=True)
        parent = self.unit_ref(f, "parent")
        if parent is not None and parent == code:
            f.error("parent", f"'{code}' cannot be its own parent")
            parent = None
        if code is None or name is None:
            return None
        return UnitSpec(code, name, parent, line=f.line)

    def unit_ref(self, f: _Fields, name: str = "unit") -> str | None:
        code = f.key(name, max_len=_KEY_MAX)
        self.ref("unit", code, f.line_of(name), f.path_of(name))
        return code

    def section(self, node: yaml.Node, path: str) -> SectionSpec | None:
        f = self.fields(node, path, ("code", "name", "head", "unit"))
        if f is None:
            return None
        code = f.key("code", max_len=_KEY_MAX, required=True)
        self.claim("section code", code, f"'{code}'", f.line_of("code"), f.path_of("code"))
        name = f.text("name", max_len=_NAME_MAX, required=True)
        head = f.key("head", max_len=_KEY_MAX)
        self.ref("person", head, f.line_of("head"), f.path_of("head"))
        unit = self.unit_ref(f)
        if code is None or name is None:
            return None
        return SectionSpec(code, name, head, unit, line=f.line)

    def person(self, node: yaml.Node, path: str) -> PersonSpec | None:
        f = self.fields(node, path, ("key", "name", "telegram_id", "username", "locale",
                                     "section", "roles", "backup", "active", "unit"))
        if f is None:
            return None
        key = f.key("key", max_len=_KEY_MAX, required=True)
        self.claim("person key", key, f"'{key}'", f.line_of("key"), f.path_of("key"))
        name = f.text("name", max_len=_NAME_MAX, required=True)
        telegram_id = f.integer("telegram_id")
        if telegram_id is not None and telegram_id <= 0:
            f.error("telegram_id", f"a user id is a positive integer, got {telegram_id}")
            telegram_id = None
        self.claim("telegram id", telegram_id, str(telegram_id), f.line_of("telegram_id"),
                   f.path_of("telegram_id"))
        username = f.text("username", max_len=_KEY_MAX + 1)
        if username is not None:
            username = username.removeprefix("@")
            if not _USERNAME.fullmatch(username):
                f.error("username", f"'{username}' is not a Telegram username")
                username = None
        locale = f.text("locale", max_len=8)
        if locale is not None and locale not in LOCALES:
            f.error("locale", f"unknown locale '{locale}' (expected one of: zh, en)")
            locale = None
        section = f.key("section", max_len=_KEY_MAX)
        self.ref("section", section, f.line_of("section"), f.path_of("section"))
        roles: list[Role] = []
        for item_path, item in f.items("roles"):
            if not isinstance(item, yaml.ScalarNode) or is_null(item):
                self.error(line_of(item), item_path, f"expected a role, got {shape(item)}")
                continue
            try:
                role = Role(str(item.value).strip())
            except ValueError:
                self.error(line_of(item), item_path,
                           f"unknown role '{item.value}' (expected one of: {_choices(Role)})")
                continue
            if role in roles:
                self.error(line_of(item), item_path, f"'{role}' is listed twice")
                continue
            roles.append(role)
        backup = f.key("backup", max_len=_KEY_MAX)
        if backup is not None and backup == key:
            f.error("backup", f"'{key}' cannot be their own backup")
            backup = None
        self.ref("person", backup, f.line_of("backup"), f.path_of("backup"))
        active = f.boolean("active", True)
        unit = self.unit_ref(f)
        if key is None or name is None:
            return None
        return PersonSpec(key, name, telegram_id, username, locale, section, tuple(roles),
                          backup, active, unit, line=f.line)

    def chat(self, node: yaml.Node, path: str) -> ChatSpec | None:
        f = self.fields(node, path, ("telegram_id", "kind", "title", "project", "unit"))
        if f is None:
            return None
        telegram_id = f.integer("telegram_id", required=True)
        if telegram_id is not None and telegram_id >= 0:
            f.error("telegram_id", f"a group chat id is negative, got {telegram_id}")
            telegram_id = None
        self.claim("chat id", telegram_id, str(telegram_id), f.line_of("telegram_id"),
                   f.path_of("telegram_id"))
        kind = f.choice("kind", ChatKind, "chat kind", required=True)
        title = f.text("title", max_len=_TITLE_MAX, required=True)
        project = f.key("project", max_len=_CODE_MAX)
        if project is not None and kind is not None and kind != ChatKind.PROJECT:
            f.error("project", f"only a project chat names a project (this one is '{kind}')")
            project = None
        self.ref("project", project, f.line_of("project"), f.path_of("project"))
        if project is not None and project.upper() in self.project_chats:
            first = self.project_chats[project.upper()]
            f.error("project", f"project '{project}' already has a chat (line {first})")
        elif project is not None:
            self.project_chats[project.upper()] = f.line
        unit = self.unit_ref(f)
        if telegram_id is None or kind is None or title is None:
            return None
        return ChatSpec(telegram_id, kind, title, project, unit, line=f.line)

    def project(self, node: yaml.Node, path: str) -> ProjectSpec | None:
        f = self.fields(node, path, ("code", "name", "status", "leader", "section", "handlers",
                                     "guides", "work_plan", "follow_through", "green_channel",
                                     "milestones", "unit"))
        if f is None:
            return None
        code = f.key("code", max_len=_CODE_MAX, required=True)
        self.claim("project code", code.upper() if code else None, f"'{code}'", f.line_of("code"),
                   f.path_of("code"))
        name = f.text("name", max_len=_TITLE_MAX, required=True)
        status = f.choice("status", ProjectStatus, "status", required=True)
        leader = f.key("leader", max_len=_KEY_MAX)
        self.ref("person", leader, f.line_of("leader"), f.path_of("leader"))
        section = f.key("section", max_len=_KEY_MAX)
        self.ref("section", section, f.line_of("section"), f.path_of("section"))
        handlers = self.key_list(f, "handlers", "person")
        guides = self.key_list(f, "guides", "person")
        work_plan = f.text("work_plan", max_len=100_000, multiline=True) or ""
        follow_through = f.text("follow_through", max_len=100_000, multiline=True) or ""
        green_channel = f.boolean("green_channel", False)
        milestones: list[MilestoneSpec] = []
        previous: MilestoneSpec | None = None
        for item_path, item in f.items("milestones"):
            milestone = self.milestone(item, item_path)
            if milestone is None:
                continue
            if previous is not None and milestone.due < previous.due:
                self.error(milestone.line, f"{item_path}.due",
                           f"{milestone.due} is before the previous milestone's due date"
                           f" {previous.due} (list milestones in order)")
            milestones.append(milestone)
            previous = milestone
        unit = self.unit_ref(f)
        if code is None or name is None or status is None:
            return None
        return ProjectSpec(code, name, status, leader, section, handlers, guides, work_plan,
                           follow_through, green_channel, tuple(milestones), unit,
                           line=f.line)

    def milestone(self, node: yaml.Node, path: str) -> MilestoneSpec | None:
        f = self.fields(node, path, ("title", "due", "done"))
        if f is None:
            return None
        title = f.text("title", max_len=_TITLE_MAX, required=True)
        due = f.day("due", required=True)
        done = f.day("done")
        if title is None or due is None:
            return None
        return MilestoneSpec(title, due, done, line=f.line_of("due"))
