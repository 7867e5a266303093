"""Key projects kept current from chat: a milestone marked reached, a milestone's due date
moved (with a reason), a project's status changed. Each is audited and remembered as made in
chat, so that the org file's next import keeps it instead of undoing it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.domain.rules.errors import (
    BadDate,
    EmptyText,
    MilestoneReached,
    NoMilestone,
    NotAllowed,
    TooLong,
    UnknownStatus,
)
from bot.domain.rules.policy import Policy
from bot.domain.rules.vocabulary import ProjectStatus, Role
from bot.domain.usecases.people import Actor, may_report
from bot.domain.usecases.scope import within_reach
from storage.models import Milestone, Project
from storage.store import Store

# What a status may be called in a command: its stored name, or its words in either language.
STATUS_WORDS: dict[str, ProjectStatus] = {
    **{status.value: status for status in ProjectStatus},
    "提前介入": ProjectStatus.PRE_INTERVENTION, "推进中": ProjectStatus.IN_PROGRESS,
    "已办结": ProjectStatus.DONE, "已办结待跟进": ProjectStatus.DONE_FOLLOW_UP,
    "已办结需跟进": ProjectStatus.DONE_FOLLOW_UP,
    "early": ProjectStatus.PRE_INTERVENTION, "progress": ProjectStatus.IN_PROGRESS,
    "follow-up": ProjectStatus.DONE_FOLLOW_UP,
}


@dataclass(frozen=True)
class Changed:
    project: Project
    milestone: Milestone | None  # the milestone changed (None: the project's status)
    due_before: date | None = None
    status_before: ProjectStatus | None = None
    reason: str = ""  # why a due date moved, as recorded


async def may_steer(store: Store, actor: Actor, project: Project) -> bool:
    """Due dates and status are the leader in charge's to change (and the director's and
    administrators' of a unit that reaches the project)."""
    if actor.id == project.leader_id:
        return True
    return actor.has(Role.DIRECTOR, Role.ADMIN) and await within_reach(store, actor.person,
                                                                       project.unit_id)


async def pick_milestone(store: Store, project: Project, which: str) -> Milestone:
    """By number (1, 2 …), by a part of its title, or (empty) the first not yet reached."""
    milestones = await store.milestones(project.id)
    which = which.strip()
    if not which:
        found = next((m for m in milestones if m.done_on is None), None)
    elif which.isdigit():
        found = next((m for m in milestones if m.seq == int(which)), None)
    else:
        matches = [m for m in milestones if which in m.title]
        found = matches[0] if len(matches) == 1 else None
    if found is None:
        raise NoMilestone(project=project.code, which=which)
    return found


async def mark_reached(store: Store, actor: Actor, project: Project, milestone: Milestone, *,
                       now: datetime, today: date) -> Changed:
    """Whoever may report on the project may say a milestone was reached. Flushes."""
    if not await may_report(store, actor, project):
        raise NotAllowed(action="milestone", project=project.code)
    if milestone.project_id != project.id:
        raise NoMilestone(project=project.code, which=str(milestone.seq))
    if milestone.done_on is not None:
        raise MilestoneReached(title=milestone.title, on=milestone.done_on)
    milestone.done_on, milestone.changed_in_chat_at = today, now
    await store.save(milestone)
    await store.audit(at=now, actor_id=actor.id, action="milestone.reached",
                      subject=f"project:{project.code}",
                      data={"milestone": milestone.seq, "title": milestone.title,
                            "on": today.isoformat()})
    return Changed(project, milestone)


async def move_due(store: Store, actor: Actor, project: Project, milestone: Milestone,
                   due: date, reason: str, *, now: datetime, today: date,
                   policy: Policy) -> Changed:
    """The leader in charge moves a milestone's due date, saying why. Flushes."""
    if not await may_steer(store, actor, project):
        raise NotAllowed(action="steer", project=project.code)
    reason = " ".join(reason.split())
    if not reason:
        raise EmptyText(what="due_reason")
    if len(reason) > policy.reason_max_chars:
        raise TooLong(length=len(reason), limit=policy.reason_max_chars)
    if milestone.done_on is not None:
        raise MilestoneReached(title=milestone.title, on=milestone.done_on)
    if due < today:
        raise BadDate(text=due.isoformat(), past=True)
    before = milestone.due_on
    milestone.due_on, milestone.changed_in_chat_at = due, now
    await store.save(milestone)
    await store.audit(at=now, actor_id=actor.id, action="milestone.due_moved",
                      subject=f"project:{project.code}",
                      data={"milestone": milestone.seq, "title": milestone.title,
                            "from": before.isoformat(), "to": due.isoformat(),
                            "reason": reason})
    return Changed(project, milestone, due_before=before, reason=reason)


async def set_status(store: Store, actor: Actor, project: Project, word: str, *,
                     now: datetime) -> Changed:
    """The leader in charge changes the project's status. Flushes."""
    if not await may_steer(store, actor, project):
        raise NotAllowed(action="steer", project=project.code)
    status = STATUS_WORDS.get(word.strip().lower()) or STATUS_WORDS.get(word.strip())
    if status is None:
        raise UnknownStatus(word=word.strip())
    before = project.status
    if status != before:
        project.status, project.status_changed_in_chat_at = status, now
        await store.save(project)
        await store.audit(at=now, actor_id=actor.id, action="project.status",
                          subject=f"project:{project.code}",
                          data={"from": before.value, "to": status.value})
    return Changed(project, None, status_before=before)
