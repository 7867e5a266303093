"""The aiogram Bot: any Bot API server, HTML by default, polite under flood limits, and
patient with a Bot API that fails for a moment (one retry policy, :class:`RetryPolicy`)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import random
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import IntEnum
from http import HTTPStatus
from typing import Any, Protocol, cast

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import AnswerCallbackQuery, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import LinkPreviewOptions
from pydantic import ValidationError

from storage.db import end_transaction

log = logging.getLogger(__name__)

NEW_MESSAGES = frozenset({"SendMessage", "SendPhoto", "SendDocument", "SendMediaGroup"})
EDITS = frozenset({"EditMessageText", "EditMessageReplyMarkup", "EditMessageCaption"})
TOO_OLD = "query is too old"  # Telegram's words for a press answered too late


class Lane(IntEnum):
    """Who a message is for, most urgent first: a person's own action (everything an update
    sends), the sweep's nudges and notices, and bulk card refreshes."""

    ANSWER = 0
    NUDGE = 1
    BULK = 2


# The share of each window a lane may fill. What a lower lane leaves is headroom for those
# above it: even while a morning refresh of thousands of cards (or the sweep of another worker)
# sends as fast as it may, a press finds a free slot within one window, in every worker.
SHARES: dict[Lane, float] = {Lane.ANSWER: 1.0, Lane.NUDGE: 5 / 6, Lane.BULK: 2 / 3}

_lane: ContextVar[Lane] = ContextVar("greenlight_lane", default=Lane.ANSWER)


def current_lane() -> Lane:
    return _lane.get()


@contextmanager
def sending_in(lane: Lane) -> Iterator[None]:
    """What is sent inside (tasks started inside included) goes in ``lane``."""
    token = _lane.set(lane)
    try:
        yield
    finally:
        _lane.reset(token)


def lane_limit(limit: int, lane: Lane) -> int:
    """How much of a window of ``limit`` messages ``lane`` may fill (one at least)."""
    return max(1, math.floor(limit * SHARES[lane] + 1e-9))


class SlidingWindow:
    """At most ``limit`` messages in any ``seconds`` window, as Telegram counts them.

    A leaky bucket (aiolimiter) admits its capacity plus a window's worth of drip, up to twice
    the limit, so this counts the window itself. A message counts from the moment it is let
    through until ``seconds`` after its request *ended*: Telegram saw it somewhere in between,
    so however the network delays requests, no window on Telegram's side sees too many.

    Waiting requests are let through by lane (:class:`Lane`), then in order of arrival, and a
    lane fills only its share of the window (:data:`SHARES`): the next free slot goes to a
    waiting answer before any waiting nudge or card refresh."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.ended: deque[float] = deque()
        self.in_flight = 0
        self._waiting: list[tuple[Lane, int, int, asyncio.Future[None]]] = []  # a heap
        self._arrivals = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    def used(self, now: float) -> int:
        while self.ended and self.ended[0] <= now - self.seconds:
            self.ended.popleft()
        return len(self.ended) + self.in_flight

    @asynccontextmanager
    async def slot(self, count: int = 1, lane: Lane | None = None) -> AsyncIterator[None]:
        lane = current_lane() if lane is None else lane
        count = min(count, lane_limit(self.limit, lane))
        admitted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (lane, next(self._arrivals), count, admitted))
        self._admit()
        try:
            await admitted
        except asyncio.CancelledError:
            if admitted.done() and not admitted.cancelled():  # let through, then cancelled
                self.in_flight -= count
            self._admit()
            raise
        try:
            yield
        finally:
            self.in_flight -= count
            self.ended.extend([asyncio.get_running_loop().time()] * count)
            self._admit()

    def _admit(self) -> None:
        """Let the most urgent waiters through while they fit; else look again when the
        oldest message leaves the window (or, sooner, when a request ends)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._waiting:
            lane, _, count, admitted = self._waiting[0]
            if admitted.done():  # cancelled while waiting
                heapq.heappop(self._waiting)
                continue
            if self.used(now) + count > lane_limit(self.limit, lane):
                break  # nobody behind passes it: a less urgent lane may fill less
            heapq.heappop(self._waiting)
            self.in_flight += count
            admitted.set_result(None)
        if self._waiting and self.ended:
            self._timer = loop.call_at(self.ended[0] + self.seconds, self._admit)


@dataclass(frozen=True)
class Pace:
    """Telegram's limits, a little under (it does not document its counting exactly): 30
    messages a second overall, 20 a minute in a group (edits included), about one a second in
    a private chat. Tests shorten the windows rather than wait a minute."""

    per_second: int = 25
    per_group: int = 19
    per_chat: int = 1
    second: float = 1.0  # the window of ``per_second``
    group_window: float = 60.0
    chat_window: float = 1.0


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


