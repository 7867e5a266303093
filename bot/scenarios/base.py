"""What every conversation shares: /cancel, and a clear answer to any other command.

A conversation asks with force-reply, so answers reach the bot under group privacy mode.
Subclasses handle ``PLAIN_TEXT`` (text that is not a command): their handlers are
matched before these inherited ones.
"""

from __future__ import annotations

from aiogram import Bot, F
from aiogram.fsm.scene import Scene, on
from aiogram.types import ForceReply, Message

from bot.i18n import N_, Translator
from bot.views.text import mention
from storage.models import Person

PLAIN_TEXT = F.text & ~F.text.startswith("/")
NOT_COMMAND = ~F.text.startswith("/")  # for catch-alls: commands go to the handlers below


async def ask(bot: Bot, chat_id: int, t: Translator, person: Person | None, question: str,
              placeholder: str) -> Message:
    """Send a question the person answers by replying (it names them, for group privacy)."""
    who = f"{mention(person)} " if person is not None else ""
    return await bot.send_message(
        chat_id, who + question,
        reply_markup=ForceReply(selective=True, input_field_placeholder=placeholder[:64]))


class Conversation(Scene):
    """A base for conversations; not a scene itself (no state)."""

    CANCELLED = N_("Cancelled.")
    WAITING_FOR = N_("I am waiting for your answer. Reply to my question, or send /cancel.")

    @on.message(F.text.startswith("/cancel"))
    async def cancel(self, message: Message, t: Translator) -> None:
        await self.wizard.exit()
        await message.reply(t.gettext(self.CANCELLED))

    @on.message(F.text.startswith("/"))
    async def other_command(self, message: Message, t: Translator) -> None:
        await message.reply(t.gettext(self.WAITING_FOR))
