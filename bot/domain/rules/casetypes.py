"""Case types: what a case is made of, and which steps it goes through.

A case type (案卷类型) names the extra fields asked when a case is submitted and the ordered
steps (环节) it passes, each with its approvers, its time limit in working days (限时办结制) and
what happens on timeout. The bot loads the definitions at start from a YAML file (the packaged
default is ``bot/case_types.yaml``; a setting may point elsewhere). A case keeps a snapshot of
its type from submission (:func:`to_snapshot` / :func:`from_snapshot`), so editing the file
later never changes a running case.

The format (only ``case_types`` is allowed at the top)::

    case_types:
      - code: building_permit          # a-z 0-9 _ (max 24), unique in the file
        name: 建设工程规划许可           # required (Chinese is the default language)
        name_en: Building permit       # optional English
        green_channel_limit_factor: 0.5  # optional, 0 < f <= 1: 绿色通道 cases get every limit
                                         # scaled, rounded up, at least 1 (0 stays 0)
        fields:                        # optional; the title is always asked besides these
          - {key: applicant, label: 建设单位, label_en: Applicant, required: true,
             max_length: 100}          # key: a-z 0-9 _ (max 24), not 'title'; required:
                                       # default false; max_length: 1..1000, default 200
        steps:                         # ordered, at least one; names unique within the type
          - name: 处务会
            name_en: Section meeting
            mode: single               # single | all (countersign 会签) | any (or-sign 或签)
            assignees: [section_head]  # who decides (selectors, below)
            limit: 5                   # working days, 0..365 (0 = the same day)
            timeout: none              # none (default) | escalate | deemed_approval (超时默许)
            cc: [project_leader]       # optional: who gets a copy (no buttons)
          - name: 联合审查               # a joint step (并联审批): departments in parallel
            joint:                     # at least 2 lanes, each with its own mode, assignees,
              - {name: 建筑科, mode: any, assignees: [{section: building}], limit: 10}
              - {name: 市政科, mode: any, assignees: [{section: municipal}], limit: 15}
            timeout: escalate          # timeout and cc belong to the step, not to a lane

Assignee selectors, each a bare word or a one-key mapping:

* ``project_leader`` (the project's leader in charge), ``leader_backup`` (that leader's B post,
  AB岗), ``submitter``, ``project_handlers``, ``project_guides``, ``section_head`` (head of the
  project's responsible section);
* ``{person: KEY}``, ``{role: ROLE}`` (everyone active with the role), ``{section: CODE}``
  (everyone active in the section), ``{section_head: CODE}`` (that section's head).

A joint step's limit is the longest of its lanes' limits (the joint deadline of 并联审批).
Deemed approval is never a default: a step only has it when the file says
``timeout: deemed_approval``.

Validation (:func:`parse_case_types`) is pure and complete, and reports every problem, one per
line, as ``FILE line N: path: message``, e.g. ``case_types.yaml line 14:
case_types[1].steps[0].mode: must be one of single, all, any (got 'both')``. Person keys and
section codes cannot be checked here (they live in the database): the loaded
:class:`CaseTypes` lists them (:meth:`CaseTypes.referenced_people`,
:meth:`CaseTypes.referenced_sections`) and renders warnings for the ones the organisation
lacks (:meth:`CaseTypes.unknown_references`). ``single`` with a selector that may yield
several people is allowed (the first one found decides) but warned about.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import yaml

from bot.domain.rules.ladder import Audience, Ladder, Rung, RungKind
from bot.domain.rules.vocabulary import Role, StepMode
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
    sub,
)


class TimeoutPolicy(StrEnum):
    """What happens when a step's time limit passes without a decision."""

    NONE = "none"  # nothing beyond the red light and the urging every late step gets
    ESCALATE = "escalate"  # 超时上报: the late step is escalated up the line
    DEEMED_APPROVAL = "deemed_approval"  # 超时默许: taken as approved (internal steps only)


