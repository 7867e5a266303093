"""Key projects: the roll-up leaders read at a glance, and linking a group to a project."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.errors import GroupTaken, NotAllowed, ProjectHasGroup, UnknownProject
from bot.domain.rules.lights import light, worst
from bot.domain.rules.policy import Policy
from bot.domain.rules.scope import WHOLE, Scope
from bot.domain.rules.vocabulary import ChatKind, Light, ProjectStatus, Role
from bot.domain.usecases.people import Actor
from bot.domain.usecases.reporting import MilestoneStatus, current_milestone
from bot.domain.usecases.scope import within_reach
from storage.models import Chat, Project
from storage.store import Store

_DONE = {ProjectStatus.DONE, ProjectStatus.DONE_FOLLOW_UP}


@dataclass
class ProjectLine:
    project: Project
    light: Light | None  # None for a finished project
    milestone: MilestoneStatus | None
    open_cases: int


async def project_light(store: Store, project: Project, now: datetime, calendar: WorkCalendar,
                        policy: Policy) -> tuple[Light | None, MilestoneStatus | None, int]:
    """The worst of the current milestone's light and the open steps' lights."""
    milestone = await current_milestone(store, project, now, calendar, policy)
    lights = [milestone.light] if milestone else []
    open_cases = await store.pending_cases(project.id)
    for step in await store.open_steps_of_project(project.id):
        if step.due_at is not None:
            lights.append(light(now, step.due_at, calendar, policy, step.limit_days))
    if project.status in _DONE:
        return None, milestone, len(open_cases)
    return worst(lights), milestone, len(open_cases)


async def overview(store: Store, now: datetime, calendar: WorkCalendar,
                   policy: Policy, scope: Scope = WHOLE) -> list[ProjectLine]:
    """Every project of the scope, late ones first, then by code."""
    lines = []
    for project in await store.projects(scope):
        project_light_, milestone, open_cases = await project_light(
            store, project, now, calendar, policy)
        lines.append(ProjectLine(project, project_light_, milestone, open_cases))
    order = {Light.RED: 0, Light.YELLOW: 1, Light.GREEN: 2, None: 3}
    return sorted(lines, key=lambda line: (order[line.light], line.project.code))


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
