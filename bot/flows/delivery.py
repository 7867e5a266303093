"""Getting a message to a person: privately if Telegram allows, else by a mention in a group.

A bot cannot write first to someone who never started it (403). That refusal is
recorded on the person (``dm_blocked``) so later messages go straight to the group,
until the person opens a private chat with the bot.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import InlineKeyboardMarkup, Message
from markupsafe import Markup

from bot.domain.rules.vocabulary import Channel
from bot.views.text import mention
from storage.models import Person
from storage.store import Store

log = logging.getLogger(__name__)



@dataclass
class Delivered:
    channel: Channel
    message: Message | None = None
    error: str | None = None


async def send_private(bot: Bot, store: Store, person: Person, text: Markup,
                       markup: InlineKeyboardMarkup | None = None) -> Delivered:
    """Try a private message; a 403 marks the person so we stop trying."""
    if person.tg_user_id is None:
        return Delivered(Channel.NONE, error="no telegram id")
    if person.dm_blocked:
        return Delivered(Channel.NONE, error="private messages refused earlier")
    try:
        message = await bot.send_message(person.tg_user_id, text, reply_markup=markup)
    except TelegramForbiddenError as exc:
        person.dm_blocked = True
        await store.save(person)
        log.info("private message to %s refused: %s", person.key, exc.message)
        return Delivered(Channel.NONE, error=f"403 {exc.message}")
    except TelegramBadRequest as exc:
        if "chat not found" not in exc.message:
            raise  # anything else is a bug in what we sent, not a closed door
        person.dm_blocked = True  # the person never met the bot
        await store.save(person)
        return Delivered(Channel.NONE, error=f"400 {exc.message}")
    return Delivered(Channel.PRIVATE, message)


async def send_to_person(bot: Bot, store: Store, person: Person, text: Markup, *,
                         group_chat_id: int | None, group_text: Markup | None = None,
                         markup: InlineKeyboardMarkup | None = None) -> Delivered:
    """Private if possible (with ``markup``), else in the group with the person mentioned
    (``group_text`` is the same message in the group's language; no buttons there)."""
    private = await send_private(bot, store, person, text, markup)
    if private.channel is Channel.PRIVATE or group_chat_id is None:
        return private
    message = await bot.send_message(
        group_chat_id, Markup("{}\n{}").format(mention(person), group_text or text))
    return Delivered(Channel.GROUP, message, private.error)


async def edit_text(bot: Bot, chat_id: int, message_id: int, text: Markup,
                    markup: InlineKeyboardMarkup | None) -> bool:
    """Edit a message; False when it is gone. Callers skip edits that change nothing."""
    try:
        await bot.edit_message_text(text=text, chat_id=chat_id, message_id=message_id,
                                    reply_markup=markup)
    except TelegramBadRequest as exc:
        return _edited_anyway(exc, chat_id, message_id)
    return True


async def edit_buttons(bot: Bot, chat_id: int, message_id: int,
                       markup: InlineKeyboardMarkup | None) -> bool:
    """Change only a message's buttons (None removes them); False when it is gone."""
    try:
        await bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id,
                                            reply_markup=markup)
    except TelegramBadRequest as exc:
        return _edited_anyway(exc, chat_id, message_id)
    return True


def _edited_anyway(exc: TelegramBadRequest, chat_id: int, message_id: int) -> bool:
    """An edit Telegram refused: True when the message shows it already, False when the
    message is gone; anything else is a bug in what was sent."""
    if "not modified" in exc.message:
        return True
    if "not found" in exc.message or "can't be edited" in exc.message:
        log.warning("card %s/%s cannot be edited: %s", chat_id, message_id, exc.message)
        return False
    raise exc
