"""The receipt a submitter gets privately, to forward to the applicant (回执: query code and
expected completion)."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError

from bot.domain.usecases.query import status_of
from bot.flows.delivery import send_private
from bot.services import Services
from bot.views.query import receipt_text
from storage.models import Case, Person
from storage.store import Store

log = logging.getLogger(__name__)


async def send_receipt(bot: Bot, store: Store, services: Services, case: Case,
                       submitter: Person) -> None:
    """Privately, once the case is committed; a submitter who never started the bot has the
    code on the card already, so a refusal is only logged."""
    status = await status_of(store, case, services.calendar)
    me = await bot.me()
    t = services.rendering.for_person(submitter)
    try:
        await send_private(bot, store, submitter, receipt_text(t, status, me.username))
    except TelegramAPIError as exc:
        log.warning("receipt of case %s not sent: %s", case.id, exc)
