"""Who may read what, and where it may be shown: one rule each, for every command and button.

A project's things (its cases, their missing materials, its cards) are read by the people
who work on it and by those who oversee every project; they are shown in a private chat or in
that project's own group, never in another project's group nor in a group the bureau does not
know, where anyone could be reading.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.rules.errors import NotAllowed, NotShownHere
from bot.domain.rules.vocabulary import Role
from bot.domain.usecases.people import Actor, may_report
from bot.domain.usecases.scope import within_reach
from storage.models import Case, Project
from storage.store import Store


@dataclass(frozen=True)
class Place:
    """Where a command was typed: in private, or in a group (with the project it works on,
    and whether the bureau knows the group at all)."""

    private: bool
    project_id: int | None = None
    known: bool = False


async def may_read_project(store: Store, actor: Actor, project: Project) -> bool:
    """Whoever reports on it (its handlers, guides, leader, its section's handlers, admins),
    and the director and the supervision office, who oversee every project of their unit's
    reach."""
    if actor.has(Role.DIRECTOR, Role.SUPERVISOR):
        return await within_reach(store, actor.person, project.unit_id)
    return await may_report(store, actor, project)


async def require_case_reader(store: Store, actor: Actor, case: Case) -> Project:
    """The case's project, if the actor may read the case: as one who may read its project,
    or as one who holds or held a turn in it (a department from another section)."""
    project = await store.get(Project, case.project_id)
    assert project is not None
    if not (await may_read_project(store, actor, project)
            or await store.has_turn_in(case.id, actor.id)):
        raise NotAllowed(action="read", project=project.code)
    return project


def require_shown_here(project: Project, place: Place) -> None:
    """A project's things are shown in private or in its own group only."""
    if not place.private and place.project_id != project.id:
        raise NotShownHere(code=project.code)


def require_known_place(place: Place) -> None:
    """Bureau-wide lists (the roll-up) are shown in private or in a chat the bureau knows."""
    if not place.private and not place.known:
        raise NotShownHere(code=None)
