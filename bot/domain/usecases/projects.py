"""Key projects: the roll-up leaders read at a glance, and linking a group to a project."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.errors import (
    GroupTaken,
    NotAllowed,
    ProjectHasGroup,
    UnknownProject,
    UnknownUnit,
)
from bot.domain.rules.lights import light, worst
from bot.domain.rules.policy import Policy
from bot.domain.rules.scope import WHOLE, Scope
from bot.domain.rules.vocabulary import ChatKind, Light, ProjectStatus, Role
from bot.domain.usecases.people import Actor
from bot.domain.usecases.reporting import MilestoneStatus, milestone_status
from bot.domain.usecases.scope import scope_of, unit_scope, within_reach
from storage.models import Chat, Person, Project, Unit
from storage.store import Store

_DONE = {ProjectStatus.DONE, ProjectStatus.DONE_FOLLOW_UP}


@dataclass
class ProjectLine:
    project: Project
    light: Light | None  # None for a finished project
    milestone: MilestoneStatus | None
    open_cases: int


async def overview(store: Store, now: datetime, calendar: WorkCalendar,
                   policy: Policy, scope: Scope = WHOLE) -> list[ProjectLine]:
    """Every project of the scope with the worst of its current milestone's light and its
    open steps' lights, late ones first, then by code: four queries however many projects
    (a city's roll-up reads a province's steps), and each distinct due's light worked out
    once."""
    projects = await store.projects(scope)
    first: dict[int, MilestoneStatus] = {}
    for milestone in await store.open_milestones(scope):
        if milestone.project_id not in first:
            first[milestone.project_id] = milestone_status(milestone, now, calendar, policy)
    lights: dict[int, list[Light]] = {}
    seen: dict[tuple[datetime, int], Light] = {}
    for project_id, due, limit_days in await store.open_step_dues(scope):
        if (due, limit_days) not in seen:
            seen[due, limit_days] = light(now, due, calendar, policy, limit_days)
        lights.setdefault(project_id, []).append(seen[due, limit_days])
    pending = await store.pending_case_counts(scope)
    lines = []
    for project in projects:
        current = first.get(project.id)
        project_lights = lights.get(project.id, []) + ([current.light] if current else [])
        lines.append(ProjectLine(project, None if project.status in _DONE else
                                 worst(project_lights), current, pending.get(project.id, 0)))
    order = {Light.RED: 0, Light.YELLOW: 1, Light.GREEN: 2, None: 3}
    return sorted(lines, key=lambda line: (order[line.light], line.project.code))


@dataclass(frozen=True)
class UnitLine:
    """A unit below the roll-up's top, with what its subtree's projects show."""

    unit: Unit
    projects: int
    red: int
    yellow: int


@dataclass
class RollUp:
    top: Unit | None  # whose subtree (None: a bureau without units)
    lines: list[ProjectLine]
    below: list[UnitLine]  # the top's child units, to drill into
    up: Unit | None  # the top's parent, when the asker reaches it
    levels: bool  # the organisation has more than one unit: say whose roll-up it is


async def roll_up(store: Store, person: Person, now: datetime, calendar: WorkCalendar,
                  policy: Policy, unit: str | int | None = None) -> RollUp:
    """``/projects``: the projects of the asker's subtree, or of a unit within it (by code,
    name or id: a drill-down), with the top's child units summed up. A unit outside the
    asker's reach is refused as unknown."""
    reach = await scope_of(store, person)
    units = await store.units()
    if unit is None:
        top = next((u for u in units if u.id == person.unit_id), None)
        top = top or next((u for u in units if u.parent_id is None), None)
    else:
        top = (next((u for u in units if u.id == unit), None) if isinstance(unit, int)
               else await store.unit_by_code_or_name(unit))
        if top is None or not reach.covers(top.id):
            raise UnknownUnit(code=str(unit))
    scope = reach if top is None else (await unit_scope(store, top.id)).within(reach)
    lines = await overview(store, now, calendar, policy, scope)
    below = []
    for child in (u for u in units if top is not None and u.parent_id == top.id):
        inside = {u.id for u in units if u.path.startswith(child.path)}
        mine = [line for line in lines if line.project.unit_id in inside]
        below.append(UnitLine(child, len(mine), sum(ln.light is Light.RED for ln in mine),
                              sum(ln.light is Light.YELLOW for ln in mine)))
    up = next((u for u in units if top is not None and u.id == top.parent_id
               and reach.covers(u.id)), None)
    return RollUp(top, lines, below, up, len(units) > 1)


def rollup(lines: list[ProjectLine]) -> Counter[str]:
    return Counter(line.project.status for line in lines)


async def bind_group(store: Store, actor: Actor, code: str, *, tg_chat_id: int, title: str,
                     now: datetime, move: bool = False) -> Project:
    """Make this group the project's work group (admins only). A group works on one project:
    one that is another's is refused; a project's work group elsewhere is moved here only
    when ``move`` says so. Flushes; the edge commits."""
    if not actor.has(Role.ADMIN):
        raise NotAllowed(action="bind")
    project = await store.project_by_code(code)
    if project is None:
        raise UnknownProject(code=code)
    if not await within_reach(store, actor.person, project.unit_id):
        raise NotAllowed(action="bind")
    chat = await store.chat_by_tg(tg_chat_id)
    owner = await store.project_of_chat(chat.id) if chat and chat.id else None
    if owner is not None and owner.id != project.id:
        raise GroupTaken(code=owner.code, wanted=project.code)
    current = await store.chat_of(project)
    if current is not None and current.tg_chat_id != tg_chat_id and not move:
        raise ProjectHasGroup(code=project.code, title=current.title or "")
    if chat is None:
        chat = await store.save(Chat(tg_chat_id=tg_chat_id, kind=ChatKind.PROJECT, title=title,
                                     unit_id=project.unit_id))
    else:
        chat.kind, chat.title, chat.unit_id = ChatKind.PROJECT, title, project.unit_id
    project.chat_id = chat.id
    await store.audit(at=now, actor_id=actor.id, action="project.bound",
                      subject=f"project:{project.code}",
                      data={"tg_chat_id": tg_chat_id,
                            "moved_from": current.tg_chat_id if current is not None
                            and current.tg_chat_id != tg_chat_id else None})
    await store.flush()
    return project