# The modes a lane (a normal step, or one department of a joint step) may have. StepMode.JOINT,
# which marks a stored step made of several lanes, is never one of them.
LANE_MODES = (StepMode.SINGLE, StepMode.ALL, StepMode.ANY)
MAX_LIMIT_DAYS = 365
MAX_FIELD_LENGTH = 1000
DEFAULT_FIELD_LENGTH = 200
RESERVED_FIELD_KEYS = frozenset({"title"})
SNAPSHOT_VERSION = 1

# Selectors: the bare words, and the kinds written as a one-key mapping.
PROJECT_LEADER = "project_leader"
LEADER_BACKUP = "leader_backup"
SUBMITTER = "submitter"
PROJECT_HANDLERS = "project_handlers"
PROJECT_GUIDES = "project_guides"
SECTION_HEAD = "section_head"
PERSON = "person"
ROLE = "role"
SECTION = "section"
BARE_SELECTORS = (PROJECT_LEADER, LEADER_BACKUP, SUBMITTER, PROJECT_HANDLERS, PROJECT_GUIDES,
                  SECTION_HEAD)
KEYED_SELECTORS = (PERSON, ROLE, SECTION, SECTION_HEAD)
MULTI_PERSON_SELECTORS = frozenset({ROLE, SECTION, PROJECT_HANDLERS, PROJECT_GUIDES})

_CODE = re.compile(r"[a-z0-9_]{1,24}")
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")  # person keys and section codes (org.py)
_KEY_MAX = 64
_NAME_MAX = 100
_INT = re.compile(r"[-+]?[0-9]+")


def _localized(locale: str, zh: str, en: str | None) -> str:
    """The English text for an English locale when there is one, else the Chinese."""
    if en and locale.lower().replace("_", "-").split("-")[0] == "en":
        return en
    return zh


# --------------------------------------------------------------------------- the definitions


@dataclass(frozen=True)
class AssigneeRule:
    """One selector: a bare word (``value`` None) or a kind with its value.

    ``section_head`` is both: without a value it is the head of the project's section,
    with one (``{section_head: legal}``) the head of that section.
    """

    kind: str
    value: str | None = None

    def __post_init__(self) -> None:
        if self.kind in KEYED_SELECTORS and self.value is not None:
            if not self.value:
                raise ValueError(f"{self.kind}: empty value")
            if self.kind == ROLE and self.value not in {r.value for r in Role}:
                raise ValueError(f"unknown role {self.value!r}")
        elif self.kind not in BARE_SELECTORS:
            raise ValueError(f"unknown assignee selector {self.kind!r}"
                             + ("" if self.value is None else " (a value is required)"))
        elif self.value is not None:
            raise ValueError(f"{self.kind} takes no value (got {self.value!r})")

    @property
    def may_yield_several(self) -> bool:
        """Whether the selector may stand for more than one person."""
        return self.kind in MULTI_PERSON_SELECTORS

    def describe(self) -> str:
        """As written in the file: ``project_leader``, ``{role: director}``."""
        return self.kind if self.value is None else f"{{{self.kind}: {self.value}}}"


@dataclass(frozen=True)
class LaneSpec:
    """Who decides, how, and within how many working days. A normal step has one lane."""

    name: str
    name_en: str | None
    mode: StepMode
    assignees: tuple[AssigneeRule, ...]
    limit_days: int

    def __post_init__(self) -> None:
        if self.mode not in LANE_MODES:
            raise ValueError(f"a lane's mode is single, all or any, got {self.mode!r}")
        object.__setattr__(self, "mode", StepMode(self.mode))  # "any" → StepMode.ANY
        if not self.assignees:
            raise ValueError(f"lane {self.name!r} has no assignees")
        if isinstance(self.limit_days, bool) or not isinstance(self.limit_days, int) or not (
                0 <= self.limit_days <= MAX_LIMIT_DAYS):
            raise ValueError(f"limit_days must be 0..{MAX_LIMIT_DAYS}, got {self.limit_days!r}")

    def display_name(self, locale: str) -> str:
        return _localized(locale, self.name, self.name_en)


