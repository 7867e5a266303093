"""Updates in flight and updates already handled.

:class:`InFlight` (the outermost middleware) counts the updates being handled, so a
graceful stop can wait for them. :class:`HandleOnce` (inside the unit of work) records each
update's id in that unit of work: an update Telegram delivers again (a webhook answer that
was lost or came too late, polling resumed after a crash) finds its id and changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from sqlalchemy import event
from sqlalchemy.orm import Session

from bot.services import Services
from storage.db import SessionFactory
from storage.store import Store

log = logging.getLogger(__name__)

# Telegram keeps an unconfirmed update for 24 hours; a record outlives that with room to spare.
KEEP_HANDLED = timedelta(days=2)
_ROLLED_BACK = "greenlight.rolled_back"
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info[_ROLLED_BACK] = True


class InFlight(BaseMiddleware):
    """How much work is under way (updates as the outermost middleware, and sweeps through
    :meth:`track`); :meth:`idle` waits until none is."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.asynccontextmanager
    async def track(self) -> AsyncIterator[None]:
        self.count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.count -= 1
            if self.count == 0:
                self._idle.set()

    async def __call__(self, handler: Handler, event: TelegramObject,
                       data: dict[str, Any]) -> Any:
        async with self.track():
            return await handler(event, data)

    async def idle(self, timeout: float,  # noqa: ASYNC109
                   hurry: asyncio.Event | None = None) -> bool:
        """Whether everything under way finished within ``timeout`` seconds (or before
        ``hurry`` was set)."""
        waits = {asyncio.ensure_future(self._idle.wait())}
        if hurry is not None:
            waits.add(asyncio.ensure_future(hurry.wait()))
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        return self._idle.is_set()


class HandleOnce(BaseMiddleware):
    """Claims the update's id in its unit of work before it is handled (it commits with the
    update's first commit); an id claimed before means the update was, or is being, handled
    elsewhere: skipped.

    It sits inside the per-person lock and the state read, so it never holds SQLite's write
    lock while waiting for that lock. On PostgreSQL a second delivery racing the first waits
    on the first one's uncommitted claim and skips once that commits. A refusal or a failure
    rolls the claim back with everything else; the claim is then made again, so the refusal
    is answered once too."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def __call__(self, handler: Handler, event: TelegramObject,
                       data: dict[str, Any]) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        store: Store = data["store"]
        if not await store.claim_update(event.update_id, self.services.now()):
            log.info("update %s was handled before: skipped", event.update_id)
            return None
        store.session.sync_session.info.pop(_ROLLED_BACK, None)
        result = await handler(event, data)
        if store.session.sync_session.info.pop(_ROLLED_BACK, False):
            await store.claim_update(event.update_id, self.services.now())
        return result


async def was_handled(sessions: SessionFactory, update_id: int) -> bool:
    async with sessions() as session:
        return await Store(session).was_handled(update_id)


async def prune_handled(sessions: SessionFactory, now: datetime) -> int:
    """Forget updates handled longer ago than Telegram could deliver them again."""
    async with sessions() as session:
        forgotten = await Store(session).forget_handled_before(now - KEEP_HANDLED)
        await session.commit()
        return forgotten


async def last_handled(sessions: SessionFactory) -> int | None:
    """The highest update id recorded (a Bot API server started afresh numbers after it)."""
    async with sessions() as session:
        return await Store(session).last_handled_update()
