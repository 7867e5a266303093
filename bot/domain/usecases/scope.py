"""A person's scope: their unit and everything below it."""

from __future__ import annotations

from bot.domain.rules.scope import WHOLE, Scope
from storage.models import Chat, Person, Unit
from storage.store import Store


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


async def scope_of_chat(store: Store, chat: Chat) -> Scope:
    """What a leaders' or supervision chat is told about: its unit's subtree."""
    return await unit_scope(store, chat.unit_id)
