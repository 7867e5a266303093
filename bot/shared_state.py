"""What several workers share through Redis (``GREENLIGHT_REDIS_URL``): conversation state,
each person's in-order handling, the sweep's turn, and the pace of messages to Telegram.

Conversation state lives in Redis but follows the update's unit of work as the database
storage does: a state set during an update is written to Redis only once the transaction it
was set in committed (a rollback forgets it), and before the person's lock is released, so
their next update, on whichever worker, reads it. Within the update the staged value is what
it reads back.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import DefaultKeyBuilder, KeyBuilder, StorageKey
from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage
from redis.asyncio import Redis
from redis.exceptions import LockError, RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session

from storage.db import current_unit

log = logging.getLogger(__name__)

_STAGED = "greenlight.fsm_staged"  # set in the open transaction
_KEPT = "greenlight.fsm_kept"  # its transaction committed; not yet written to Redis
Staged = dict[tuple[str, str], tuple[StorageKey, Any]]  # (key, "state"|"data") → value

# A person's lock outlives a crashed worker by this much at most (and a slow update too:
# the next one may then start before it ends, as without the lock).
LOCK_SECONDS = 60
SWEEP_LOCK_SECONDS = 600  # a sweep that takes longer loses its turn to another worker


@event.listens_for(Session, "after_commit")
def _kept(session: Session) -> None:
    staged: Staged | None = session.info.pop(_STAGED, None)
    if staged:
        session.info.setdefault(_KEPT, {}).update(staged)


@event.listens_for(Session, "after_rollback")
def _forgotten(session: Session) -> None:
    session.info.pop(_STAGED, None)


def key_builder(prefix: str) -> KeyBuilder:
    return DefaultKeyBuilder(prefix=f"{prefix}:fsm", with_destiny=True)


def connect(url: str) -> Redis:
    return Redis.from_url(url)


class StagedRedisStorage(RedisStorage):
    """aiogram's Redis storage, its writes inside an update held until that update's
    transaction commits (:func:`write_kept` writes them)."""

    def _staged(self) -> Staged | None:
        session = current_unit.get()
        if session is None:
            return None
        staged: Staged = session.sync_session.info.setdefault(_STAGED, {})
        return staged

    def _pending(self, key: StorageKey, part: str) -> tuple[bool, Any]:
        session = current_unit.get()
        if session is None:
            return False, None
        name = (self.key_builder.build(key), part)
        for where in (_STAGED, _KEPT):
            held: Staged = session.sync_session.info.get(where) or {}
            if name in held:
                return True, held[name][1]
        return False, None

    async def set_state(self, key: StorageKey, state: Any = None) -> None:
        staged = self._staged()
        if staged is None:
            await super().set_state(key, state)
            return
        value = state.state if isinstance(state, State) else state
        staged[(self.key_builder.build(key), "state")] = (key, value)

    async def get_state(self, key: StorageKey) -> str | None:
        found, value = self._pending(key, "state")
        return value if found else await super().get_state(key)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        staged = self._staged()
        if staged is None:
            await super().set_data(key, data)
            return
        staged[(self.key_builder.build(key), "data")] = (key, dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        found, value = self._pending(key, "data")
        return dict(value) if found else await super().get_data(key)

    async def write_kept(self) -> None:
        """Write what the update's committed transactions set (and, when no transaction is
        open, what was set since: nothing is left to roll it back)."""
        session = current_unit.get()
        if session is None:
            return
        info = session.sync_session.info
        kept: Staged = info.pop(_KEPT, None) or {}
        if not session.in_transaction():
            kept.update(info.pop(_STAGED, None) or {})
        for (_name, part), (key, value) in kept.items():
            if part == "state":
                await super().set_state(key, value)
            else:
                await super().set_data(key, value)

    async def close(self) -> None:
        await self.redis.aclose()


def storage(redis: Redis, prefix: str) -> StagedRedisStorage:
    return StagedRedisStorage(redis, key_builder=key_builder(prefix))


class PersonLocks(RedisEventIsolation):
    """One person's updates in one chat one at a time, across every worker. An update that
    outlasted its lock (:data:`LOCK_SECONDS`) is done and committed all the same: the lock
    lost on the way is logged, not made the update's failure."""

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        held = self.redis.lock(name=self.key_builder.build(key, "lock"), **self.lock_kwargs)
        await held.acquire()
        try:
            yield
        finally:
            try:
                await held.release()
            except LockError:
                log.warning("a person's lock expired before their update was done (more than "
                            "%d s): the next one may have started meanwhile", LOCK_SECONDS)


def isolation(redis: Redis, prefix: str) -> PersonLocks:
    return PersonLocks(redis, key_builder=key_builder(prefix),
                       lock_kwargs={"timeout": LOCK_SECONDS})


