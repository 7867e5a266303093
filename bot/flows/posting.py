"""Filing a report from a message and showing its card (shared by the command and the scene)."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import Message

from bot.domain.usecases.people import Actor
from bot.domain.usecases.reporting import ReportView, file_report
from bot.flows.context import files_of, project_here
from bot.flows.delivery import edit_text
from bot.services import Services
from bot.views.cards import report_card
from bot.views.keyboards import reached_keyboard
from storage.store import Store


async def post_report(message: Message, *, text: str, actor: Actor, store: Store,
                      services: Services, bot: Bot) -> ReportView:
    """File the report and show its card: a new card, or the album's card updated."""
    project = await project_here(store, message)
    view, created = await file_report(
        store, actor, project, text=text, files=files_of(message), tg_chat_id=message.chat.id,
        message_id=message.message_id, media_group_id=message.media_group_id,
        now=services.now(), calendar=services.calendar, policy=services.policy)
    t = services.rendering.for_group()
    card = report_card(t, view)
    # The milestone the report is about can be marked reached from its card.
    buttons = reached_keyboard(t, view.milestone.milestone.id) if view.milestone else None
    if created or view.report.card_message_id is None:
        sent = await message.reply(card, reply_markup=buttons)
        view.report.card_message_id = sent.message_id
        await store.save(view.report)
    else:
        await edit_text(bot, message.chat.id, view.report.card_message_id, card, buttons)
    await store.commit()
    return view
