"""The aiogram Bot: any Bot API server, HTML by default, polite under flood limits."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
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
from aiolimiter import AsyncLimiter

log = logging.getLogger(__name__)

SENDING_METHODS = frozenset({
    "SendMessage", "SendPhoto", "SendDocument", "SendMediaGroup", "EditMessageText",
    "EditMessageReplyMarkup", "EditMessageCaption",
})


class FloodControl(BaseRequestMiddleware):
    """Stays under Telegram's limits (about 30 messages a second overall, 20 a minute in a
    group) and, when Telegram still answers 429, waits ``retry_after`` and tries again."""

    def __init__(self, per_second: float = 25, group_per_minute: float = 20,
                 max_retries: int = 3) -> None:
        self.overall = AsyncLimiter(per_second, 1)
        self.group_per_minute = group_per_minute
        self.groups: OrderedDict[int, AsyncLimiter] = OrderedDict()
        self.max_retries = max_retries

    def _group_limiter(self, chat_id: int) -> AsyncLimiter:
        limiter = self.groups.pop(chat_id, None) or AsyncLimiter(self.group_per_minute, 60)
        self.groups[chat_id] = limiter
        while len(self.groups) > 1000:  # forget the quietest chats
            self.groups.popitem(last=False)
        return limiter

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        name = type(method).__name__
        if name in SENDING_METHODS:
            await self.overall.acquire()
            chat_id: Any = getattr(method, "chat_id", None)
            if isinstance(chat_id, int) and chat_id < 0:
                await self._group_limiter(chat_id).acquire()
        for attempt in range(self.max_retries + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if attempt == self.max_retries:
                    raise
                log.warning("%s: flood limit, retrying in %s s", name, exc.retry_after)
                await asyncio.sleep(exc.retry_after)
        raise AssertionError("unreachable")


def build_bot(token: str, api_base_url: str, *, per_second: float = 25,
              group_per_minute: float = 20) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base_url.rstrip("/")))
    session.middleware(FloodControl(per_second, group_per_minute))
    return Bot(token, session=session,
               default=DefaultBotProperties(
                   parse_mode="HTML", link_preview=LinkPreviewOptions(is_disabled=True)))
