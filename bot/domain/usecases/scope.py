"""A person's scope: their unit and everything below it."""

from __future__ import annotations

from bot.domain.rules.scope import WHOLE, Scope
from storage.models import Person
from storage.store import Store


async def scope_of(store: Store, person: Person) -> Scope:
    """The units ``person`` may see. Until units exist, everyone sees the whole bureau."""
    del store, person
    return WHOLE
