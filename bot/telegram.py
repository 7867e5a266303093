"""The aiogram Bot: any Bot API server, HTML by default, polite under flood limits, and
patient with a Bot API that fails for a moment (one retry policy, :class:`RetryPolicy`)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramEntityTooLarge,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import LinkPreviewOptions
from pydantic import ValidationError

from storage.db import end_transaction

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


@dataclass(frozen=True)
class Pace:
    """Telegram's limits, a little under (it does not document its counting exactly): 30
    messages a second overall, 20 a minute in a group (edits included). Tests shorten the
    group's ``window`` rather than wait a minute."""

    per_second: int = 25
    per_group: int = 19
    group_window: float = 60.0


@dataclass(frozen=True)
class RetryPolicy:
    """How long the bot keeps trying one Bot API request before it gives up on it.

    - ``429 Too Many Requests``: waited out for exactly as long as its ``retry_after`` says,
      however many times Telegram says it;
    - a 5xx, an answer that is not the Bot API's JSON (Telegram's front end answers a 502 with
      an nginx HTML page while the Bot API restarts), a network error (refused, reset, timed
      out): tried again after an exponential backoff with jitter, ``attempts`` tries in all;
    - either way no wait is begun that would end more than ``patience`` seconds after the
      first try, so nothing hangs for ever.

    Any other answer (400, 403, 413, …) is final. A request given up on raises its last error,
    after a warning naming the method and the chat (never the token or the text). A retried
    request that timed out may have reached Telegram: a duplicate is preferred to a loss.
    """

    backoff: float = 0.5  # the first wait after a failure; it doubles with each one after
    max_backoff: float = 30.0
    attempts: int = 5  # tries in all when the server fails or cannot be reached
    patience: float = 300.0

    def backoff_after(self, failures: int) -> float:
        """The wait after the ``failures``-th failure: half of it fixed, half random, so
        requests that failed together do not all come back together."""
        ceiling = min(self.max_backoff, self.backoff * 2.0 ** (failures - 1))
        return ceiling * random.uniform(0.5, 1.0)


def is_transient(exc: Exception) -> bool:
    """A failure that trying again may mend: the server failed or was not reached."""
    if isinstance(exc, TelegramEntityTooLarge):  # a 413 is a network error to aiogram
        return False
    return isinstance(exc, TelegramServerError | TelegramNetworkError)


def _target(method: TelegramMethod[Any]) -> str:
    """Where a request goes, for the log: a chat, a callback query, or the bot itself."""
    for field, label in (("chat_id", "chat"), ("callback_query_id", "callback query"),
                         ("inline_message_id", "inline message")):
        value = getattr(method, field, None)
        if value is not None:
            return f"{label} {value}"
    return "the bot"


def describe(exc: TelegramAPIError, token: str) -> str:
    """Telegram's or the network's words, never the token (an aiohttp error may quote the
    URL, which holds it)."""
    return exc.message.replace(token, "<token>")


class FloodControl(BaseRequestMiddleware):
    """Stays under Telegram's limits as ``pace`` says and, when Telegram still answers 429,
    or fails, tries again as ``retry`` says."""

    def __init__(self, pace: Pace | None = None, retry: RetryPolicy | None = None) -> None:
        self.pace = pace or Pace()
        self.overall = SlidingWindow(self.pace.per_second, 1)
        self.groups: OrderedDict[int, SlidingWindow] = OrderedDict()
        self.retry = retry or RetryPolicy()

    def _group_limiter(self, chat_id: int) -> SlidingWindow:
        limiter = (self.groups.pop(chat_id, None)
                   or SlidingWindow(self.pace.per_group, self.pace.group_window))
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
                if isinstance(chat_id, int) and chat_id < 0:
                    # a group's 20 a minute counts its edits too; taken first, as its wait
                    # can be long and must not hold a slot of the overall limit
                    await slots.enter_async_context(self._group_limiter(chat_id).slot(messages))
                await slots.enter_async_context(self.overall.slot(messages))
            yield

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        name = type(method).__name__
        loop = asyncio.get_running_loop()
        started = loop.time()
        tries = failures = 0
        while True:
            tries += 1
            try:
                async with self._slots(name, method):  # each try is paced like a first one
                    return await make_request(bot, method)
            except TelegramAPIError as exc:
                wait: float | None
                if isinstance(exc, TelegramRetryAfter):
                    wait = exc.retry_after
                elif is_transient(exc) and name != "GetUpdates":
                    failures += 1
                    wait = (self.retry.backoff_after(failures)
                            if failures < self.retry.attempts else None)
                else:
                    raise  # a final answer (400, 403, …); polling backs off on its own
                waited = loop.time() - started
                if wait is None or waited + wait > self.retry.patience:
                    log.warning("%s to %s given up after %d tries in %.1f s: %s", name,
                                _target(method), tries, waited, describe(exc, bot.token))
                    raise
                log.log(logging.WARNING if isinstance(exc, TelegramRetryAfter) else logging.INFO,
                        "%s to %s: %s; trying again in %.2f s", name, _target(method),
                        describe(exc, bot.token), wait)
            await asyncio.sleep(wait)


