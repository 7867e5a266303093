"""The append-only audit trail: every row carries the hash of the row before it.

Appends are serialized so the chain never forks: on PostgreSQL by a transaction-scoped
advisory lock, on SQLite by the write lock every transaction takes (``BEGIN IMMEDIATE``).
The unique ``prev_hash`` column is the last line of defence.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import AuditEvent

GENESIS = "0" * 64
_AUDIT_LOCK_KEY = 0x67726E6C  # "grnl": one advisory lock for the whole trail


def event_hash(prev_hash: str, at: datetime, actor_id: int | None, action: str,
               subject: str, data: str) -> str:
    payload = json.dumps(
        [prev_hash, at.isoformat(), actor_id, action, subject, data],
        ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


_NEWEST = select(col(AuditEvent.hash)).order_by(col(AuditEvent.id).desc()).limit(1)  # built once


async def append(session: AsyncSession, *, at: datetime, actor_id: int | None, action: str,
                 subject: str, data: dict[str, Any] | None = None) -> AuditEvent:
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _AUDIT_LOCK_KEY})
    last = (await session.execute(_NEWEST)).scalar_one_or_none()
    prev = last or GENESIS
    at = at.astimezone(UTC)
    body = json.dumps(data or {}, ensure_ascii=False, sort_keys=True, default=str)
    event = AuditEvent(
        at=at, actor_id=actor_id, action=action, subject=subject, data=body, prev_hash=prev,
        hash=event_hash(prev, at, actor_id, action, subject, body),
    )
    session.add(event)
    await session.flush()
    return event


@dataclass(frozen=True)
class Break:
    """The first event where the chain does not hold, and how."""

    event: AuditEvent
    link: bool  # its prev_hash is not the hash of the event before it (one removed or added)


@dataclass(frozen=True)
class Verdict:
    events: int  # read, up to and including the break
    broken: Break | None


async def verify_chain(session: AsyncSession, part: int = 1000) -> Verdict:
    """Walk the whole trail in id order, a part at a time (the session keeps no row that
    nothing refers to), and name the first event whose link or hash is wrong."""
    prev, after, seen = GENESIS, 0, 0
    while True:
        rows = (await session.scalars(select(AuditEvent).where(col(AuditEvent.id) > after)
                                      .order_by(col(AuditEvent.id)).limit(part))).all()
        for event in rows:
            seen += 1
            expected = event_hash(prev, event.at, event.actor_id, event.action, event.subject,
                                  event.data)
            if event.prev_hash != prev or event.hash != expected:
                return Verdict(seen, Break(event, link=event.prev_hash != prev))
            prev = event.hash
        if len(rows) < part:
            return Verdict(seen, None)
        after = rows[-1].id
