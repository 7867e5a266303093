"""After a change to a case: every card brought up to date, and the submitter told."""

from __future__ import annotations

from aiogram import Bot

from bot.domain.rules.vocabulary import OutcomeEvent
from bot.domain.usecases.approvals import Outcome
from bot.flows.publishing import notify_submitter, sync_cards
from bot.services import Services
from storage.store import Store


async def announce(bot: Bot, store: Store, services: Services, outcome: Outcome) -> None:
    view = await sync_cards(bot, store, services, outcome.case_id)
    if outcome.event is OutcomeEvent.APPROVED_CASE:
        await notify_submitter(bot, store, services, view)
