"""The demo bureau on a real database, as of a Monday morning."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.org_file import parse_org
from bot.domain.usecases.org_import import apply_org
from sandbox.demo import demo_org_yaml
from storage.db import SessionFactory
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
