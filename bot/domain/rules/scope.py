"""Who sees what: a person's unit and every unit below it (city → district → township).

A scope is the set of unit ids a person may read and act on. ``None`` means the whole
organisation: the root unit's people, and every person of a bureau that is one unit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    unit_ids: frozenset[int] | None = None  # None: the whole organisation

    @property
    def everything(self) -> bool:
        return self.unit_ids is None

    def covers(self, unit_id: int | None) -> bool:
        """Whether a row of this unit is inside the scope (a row with no unit belongs to the
        root, so only the whole organisation covers it)."""
        return self.unit_ids is None or (unit_id is not None and unit_id in self.unit_ids)

    def within(self, other: Scope) -> Scope:
        """What both scopes cover (what a person may see in a chat that serves a unit)."""
        if self.unit_ids is None:
            return other
        if other.unit_ids is None:
            return self
        return Scope(self.unit_ids & other.unit_ids)


WHOLE = Scope()