class CommitFirst(BaseRequestMiddleware):
    """Every Bot API call begins by committing the unit of work that makes it: a message
    follows the commit of what it reports, and no transaction (on SQLite, the database's
    write lock) stays open while the bot waits for Telegram, its pace or a retry."""

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        await end_transaction()
        return await make_request(bot, method)


# pydantic caches a parametrized generic model such as ``Response[Message]`` only weakly:
# once the garbage collector took it, aiogram's next call to that method builds it again
# (tens of milliseconds of schema work). One strong reference per answer type keeps the
# cache warm.
_RESPONSE_TYPES: dict[Any, Any] = {}


class Session(AiohttpSession):
    """aiogram's HTTP session for a Bot API server at ``api_base_url``.

    aiogram waits a quarter of a second on close for TLS connections to wind down; a server
    reached over plain HTTP (a local Bot API server, the emulator) has none to wait for.
    """

    def __init__(self, api_base_url: str) -> None:
        base = api_base_url.rstrip("/")
        super().__init__(api=TelegramAPIServer.from_base(base))
        self.tls = base.startswith("https://")

    def check_response(self, bot: Bot, method: TelegramMethod[TelegramType], status_code: int,
                       content: str) -> Response[TelegramType]:
        """As aiogram's (its ``Response[...]`` types kept alive, :data:`_RESPONSE_TYPES`),
        but an answer that is not JSON at all did not come from the Bot API: a 5xx from
        Telegram's front end (an nginx page while the Bot API restarts) is a server error,
        anything else (a proxy's page) a network error; both are worth another try, where
        aiogram's ClientDecodeError reads like a bug and slips past handlers of
        TelegramAPIError."""
        returning = method.__returning__
        if returning not in _RESPONSE_TYPES:
            _RESPONSE_TYPES[returning] = Response[returning]  # type: ignore[valid-type]
        try:
            return super().check_response(bot, method, status_code, content)
        except ClientDecodeError as exc:
            if isinstance(exc.original, ValidationError):
                raise  # JSON of the wrong shape: a real mismatch, not a passing failure
            answer = _status(status_code)
            if status_code >= HTTPStatus.INTERNAL_SERVER_ERROR:
                raise TelegramServerError(
                    method=method, message=f"{answer} (a page, not the Bot API's JSON)",
                ) from exc
            raise TelegramNetworkError(
                method=method, message=f"HTTP {answer} with a body that is not JSON: not "
                "the Bot API answering"
            ) from exc

    async def close(self) -> None:
        if self.tls:
            await super().close()
        elif self._session is not None and not self._session.closed:
            await self._session.close()


def _status(code: int) -> str:
    """``502 Bad Gateway``; the bare number for a code HTTP does not name."""
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def build_bot(token: str, api_base_url: str, *, pace: Pace | None = None,
              retry: RetryPolicy | None = None) -> Bot:
    session = Session(api_base_url)
    session.middleware(CommitFirst())  # outermost: before any pacing wait
    session.middleware(FloodControl(pace, retry))
    return Bot(token, session=session,
               default=DefaultBotProperties(
                   parse_mode="HTML", link_preview=LinkPreviewOptions(is_disabled=True)))
