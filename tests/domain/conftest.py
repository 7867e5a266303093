"""The demo bureau on a real database, as of a Monday morning."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.org_file import parse_org
from bot.domain.usecases.org_import import apply_org
from sandbox.demo import demo_org_yaml
from storage.db import SessionFactory, create_engine, create_session_factory
from storage.store import Store

MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
async def bureau(sessions: SessionFactory) -> SessionFactory:
    """The demo bureau imported as of :data:`MONDAY`."""
    async with sessions() as session:
        store = Store(session)
        org = parse_org(demo_org_yaml(MONDAY.date(), WorkCalendar()), "demo.yaml")
        await apply_org(store, org, now=MONDAY)
        await store.commit()
    return sessions


class EdgeSessions:
    """Sessions that commit when their block ends without an error, as the bot's edge (the
    update middleware, the sweep's job runner, the CLI) does: use cases only flush."""

    def __init__(self, factory: SessionFactory) -> None:
        self.factory = factory

    def __getattr__(self, name: str) -> Any:  # the rest is the factory's (its engine, ...)
        return getattr(self.factory, name)

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        async with self.factory() as session:
            yield session
            await session.commit()


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[EdgeSessions]:
    engine = create_engine(database_url)
    yield EdgeSessions(create_session_factory(engine))
    await engine.dispose()
