"""Databases for tests: a real SQLite file by default, PostgreSQL when asked.

Set ``GREENLIGHT_TEST_DATABASE_URL`` (e.g. ``postgresql+asyncpg://postgres@127.0.0.1/test``)
to run everything on PostgreSQL. The schema is migrated once per run and worker; each test
then gets an empty database (a copy of the migrated SQLite template, or truncated tables).
Tests run in parallel (pytest-xdist): each worker has its own SQLite files and, on
PostgreSQL, its own database beside the one named (``test_gw0``, ``test_gw1``, …).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (the tables)
from storage.db import SessionFactory, create_engine, create_session_factory, is_sqlite
from storage.migrate import upgrade
from storage.store import Store

TEST_DATABASE_URL = os.environ.get("GREENLIGHT_TEST_DATABASE_URL", "")


async def _migrate_fresh(url: str) -> None:
    engine = create_engine(url)
    try:
        if not is_sqlite(url):
            async with engine.begin() as connection:
                await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
        await upgrade(engine)
    finally:
        await engine.dispose()


async def _create_database(url: str) -> None:
    """(Re)create the database ``url`` names, through the server's default database."""
    parsed = make_url(url)
    name = parsed.database
    engine = create_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    try:
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await autocommit.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


def worker_database_url(base: str, worker: str) -> str:
    """This xdist worker's own database on the server of ``base``."""
    if worker == "master":
        return base
    url = make_url(base)
    return url.set(database=f"{url.database}_{worker}").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[str]:
    """The migrated database every test starts from: a SQLite file, or the PostgreSQL URL."""
    if TEST_DATABASE_URL:
        url = worker_database_url(TEST_DATABASE_URL, worker_id)
        if url != TEST_DATABASE_URL:
            asyncio.run(_create_database(url))
        asyncio.run(_migrate_fresh(url))
        yield url
        return
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(_migrate_fresh(f"sqlite+aiosqlite:///{path}"))
    yield str(path)


# Emptying a PostgreSQL database between tests, in one round trip: DELETE on tables of a few
# rows is several times faster than TRUNCATE, and with foreign keys unchecked (every table is
# emptied) the order does not matter. APScheduler's job store makes its own table when timers
# first run; identities start again at 1.
EMPTY_POSTGRES = (
    "SET LOCAL session_replication_role = replica;"
    + "".join(f'DELETE FROM "{table.name}";' for table in SQLModel.metadata.sorted_tables)
    + "DO $$ BEGIN IF to_regclass('apscheduler_jobs') IS NOT NULL THEN "
      "DELETE FROM apscheduler_jobs; END IF; END $$;"
    "SELECT setval(s.oid, 1, false) FROM pg_class s JOIN pg_namespace n "
    "ON n.oid = s.relnamespace WHERE s.relkind = 'S' AND n.nspname = 'public';"
)


async def empty_database(url: str) -> None:
    """Empty every table of the PostgreSQL database at ``url``."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            await driver.execute(EMPTY_POSTGRES)  # several statements at once
    finally:
        await engine.dispose()


@pytest.fixture
async def database_url(migrated_template: str, tmp_path: Path) -> str:
    """An empty, migrated database for this test."""
    if TEST_DATABASE_URL:
        await empty_database(migrated_template)
        return migrated_template
    path = tmp_path / "greenlight.db"
    shutil.copyfile(migrated_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(database_url)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def store(sessions: SessionFactory) -> AsyncIterator[Store]:
    async with sessions() as session:
        yield Store(session)


TEST_REDIS_URL = os.environ.get("GREENLIGHT_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")


@pytest.fixture
async def redis_prefix(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A Redis key prefix of this test's own (``GREENLIGHT_TEST_REDIS_URL``, default database
    7 on the local server): its keys are deleted after, and no others. Without a Redis server
    the test is skipped, unless ``GREENLIGHT_REQUIRE_REDIS=1`` (CI) makes that a failure."""
    import uuid

    from redis.asyncio import Redis
    from redis.exceptions import ConnectionError as RedisDown

    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        await redis.ping()  # type: ignore[misc]
    except (RedisDown, OSError) as exc:
        await redis.aclose()
        if os.environ.get("GREENLIGHT_REQUIRE_REDIS") == "1":
            raise
        pytest.skip(f"no Redis at {TEST_REDIS_URL} ({exc}); set GREENLIGHT_TEST_REDIS_URL")
    prefix = f"test-{request.node.name[:40]}-{uuid.uuid4().hex[:8]}"
    yield prefix
    keys = [key async for key in redis.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()
