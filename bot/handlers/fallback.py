"""Last in line: unknown commands, buttons nobody recognizes, and stray private messages."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message

from bot.domain.rules.errors import UnknownButton
from bot.i18n import Translator
from bot.views.text import esc


async def unknown_command(message: Message, t: Translator) -> None:
    assert message.text is not None
    command = message.text.split()[0]
    await message.reply(t.gettext("Unknown command {command}. Send /help to see what I can "
                                  "do.").format(command=esc(command)))


async def unknown_button(query: CallbackQuery) -> None:
    raise UnknownButton()  # answered with an alert and audited by the Refusals middleware


async def stray_private_message(message: Message, t: Translator) -> None:
    await message.reply(t.gettext("I work with commands. Send /help to see them."))


async def group_mention(message: Message, t: Translator) -> None:
    """In groups only mentions and replies reach here (privacy mode): point to the commands."""
    await message.reply(t.gettext("To report progress send <code>/report text</code>; "
                                  "/help lists everything."))


def build_router() -> Router:
    router = Router(name="fallback")
    router.message.register(unknown_command, F.text.startswith("/"))
    router.callback_query.register(unknown_button)
    router.message.register(stray_private_message, F.chat.type == "private")
    router.message.register(group_mention, F.text)
    return router