class RedisTurn:
    """A lock for one job across processes, taken without waiting (``SET NX`` with an
    expiry, released only by its holder)."""

    def __init__(self, redis: Redis, name: str, seconds: int = SWEEP_LOCK_SECONDS) -> None:
        self.redis, self.name, self.seconds = redis, name, seconds

    @asynccontextmanager
    async def take(self) -> AsyncIterator[bool]:
        token = uuid.uuid4().hex
        taken = bool(await self.redis.set(self.name, token, nx=True, ex=self.seconds))
        try:
            yield taken
        finally:
            if taken:
                await self.redis.eval(_RELEASE, 1, self.name, token)  # type: ignore[misc]


_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


# A message in flight counts as leaving this late at most: a worker that died mid-request
# frees its slots by then (aiogram's own request timeout is a minute).
IN_FLIGHT_SECONDS = 90.0
PACE_TIMEOUT = 1.0  # a Redis slower than this to answer is as good as away: pace alone
PACE_RETRY_SECONDS = 30.0  # after a failure, how long each worker paces alone before trying


class RedisWindows:
    """Telegram's sliding windows (``bot.telegram.Pace``) kept in Redis, so that every worker
    counts the same messages: a sorted set per window (``<prefix>:pace:all``,
    ``<prefix>:pace:chat:<id>``), one member per message, scored by when it left (while in
    flight, by when it will have left at the latest). One Lua script per acquire drops what
    left the window, counts what is in it, and either counts the new messages in or says how
    long to wait, on Redis's own clock, shared by every worker.

    Should Redis fail or hang, the worker paces alone (its own windows, which it keeps
    anyway) with a warning, and tries Redis again after :data:`PACE_RETRY_SECONDS`: a send is
    never held up for ever by the pace."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.prefix = prefix
        self._take = redis.register_script(_TAKE)
        self._done = redis.register_script(_DONE)
        self._alone_until: float | None = None  # loop time until which Redis is left alone

    async def take(self, name: str, limit: int, seconds: float, count: int) -> str | None:
        member = uuid.uuid4().hex
        # A slot held by a message in flight is free once its request ends: look again soon.
        poll = min(seconds / 10, 0.05)
        while not self._alone():
            try:
                async with asyncio.timeout(PACE_TIMEOUT):
                    wait = await self._take(keys=[self._key(name)], args=[
                        member, count, limit, seconds * 1000, IN_FLIGHT_SECONDS * 1000,
                        poll * 1000])
            except (RedisError, OSError, TimeoutError) as exc:
                self._failed(exc)
                return None
            self._recovered()
            if not wait:
                return member
            await asyncio.sleep(int(wait) / 1000)
        return None

    async def done(self, name: str, taken: str, seconds: float, count: int) -> None:
        try:
            async with asyncio.timeout(PACE_TIMEOUT):
                await self._done(keys=[self._key(name)], args=[
                    taken, count, math.ceil((seconds + IN_FLIGHT_SECONDS) * 1000)])
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)  # the slots stay taken until IN_FLIGHT_SECONDS run out

    def _key(self, name: str) -> str:
        return f"{self.prefix}:pace:{name}"

    def _alone(self) -> bool:
        return (self._alone_until is not None
                and asyncio.get_running_loop().time() < self._alone_until)

    def _failed(self, exc: BaseException) -> None:
        if self._alone_until is None:
            log.warning("Redis failed while pacing messages (%s): this worker paces alone, "
                        "and may exceed Telegram's limits together with the others",
                        type(exc).__name__)
        self._alone_until = asyncio.get_running_loop().time() + PACE_RETRY_SECONDS

    def _recovered(self) -> None:
        if self._alone_until is not None:
            log.info("Redis answers again: messages are paced across workers again")
            self._alone_until = None


# KEYS[1]: a window. ARGV: member, count, limit, window, in flight, poll (milliseconds).
# Returns 0 once ``count`` messages are counted in (as in flight), else milliseconds to wait.
_TAKE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
local count, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local window, flight = tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used + count > limit then
  local i = used + count - limit - 1
  local left = tonumber(redis.call('ZRANGE', KEYS[1], i, i, 'WITHSCORES')[2])
  if left > now then return math.max(1, math.ceil(tonumber(ARGV[6]))) end
  return math.max(1, math.ceil(left + window - now))
end
for j = 1, count do
  redis.call('ZADD', KEYS[1], now + flight, ARGV[1] .. ':' .. j)
end
redis.call('PEXPIRE', KEYS[1], math.ceil(window + flight))
return 0
"""

# KEYS[1]: a window. ARGV: member, count, expiry (ms). The request ended: its messages leave
# the window from now (those already dropped stay dropped).
_DONE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
for j = 1, tonumber(ARGV[2]) do
  redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1] .. ':' .. j)
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 0
"""
