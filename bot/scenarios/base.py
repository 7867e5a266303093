"""What every conversation shares: /cancel, and a clear answer to any other command.

A conversation asks with force-reply, so answers reach the bot under group privacy mode.
Subclasses handle ``PLAIN_TEXT`` (text that is not a command): their handlers are
matched before these inherited ones.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

from aiogram import Bot, F
from aiogram.fsm.scene import Scene, on
from aiogram.types import ForceReply, Message
from markupsafe import Markup

from bot.domain.rules.errors import EmptyText, Refusal, TooLong
from bot.i18n import N_, Translator
from bot.views.cards import refusal
from bot.views.text import mention
from storage.models import Person

T = TypeVar("T")
D = TypeVar("D", bound=Mapping[str, Any])

PLAIN_TEXT = F.text & ~F.text.startswith("/")
NOT_COMMAND = ~F.text.startswith("/")  # for catch-alls: commands go to the handlers below


async def ask(bot: Bot, chat_id: int, t: Translator, person: Person | None, question: Markup,
              placeholder: str) -> Message:
    """Send a question the person answers by replying. In a group it names them (group
    privacy: the reply reaches the bot, and the others see whom it is for); in private it
    does not start with the reader's own name."""
    group = chat_id < 0
    who = Markup("{} ").format(mention(person)) if person is not None and group else Markup()
    return await bot.send_message(
        chat_id, who + question,
        reply_markup=ForceReply(selective=group, input_field_placeholder=placeholder[:64]))


class Conversation(Scene):
    """A base for conversations; not a scene itself (no state)."""

    CANCELLED = N_("Cancelled.")
    WAITING_FOR = N_("I am waiting for your answer. Reply to my question, or send /cancel.")
    NOT_TEXT = WAITING_FOR  # what a message of the wrong kind (a sticker, a photo) is told

    async def stored(self, shape: type[D]) -> D:
        """The conversation's data, as ``shape`` (the scene's TypedDict) describes it: the
        scene itself wrote them with ``set_data``."""
        return cast(D, await self.wizard.get_data())

    async def settle(self, message: Message, t: Translator, change: Awaitable[T],
                     refine: Callable[[Refusal], Refusal] | None = None) -> T | None:
        """Make the change the conversation was for. A refusal they can fix by answering
        again (too long, empty) keeps the conversation; any other refusal, or success, ends
        it. None when refused (the refusal was said)."""
        try:
            result = await change
        except (TooLong, EmptyText) as error:
            await message.reply(refusal(t, error))
            return None
        except Refusal as error:
            await self.wizard.exit()
            await message.reply(refusal(t, refine(error) if refine else error))
            return None
        await self.wizard.exit()
        return result

    @on.message(F.text.startswith("/cancel"))
    async def cancel(self, message: Message, t: Translator) -> None:
        await self.wizard.exit()
        await message.reply(t.gettext(self.CANCELLED))

    @on.message(F.text.startswith("/"))
    async def other_command(self, message: Message, t: Translator) -> None:
        await message.reply(t.gettext(self.WAITING_FOR))

    @on.message(NOT_COMMAND)
    async def not_understood(self, message: Message, t: Translator) -> None:
        await message.reply(t.gettext(self.NOT_TEXT))
