"""After a change to a case: every card brought up to date (the submitter told of an
approval among them)."""

from __future__ import annotations

from aiogram import Bot

from bot.domain.usecases.approvals import Outcome
from bot.flows.publishing import sync_cards
from bot.services import Services
from storage.store import Store


async def announce(bot: Bot, store: Store, services: Services, outcome: Outcome) -> None:
    await sync_cards(bot, store, services, outcome.case_id)
