"""aiogram FSM storage in the bot's own database: a conversation survives a restart.

Inside an update, state changes join the update's unit of work (the session the
UnitOfWork middleware opened), so a conversation step and the change it made are
committed, or rolled back, together. Outside one, each call has its own session.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from aiogram import BaseMiddleware
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import (
    BaseEventIsolation,
    BaseStorage,
    DefaultKeyBuilder,
    KeyBuilder,
    StorageKey,
)
from aiogram.types import TelegramObject
from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.locks import KeyedLocks
from storage.db import SessionFactory, current_unit, end_transaction
from storage.models import FsmRecord

# Read on every update: built once (cheaper than session.get's own statement), always fresh.
_BY_KEY = (select(FsmRecord).where(col(FsmRecord.key) == bindparam("key"))
           .execution_options(populate_existing=True))


class SqlStorage(BaseStorage):
    """Every update asks for its sender's state, and most senders are in no conversation. This
    storage serves one process (several workers share Redis instead), so the keys that have
    a record are known here: read once, then added to before each write. A key not among
    them has no record, and its update reads nothing. (A key stays known after its record
    is deleted or its write rolled back: it is then read, and found empty.)"""

    def __init__(self, sessions: SessionFactory, key_builder: KeyBuilder | None = None) -> None:
        self.sessions = sessions
        self.key_builder = key_builder or DefaultKeyBuilder(with_destiny=True)
        self._keys: set[str] | None = None  # the keys that may have a record

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        shared = current_unit.get()
        if shared is not None:
            yield shared
            await shared.flush()
            return
        async with self.sessions() as session:
            yield session
            await session.commit()

    async def _load(self, key: StorageKey) -> FsmRecord | None:
        record_key = self.key_builder.build(key)
        async with self._session() as session:
            if record_key not in await self._known(session):
                return None
            found = await session.execute(_BY_KEY, {"key": record_key})
            return found.scalars().first()

    async def _write(self, key: StorageKey, *, state: Any = ..., data: Any = ...) -> None:
        """Set the state or the data with one upsert of that column alone: two updates of the
        same person at once (a double tap) neither collide on the key nor undo each other."""
        record_key = self.key_builder.build(key)
        values: dict[str, Any] = {}
        if state is not ...:
            values["state"] = state.state if isinstance(state, State) else state
        if data is not ...:
            values["data"] = json.dumps(dict(data), ensure_ascii=False, default=str)
        async with self._session() as session:
            (await self._known(session)).add(record_key)  # before it may be committed
            dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            statement = insert(FsmRecord).values(
                key=record_key, state=values.get("state"), data=values.get("data", "{}"))
            await session.execute(statement.on_conflict_do_update(
                index_elements=["key"], set_=values))
            # A conversation that ended leaves nothing behind.
            await session.execute(delete(FsmRecord).where(
                col(FsmRecord.key) == record_key, col(FsmRecord.state).is_(None),
                col(FsmRecord.data).in_(["{}", ""])))

    async def _known(self, session: AsyncSession) -> set[str]:
        if self._keys is None:
            self._keys = set((await session.execute(select(col(FsmRecord.key)))).scalars())
        return self._keys

    async def set_state(self, key: StorageKey, state: Any = None) -> None:
        await self._write(key, state=state)

    async def get_state(self, key: StorageKey) -> str | None:
        record = await self._load(key)
        return record.state if record else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, data=data)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        record = await self._load(key)
        return json.loads(record.data) if record else {}

    async def close(self) -> None:
        return None


class CommitInOrder(BaseMiddleware):
    """Placed right after aiogram's FSM middleware, itself inside the unit of work: the
    conversation state is read in the update's own transaction (not one of its own), and
    what the update left uncommitted is committed before the person's next update in this
    chat may take the lock and read it. State kept in Redis is written then too, once its
    transaction committed (``after_commit`` writes what the update left for it)."""

    def __init__(self, after_commit: Callable[[], Awaitable[None]] | None = None) -> None:
        self.after_commit = after_commit

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        result = await handler(event, data)
        await end_transaction()
        if self.after_commit is not None:
            await self.after_commit()
        return result


class InOrder(BaseEventIsolation):
    """One person's updates in one chat, one at a time, in this process (aiogram's
    SimpleEventIsolation keeps every lock it ever made; these go when unused)."""

    def __init__(self) -> None:
        self._locks = KeyedLocks()

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        async with self._locks(key):
            yield

    async def close(self) -> None:
        self._locks.clear()
