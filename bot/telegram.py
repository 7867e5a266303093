"""The aiogram Bot: any Bot API server, HTML by default, polite under flood limits."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import LinkPreviewOptions

log = logging.getLogger(__name__)

NEW_MESSAGES = frozenset({"SendMessage", "SendPhoto", "SendDocument", "SendMediaGroup"})
EDITS = frozenset({"EditMessageText", "EditMessageReplyMarkup", "EditMessageCaption"})


class SlidingWindow:
    """At most ``limit`` messages in any ``seconds`` window, as Telegram counts them.

    A leaky bucket (aiolimiter) admits its capacity plus a window's worth of drip, up to twice
    the limit, so this counts the window itself. A message counts from the moment it is let
    through until ``seconds`` after its request *ended*: Telegram saw it somewhere in between,
    so however the network delays requests, no window on Telegram's side sees too many."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.ended: deque[float] = deque()
        self.in_flight = 0
        self._turn = asyncio.Lock()  # first come, first served
        self._changed = asyncio.Event()

    @asynccontextmanager
    async def slot(self, count: int = 1) -> AsyncIterator[None]:
        count = min(count, self.limit)
        loop = asyncio.get_running_loop()
        async with self._turn:
            while True:
                now = loop.time()
                while self.ended and self.ended[0] <= now - self.seconds:
                    self.ended.popleft()
                if len(self.ended) + self.in_flight + count <= self.limit:
                    break
                self._changed.clear()
                expiry = self.ended[0] + self.seconds - now if self.ended else None
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), expiry)
            self.in_flight += count
        try:
            yield
        finally:
            self.in_flight -= count
            self.ended.extend([loop.time()] * count)
            self._changed.set()


class FloodControl(BaseRequestMiddleware):
    """Stays under Telegram's limits (30 messages a second overall, 20 a minute in a group;
    a little under, as Telegram does not document its counting exactly) and, when Telegram
    still answers 429, waits ``retry_after`` and tries again."""

    def __init__(self, per_second: int = 25, group_per_minute: int = 19,
                 max_retries: int = 3) -> None:
        self.overall = SlidingWindow(per_second, 1)
        self.group_per_minute = group_per_minute
        self.groups: OrderedDict[int, SlidingWindow] = OrderedDict()
        self.max_retries = max_retries

    def _group_limiter(self, chat_id: int) -> SlidingWindow:
        limiter = self.groups.pop(chat_id, None) or SlidingWindow(self.group_per_minute, 60)
        self.groups[chat_id] = limiter
        while len(self.groups) > 1000:  # forget the quietest chats
            self.groups.popitem(last=False)
        return limiter

    @asynccontextmanager
    async def _slots(self, name: str, method: TelegramMethod[Any]) -> AsyncIterator[None]:
        async with AsyncExitStack() as slots:
            if name in NEW_MESSAGES or name in EDITS:
                album: Any = getattr(method, "media", None)
                messages = len(album) if isinstance(album, list) else 1  # an album: one per item
                chat_id: Any = getattr(method, "chat_id", None)
                if name in NEW_MESSAGES and isinstance(chat_id, int) and chat_id < 0:
                    # a group's 20 a minute counts new messages, not edits; taken first, as
                    # its wait can be long and must not hold a slot of the overall limit
                    await slots.enter_async_context(self._group_limiter(chat_id).slot(messages))
                await slots.enter_async_context(self.overall.slot(messages))
            yield

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        name = type(method).__name__
        for attempt in range(self.max_retries + 1):
            try:
                async with self._slots(name, method):
                    return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if attempt == self.max_retries:
                    raise
                log.warning("%s: flood limit, retrying in %s s", name, exc.retry_after)
                await asyncio.sleep(exc.retry_after)
        raise AssertionError("unreachable")


class Session(AiohttpSession):
    """aiogram's HTTP session for a Bot API server at ``api_base_url``.

    aiogram waits a quarter of a second on close for TLS connections to wind down; a server
    reached over plain HTTP (a local Bot API server, the emulator) has none to wait for.
    """

    def __init__(self, api_base_url: str) -> None:
        base = api_base_url.rstrip("/")
        super().__init__(api=TelegramAPIServer.from_base(base))
        self.tls = base.startswith("https://")

    async def close(self) -> None:
        if self.tls:
            await super().close()
        elif self._session is not None and not self._session.closed:
            await self._session.close()


def build_bot(token: str, api_base_url: str, *, per_second: int = 25,
              group_per_minute: int = 19) -> Bot:
    session = Session(api_base_url)
    session.middleware(FloodControl(per_second, group_per_minute))
    return Bot(token, session=session,
               default=DefaultBotProperties(
                   parse_mode="HTML", link_preview=LinkPreviewOptions(is_disabled=True)))
