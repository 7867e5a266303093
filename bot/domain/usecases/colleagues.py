"""Whom a turn may be handed to (🔁 transfer, ➕ add a signer): the people picker lists them,
and the press on a name and the change itself check the same rule (``why_not_hand_turn``)."""

from __future__ import annotations

from bot.domain.rules.errors import NotAllowed
from bot.domain.rules.turns import Colleague, busy_in_lane, why_not_hand_turn
from bot.domain.usecases.people import Actor
from storage.models import Assignment, Case, Person, Project, Step
from storage.store import Store


async def turn_candidates(store: Store, actor: Actor, step: Step,
                          mine: Assignment) -> list[Person]:
    """Everyone ``actor`` may hand their turn ``mine`` in ``step`` to, in id order."""
    submitter_id, busy, reach = await _step_context(store, step, mine)
    with_roles = await store.people_holding_roles()
    return [p for p in await store.active_people()
            if why_not_hand_turn(_colleague(p, p.id in with_roles, reach), actor_id=actor.id,
                                 submitter_id=submitter_id, busy=busy) is None]


async def check_candidate(store: Store, actor: Actor, step: Step, mine: Assignment,
                          person_id: int) -> Person:
    """The person ``actor`` may hand their turn to; refuses (NotAllowed) saying why not."""
    submitter_id, busy, reach = await _step_context(store, step, mine)
    person = await store.get(Person, person_id)
    colleague = None
    if person is not None:
        colleague = _colleague(person, bool(await store.roles_of(person_id)), reach)
    why = why_not_hand_turn(colleague, actor_id=actor.id, submitter_id=submitter_id, busy=busy)
    if why is not None:
        raise NotAllowed(action=why)
    assert person is not None
    return person


async def _step_context(store: Store, step: Step, mine: Assignment
                        ) -> tuple[int | None, set[int], set[int] | None]:
    """The submitter, who is busy in the lane, and the units whose people reach the case's
    project (its unit and those above it; None: a bureau of one level)."""
    case = await store.get(Case, step.case_id)
    busy = busy_in_lane(await store.assignments(step.id), mine.lane_id)
    project = await store.get(Project, case.project_id) if case else None
    chain = await store.unit_chain(project.unit_id if project else None)
    return (case.submitter_id if case else None), busy, ({u.id for u in chain} or None)


def _colleague(person: Person, has_role: bool, reach: set[int] | None) -> Colleague:
    reaches = reach is None or person.unit_id is None or person.unit_id in reach
    return Colleague(id=person.id, active=person.active,
                     on_telegram=person.tg_user_id is not None, has_role=has_role,
                     reaches=reaches)
