"""Redrawing a /pending list after a decision taken elsewhere (a return reason typed later)."""

from __future__ import annotations

from aiogram import Bot

from bot.domain.usecases.case_view import pending_for
from bot.flows.delivery import edit_text
from bot.i18n import Translator
from bot.services import Services
from bot.views.pending import pending_keyboard, pending_text
from storage.store import Store


async def redraw_list(bot: Bot, store: Store, services: Services, t: Translator, *,
                      chat_id: int, message_id: int, person_id: int) -> None:
    """The list without the items decided since, and nothing ticked."""
    items = await pending_for(store, person_id, services.now(), services.calendar,
                              services.policy)
    await edit_text(bot, chat_id, message_id, pending_text(t, items),
                    pending_keyboard(t, items, set()))
