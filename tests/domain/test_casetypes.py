"""Case types: the packaged default, validation with line-accurate errors, snapshots, limits."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bot.domain.rules.casetypes import (
    AssigneeRule,
    CaseType,
    CaseTypes,
    CaseTypesError,
    FieldSpec,
    LaneSpec,
    StepSpec,
    TimeoutPolicy,
    default_case_types_path,
    from_snapshot,
    load_case_types,
    parse_case_types,
    to_snapshot,
)
from bot.domain.rules.ladder import DEFAULT_LADDER
from bot.domain.rules.org_file import parse_org
from bot.domain.rules.vocabulary import Role, StepMode

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data" / "casetypes"
EXAMPLE_ORG = ROOT / "examples" / "org.yaml"
ROLES = "admin, director, leader, handler, guide, supervisor"
SELECTOR_HELP = ("project_leader, leader_backup, submitter, project_handlers, project_guides,"
                 " section_head, or a mapping {person: KEY}, {role: ROLE}, {section: CODE} or"
                 " {section_head: CODE}")
STEP_FIELDS = "name, name_en, mode, assignees, limit, joint, timeout, cc"
MODE_HELP = "use any for or-sign 或签 or all for countersign 会签"


@pytest.fixture(scope="module")
def defaults() -> CaseTypes:
    return load_case_types(default_case_types_path())


def parse(text: str) -> CaseTypes:
    return parse_case_types(text, "case_types.yaml")


def errors_of(text: str) -> list[str]:
    with pytest.raises(CaseTypesError) as caught:
        parse(text)
    return str(caught.value).splitlines()


def one_step(mode: str = "any", assignees: str = "[project_leader]", limit: str = "3",
             extra: str = "") -> str:
    """One type with one step: mode on line 6, assignees on 7, limit on 8, ``extra`` from 9."""
    return ("case_types:\n"
            "  - code: item\n"
            "    name: 事项\n"
            "    steps:\n"
            "      - name: 审批\n"
            f"        mode: {mode}\n"
            f"        assignees: {assignees}\n"
            f"        limit: {limit}\n" + extra)


def joint_step(lane_a: str, lane_b: str, extra: str = "") -> str:
    """One type whose one step is joint: lanes on lines 7 and 8, ``extra`` from 9."""
    return ("case_types:\n"
            "  - code: review\n"
            "    name: 联合审查\n"
            "    steps:\n"
            "      - name: 联审\n"
            "        joint:\n"
            f"          - {lane_a}\n"
            f"          - {lane_b}\n" + extra)


LANE_A = "{name: 建筑科, name_en: Building, mode: any, assignees: [{section: building}], limit: 10}"
LANE_B = "{name: 市政科, mode: any, assignees: [{section: municipal}], limit: 15}"


# --------------------------------------------------------------------------- the default file


def test_default_path_is_the_packaged_file(defaults: CaseTypes) -> None:
    assert default_case_types_path() == ROOT / "bot" / "case_types.yaml"
    assert defaults.filename == str(ROOT / "bot" / "case_types.yaml")
    text = default_case_types_path().read_text(encoding="utf-8")
    assert parse_case_types(text, "other.yaml") == defaults  # equality ignores the file name


def test_default_codes_names_and_fields(defaults: CaseTypes) -> None:
    assert [t.code for t in defaults] == [
        "item", "building_permit", "joint_review", "rebuild_topic", "policy_review"]
    assert len(defaults) == 5
    assert [t.name for t in defaults] == [
        "一般事项审批", "建设工程规划许可", "规划选址和设计方案联合审查", "危房重建议题",
        "政策文件会签"]
    assert all(t.name_en for t in defaults)
    permit = defaults.get("building_permit")
    assert permit is not None
    assert permit.green_channel_limit_factor == 0.5
    assert permit.fields == (
        FieldSpec("applicant", "建设单位", "Applicant", required=True, max_length=100),
        FieldSpec("site", "建设地点", "Site", required=True, max_length=200),
    )
    assert [t.green_channel_limit_factor for t in defaults if t.code != "building_permit"] == [
        None] * 4
    assert defaults.get("nope") is None


def test_default_steps(defaults: CaseTypes) -> None:
    def shape(code: str) -> list[tuple[Any, ...]]:
        case_type = defaults.get(code)
        assert case_type is not None
        return [(s.name, s.joint, s.timeout, [r.describe() for r in s.cc],
                 [(lane.name, lane.mode, [r.describe() for r in lane.assignees], lane.limit_days)
                  for lane in s.lanes]) for s in case_type.steps]

    none, escalate = TimeoutPolicy.NONE, TimeoutPolicy.ESCALATE
    a_or_b = ["project_leader", "leader_backup"]
    assert shape("item") == [
        ("分管领导审批", False, none, [], [("分管领导审批", StepMode.ANY, a_or_b, 3)])]
    assert shape("building_permit") == [
        ("处务会", False, none, [], [("处务会", StepMode.SINGLE, ["section_head"], 5)]),
        ("局长办公会", False, none, ["project_leader"],
         [("局长办公会", StepMode.ANY, ["{role: director}"], 3)]),
    ]
    assert shape("joint_review") == [
        ("联合审查", True, escalate, [], [
            ("建筑工程规划管理科", StepMode.ANY, ["{section: building}"], 10),
            ("市政规划科", StepMode.ANY, ["{section: municipal}"], 15)]),
        ("分管领导审定", False, none, [], [("分管领导审定", StepMode.ANY, a_or_b, 3)]),
    ]
    assert shape("rebuild_topic") == [
        ("准备议题材料", False, none, [], [("准备议题材料", StepMode.SINGLE, ["submitter"], 5)]),
        ("分管领导审核", False, escalate, [], [("分管领导审核", StepMode.ANY, a_or_b, 2)]),
    ]
    assert shape("policy_review") == [
        ("局领导会签", False, none, [], [("局领导会签", StepMode.ALL, ["{role: leader}"], 2)])]


def test_default_joint_limit_is_the_longest_lane(defaults: CaseTypes) -> None:
    review = defaults.get("joint_review")
    assert review is not None
    joint = review.steps[0]
    assert joint.joint and not review.steps[1].joint
    assert [lane.limit_days for lane in joint.lanes] == [10, 15]
    assert joint.limit_days == 15
    # Practice 5: an ordinary review takes no more than 30 working days.
    assert all(sum(s.limit_days for s in t.steps) <= 30 for t in defaults)


def test_default_deemed_approval_is_never_used(defaults: CaseTypes) -> None:
    assert {s.timeout for t in defaults for s in t.steps} == {
        TimeoutPolicy.NONE, TimeoutPolicy.ESCALATE}


def test_the_ladder_the_default_file_documents_is_the_default_ladder() -> None:
    """The commented ``ladder:`` in the packaged file's header, as a type's own ladder, is
    :data:`DEFAULT_LADDER`: the documentation says what the bot does."""
    header = default_case_types_path().read_text(encoding="utf-8").split("\ncase_types:")[0]
    lines = header.splitlines()
    start = lines.index("#     ladder:")
    block = []
    for line in lines[start:]:
        if not line.startswith("#     "):
            break
        yaml_part = re.sub(r"(\S)\s{2,}\S.*$", r"\1", line.removeprefix("#     "))
        block.append("    " + yaml_part)  # what follows two spaces or more is prose
    own = parse_case_types("case_types:\n  - code: x\n    name: X\n" + "\n".join(block) + """
    steps:
      - {name: 审批, mode: single, assignees: [project_leader], limit: 1}