@dataclass(frozen=True)
class StepSpec:
    """A step: one lane (a normal step, the lane named like the step) or several (joint)."""

    name: str
    name_en: str | None
    lanes: tuple[LaneSpec, ...]
    timeout: TimeoutPolicy = TimeoutPolicy.NONE
    cc: tuple[AssigneeRule, ...] = ()

    def __post_init__(self) -> None:
        if not self.lanes:
            raise ValueError(f"step {self.name!r} has no lanes")
        object.__setattr__(self, "timeout", TimeoutPolicy(self.timeout))  # ValueError if bad

    @property
    def joint(self) -> bool:
        """Several departments in parallel (并联审批)."""
        return len(self.lanes) > 1

    @property
    def limit_days(self) -> int:
        """The step's limit: for a joint step, the longest of its lanes' limits."""
        return max(lane.limit_days for lane in self.lanes)

    def display_name(self, locale: str) -> str:
        return _localized(locale, self.name, self.name_en)


@dataclass(frozen=True)
class FieldSpec:
    """An extra field asked when a case is submitted (the title is always asked)."""

    key: str
    label: str
    label_en: str | None = None
    required: bool = False
    max_length: int = DEFAULT_FIELD_LENGTH

    def __post_init__(self) -> None:
        if self.key in RESERVED_FIELD_KEYS:
            raise ValueError(f"field key {self.key!r} is reserved")
        if not 1 <= self.max_length <= MAX_FIELD_LENGTH:
            raise ValueError(f"max_length must be 1..{MAX_FIELD_LENGTH}, got {self.max_length}")

    def display_name(self, locale: str) -> str:
        return _localized(locale, self.label, self.label_en)


@dataclass(frozen=True)
class CaseType:
    code: str
    name: str
    name_en: str | None
    steps: tuple[StepSpec, ...]
    fields: tuple[FieldSpec, ...] = ()
    green_channel_limit_factor: float | None = None
    ladder: Ladder | None = None  # its own escalation ladder; None: the bureau's default

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError(f"case type {self.code!r} has no steps")
        factor = self.green_channel_limit_factor
        if factor is not None and not (isinstance(factor, int | float) and 0 < factor <= 1):
            raise ValueError(f"green_channel_limit_factor must be in (0, 1], got {factor!r}")

    def limit_for(self, lane: LaneSpec | StepSpec, green_channel: bool) -> int:
        """Working days for a lane (or a whole step) of this type.

        A green-channel case (绿色通道) gets the limit scaled by the type's factor, rounded
        up and at least 1; a same-day limit (0) stays 0, and without a factor nothing changes.
        """
        days = lane.limit_days
        factor = self.green_channel_limit_factor
        if not green_channel or factor is None:
            return days
        # Exact decimal arithmetic: 25 × 0.28 is 7, not 7.000000000000001 rounded up to 8.
        # Rounding up keeps it at least 1 (days >= 1 and factor > 0).
        return math.ceil(days * Fraction(repr(float(factor))))

    def display_name(self, locale: str) -> str:
        return _localized(locale, self.name, self.name_en)


@dataclass(frozen=True)
class Reference:
    """A person key or section code the file names; the organisation must have it."""

    kind: str  # person | section
    value: str
    line: int | None
    path: str


