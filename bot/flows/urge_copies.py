"""The messages that show an urge notice with its ✍️ button: noted when sent, stripped of the
button once the notice is answered (a stale button would only lead to a refusal)."""

from __future__ import annotations

import contextlib

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Message

from storage.models import UrgeCopy
from storage.store import Store


def keep_urge_copy(store: Store, urge_id: int, message: Message) -> None:
    store.add(UrgeCopy(urge_id=urge_id, tg_chat_id=message.chat.id,
                       tg_message_id=message.message_id))


async def retire_urge_buttons(bot: Bot, store: Store, urge_id: int) -> None:
    """Every copy of the notice without its button; one Telegram refuses is left as it is
    (a press on it is refused as already answered)."""
    for copy in await store.urge_copies(urge_id):
        with contextlib.suppress(TelegramAPIError):
            await bot.edit_message_reply_markup(chat_id=copy.tg_chat_id,
                                                message_id=copy.tg_message_id,
                                                reply_markup=None)