class SharedWindows(Protocol):
    """Windows every worker counts its messages in (:class:`bot.shared_state.RedisWindows`)."""

    async def take(self, name: str, limit: int, seconds: float, count: int) -> str | None:
        """Wait for room for ``count`` messages in window ``name`` and count them in; what to
        hand :meth:`done`, or None when the windows cannot be reached (not counted)."""

    async def done(self, name: str, taken: str, seconds: float, count: int) -> None:
        """The request ``taken`` ended: its messages leave the window ``seconds`` from now."""


class FloodControl(BaseRequestMiddleware):
    """Stays under Telegram's limits as ``pace`` says (in this process's windows and, with
    ``shared``, in windows all workers count in) and, when Telegram still answers 429, or
    fails, tries again as ``retry`` says."""

    def __init__(self, pace: Pace | None = None, retry: RetryPolicy | None = None,
                 shared: SharedWindows | None = None) -> None:
        self.pace = pace or Pace()
        self.overall = SlidingWindow(self.pace.per_second, self.pace.second)
        self.chats: OrderedDict[int, SlidingWindow] = OrderedDict()
        self.retry = retry or RetryPolicy()
        self.shared = shared

    def _chat_limiter(self, chat_id: int) -> SlidingWindow:
        limiter = self.chats.pop(chat_id, None)
        if limiter is None:
            pace = self.pace
            limiter = (SlidingWindow(pace.per_group, pace.group_window) if chat_id < 0
                       else SlidingWindow(pace.per_chat, pace.chat_window))
        self.chats[chat_id] = limiter
        now = asyncio.get_running_loop().time()
        while len(self.chats) > 1000:  # forget the quietest chats, once nothing counts there
            quietest = next(iter(self.chats.values()))
            if quietest.used(now) or quietest is limiter:
                break
            self.chats.popitem(last=False)
        return limiter

    @asynccontextmanager
    async def _slots(self, name: str, method: TelegramMethod[Any]) -> AsyncIterator[None]:
        async with AsyncExitStack() as slots:
            if name in NEW_MESSAGES or name in EDITS:
                album: Any = getattr(method, "media", None)
                messages = len(album) if isinstance(album, list) else 1  # an album: one per item
                chat_id: Any = getattr(method, "chat_id", None)
                if isinstance(chat_id, int):
                    # a chat's window (a group's 20 a minute counts its edits too) is taken
                    # first, as its wait can be long and must not hold a slot of the overall one
                    chat = self._chat_limiter(chat_id)
                    await slots.enter_async_context(chat.slot(messages))
                    await slots.enter_async_context(self._shared(f"chat:{chat_id}", chat,
                                                                 messages))
                await slots.enter_async_context(self.overall.slot(messages))
                await slots.enter_async_context(self._shared("all", self.overall, messages))
            yield

    @asynccontextmanager
    async def _shared(self, name: str, window: SlidingWindow, count: int
                      ) -> AsyncIterator[None]:
        """``window`` counted again where every worker counts (lanes keep their shares there
        too); the process's own window, taken before, orders its lanes and paces alone when
        the shared windows cannot be reached."""
        if self.shared is None:
            yield
            return
        limit = lane_limit(window.limit, current_lane())
        count = min(count, limit)
        taken = await self.shared.take(name, limit, window.seconds, count)
        try:
            yield
        finally:
            if taken is not None:
                await self.shared.done(name, taken, window.seconds, count)

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


class LateAnswers(BaseRequestMiddleware):
    """Telegram takes the answer to a press for about 15 s; a press handled later (delivered
    again after a restart, or held up) cannot be answered any more, but what it did is
    committed and its cards, turns and notices must still follow. So that refusal ends
    nothing: it is logged, and the update goes on."""

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        try:
            return await make_request(bot, method)
        except TelegramBadRequest as exc:
            if not isinstance(method, AnswerCallbackQuery) or TOO_OLD not in exc.message:
                raise
            log.info("the press %s came too late to be answered; its work goes on",
                     method.callback_query_id)
            return cast(Response[TelegramType], True)


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
              retry: RetryPolicy | None = None, shared: SharedWindows | None = None) -> Bot:
    session = Session(api_base_url)
    session.middleware(CommitFirst())  # outermost: before any pacing wait
    session.middleware(LateAnswers())
    session.middleware(FloodControl(pace, retry, shared))
    return Bot(token, session=session,
               default=DefaultBotProperties(
                   parse_mode="HTML", link_preview=LinkPreviewOptions(is_disabled=True)))
