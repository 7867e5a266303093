"""Who an assignee rule means for a case, and who acts while someone is out of office.

Rules come from the case type (``project_leader``, ``{role: director}``, ``{section:
building}``…). Delegation applies when an assignment is made: if the person is away
that day, the assignment goes to their delegate and records "B for A".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.domain.rules.casetypes import AssigneeRule
from bot.domain.rules.vocabulary import MemberRole
from bot.domain.usecases.scope import nearest_with_role
from storage.models import Case, Person, Project, Section
from storage.store import Store


@dataclass(frozen=True)
class Assignee:
    person: Person
    on_behalf_of: Person | None = None  # set when ``person`` acts for someone who is away

    @property
    def id(self) -> int:
        return self.person.id


async def resolve(store: Store, rule: AssigneeRule, case: Case, project: Project) -> list[Person]:
    """The active people a rule names for this case, in a stable order."""
    people: list[Person | None]
    match rule.kind:
        case "project_leader":
            people = [await store.get(Person, project.leader_id) if project.leader_id else None]
        case "leader_backup":
            leader = await store.get(Person, project.leader_id) if project.leader_id else None
            people = [await store.get(Person, leader.backup_id)
                      if leader is not None and leader.backup_id else None]
        case "submitter":
            people = [await store.get(Person, case.submitter_id)]
        case "project_handlers" | "project_guides":
            role = MemberRole.HANDLER if rule.kind == "project_handlers" else MemberRole.GUIDE
            people = list(await store.members(project.id, role))
        case "section_head":  # bare: the project's responsible section; or a named one
            if rule.value:
                section = await store.section_by_code(str(rule.value))
            else:
                section = (await store.get(Section, project.section_id)
                           if project.section_id else None)
            people = [await _head(store, section)]
        case "person":
            people = [await store.person_by_key(str(rule.value))]
        case "role":  # the project's unit's, else the nearest unit's above
            people = list(await nearest_with_role(store, project.unit_id, str(rule.value)))
        case "section":
            section = await store.section_by_code(str(rule.value))
            people = list(await store.section_people(section.id)) if section else []
        case _:
            raise ValueError(f"unknown assignee rule {rule.kind!r}")
    return [p for p in people if p is not None and p.active]


async def resolve_all(store: Store, rules: tuple[AssigneeRule, ...], case: Case,
                      project: Project) -> list[Person]:
    """Everyone the rules name, each once, in rule order."""
    found: dict[int, Person] = {}
    for rule in rules:
        for person in await resolve(store, rule, case, project):
            found.setdefault(person.id, person)
    return list(found.values())


async def away_delegate(store: Store, person: Person, day: date) -> Person | None:
    """The delegate of someone out of office on ``day`` (the latest arrangement wins)."""
    for delegation in reversed(await store.absences(person.id or 0)):
        if delegation.starts_on <= day <= delegation.ends_on:
            delegate = await store.get(Person, delegation.delegate_id)
            if delegate is not None and delegate.active:
                return delegate
    return None


MAX_HOPS = 5  # A away to B, B away to C, …: followed this far, and never in a circle


async def acting_for(store: Store, person: Person, day: date) -> Person | None:
    """Who acts for ``person`` on ``day``: their delegate, or the delegate's delegate when the
    delegate is away too; None when the person is in."""
    current, seen = person, {person.id}
    for _hop in range(MAX_HOPS):
        delegate = await away_delegate(store, current, day)
        if delegate is None or delegate.id in seen:
            break
        seen.add(delegate.id)
        current = delegate
    return current if current.id != person.id else None


async def with_delegation(store: Store, people: list[Person], day: date) -> list[Assignee]:
    """Each person, or whoever acts for them when they are away; nobody twice."""
    assignees: list[Assignee] = []
    seen: set[int | None] = set()
    for person in people:
        delegate = await acting_for(store, person, day)
        assignee = Assignee(delegate, person) if delegate else Assignee(person)
        if assignee.person.id not in seen:
            seen.add(assignee.person.id)
            assignees.append(assignee)
    return assignees


async def _head(store: Store, section: Section | None) -> Person | None:
    if section is None or section.head_id is None:
        return None
    return await store.get(Person, section.head_id)
