"""Polling that confirms an update to Telegram only once it was handled and committed.

``getUpdates`` confirms every update below the ``offset`` it is asked with. aiogram asks with
one past the last update it fetched, so a crash loses the updates still being handled, and a
failed update is confirmed all the same. Here the offset asked for is the lowest update not
finished yet (or one past the highest, when all are):

- updates are handled side by side as before (one person's in order, by the event
  isolation), at most the 100 one ``getUpdates`` returns from that lowest one on;
- while some are under way ``getUpdates`` answers at once with them again: those are not
  handled twice, and the bot polls again only every :data:`BUSY_POLL` (each poll brings
  back up to a hundred updates to read) or as soon as none is under way;
- an update that fails (its unit of work did not commit: the database away, the Bot API
  failing) is handled again after a pause that doubles, as Telegram redelivers a webhook
  update answered 500, and given up after :data:`ATTEMPTS` (about a minute); one that
  Telegram refused with a 400 or 403 is not tried again (it would be refused again). It is
  not confirmed before then, so a crash or a stop meanwhile leaves it to the next start. The
  update's id, claimed in its unit of work, keeps one that did commit from being handled
  again when it comes back.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.types import Update
from aiogram.utils.backoff import Backoff, BackoffConfig

log = logging.getLogger(__name__)

BUSY_POLL = 0.5  # seconds between polls while updates are under way
RETRY_FIRST, RETRY_MAX = 1.0, 60.0  # seconds before a failed update is handled again
ATTEMPTS = 6  # then it is given up (confirmed) after about a minute of failing
DEFAULT_BACKOFF = BackoffConfig(min_delay=1.0, max_delay=30.0, factor=1.5, jitter=0.1)


class Offsets:
    """The update ids fetched and not finished; the offset that confirms only finished ones."""

    def __init__(self) -> None:
        self.open: list[int] = []  # sorted
        self.highest: int | None = None

    def fetched(self, update_id: int) -> bool:
        """Whether ``update_id`` is new (not fetched before in this process)."""
        if self.highest is not None and update_id <= self.highest:
            return False
        self.highest = update_id
        self.open.append(update_id)
        return True

    def finished(self, update_id: int) -> None:
        index = bisect.bisect_left(self.open, update_id)
        if index < len(self.open) and self.open[index] == update_id:
            del self.open[index]

    @property
    def offset(self) -> int | None:
        if self.open:
            return self.open[0]
        return None if self.highest is None else self.highest + 1


class ConfirmingDispatcher(Dispatcher):
    """aiogram's dispatcher whose polling confirms an update only once it was handled."""

    async def _polling(self, bot: Bot, polling_timeout: int = 30,
                       handle_as_tasks: bool = True,
                       backoff_config: BackoffConfig = DEFAULT_BACKOFF,
                       allowed_updates: list[str] | None = None,
                       tasks_concurrency_limit: int | None = None, **kwargs: Any) -> None:
        me = await bot.me()
        log.info("polling for @%s, confirming each update once it is handled", me.username)
        poller = _Poller(self, bot, kwargs)
        try:
            await poller.run(polling_timeout, backoff_config, allowed_updates,
                             side_by_side=handle_as_tasks)
        finally:
            poller.stopping.set()
            log.info("polling stopped for @%s", me.username)


class _Poller:
    def __init__(self, dispatcher: Dispatcher, bot: Bot, data: dict[str, Any]) -> None:
        self.dispatcher, self.bot, self.data = dispatcher, bot, data
        self.offsets = Offsets()
        self.idle = asyncio.Event()  # no update under way
        self.stopping = asyncio.Event()
        # aiogram's own set of update tasks: whoever watches it sees these too.
        self.tasks: set[asyncio.Task[Any]] = dispatcher._handle_update_tasks

    async def run(self, polling_timeout: int, backoff_config: BackoffConfig,
                  allowed_updates: list[str] | None, *, side_by_side: bool) -> None:
        backoff = Backoff(config=backoff_config)
        extra: dict[str, Any] = {}
        if self.bot.session.timeout:
            extra["request_timeout"] = int(self.bot.session.timeout + polling_timeout)
        failed = False
        while True:
            busy = bool(self.offsets.open)
            try:
                updates = await self.bot(GetUpdates(
                    offset=self.offsets.offset, timeout=0 if busy else polling_timeout,
                    allowed_updates=allowed_updates), **extra)
            except Exception as exc:
                failed = True
                log.error("could not fetch updates (%s: %s): again in %.1f s",
                          type(exc).__name__, exc, backoff.next_delay)
                await backoff.asleep()
                continue
            if failed:
                log.info("fetching updates again")
                backoff.reset()
                failed = False
            new = [update for update in updates if self.offsets.fetched(update.update_id)]
            log.debug("fetched %d updates from %s, %d new, %d under way", len(updates),
                      self.offsets.offset, len(new), len(self.offsets.open))
            for update in new:
                if side_by_side:
                    task = asyncio.create_task(self.handle(update))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)
                else:
                    await self.handle(update)
            if self.offsets.open:
                self.idle.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.idle.wait(), BUSY_POLL)

    async def handle(self, update: Update) -> None:
        delay = RETRY_FIRST
        for attempt in range(1, ATTEMPTS + 1):
            try:
                result = await self.dispatcher.feed_update(self.bot, update, **self.data)
                if isinstance(result, TelegramMethod):
                    await self.dispatcher.silent_call_request(bot=self.bot, result=result)
                break
            except (TelegramBadRequest, TelegramForbiddenError):
                log.exception("update %s failed: Telegram refused what it asked for, "
                              "and would again", update.update_id)
                break
            except Exception:
                if attempt == ATTEMPTS:
                    log.exception("update %s failed %d times: given up", update.update_id,
                                  attempt)
                    break
                log.exception("update %s failed: handled again in %g s unless stopping",
                              update.update_id, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
            if self.stopping.is_set():
                return  # not confirmed: delivered again after the restart
            delay = min(delay * 2, RETRY_MAX)
        self.offsets.finished(update.update_id)
        if not self.offsets.open:
            self.idle.set()
