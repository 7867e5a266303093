"""``/report`` alone: ask for the progress as a reply (works under group privacy mode)."""

from __future__ import annotations

from aiogram import Bot, F
from aiogram.fsm.scene import Scene, on
from aiogram.types import ForceReply, Message

from bot.domain.people import Actor, require_actor
from bot.handlers.posting import post_report
from bot.i18n import Translator
from bot.services import Services
from bot.views.text import mention
from storage.store import Store


class ReportPromptScene(Scene, state="report_prompt"):
    @on.message.enter()
    async def ask(self, message: Message, t: Translator, store: Store) -> None:
        assert message.from_user is not None
        person = await store.person_by_tg(message.from_user.id)
        who = mention(person) if person else ""
        await message.reply(
            t.gettext("{who} Reply to this message with the progress: text, photos or a "
                      "document. /cancel to stop.").format(who=who).strip(),
            reply_markup=ForceReply(selective=True,
                                    input_field_placeholder=t.gettext("Progress")))

    @on.message(F.text.startswith("/cancel"))
    async def cancel(self, message: Message, t: Translator) -> None:
        await self.wizard.exit()
        await message.reply(t.gettext("Cancelled. Nothing was reported."))

    @on.message(F.text.startswith("/"))
    async def other_command(self, message: Message, t: Translator) -> None:
        await message.reply(t.gettext("I am waiting for your progress report. Reply with it, "
                                      "or send /cancel."))

    @on.message(F.text | F.photo | F.document)
    async def receive(self, message: Message, store: Store, services: Services, bot: Bot,
                      actor: Actor | None) -> None:
        assert message.from_user is not None
        await post_report(message, text=message.text or message.caption or "",
                          actor=require_actor(actor, message.from_user.id),
                          store=store, services=services, bot=bot)
        await self.wizard.exit()

    @on.message()
    async def unsupported(self, message: Message, t: Translator) -> None:
        await message.reply(t.gettext("Please send text, photos or a document, or /cancel."))
