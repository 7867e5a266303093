"""Migrations: the newest revision builds exactly the tables the models declare, and
downgrading to nothing and back works."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from storage.db import create_engine
from storage.migrate import alembic_config, current_revision, head_revision, upgrade


async def test_models_and_migrations_agree(database_url: str) -> None:
    engine = create_engine(database_url)

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True,
            # APScheduler's job store owns its table (created when the bot first runs).
            "include_object": lambda obj, name, type_, *_: not (
                type_ == "table" and name == "apscheduler_jobs"),
        })
        return list(compare_metadata(context, SQLModel.metadata))

    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(diff) == []
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    engine = create_engine(database_url)
    config = alembic_config()

    def downgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")

    try:
        async with engine.begin() as connection:
            await connection.run_sync(downgrade)
        assert await current_revision(engine) is None
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_a_flat_bureau_becomes_one_root_unit(database_url: str) -> None:
    """0013 puts the rows of a bureau that had no units into one root unit."""
    engine = create_engine(database_url)
    config = alembic_config()

    def to(revision: str, down: bool) -> Callable[[Connection], None]:
        def run(connection: Connection) -> None:
            config.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(config, revision)
        return run

    try:
        async with engine.begin() as connection:
            await connection.run_sync(to("0012", down=True))
            await connection.execute(text("INSERT INTO section (code, name) VALUES ('s', 'S')"))
            await connection.execute(text(
                "INSERT INTO person (key, name, locale_chosen, dm_blocked, active)"
                " VALUES ('p', 'P', false, false, true)"))
        async with engine.begin() as connection:
            await connection.run_sync(to("head", down=False))
            root = (await connection.execute(text(
                "SELECT id, code, parent_id, path FROM unit"))).one()
            assert (root.code, root.parent_id, root.path) == ("main", None, f"/{root.id}/")
            for table in ("section", "person"):
                assert (await connection.execute(text(
                    f"SELECT unit_id FROM {table}"))).scalars().all() == [root.id]
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()