@dataclass(frozen=True)
class CaseTypes:
    """The loaded file. Equality ignores the file name, warnings and reference positions."""

    types: tuple[CaseType, ...]
    warnings: tuple[str, ...] = field(default=(), compare=False)  # rendered, one per line
    filename: str = field(default="", compare=False)
    references: tuple[Reference, ...] = field(default=(), compare=False)

    def get(self, code: str) -> CaseType | None:
        return next((t for t in self.types if t.code == code), None)

    def __iter__(self) -> Iterator[CaseType]:
        return iter(self.types)

    def __len__(self) -> int:
        return len(self.types)

    def referenced_people(self) -> frozenset[str]:
        """Person keys named by ``{person: KEY}`` (in assignees and cc)."""
        return frozenset(r.value for r in self._references() if r.kind == PERSON)

    def referenced_sections(self) -> frozenset[str]:
        """Section codes named by ``{section: CODE}`` and ``{section_head: CODE}``."""
        return frozenset(r.value for r in self._references() if r.kind == SECTION)

    def referenced_roles(self) -> frozenset[Role]:
        """Roles named by ``{role: ROLE}`` (someone active should hold each)."""
        return frozenset(Role(rule.value) for rule in self._rules()
                         if rule.kind == ROLE and rule.value is not None)

    def unknown_references(self, people: Collection[str],
                           sections: Collection[str]) -> tuple[str, ...]:
        """Warnings, one per reference the organisation lacks, with file, line and field."""
        known = {PERSON: people, SECTION: sections}
        return tuple(
            CaseTypesIssue(r.line, r.path, f"unknown {r.kind} '{r.value}' (not in the"
                           " organisation)").render(self.filename)
            for r in self._references() if r.value not in known[r.kind])

    def _references(self) -> tuple[Reference, ...]:
        """Where the file names people and sections; without positions for types built
        in code rather than parsed."""
        if self.references or not self.types:
            return self.references
        return tuple(
            Reference(PERSON if rule.kind == PERSON else SECTION, rule.value, None,
                      f"{case_type.code}: {step.name}")
            for case_type in self.types for step in case_type.steps
            for rule in (*(r for lane in step.lanes for r in lane.assignees), *step.cc)
            if rule.kind in (PERSON, SECTION, SECTION_HEAD) and rule.value is not None)

    def _rules(self) -> Iterator[AssigneeRule]:
        for case_type in self.types:
            for step in case_type.steps:
                yield from step.cc
                for lane in step.lanes:
                    yield from lane.assignees


# --------------------------------------------------------------------------- errors


CaseTypesIssue = Issue  # one problem: line, field path, message


class CaseTypesError(YamlFileError):
    """The case types file is wrong; the message has one line per problem (file, line, field)."""


# --------------------------------------------------------------------------- loading


def default_case_types_path() -> Path:
    """The packaged default, ``bot/case_types.yaml``."""
    return Path(__file__).resolve().parents[2] / "case_types.yaml"


