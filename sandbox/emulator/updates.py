"""The bot's update queue: ids, confirmation by offset, long polling, allowed_updates."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from typing import Any

from .errors import conflict

Json = dict[str, Any]

# Update kinds Telegram leaves out unless asked for by allowed_updates.
DEFAULT_EXCLUDED = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
TERMINATED = (
    "terminated by other getUpdates request; make sure that only one bot instance is running"
)


class _Poll:
    terminated = False


class UpdateQueue:
    """Unconfirmed updates in id order; confirmation wakes anyone waiting for processing."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()
        self._active_poll: _Poll | None = None
        self.closed = False
        self.reset()

    def reset(self) -> None:
        self._pending: list[Json] = []
        self._next_id = 1
        self._confirmed_below = 1  # every update with a smaller id is confirmed
        self.allowed_updates: list[str] = []  # empty: Telegram's default set
        self._notify()

    # -- state changes -------------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def allows(self, kind: str) -> bool:
        if self.allowed_updates:
            return kind in self.allowed_updates
        return kind not in DEFAULT_EXCLUDED

    def set_allowed(self, kinds: list[str]) -> None:
        """Applies to updates created from now on, as on Telegram."""
        self.allowed_updates = [str(kind) for kind in kinds]

    def push(self, kind: str, payload: Json) -> int | None:
        """Queue an update; None when allowed_updates filters it out."""
        if not self.allows(kind):
            return None
        update_id = self._next_id
        self._next_id += 1
        self._pending.append({"update_id": update_id, kind: copy.deepcopy(payload)})
        self._notify()
        return update_id

    def confirm(self, offset: int) -> None:
        """getUpdates' offset: confirm ids below it; a negative one keeps only the last -offset."""
        if offset < 0:
            keep = self._pending[offset:]
            below = keep[0]["update_id"] if keep else self._next_id
        elif offset > 0:
            below = min(offset, self._next_id)
        else:
            return
        if below <= self._confirmed_below:
            return
        self._confirmed_below = below
        self._pending = [u for u in self._pending if u["update_id"] >= below]
        self._notify()

    @property
    def next_id(self) -> int:
        return self._next_id

    def continue_from(self, next_id: int) -> None:
        """Number new updates from ``next_id`` on, as if all before it were confirmed."""
        self._pending = []
        self._next_id = self._confirmed_below = next_id
        self._notify()

    def drop_pending(self) -> None:
        self.confirm(self._next_id)

    def close(self) -> None:
        """Release every waiter (server shutting down)."""
        self.closed = True
        self._notify()

    # -- reading -------------------------------------------------------------------------------

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def peek(self, limit: int = 100) -> list[Json]:
        return copy.deepcopy(self._pending[:limit])

    def is_confirmed(self, update_id: int) -> bool:
        return update_id < self._confirmed_below

    async def wait_change(self, seconds: float) -> None:
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)

    async def wait_processed(self, update_id: int, seconds: float) -> bool:
        """Wait until the update is confirmed (processed by the bot); False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self.is_confirmed(update_id):
            remaining = deadline - loop.time()
            if remaining <= 0 or self.closed:
                return self.is_confirmed(update_id)
            await self.wait_change(remaining)
        return True

    async def long_poll(self, limit: int, seconds: float) -> list[Json]:
        """getUpdates: wait up to ``seconds`` for updates; a newer call ends this one (409)."""
        poll = _Poll()
        if self._active_poll is not None:
            self._active_poll.terminated = True
            self._notify()
        self._active_poll = poll
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        try:
            while True:
                if poll.terminated:
                    raise conflict(TERMINATED)
                updates = self.peek(limit)
                remaining = deadline - loop.time()
                if updates or remaining <= 0 or self.closed:
                    return updates
                await self.wait_change(remaining)
        finally:
            if self._active_poll is poll:
                self._active_poll = None

    def terminate_polls(self) -> None:
        """End a held getUpdates with 409 (e.g. when a webhook gets set)."""
        if self._active_poll is not None:
            self._active_poll.terminated = True
            self._notify()