""", "documented.yaml").get("x")
    assert own is not None and own.ladder == DEFAULT_LADDER


def test_the_default_file_loads_without_warnings(defaults: CaseTypes) -> None:
    assert defaults.warnings == ()


def test_default_references_exist_in_the_example_org(defaults: CaseTypes) -> None:
    org = parse_org(EXAMPLE_ORG.read_text(encoding="utf-8"), "org.yaml")
    sections = {s.code for s in org.sections}
    people = {p.key for p in org.people}
    assert defaults.referenced_sections() == {"building", "municipal"}
    assert defaults.referenced_sections() <= sections
    assert defaults.referenced_people() <= people
    assert defaults.unknown_references(people, sections) == ()
    held = {role for p in org.people if p.active for role in p.roles}
    assert defaults.referenced_roles() == {Role.DIRECTOR, Role.LEADER}
    assert defaults.referenced_roles() <= held
    # The bare selectors the defaults use resolve for every example project.
    heads = {s.code: s.head for s in org.sections}
    backups = {p.key: p.backup for p in org.people}
    for project in org.projects:
        assert project.leader is not None and backups[project.leader] is not None, project.code
        assert project.section is not None and heads[project.section] is not None, project.code


# --------------------------------------------------------------------------- parsing details


def test_a_minimal_type_and_its_defaults() -> None:
    types = parse(one_step(mode="single", assignees="[submitter]", limit="0"))
    (item,) = types.types
    assert item == CaseType("item", "事项", None, (StepSpec("审批", None, (
        LaneSpec("审批", None, StepMode.SINGLE, (AssigneeRule("submitter"),), 0),)),))
    assert item.steps[0].timeout is TimeoutPolicy.NONE  # deemed approval is never the default
    assert item.steps[0].cc == ()
    assert item.fields == ()
    assert item.green_channel_limit_factor is None
    assert types.warnings == ()


def test_explicit_values_are_kept() -> None:
    text = one_step(limit="365", extra=(
        "        timeout: deemed_approval\n"
        "        cc: [{section_head: legal}, {person: zhou}, project_guides]\n"
        "        name_en: Approval\n"
        "    green_channel_limit_factor: 1\n"
        "    fields:\n"
        "      - {key: site, label: 建设地点}\n"))
    (item,) = parse(text).types
    step = item.steps[0]
    assert step.timeout is TimeoutPolicy.DEEMED_APPROVAL
    assert step.cc == (AssigneeRule("section_head", "legal"), AssigneeRule("person", "zhou"),
                       AssigneeRule("project_guides"))
    assert step.name_en == "Approval" and step.lanes[0].name_en == "Approval"
    assert step.lanes[0].limit_days == 365
    assert item.green_channel_limit_factor == 1.0
    assert item.fields == (FieldSpec("site", "建设地点", None, required=False, max_length=200),)


def test_section_head_with_and_without_a_section() -> None:
    types = parse(one_step(assignees="[section_head, {section_head: legal}, {person: wang}]"))
    rules = types.types[0].steps[0].lanes[0].assignees
    assert rules == (AssigneeRule("section_head"), AssigneeRule("section_head", "legal"),
                     AssigneeRule("person", "wang"))
    assert [r.describe() for r in rules] == [
        "section_head", "{section_head: legal}", "{person: wang}"]
    assert types.referenced_sections() == {"legal"}
    assert types.referenced_people() == {"wang"}


def test_unknown_references_are_rendered_with_line_and_field() -> None:
    types = parse(one_step(assignees="[{person: chen}, {section: buildng}]",
                           extra="        cc: [{person: nobody}]\n"))
    assert types.referenced_people() == {"chen", "nobody"}
    assert types.unknown_references(people={"chen"}, sections={"building"}) == (
        "case_types.yaml line 7: case_types[0].steps[0].assignees[1].section:"
        " unknown section 'buildng' (not in the organisation)",
        "case_types.yaml line 9: case_types[0].steps[0].cc[0].person:"
        " unknown person 'nobody' (not in the organisation)",
    )
    assert types.unknown_references(people={"chen", "nobody"}, sections={"buildng"}) == ()
    built = CaseTypes(types.types)  # built in code, not parsed: no positions, same references
    assert built.referenced_people() == {"chen", "nobody"}
    assert built.referenced_sections() == {"buildng"}
    assert built.unknown_references(people={"chen"}, sections={"buildng"}) == (
        "item: 审批: unknown person 'nobody' (not in the organisation)",)


# --------------------------------------------------------------------------- errors


def test_the_briefs_example_message() -> None:
    text = ("case_types:\n"
            "  - code: item\n"
            "    name: 一般事项审批\n"
            "    steps:\n"
            "      - name: 分管领导审批\n"
            "        mode: any\n"
            "        assignees: [project_leader, leader_backup]\n"
            "        limit: 3\n"
            "  - code: building_permit\n"
            "    name: 建设工程规划许可\n"
            "    steps:\n"
            "      - name: 处务会\n"
            "        name_en: Section meeting\n"
            "        mode: both\n"
            "        assignees: [section_head]\n"
            "        limit: 5\n")
    with pytest.raises(CaseTypesError) as caught:
        parse(text)
    assert str(caught.value) == ("case_types.yaml line 14: case_types[1].steps[0].mode:"
                                 " must be one of single, all, any (got 'both')")
    (issue,) = caught.value.issues
    assert (issue.line, issue.path) == (14, "case_types[1].steps[0].mode")
    assert issue.message == "must be one of single, all, any (got 'both')"


def test_every_error_is_reported_with_line_and_field() -> None:
    with pytest.raises(CaseTypesError) as caught:
        load_case_types(DATA / "errors.yaml")
    where = f"{DATA / 'errors.yaml'} line"
    assert str(caught.value).splitlines() == [f"{where} {line}" for line in [
        f"8: case_types[0].steps[0].assignees[1]: unknown assignee 'boss'"
        f" (expected {SELECTOR_HELP})",
        "8: case_types[0].steps[0].assignees[2]: 'project_leader' is listed twice",
        "10: case_types[0].steps[0].timeout: must be one of none, escalate, deemed_approval"
        " (got 'later')",
        "11: case_types[0].steps[1].name: duplicate step name '审批' (first at line 6)",
        f"13: case_types[0].steps[1].assignees[0].role: must be one of {ROLES} (got 'chief')",
        "13: case_types[0].steps[1].assignees[1].team: unknown selector"
        " (expected one of: person, role, section, section_head)",
        "13: case_types[0].steps[1].assignees[2]: expected one key"
        " (person, role, section or section_head), got 2",
        "13: case_types[0].steps[1].assignees[3]: 'person' needs a value: {person: ...}",
        "14: case_types[0].steps[1].limit: must be between 0 and 365 working days (got -1)",
        "15: case_types[1].code: duplicate case type code 'item' (first at line 3)",
        "17: case_types[1].steps: a case type needs at least one step",
        "18: case_types[2].code: 'Bad-Code' is not a valid code"
        " (a-z, 0-9 and _, at most 24 characters)",
        "20: case_types[2].green_channel_limit_factor: must be greater than 0 and at most 1"
        " (got 1.5)",
        "22: case_types[2].fields[0].key: 'title' is reserved (the title is always asked)",
        "23: case_types[2].fields[1].max_length: must be between 1 and 1000 (got 0)",
        "24: case_types[2].fields[2].key: duplicate field key 'site' (first at line 23)",
        "24: case_types[2].fields[2].required: expected true or false, got 'maybe'",
        "27: case_types[2].steps[0].mode: not allowed in a joint step"
        " (each lane has its own mode)",
        "28: case_types[2].steps[0].joint: a joint step needs at least 2 lanes (got 1);"
        " for one department write mode, assignees and limit instead",
        "29: case_types[2].steps[0].joint[0].limit: must be between 0 and 365 working days"
        " (got 400)",
        "30: case_types[2].steps[0].cc: expected a list, got 'submitter'",
        "33: case_types[2].steps[1].joint[0].timeout: timeout belongs to the joint step,"
        " not to a lane (write it next to joint:)",
        "33: case_types[2].steps[1].joint[0].assignees: needs at least one assignee",
        "34: case_types[2].steps[1].joint[1].name: duplicate lane name '甲科' (first at line 33)",
        "34: case_types[2].steps[1].joint[1].limit: expected an integer, got '2.5'",
        "35: case_types[2].steps[2].mode: missing",
        "35: case_types[2].steps[2].assignees: missing",
        "35: case_types[2].steps[2].limit: missing",
        f"36: case_types[2].steps[2].color: unknown field (expected one of: {STEP_FIELDS})",
        "37: extra: unknown field (expected one of: case_types)",
    ]]
    assert len(caught.value.issues) == 30
    assert caught.value.issues[3].line == 11
    assert caught.value.issues[3].path == "case_types[0].steps[1].name"


ERROR_CASES: list[tuple[str, str, list[str]]] = [
    ("empty file", "", ["case_types.yaml line 1: the file is empty"]),
    ("only comments", "# nothing yet\n", ["case_types.yaml line 1: the file is empty"]),
    ("top is a list", "- item\n", ["case_types.yaml line 1: expected a mapping, got a list"]),
    ("no case types", "case_types:\n",
     ["case_types.yaml line 1: case_types: no case types (the file needs at least one)"]),
    ("case_types missing", "types: []\n",
     ["case_types.yaml line 1: types: unknown field (expected one of: case_types)",
      "case_types.yaml line 1: case_types: missing"]),
    ("type is not a mapping", "case_types: [item]\n",
     ["case_types.yaml line 1: case_types[0]: expected a mapping, got 'item'"]),
    ("type name missing",
     "case_types:\n  - code: item\n    steps: [{name: 审批, mode: any, assignees: [submitter],"
     " limit: 1}]\n",
     ["case_types.yaml line 2: case_types[0].name: missing"]),
    ("name empty", one_step().replace("name: 事项", "name: ''"),
     ["case_types.yaml line 3: case_types[0].name: empty"]),
    ("name too long", one_step().replace("name: 事项", "name: " + "事" * 101),
     ["case_types.yaml line 3: case_types[0].name: longer than 100 characters"]),
    ("code too long", one_step().replace("code: item", "code: " + "a" * 25),
     [f"case_types.yaml line 2: case_types[0].code: '{'a' * 25}' is not a valid code"
      " (a-z, 0-9 and _, at most 24 characters)"]),
    ("steps not a list", "case_types:\n  - {code: item, name: 事项, steps: {name: 审批}}\n",
     ["case_types.yaml line 2: case_types[0].steps: expected a list, got a mapping"]),
    ("step not a mapping", "case_types:\n  - {code: item, name: 事项, steps: [审批]}\n",
     ["case_types.yaml line 2: case_types[0].steps[0]: expected a mapping, got '审批'"]),
    ("field written twice", one_step(extra="        mode: all\n"),
     ["case_types.yaml line 9: case_types[0].steps[0].mode: duplicate field"
      " (first at line 6)"]),
    ("bad mode", one_step(mode="countersign"),
     ["case_types.yaml line 6: case_types[0].steps[0].mode: must be one of single, all, any"
      " (got 'countersign')"]),
    ("mode joint", one_step(mode="joint"),
     ["case_types.yaml line 6: case_types[0].steps[0].mode: must be one of single, all, any"
      " (got 'joint'); a joint step lists its departments under joint: instead"]),
    ("bad timeout", one_step(extra="        timeout: deemed\n"),
     ["case_types.yaml line 9: case_types[0].steps[0].timeout: must be one of none, escalate,"
      " deemed_approval (got 'deemed')"]),
    ("limit too long", one_step(limit="366"),
     ["case_types.yaml line 8: case_types[0].steps[0].limit: must be between 0 and 365"
      " working days (got 366)"]),
    ("limit negative", one_step(limit="-3"),
     ["case_types.yaml line 8: case_types[0].steps[0].limit: must be between 0 and 365"
      " working days (got -3)"]),
    ("limit a boolean", one_step(limit="true"),
     ["case_types.yaml line 8: case_types[0].steps[0].limit: expected an integer, got 'true'"]),
    ("limit a list", one_step(limit="[3]"),
     ["case_types.yaml line 8: case_types[0].steps[0].limit: expected a single value,"
      " got a list"]),
    ("assignees not a list", one_step(assignees="project_leader"),
     ["case_types.yaml line 7: case_types[0].steps[0].assignees: expected a list,"
      " got 'project_leader'"]),
    ("assignees empty", one_step(assignees="[]"),
     ["case_types.yaml line 7: case_types[0].steps[0].assignees: needs at least one assignee"]),
    ("unknown bare word", one_step(assignees="[leader]"),
     ["case_types.yaml line 7: case_types[0].steps[0].assignees[0]: unknown assignee 'leader'"
      f" (expected {SELECTOR_HELP})"]),
    ("keyed kind used bare", one_step(assignees="[role]"),
     ["case_types.yaml line 7: case_types[0].steps[0].assignees[0]: 'role' needs a value:"
      " {role: ...}"]),
    ("unknown selector kind", one_step(assignees="[{team: building}]"),
     ["case_types.yaml line 7: case_types[0].steps[0].assignees[0].team: unknown selector"
      " (expected one of: person, role, section, section_head)"]),
    ("selector with no key", one_step(assignees="[{}]"),
     ["case_types.yaml line 7: case_types[0].steps[0].assignees[0]: expected one key"
      " (person, role, section or section_head), got 0"]),
    ("selector is a list", one_step(assignees="[[project_leader]]"),
     ["case_types.yaml line 7: case_types[0].steps[0].assignees[0]: expected an assignee,"
      " got a list"]),
    ("selector is null", one_step(assignees="[~]"),
     ["case_types.yaml line 7: case_types[0].steps[0].assignees[0]: expected an assignee,"
      " got nothing"]),
    ("selector value empty", one_step(assignees="[{person: }]"),
     ["case_types.yaml line 7: case_types[0].steps[0].assignees[0].person: empty"]),
    ("selector value a list", one_step(assignees="[{person: [li, he]}]"),
     ["case_types.yaml line 7: case_types[0].steps[0].assignees[0].person: expected a single"
      " value, got a list"]),
    ("bad role", one_step(assignees="[{role: deputy}]"),
     ["case_types.yaml line 7: case_types[0].steps[0].assignees[0].role: must be one of"
      f" {ROLES} (got 'deputy')"]),
    ("bad section code", one_step(assignees="[{section: 'a b'}]"),
     ["case_types.yaml line 7: case_types[0].steps[0].assignees[0].section: 'a b' is not a"
      " valid section code (letters, digits, _ . -; at most 64 characters)"]),
    ("bad person key", one_step(assignees="[{person: '-li'}]"),
     ["case_types.yaml line 7: case_types[0].steps[0].assignees[0].person: '-li' is not a"
      " valid person key (letters, digits, _ . -; at most 64 characters)"]),
    ("keyed selector twice", one_step(assignees="[{role: leader}, {role: leader}]"),
     ["case_types.yaml line 7: case_types[0].steps[0].assignees[1]: '{role: leader}'"
      " is listed twice"]),
    ("bad cc", one_step(extra="        cc: [boss]\n"),
     ["case_types.yaml line 9: case_types[0].steps[0].cc[0]: unknown assignee 'boss'"
      f" (expected {SELECTOR_HELP})"]),
    ("factor zero", one_step(extra="    green_channel_limit_factor: 0\n"),
     ["case_types.yaml line 9: case_types[0].green_channel_limit_factor: must be greater than"
      " 0 and at most 1 (got 0)"]),
    ("factor negative", one_step(extra="    green_channel_limit_factor: -0.5\n"),
     ["case_types.yaml line 9: case_types[0].green_channel_limit_factor: must be greater than"
      " 0 and at most 1 (got -0.5)"]),
    ("factor a word", one_step(extra="    green_channel_limit_factor: half\n"),
     ["case_types.yaml line 9: case_types[0].green_channel_limit_factor: expected a number,"
      " got 'half'"]),
    ("factor a boolean", one_step(extra="    green_channel_limit_factor: true\n"),
     ["case_types.yaml line 9: case_types[0].green_channel_limit_factor: expected a number,"
      " got 'true'"]),
    ("factor infinite", one_step(extra="    green_channel_limit_factor: .inf\n"),
     ["case_types.yaml line 9: case_types[0].green_channel_limit_factor: expected a number,"
      " got '.inf'"]),
    ("fields not a list", one_step(extra="    fields: applicant\n"),
     ["case_types.yaml line 9: case_types[0].fields: expected a list, got 'applicant'"]),
    ("field key uppercase", one_step(extra="    fields: [{key: Site, label: 地点}]\n"),
     ["case_types.yaml line 9: case_types[0].fields[0].key: 'Site' is not a valid key"
      " (a-z, 0-9 and _, at most 24 characters)"]),
    ("field key title", one_step(extra="    fields: [{key: title, label: 标题}]\n"),
     ["case_types.yaml line 9: case_types[0].fields[0].key: 'title' is reserved"
      " (the title is always asked)"]),
    ("field label missing", one_step(extra="    fields: [{key: site}]\n"),
     ["case_types.yaml line 9: case_types[0].fields[0].label: missing"]),
    ("field too long", one_step(extra="    fields: [{key: site, label: 地点, max_length: 1001}]\n"),
     ["case_types.yaml line 9: case_types[0].fields[0].max_length: must be between 1 and 1000"
      " (got 1001)"]),
    ("field unknown attribute", one_step(extra="    fields: [{key: site, label: 地点, type: x}]\n"),
     ["case_types.yaml line 9: case_types[0].fields[0].type: unknown field"
      " (expected one of: key, label, label_en, required, max_length)"]),
    ("joint with mode, assignees and limit",
     joint_step(LANE_A, LANE_B, "        mode: any\n        assignees: [submitter]\n"
                "        limit: 3\n"),
     ["case_types.yaml line 9: case_types[0].steps[0].mode: not allowed in a joint step"
      " (each lane has its own mode)",
      "case_types.yaml line 10: case_types[0].steps[0].assignees: not allowed in a joint step"
      " (each lane has its own assignees)",
      "case_types.yaml line 11: case_types[0].steps[0].limit: not allowed in a joint step"
      " (each lane has its own limit)"]),
    ("joint with no lanes",
     "case_types:\n  - code: review\n    name: 联审\n    steps:\n      - {name: 联审, joint: []}\n",
     ["case_types.yaml line 5: case_types[0].steps[0].joint: a joint step needs at least"
      " 2 lanes (got 0); for one department write mode, assignees and limit instead"]),
    ("joint not a list",
     "case_types:\n  - code: review\n    name: 联审\n    steps:\n"
     "      - {name: 联审, joint: building}\n",
     ["case_types.yaml line 5: case_types[0].steps[0].joint: expected a list, got 'building'"]),
    ("lane with cc", joint_step(LANE_A, LANE_B.replace("limit: 15", "limit: 15, cc: [submitter]")),
     ["case_types.yaml line 8: case_types[0].steps[0].joint[1].cc: cc belongs to the joint"
      " step, not to a lane (write it next to joint:)"]),
    ("lane without name", joint_step(LANE_A, LANE_B.replace("name: 市政科, ", "")),
     ["case_types.yaml line 8: case_types[0].steps[0].joint[1].name: missing"]),
    ("lane with a bad mode", joint_step(LANE_A, LANE_B.replace("mode: any", "mode: or")),
     ["case_types.yaml line 8: case_types[0].steps[0].joint[1].mode: must be one of single,"
      " all, any (got 'or')"]),
]


@pytest.mark.parametrize(("text", "expected"), [(t, e) for _, t, e in ERROR_CASES],
                         ids=[name for name, _, _ in ERROR_CASES])
def test_error_message(text: str, expected: list[str]) -> None:
    assert errors_of(text) == expected


def test_invalid_yaml_names_the_line() -> None:
    lines = errors_of("case_types:\n  - code: item\n    name: [事项\n")
    assert len(lines) == 1
    assert lines[0].startswith("case_types.yaml line 4: invalid YAML: ")


def test_a_file_that_cannot_be_read(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(CaseTypesError) as caught:
        load_case_types(missing)
    assert str(caught.value).startswith(f"{missing}: cannot read the file: ")
    assert caught.value.issues[0].line is None


# --------------------------------------------------------------------------- warnings

SINGLE_WARNING = ("case_types.yaml line 7: case_types[0].steps[0].assignees: mode single, but"
                  " {problem}: only the first person found decides (" + MODE_HELP + ")")


@pytest.mark.parametrize(("assignees", "problem"), [
    ("[{role: director}]", "{role: director} may yield several people"),
    ("[{section: building}]", "{section: building} may yield several people"),
    ("[project_handlers]", "project_handlers may yield several people"),
    ("[project_guides]", "project_guides may yield several people"),
    ("[submitter, project_guides, {role: leader}]",
     "project_guides, {role: leader} may yield several people"),
    ("[project_leader, leader_backup]",
     "2 selectors are listed (project_leader, leader_backup)"),
])
def test_single_with_a_multi_person_selector_warns(assignees: str, problem: str) -> None:
    types = parse(one_step(mode="single", assignees=assignees))
    assert types.warnings == (SINGLE_WARNING.format(problem=problem),)
    assert types.types[0].steps[0].lanes[0].mode is StepMode.SINGLE  # loads all the same


@pytest.mark.parametrize(("mode", "assignees"), [
    ("single", "[submitter]"),
    ("single", "[project_leader]"),
    ("single", "[section_head]"),
    ("single", "[{section_head: legal}]"),
    ("single", "[{person: chen}]"),
    ("any", "[{role: leader}]"),
    ("all", "[{section: building}, project_handlers]"),
])
def test_no_warning(mode: str, assignees: str) -> None:
    assert parse(one_step(mode=mode, assignees=assignees)).warnings == ()


def test_single_in_a_joint_lane_warns_at_the_lane() -> None:
    types = parse(joint_step(LANE_A.replace("mode: any", "mode: single"), LANE_B))
    assert types.warnings == (
        "case_types.yaml line 7: case_types[0].steps[0].joint[0].assignees: mode single, but"
        f" {{section: building}} may yield several people: only the first person found decides"
        f" ({MODE_HELP})",)


# --------------------------------------------------------------------------- limits


def test_limit_for_the_green_channel(defaults: CaseTypes) -> None:
    permit = defaults.get("building_permit")
    assert permit is not None
    meeting, director = (step.lanes[0] for step in permit.steps)
    assert (permit.limit_for(meeting, False), permit.limit_for(meeting, True)) == (5, 3)
    assert (permit.limit_for(director, False), permit.limit_for(director, True)) == (3, 2)
    item = defaults.get("item")
    assert item is not None  # no factor: the green channel changes nothing
    assert item.limit_for(item.steps[0].lanes[0], True) == 3


@pytest.mark.parametrize(("factor", "limit", "green"), [
    ("0.5", 5, 3), ("0.5", 1, 1), ("0.5", 2, 1), ("0.5", 0, 0), ("0.5", 15, 8),
    ("0.28", 25, 7),  # exactly 7: float arithmetic gives 7.000000000000001, rounded up to 8
    ("0.1", 3, 1), ("1", 7, 7), ("0.75", 4, 3),
])
def test_limit_for_rounds_up_to_at_least_one(factor: str, limit: int, green: int) -> None:
    text = one_step(limit=str(limit), extra=f"    green_channel_limit_factor: {factor}\n")
    (case_type,) = parse(text).types
    lane = case_type.steps[0].lanes[0]
    assert case_type.limit_for(lane, green_channel=False) == limit
    assert case_type.limit_for(lane, green_channel=True) == green


def test_limit_for_a_joint_step_is_its_longest_lane() -> None:
    text = joint_step(LANE_A, LANE_B, "    green_channel_limit_factor: 0.5\n")
    (case_type,) = parse(text).types
    step = case_type.steps[0]
    assert step.limit_days == 15
    assert case_type.limit_for(step, False) == 15
    assert case_type.limit_for(step, True) == 8
    assert [case_type.limit_for(lane, True) for lane in step.lanes] == [5, 8]


# --------------------------------------------------------------------------- display names


def test_display_names(defaults: CaseTypes) -> None:
    permit = defaults.get("building_permit")
    review = defaults.get("joint_review")
    assert permit is not None and review is not None
    assert permit.display_name("zh") == "建设工程规划许可"
    assert permit.display_name("en") == "Construction works planning permit"
    assert permit.display_name("en-GB") == "Construction works planning permit"
    assert permit.display_name("EN_us") == "Construction works planning permit"
    assert permit.display_name("fr") == "建设工程规划许可"
    assert permit.steps[0].display_name("en") == "Section meeting"
    assert permit.steps[0].display_name("zh") == "处务会"
    assert permit.steps[0].lanes[0].display_name("en") == "Section meeting"
    assert [lane.display_name("en") for lane in review.steps[0].lanes] == [
        "Building permits section", "Municipal planning section"]
    assert [lane.display_name("zh") for lane in review.steps[0].lanes] == [
        "建筑工程规划管理科", "市政规划科"]
    assert [f.display_name("en") for f in permit.fields] == ["Applicant", "Site"]
    assert [f.display_name("zh") for f in permit.fields] == ["建设单位", "建设地点"]


def test_display_names_fall_back_to_chinese() -> None:
    text = joint_step(LANE_A, LANE_B, "    fields: [{key: site, label: 地点}]\n")
    (case_type,) = parse(text).types
    assert case_type.display_name("en") == "联合审查"
    assert case_type.steps[0].display_name("en") == "联审"
    assert [lane.display_name("en") for lane in case_type.steps[0].lanes] == ["Building", "市政科"]
    assert case_type.fields[0].display_name("en") == "地点"


# --------------------------------------------------------------------------- snapshots


def test_snapshots_round_trip_through_json(defaults: CaseTypes) -> None:
    for case_type in defaults:
        stored = json.loads(json.dumps(to_snapshot(case_type), ensure_ascii=False))
        assert from_snapshot(stored) == case_type


def test_snapshot_shape(defaults: CaseTypes) -> None:
    review = defaults.get("joint_review")
    assert review is not None
    snapshot = to_snapshot(review)
    assert snapshot["version"] == 1
    assert snapshot["code"] == "joint_review"
    assert snapshot["steps"][0]["timeout"] == "escalate"
    assert snapshot["steps"][0]["lanes"][1] == {
        "name": "市政规划科", "name_en": "Municipal planning section", "mode": "any",
        "assignees": [{"kind": "section", "value": "municipal"}], "limit_days": 15}
    assert snapshot["steps"][1]["lanes"][0]["assignees"] == [
        {"kind": "project_leader", "value": None}, {"kind": "leader_backup", "value": None}]


def test_a_snapshot_outlives_edits_to_the_file() -> None:
    before = parse(one_step(limit="3")).types[0]
    stored = json.dumps(to_snapshot(before))
    after = parse(one_step(limit="9", mode="all")).types[0]
    assert after != before
    restored = from_snapshot(json.loads(stored))
    assert restored == before
    assert (restored.steps[0].lanes[0].mode, restored.steps[0].limit_days) == (StepMode.ANY, 3)


def _broken(change: str) -> dict[str, Any]:
    snapshot = json.loads(json.dumps(to_snapshot(parse(one_step()).types[0])))
    lane = snapshot["steps"][0]["lanes"][0]
    if change == "version":
        del snapshot["version"]
    elif change == "steps":
        del snapshot["steps"]
    elif change == "no steps":
        snapshot["steps"] = []
    elif change == "mode":
        lane["mode"] = "both"
    elif change == "limit":
        lane["limit_days"] = 400
    elif change == "selector":
        lane["assignees"] = [{"kind": "boss", "value": None}]
    elif change == "lanes":
        snapshot["steps"][0]["lanes"] = []
    return snapshot


@pytest.mark.parametrize("change", [
    "version", "steps", "no steps", "mode", "limit", "selector", "lanes"])
def test_from_snapshot_rejects_broken_data(change: str) -> None:
    with pytest.raises(ValueError):
        from_snapshot(_broken(change))


def test_the_unbroken_snapshot_helper_is_valid() -> None:
    assert from_snapshot(_broken("nothing")) == parse(one_step()).types[0]


# --------------------------------------------------------------------------- the dataclasses


def test_constructors_refuse_impossible_values() -> None:
    rule = (AssigneeRule("submitter"),)
    with pytest.raises(ValueError):
        AssigneeRule("boss")
    with pytest.raises(ValueError):
        AssigneeRule("person")  # a keyed kind needs its value
    with pytest.raises(ValueError):
        AssigneeRule("role", "chief")
    with pytest.raises(ValueError):
        AssigneeRule("project_leader", "li")
    with pytest.raises(ValueError):
        LaneSpec("审批", None, StepMode.ANY, (), 3)
    with pytest.raises(ValueError):
        LaneSpec("审批", None, StepMode.ANY, rule, 366)
    with pytest.raises(ValueError):
        LaneSpec("审批", None, StepMode("joint"), rule, 3)  # a stored step's mode, not a lane's
    with pytest.raises(ValueError):
        StepSpec("审批", None, (LaneSpec("审批", None, StepMode.ANY, rule, 3),),
                 timeout="later")  # type: ignore[arg-type]
    plain = LaneSpec("审批", None, "any", rule, 3)  # type: ignore[arg-type]
    assert plain.mode is StepMode.ANY
    with pytest.raises(ValueError):
        StepSpec("审批", None, ())
    with pytest.raises(ValueError):
        FieldSpec("title", "标题")
    lane = LaneSpec("审批", None, StepMode.ANY, rule, 3)
    with pytest.raises(ValueError):
        CaseType("item", "事项", None, (StepSpec("审批", None, (lane,)),),
                 green_channel_limit_factor=0)
    with pytest.raises(ValueError):
        CaseType("item", "事项", None, ())


def test_equality_ignores_file_name_and_warnings() -> None:
    text = one_step(mode="single", assignees="[{role: director}]")
    a, b = parse_case_types(text, "a.yaml"), parse_case_types(text, "b.yaml")
    assert a == b
    assert a.warnings != b.warnings  # each names its own file
    assert a != parse(one_step(mode="any", assignees="[{role: director}]"))
