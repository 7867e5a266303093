"""Filing a report from a message and showing its card (shared by the command and the scene)."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup, Message
from markupsafe import Markup

from bot.domain.usecases.people import Actor
from bot.domain.usecases.reporting import ReportView, file_report, report_view
from bot.flows.context import files_of, project_here
from bot.flows.delivery import edit_text
from bot.flows.publishing import reply_to_message
from bot.services import Services
from bot.views.cards import report_card
from bot.views.keyboards import reached_keyboard
from storage.models import Report
from storage.store import Store

log = logging.getLogger(__name__)


async def post_report(message: Message, *, text: str, actor: Actor, store: Store,
                      services: Services, bot: Bot) -> ReportView:
    """File the report and show its card: a new card, or the album's card updated."""
    project = await project_here(store, message)
    view, created = await file_report(
        store, actor, project, text=text, files=files_of(message), tg_chat_id=message.chat.id,
        message_id=message.message_id, media_group_id=message.media_group_id,
        now=services.now(), calendar=services.calendar, policy=services.policy)
    if created or view.report.card_message_id is None:
        await _post_card(bot, store, services, view)
    else:
        card, buttons = _card(services, view)
        await edit_text(bot, message.chat.id, view.report.card_message_id, card, buttons)
    await store.commit()
    return view


async def post_missing_card(bot: Bot, store: Store, services: Services, report_id: int) -> None:
    """The card of a report filed by a process that stopped before it posted it."""
    report = await store.get(Report, report_id)
    if report is None or report.card_message_id is not None:
        return
    log.warning("report %s was filed without its card (a process stopped): posted now, it "
                "may arrive twice", report.id)
    view = await report_view(store, report, services.now(), services.calendar, services.policy)
    await _post_card(bot, store, services, view)


async def _post_card(bot: Bot, store: Store, services: Services, view: ReportView) -> None:
    card, buttons = _card(services, view)
    sent = await bot.send_message(view.report.tg_chat_id, card, reply_markup=buttons,
                                  reply_parameters=reply_to_message(view.report.source_message_id))
    view.report.card_message_id = sent.message_id
    await store.save(view.report)


def _card(services: Services, view: ReportView) -> tuple[Markup, InlineKeyboardMarkup | None]:
    t = services.rendering.for_group()
    # The milestone the report is about can be marked reached from its card.
    buttons = reached_keyboard(t, view.milestone.milestone.id) if view.milestone else None
    return report_card(t, view), buttons
