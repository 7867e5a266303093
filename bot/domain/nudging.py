"""Deadline nudges: yellow before the limit, red after, to the handler and the guide.

A nudge is *claimed* (a row under a unique key) and committed before it is sent, so a
level goes to a person once, whatever restarts or a second process do. A claim that was
never marked sent (the process died in between) is delivered by a later sweep once it
is older than :data:`ABANDONED_AFTER`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.calendar import DayCount, WorkCalendar
from bot.domain.lights import light
from bot.domain.policy import Policy
from bot.domain.vocabulary import Light, MemberRole, NudgeLevel
from storage.models import Case, Nudge, Person, Project, Step
from storage.store import Store

ABANDONED_AFTER = timedelta(minutes=5)
STEP = "step"


@dataclass
class PlannedNudge:
    nudge: Nudge
    person: Person
    step: Step
    case: Case
    project: Project
    level: NudgeLevel
    left: DayCount


def level_for(step_light: Light) -> NudgeLevel | None:
    return {Light.YELLOW: NudgeLevel.YELLOW, Light.RED: NudgeLevel.RED}.get(step_light)


async def recipients(store: Store, case: Case, project: Project) -> list[Person]:
    """The case's handler and the project's guides, each once."""
    people: dict[int, Person] = {}
    submitter = await store.get(Person, case.submitter_id)
    assert project.id is not None
    for person in [submitter, *await store.members(project.id, MemberRole.GUIDE)]:
        if person is not None and person.id is not None and person.active:
            people.setdefault(person.id, person)
    return list(people.values())


async def plan(store: Store, now: datetime, calendar: WorkCalendar,
               policy: Policy) -> list[PlannedNudge]:
    """Claim every nudge that is due now (and re-take abandoned claims); commits."""
    planned: list[PlannedNudge] = []
    for step in await store.open_steps():
        if step.due_at is None or step.id is None:
            continue
        level = level_for(light(now, step.due_at, calendar, policy))
        if level is None:
            continue
        case = await store.get(Case, step.case_id)
        project = await store.get(Project, case.project_id) if case else None
        if case is None or project is None:
            continue
        left = calendar.remaining_working_days(now, step.due_at)
        for person in await recipients(store, case, project):
            assert person.id is not None
            nudge = await store.claim_nudge(target_kind=STEP, target_id=step.id,
                                            person_id=person.id, level=level, now=now)
            if nudge is not None:
                planned.append(PlannedNudge(nudge, person, step, case, project, level, left))
    planned.extend(await _abandoned(store, now, calendar, {p.nudge.id for p in planned}))
    await store.commit()
    return planned


async def _abandoned(store: Store, now: datetime, calendar: WorkCalendar,
                     skip: set[int | None]) -> list[PlannedNudge]:
    again = []
    for nudge in await store.unsent_nudges():
        if nudge.id in skip or nudge.created_at > now - ABANDONED_AFTER:
            continue
        if nudge.target_kind != STEP:
            continue
        step = await store.get(Step, nudge.target_id)
        case = await store.get(Case, step.case_id) if step else None
        project = await store.get(Project, case.project_id) if case else None
        person = await store.get(Person, nudge.person_id)
        if step is None or case is None or project is None or person is None:
            continue
        if step.state != "open" or step.due_at is None:
            nudge.channel, nudge.sent_at, nudge.error = "none", now, "step closed"
            continue
        nudge.created_at = now  # re-claimed: another sweep will not take it for a while
        left = calendar.remaining_working_days(now, step.due_at)
        again.append(PlannedNudge(nudge, person, step, case, project,
                                  NudgeLevel(nudge.level), left))
    return again


async def mark_sent(store: Store, nudge: Nudge, *, channel: str, at: datetime,
                    error: str | None = None) -> None:
    """Record how a claimed nudge went out (private, group, or none with the reason)."""
    nudge.channel, nudge.sent_at, nudge.error = channel, at, error
    await store.save(nudge)
    await store.audit(at=at, actor_id=None, action=f"nudge.{nudge.level}",
                      subject=f"{nudge.target_kind}:{nudge.target_id}",
                      data={"person": nudge.person_id, "channel": channel, "error": error})
    await store.commit()
