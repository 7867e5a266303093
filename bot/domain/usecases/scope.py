"""A person's scope: their unit and everything below it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from bot.domain.rules.scope import WHOLE, Scope
from bot.domain.rules.vocabulary import ChatKind
from storage.models import Chat, Person, Unit
from storage.store import Store

R = TypeVar("R")


async def unit_scope(store: Store, unit_id: int | None) -> Scope:
    """A unit's subtree; the root's (or no unit's) is the whole organisation."""
    unit = await store.get(Unit, unit_id) if unit_id is not None else None
    if unit is None or unit.parent_id is None:
        return WHOLE
    return Scope(await store.subtree_ids(unit.id))


async def scope_of(store: Store, person: Person) -> Scope:
    """The units ``person`` may see: a township's people their township, a district's their
    district and its townships, the city's (and a one-level bureau's) everything."""
    return await unit_scope(store, person.unit_id)


async def within_reach(store: Store, person: Person, unit_id: int | None) -> bool:
    """Whether ``person`` may read and act on a row of this unit: the one check every
    command, button and roll-up makes, so a forged callback is refused like a typed code.
    One's own unit needs no query (every row of a one-level bureau is)."""
    if person.unit_id is None or unit_id == person.unit_id:
        return True
    return (await scope_of(store, person)).covers(unit_id)


def nearest(chain: list[Unit], rows: Sequence[R], unit_of: Callable[[R], int | None]
            ) -> list[R]:
    """The rows of the first unit of ``chain`` (a unit, then the units above it) that has
    any; a row with no unit is the root's. Without units, every row."""
    if not chain:
        return list(rows)
    root = chain[-1].id
    for unit in chain:
        found = [row for row in rows if (unit_of(row) or root) == unit.id]
        if found:
            return found
    return []


async def nearest_with_role(store: Store, unit_id: int | None, role: str) -> list[Person]:
    """Who holds ``role`` for a project of this unit: the unit's own holders, else those of
    the nearest unit above that has any (a township without a director answers to its
    district's). A bureau of one level: everyone with the role."""
    return nearest(await store.unit_chain(unit_id), await store.people_with_role(role),
                   lambda person: person.unit_id)


async def nearest_chats(store: Store, unit_id: int | None, kind: ChatKind) -> list[Chat]:
    """The chats of ``kind`` that serve this unit: its own, else the nearest above."""
    return nearest(await store.unit_chain(unit_id), await store.chats_of_kind(kind),
                   lambda chat: chat.unit_id)


async def scope_of_chat(store: Store, chat: Chat) -> Scope:
    """What a leaders' or supervision chat is told about: its unit's subtree."""
    return await unit_scope(store, chat.unit_id)
