"""Storage behaviour the rest relies on, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from storage.db import SessionFactory
from storage.models import AuditEvent
from storage.store import Store

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


async def test_a_reading_transaction_keeps_no_writer_waiting(sessions: SessionFactory) -> None:
    async with sessions() as reading, sessions() as writing:
        reader = Store(reading)
        await reader.begin_reading()
        assert await reader.count(AuditEvent) == 0  # the read is under way, its snapshot taken
        writer = Store(writing)

        async def write() -> None:
            await writer.audit(at=NOW, actor_id=None, action="test.write", subject="x")
            await writer.commit()

        await asyncio.wait_for(write(), timeout=2)  # SQLite's write lock was free
        await reader.commit()
        assert await reader.count(AuditEvent) == 1
