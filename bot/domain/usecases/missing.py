"""Accepted with missing materials (容缺受理): what a case still owes, and by when.

The handler or the guide lists each missing item with its supply-by date; the deadline
sweep pings them yellow and red for it like any other deadline; ticking it off stops that.
"""

from __future__ import annotations

from datetime import date, datetime

from bot.domain.rules.errors import BadDate, CaseClosed, EmptyText, StaleCard, TooLong, UnknownItem
from bot.domain.rules.vocabulary import CLOSED_CASE_STATES, CaseState
from bot.domain.usecases.access import Place, require_case_reader, require_shown_here
from bot.domain.usecases.people import Actor, require_reporter
from storage.models import Case, MissingItem, Project
from storage.store import Store

NAME_MAX = 200


async def _case(store: Store, actor: Actor, case_id: int, place: Place) -> Case:
    """The case, to change what it owes: its project's reporters, where it may be shown."""
    case = await store.get(Case, case_id)
    if case is None:
        raise StaleCard()
    project = await store.get(Project, case.project_id)
    assert project is not None
    await require_reporter(store, actor, project)  # its handlers, guides, leader, admins
    require_shown_here(project, place)
    return case


async def add_missing(store: Store, actor: Actor, case_id: int, *, name: str, supply_by: date,
                      today: date, now: datetime, place: Place) -> MissingItem:
    case = await _case(store, actor, case_id, place)
    if case.state in CLOSED_CASE_STATES - {CaseState.APPROVED}:
        raise CaseClosed(state=case.state)
    name = " ".join(name.split())
    if not name:
        raise EmptyText(what="missing")
    if len(name) > NAME_MAX:
        raise TooLong(length=len(name), limit=NAME_MAX)
    if supply_by < today:
        raise BadDate(text=supply_by.isoformat())
    item = await store.save(MissingItem(case_id=case_id, name=name, supply_by=supply_by,
                                        created_at=now, created_by_id=actor.id))
    await store.audit(at=now, actor_id=actor.id, action="missing.listed",
                      subject=f"case:{case_id}",
                      data={"item": item.id, "name": name, "by": supply_by.isoformat()})
    await store.flush()
    return item


async def mark_supplied(store: Store, actor: Actor, case_id: int, *, name: str,
                        now: datetime, place: Place) -> MissingItem:
    await _case(store, actor, case_id, place)
    wanted = " ".join(name.split())
    for item in await store.open_missing(case_id):
        if item.name == wanted:
            item.supplied_at = now
            await store.audit(at=now, actor_id=actor.id, action="missing.supplied",
                              subject=f"case:{case_id}", data={"item": item.id})
            await store.flush()
            return item
    raise UnknownItem(name=wanted)


async def missing_of(store: Store, actor: Actor, case_id: int,
                     place: Place) -> list[MissingItem]:
    """What the case owes, for those who may read it, where it may be shown."""
    case = await store.get(Case, case_id)
    if case is None:
        raise StaleCard()
    require_shown_here(await require_case_reader(store, actor, case), place)
    return await store.missing_items(case_id)
