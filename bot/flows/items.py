"""Supervision items' messages, shared by the /dc handlers, their scenes and the sweep: what
the assignee is sent (privately, else by a mention in the supervision chat, as nudges fall
back to a group), and what the supervision chat is shown."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import InlineKeyboardMarkup, Message
from markupsafe import Markup

from bot.domain.rules.vocabulary import Channel, ChatKind
from bot.domain.usecases import nudging
from bot.domain.usecases.supervision_items import PlannedItemNudge, view_item
from bot.flows.delivery import Delivered, send_to_person
from bot.i18n import Translator
from bot.services import Services
from bot.views.supervision_items import feedback_keyboard, item_nudge_text
from storage.models import Person
from storage.store import Store

log = logging.getLogger(__name__)
Render = Callable[[Translator], Markup]
Buttons = Callable[[Translator], InlineKeyboardMarkup | None]


async def office_chat_id(store: Store) -> int | None:
    chats = await store.chats_of_kind(ChatKind.SUPERVISION)
    return chats[0].tg_chat_id if chats else None


async def tell(bot: Bot, store: Store, services: Services, person: Person | None,
               render: Render, buttons: Buttons | None = None) -> Delivered:
    """To one person privately (with ``buttons``), else mentioned in the supervision chat."""
    if person is None:
        return Delivered(Channel.NONE, error="nobody to tell")
    t, group = services.rendering.for_person(person), services.rendering.for_group()
    return await send_to_person(bot, store, person, render(t),
                                group_chat_id=await office_chat_id(store),
                                group_text=render(group),
                                markup=buttons(t) if buttons else None)


async def tell_office(bot: Bot, store: Store, services: Services, render: Render,
                      buttons: Buttons | None = None, *, skip: int | None = None
                      ) -> list[Message]:
    """To every supervision chat (but ``skip``, where it was just said)."""
    group = services.rendering.for_group()
    sent = []
    for chat in await store.chats_of_kind(ChatKind.SUPERVISION):
        if chat.tg_chat_id != skip:
            sent.append(await bot.send_message(chat.tg_chat_id, render(group),
                                               reply_markup=buttons(group) if buttons else None))
    return sent


async def deliver_item_nudges(bot: Bot, store: Store, services: Services,
                              planned: list[PlannedItemNudge]) -> int:
    """The sweep's item nudges, claimed and committed already: each marked with how it went
    (a failure is recorded on its claim, which a later sweep retakes). Returns how many
    went out."""
    sent = 0
    for item in planned:
        nudge = await store.session.merge(item.nudge, load=False)
        person = await store.session.merge(item.person, load=False)
        view = await view_item(store, item.item, now=services.now(),
                               calendar=services.calendar, policy=services.policy,
                               history=False)
        answers = not item.office and view.answerer is not None and \
            view.answerer.id == person.id
        try:
            delivered = await tell(bot, store, services, person,
                                   lambda t: item_nudge_text(t, item),  # noqa: B023
                                   (lambda t: feedback_keyboard(t, view.item.id))  # noqa: B023
                                   if answers else None)
        except TelegramAPIError as exc:
            log.warning("item nudge %s not sent (%s); a later sweep retries", nudge.id, exc)
            nudge.error = str(exc)[:255]
            await store.save(nudge)
            await store.commit()
            continue
        await nudging.mark_sent(store, nudge, channel=delivered.channel, at=services.now(),
                                error=delivered.error)
        await store.commit()
        sent += 1
    return sent

