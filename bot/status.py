"""What ``greenlight status`` shows, read from the database every worker writes to: when the
last sweep finished, how many updates were handled in the last hour, the oldest card claim
not sent yet, what the next sweep must mend (cases whose cards are behind, reports without
their card), and counts of what is open.

The last sweep is a row of the conversation-state table under a key no conversation uses
(:data:`SWEEP_MARK`), written in the sweep's own transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlmodel import col

from bot.domain.rules.vocabulary import CaseState
from storage.models import Card, Case, FsmRecord, HandledUpdate, Nudge
from storage.store import Store

SWEEP_MARK = "greenlight:last-sweep"


async def record_sweep(store: Store, finished_at: datetime, sent: int, skipped: bool) -> None:
    mark = json.dumps({"finished_at": finished_at.isoformat(), "sent": sent,
                       "skipped": skipped})
    await store.session.merge(FsmRecord(key=SWEEP_MARK, state=None, data=mark))


@dataclass
class Status:
    last_sweep: datetime | None
    handled_last_hour: int
    unsent_cards: int
    oldest_unsent_card: tuple[int, int] | None  # (card id, case id)
    unsent_nudges: int
    open_cases: dict[str, int]
    cases_behind: int = 0  # cases whose cards do not show their newest change yet
    reports_without_card: int = 0

    def lines(self, now: datetime) -> list[str]:
        if self.last_sweep is None:
            sweep = "last sweep: never"
        else:
            ago = (now - self.last_sweep).total_seconds()
            sweep = f"last sweep: {self.last_sweep.isoformat(timespec='seconds')} " \
                    f"({ago:.0f} s ago)"
        card = ("none" if self.oldest_unsent_card is None else
                f"card #{self.oldest_unsent_card[0]} of case #{self.oldest_unsent_card[1]}")
        cases = ", ".join(f"{state} {n}" for state, n in self.open_cases.items()) or "none"
        return [sweep,
                f"updates handled in the last hour: {self.handled_last_hour}",
                f"card claims not sent: {self.unsent_cards} (oldest: {card})",
                f"cases with cards behind: {self.cases_behind}",
                f"reports without a card: {self.reports_without_card}",
                f"nudge claims not sent: {self.unsent_nudges}",
                f"open cases: {cases}"]


async def read_status(store: Store, now: datetime) -> Status:
    session = store.session
    mark = await session.get(FsmRecord, SWEEP_MARK)
    last = (datetime.fromisoformat(json.loads(mark.data)["finished_at"])
            if mark is not None else None)
    handled = await session.scalar(select(func.count()).select_from(HandledUpdate).where(
        col(HandledUpdate.handled_at) >= now - timedelta(hours=1)))
    unsent = col(Card.tg_message_id).is_(None)
    cards = await session.scalar(select(func.count()).select_from(Card).where(unsent))
    oldest = (await session.execute(select(col(Card.id), col(Card.case_id)).where(unsent)
                                    .order_by(col(Card.id)).limit(1))).first()
    nudges = await session.scalar(select(func.count()).select_from(Nudge).where(
        col(Nudge.sent_at).is_(None)))
    open_states = (CaseState.PENDING, CaseState.SUPPLEMENT)
    cases = {str(state): int(n) for state, n in (await session.execute(
        select(col(Case.state), func.count()).where(col(Case.state).in_(open_states))
        .group_by(col(Case.state)).order_by(col(Case.state)))).all()}
    behind, no_card = await store.left_to_mend()
    return Status(last, int(handled or 0), int(cards or 0),
                  (int(oldest[0]), int(oldest[1])) if oldest else None, int(nudges or 0),
                  cases, behind, no_card)
