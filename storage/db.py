"""Engine and session factory for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session

SessionFactory = async_sessionmaker[AsyncSession]
READ_ONLY = "greenlight_read_only"  # an execution option: a transaction that only reads

# The session of the unit of work running now (an update, a sweep). Whatever talks to
# Telegram or waits ends its transaction first (:func:`end_transaction`): on SQLite an open
# write transaction locks the whole database, and a message must follow the commit of what
# justifies it, never precede it.
current_unit: ContextVar[AsyncSession | None] = ContextVar("current_unit", default=None)
_WROTE, _SAVED = "greenlight_wrote", "greenlight_saved"


@contextmanager
def unit_of_work(session: AsyncSession) -> Iterator[None]:
    token = current_unit.set(session)
    try:
        yield
    finally:
        current_unit.reset(token)


async def end_transaction() -> None:
    """Commit the current unit of work's transaction, if one is open."""
    session = current_unit.get()
    if session is not None and session.in_transaction():
        await session.commit()


def saved_part(session: AsyncSession) -> bool:
    """Whether this session committed a write before its last rollback: the unit of work
    then failed after part of it was kept."""
    return bool(session.info.get(_SAVED))


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_WROTE, False):
        session.info[_SAVED] = True


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_WROTE, None)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and write-locking transactions.

    SQLite allows one writer. A transaction that reads and then writes can fail at once
    with "database is locked" when another writer slipped in between; starting every
    transaction with ``BEGIN IMMEDIATE`` takes the write lock up front and waits for it
    (busy timeout) instead, so concurrent button presses queue rather than fail. A
    transaction begun with the :data:`READ_ONLY` execution option takes no lock (in WAL mode
    readers never block writers), for long reads such as the deadline sweep's planning.
    """
    kwargs: dict[str, Any] = {"echo": echo}
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)