def load_case_types(path: Path) -> CaseTypes:
    """Read and validate a case types file; raises :class:`CaseTypesError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseTypesError(str(path), [CaseTypesIssue(None, "", f"cannot read the file: {exc}")]
                             ) from None
    return parse_case_types(text, str(path))


def parse_case_types(text: str, filename: str) -> CaseTypes:
    """Validate a case types file completely; raises :class:`CaseTypesError` listing all."""
    root = compose(text, filename, CaseTypesError)
    parser = _Parser()
    types = parser.parse(root)
    if parser.issues:
        raise CaseTypesError(filename, parser.issues)
    warnings = tuple(w.render(filename) for w in sorted(parser.warnings, key=lambda w: w.line or 0))
    return CaseTypes(tuple(types), warnings, filename, tuple(parser.references))










E = TypeVar("E", bound=StrEnum)


def _one_of(enum: type[StrEnum], value: str) -> str:
    return f"must be one of {', '.join(m.value for m in enum)} (got '{value}')"


_CODE_RULE = "a-z, 0-9 and _, at most 24 characters"
_SELECTOR_HELP = (f"{', '.join(BARE_SELECTORS)}, or a mapping {{person: KEY}}, {{role: ROLE}},"
                  " {section: CODE} or {section_head: CODE}")
_MODE_HELP = "use any for or-sign 或签 or all for countersign 会签"
_STEP_NOT_LANE = {name: f"{name} belongs to the joint step, not to a lane (write it next to"
                        " joint:)" for name in ("timeout", "cc")}


class _Fields(Fields):
    """One mapping's fields, with the case types' own value kinds."""

    def line_of(self, name: str) -> int:
        """The line where the field is written (the mapping's own line when it is absent)."""
        return self.key_lines.get(name, self.line)

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.scalar(name, required)
        if value is None:
            return None
        value = " ".join(value.split())
        if not value:
            if required:
                self.error(name, "empty")
            return None
        if len(value) > _NAME_MAX:
            self.error(name, f"longer than {_NAME_MAX} characters")
            return None
        return value

    def code(self, name: str) -> str | None:
        value = self.scalar(name, True)
        if value is None:
            return None
        if not _CODE.fullmatch(value):
            self.error(name, f"'{value}' is not a valid {name} ({_CODE_RULE})")
            return None
        return value

    def integer(self, name: str, low: int, high: int, unit: str = "") -> int | None:
        value = self.scalar(name, True)
        if value is None:
            return None
        if self.values[name].tag == BOOL_TAG or not _INT.fullmatch(value.strip()):
            self.error(name, f"expected an integer, got '{value}'")
            return None
        number = int(value)
        if not low <= number <= high:
            self.error(name, f"must be between {low} and {high}{unit} (got {number})")
            return None
        return number

    def factor(self, name: str) -> float | None:
        value = self.scalar(name, False)
        if value is None:
            return None
        try:
            number = float(value.strip()) if self.values[name].tag != BOOL_TAG else math.nan
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            self.error(name, f"expected a number, got '{value}'")
            return None
        if not 0 < number <= 1:
            self.error(name, f"must be greater than 0 and at most 1 (got {value.strip()})")
            return None
        return number

    def mode(self) -> StepMode | None:
        value = self.scalar("mode", True)
        if value is None:
            return None
        value = value.strip()
        for mode in LANE_MODES:
            if value == mode.value:
                return mode
        message = f"must be one of {', '.join(m.value for m in LANE_MODES)} (got '{value}')"
        if value == "joint":
            message += "; a joint step lists its departments under joint: instead"
        self.error("mode", message)
        return None

    def choice(self, name: str, enum: type[E], *, required: bool = False) -> E | None:
        value = self.scalar(name, required)
        if value is None:
            return None
        try:
            return enum(value.strip())
        except ValueError:
            self.error(name, _one_of(enum, value))
            return None



class _Parser(Reader):
    def __init__(self) -> None:
        super().__init__()
        self.warnings: list[Issue] = []
        self.references: list[Reference] = []

    def warn(self, line: int, path: str, message: str) -> None:
        self.warnings.append(Issue(line, path, message))

    def fields(self, node: yaml.Node, path: str, allowed: tuple[str, ...],
               misplaced: Mapping[str, str] | None = None) -> _Fields | None:
        """A mapping's fields; ``misplaced`` explains fields that belong elsewhere."""
        read = self.mapping(node, path, allowed, misplaced)
        if read is None:
            return None
        assert isinstance(node, yaml.MappingNode)
        return _Fields(self, node, path, *read)

    @staticmethod
    def unique(seen: dict[str, int], what: str, value: str | None, f: _Fields,
               name: str) -> None:
        """Values that must be unique in their scope (codes, step names, field keys)."""
        if value is None:
            return
        if value in seen:
            f.error(name, f"duplicate {what} '{value}' (first at line {seen[value]})")
        else:
            seen[value] = f.line_of(name)

    # ----- the file

    def parse(self, root: yaml.Node) -> list[CaseType]:
        top = self.fields(root, "", ("case_types",))
        if top is None:
            return []
        entries = top.items("case_types", required=True)
        if entries == []:
            top.error("case_types", "no case types (the file needs at least one)")
        codes: dict[str, int] = {}
        types = [self.case_type(node, path, codes) for path, node in entries or []]
        return [t for t in types if t is not None]

    def case_type(self, node: yaml.Node, path: str, codes: dict[str, int]) -> CaseType | None:
        before = len(self.issues)
        f = self.fields(node, path, ("code", "name", "name_en", "green_channel_limit_factor",
                                     "fields", "steps", "ladder"))
        if f is None:
            return None
        code = f.code("code")
        self.unique(codes, "case type code", code, f, "code")
        name = f.text("name", required=True)
        name_en = f.text("name_en")
        factor = f.factor("green_channel_limit_factor")
        keys: dict[str, int] = {}
        fields = [self.field_spec(n, p, keys) for p, n in f.items("fields") or []]
        entries = f.items("steps", required=True)
        if entries == []:
            f.error("steps", "a case type needs at least one step")
        names: dict[str, int] = {}
        steps = [self.step(n, p, names) for p, n in entries or []]
        ladder = self.ladder(f.values["ladder"], f.path_of("ladder")) \
            if "ladder" in f.values else None
        if len(self.issues) > before or code is None or name is None:
            return None
        return CaseType(code, name, name_en, tuple(s for s in steps if s is not None),
                        tuple(x for x in fields if x is not None), factor, ladder)

    def ladder(self, node: yaml.Node, path: str) -> Ladder | None:
        """``ladder: {yellow: [..], red: [..], urge: {after: 5, to: [..]},
        repeat: {every: 3, to: [..]}}``; a rung left out is not used."""
        f = self.fields(node, path, tuple(kind.value for kind in RungKind))
        if f is None:
            return None
        rungs = []
        for kind in RungKind:
            if kind.value not in f.values:
                continue
            value, where = f.values[kind.value], f.path_of(kind.value)
            if kind in (RungKind.YELLOW, RungKind.RED):
                audience = self.audience(value, where)
                if audience is not None:
                    rungs.append(Rung(kind, audience))
                continue
            counter = "after" if kind is RungKind.URGE else "every"
            g = self.fields(value, where, (counter, "to"))
            if g is None:
                continue
            days = g.integer(counter, 1, MAX_LIMIT_DAYS, " working days")
            audience = self.audience(g.values["to"], g.path_of("to")) if "to" in g.values \
                else None
            if "to" not in g.values:
                g.error("to", "missing")
            if days is not None and audience is not None:
                rungs.append(Rung(kind, audience, after_red_days=days if counter == "after"
                                  else 0, every_days=days if counter == "every" else 0))
        return Ladder(tuple(rungs))

    def audience(self, node: yaml.Node, path: str) -> tuple[Audience, ...] | None:
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            self.error(line_of(node), path, f"expected a list of who is told, got {shape(node)}")
            return None
        found: list[Audience] = []
        for index, item in enumerate(node.value):
            word = str(item.value) if isinstance(item, yaml.ScalarNode) else ""
            try:
                found.append(Audience(word))
            except ValueError:
                self.error(line_of(item), f"{path}[{index}]",
                           _one_of(Audience, word or shape(item)))
        return tuple(found) if len(found) == len(node.value) else None

    def field_spec(self, node: yaml.Node, path: str, keys: dict[str, int]) -> FieldSpec | None:
        before = len(self.issues)
        f = self.fields(node, path, ("key", "label", "label_en", "required", "max_length"))
        if f is None:
            return None
        key = f.code("key")
        if key in RESERVED_FIELD_KEYS:
            f.error("key", f"'{key}' is reserved (the title is always asked)")
            key = None
        self.unique(keys, "field key", key, f, "key")
        label = f.text("label", required=True)
        label_en = f.text("label_en")
        required = f.boolean("required", False)
        max_length: int | None = DEFAULT_FIELD_LENGTH
        if "max_length" in f.values:
            max_length = f.integer("max_length", 1, MAX_FIELD_LENGTH)
        if len(self.issues) > before or key is None or label is None or max_length is None:
            return None
        return FieldSpec(key, label, label_en, required, max_length)

    def step(self, node: yaml.Node, path: str, names: dict[str, int]) -> StepSpec | None:
        before = len(self.issues)
        f = self.fields(node, path, ("name", "name_en", "mode", "assignees", "limit", "joint",
                                     "timeout", "cc"))
        if f is None:
            return None
        name = f.text("name", required=True)
        self.unique(names, "step name", name, f, "name")
        name_en = f.text("name_en")
        lanes: list[LaneSpec | None]
        if "joint" in f.values:
            for extra in ("mode", "assignees", "limit"):
                if extra in f.values:
                    f.error(extra, f"not allowed in a joint step (each lane has its own {extra})")
            entries = f.items("joint")
            if entries is not None and len(entries) < 2:
                f.error("joint", f"a joint step needs at least 2 lanes (got {len(entries)});"
                                 " for one department write mode, assignees and limit instead")
            lane_names: dict[str, int] = {}
            lanes = [self.lane(n, p, lane_names) for p, n in entries or []]
        else:
            lanes = [self.lane_of(f, name, name_en)]
        timeout = f.choice("timeout", TimeoutPolicy) or TimeoutPolicy.NONE
        cc = self.selectors(f, "cc", required=False)
        if len(self.issues) > before or name is None:
            return None
        return StepSpec(name, name_en, tuple(x for x in lanes if x is not None), timeout, cc)

    def lane(self, node: yaml.Node, path: str, names: dict[str, int]) -> LaneSpec | None:
        f = self.fields(node, path, ("name", "name_en", "mode", "assignees", "limit"),
                        _STEP_NOT_LANE)
        if f is None:
            return None
        name = f.text("name", required=True)
        self.unique(names, "lane name", name, f, "name")
        return self.lane_of(f, name, f.text("name_en"))

    def lane_of(self, f: _Fields, name: str | None, name_en: str | None) -> LaneSpec | None:
        """The mode, assignees and limit of a normal step or of a joint step's lane."""
        before = len(self.issues)
        mode = f.mode()
        assignees = self.selectors(f, "assignees", required=True)
        limit = f.integer("limit", 0, MAX_LIMIT_DAYS, " working days")
        if len(self.issues) > before or name is None or mode is None or limit is None:
            return None
        if mode is StepMode.SINGLE:
            several = [rule.describe() for rule in assignees if rule.may_yield_several]
            problem = ""
            if several:
                problem = f"{', '.join(several)} may yield several people"
            elif len(assignees) > 1:
                listed = ", ".join(rule.describe() for rule in assignees)
                problem = f"{len(assignees)} selectors are listed ({listed})"
            if problem:
                self.warn(f.line_of("assignees"), f.path_of("assignees"),
                          f"mode single, but {problem}: only the first person found decides"
                          f" ({_MODE_HELP})")
        return LaneSpec(name, name_en, mode, assignees, limit)

    # ----- selectors

    def selectors(self, f: _Fields, name: str, *, required: bool) -> tuple[AssigneeRule, ...]:
        entries = f.items(name, required=required)
        if entries == [] and required:
            f.error(name, "needs at least one assignee")
        rules: list[AssigneeRule] = []
        for path, node in entries or []:
            rule = self.selector(node, path)
            if rule is None:
                continue
            if rule in rules:
                self.error(line_of(node), path, f"'{rule.describe()}' is listed twice")
                continue
            rules.append(rule)
        return tuple(rules)

    def selector(self, node: yaml.Node, path: str) -> AssigneeRule | None:
        if isinstance(node, yaml.ScalarNode) and not is_null(node):
            word = str(node.value).strip()
            if word in BARE_SELECTORS:
                return AssigneeRule(word)
            if word in KEYED_SELECTORS:
                self.error(line_of(node), path, f"'{word}' needs a value: {{{word}: ...}}")
            else:
                self.error(line_of(node), path,
                           f"unknown assignee '{word}' (expected {_SELECTOR_HELP})")
            return None
        if not isinstance(node, yaml.MappingNode):
            self.error(line_of(node), path, f"expected an assignee, got {shape(node)}")
            return None
        if len(node.value) != 1:
            self.error(line_of(node), path, "expected one key (person, role, section or"
                                          f" section_head), got {len(node.value)}")
            return None
        key_node, value_node = node.value[0]
        kind = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else ""
        if kind not in KEYED_SELECTORS:
            self.error(line_of(key_node), sub(path, kind) if kind else path,
                       "unknown selector (expected one of: person, role, section,"
                       " section_head)")
            return None
        f = _Fields(self, node, path, {kind: value_node}, {kind: line_of(key_node)})
        value = f.scalar(kind, True)
        if value is None:
            return None
        value = value.strip()
        if kind == ROLE:
            if value not in {r.value for r in Role}:
                f.error(kind, _one_of(Role, value))
                return None
        elif not _KEY.fullmatch(value) or len(value) > _KEY_MAX:
            what = "person key" if kind == PERSON else "section code"
            f.error(kind, f"'{value}' is not a valid {what} (letters, digits, _ . -;"
                          f" at most {_KEY_MAX} characters)")
            return None
        else:
            self.references.append(Reference(PERSON if kind == PERSON else SECTION, value,
                                             f.line_of(kind), f.path_of(kind)))
        return AssigneeRule(kind, value)


# --------------------------------------------------------------------------- snapshots


def _rule_snapshot(rule: AssigneeRule) -> dict[str, Any]:
    return {"kind": rule.kind, "value": rule.value}


def to_snapshot(case_type: CaseType) -> dict[str, Any]:
    """A JSON-able copy of the type, stored with a case at submission."""
    return {
        "version": SNAPSHOT_VERSION,
        "code": case_type.code,
        "name": case_type.name,
        "name_en": case_type.name_en,
        "green_channel_limit_factor": case_type.green_channel_limit_factor,
        "ladder": None if case_type.ladder is None else [
            {"kind": rung.kind.value, "to": [a.value for a in rung.audience],
             "after": rung.after_red_days, "every": rung.every_days}
            for rung in case_type.ladder.rungs],
        "fields": [{"key": x.key, "label": x.label, "label_en": x.label_en,
                    "required": x.required, "max_length": x.max_length}
                   for x in case_type.fields],
        "steps": [{
            "name": step.name,
            "name_en": step.name_en,
            "timeout": step.timeout.value,
            "cc": [_rule_snapshot(rule) for rule in step.cc],
            "lanes": [{"name": lane.name, "name_en": lane.name_en, "mode": lane.mode.value,
                       "assignees": [_rule_snapshot(rule) for rule in lane.assignees],
                       "limit_days": lane.limit_days} for lane in step.lanes],
        } for step in case_type.steps],
    }


def _rule_from(data: Mapping[str, Any]) -> AssigneeRule:
    return AssigneeRule(str(data["kind"]), None if data.get("value") is None
                        else str(data["value"]))


def from_snapshot(data: Mapping[str, Any]) -> CaseType:
    """The type as it was stored; raises ValueError for data that is not a snapshot."""
    if not isinstance(data, Mapping) or data.get("version") != SNAPSHOT_VERSION:
        version = data.get("version") if isinstance(data, Mapping) else None
        raise ValueError(f"not a case type snapshot (version {version!r},"
                         f" expected {SNAPSHOT_VERSION})")
    try:
        factor = data.get("green_channel_limit_factor")
        return CaseType(
            code=str(data["code"]),
            name=str(data["name"]),
            name_en=data.get("name_en"),
            green_channel_limit_factor=None if factor is None else float(factor),
            ladder=None if data.get("ladder") is None else Ladder(tuple(
                Rung(RungKind(rung["kind"]), tuple(Audience(a) for a in rung["to"]),
                     int(rung.get("after", 0)), int(rung.get("every", 0)))
                for rung in data["ladder"])),
            fields=tuple(FieldSpec(str(x["key"]), str(x["label"]), x.get("label_en"),
                                   bool(x.get("required", False)),
                                   int(x.get("max_length", DEFAULT_FIELD_LENGTH)))
                         for x in data.get("fields", ())),
            steps=tuple(StepSpec(
                name=str(step["name"]),
                name_en=step.get("name_en"),
                timeout=TimeoutPolicy(step.get("timeout", TimeoutPolicy.NONE.value)),
                cc=tuple(_rule_from(rule) for rule in step.get("cc", ())),
                lanes=tuple(LaneSpec(str(lane["name"]), lane.get("name_en"),
                                     StepMode(lane["mode"]),
                                     tuple(_rule_from(rule) for rule in lane["assignees"]),
                                     int(lane["limit_days"]))
                            for lane in step["lanes"]),
            ) for step in data["steps"]),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a case type snapshot: {exc!r}") from None
