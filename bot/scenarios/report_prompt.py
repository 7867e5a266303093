"""``/report`` alone: ask for the progress as a reply (works under group privacy mode)."""

from __future__ import annotations

from aiogram import Bot, F
from aiogram.fsm.scene import on
from aiogram.types import Message

from bot.domain.usecases.people import Actor, require_actor
from bot.flows.posting import post_report
from bot.i18n import N_, Translator
from bot.scenarios.base import NOT_COMMAND, Conversation, ask
from bot.services import Services
from storage.store import Store


class ReportPromptScene(Conversation, state="report_prompt"):
    CANCELLED = N_("Cancelled. Nothing was reported.")
    WAITING_FOR = N_("I am waiting for your progress report. Reply with it, or send /cancel.")
    NOT_TEXT = N_("Please send text, photos or a document, or /cancel.")

    @on.message.enter()
    async def ask_progress(self, message: Message, t: Translator, store: Store, bot: Bot,
                           actor: Actor | None) -> None:
        assert message.from_user is not None
        await ask(bot, message.chat.id, t, actor.person if actor else None,
                  t.gettext("Reply to this message with the progress: text, photos or a "
                            "document. /cancel to stop."),
                  t.gettext("Progress"))

    @on.message((F.text & NOT_COMMAND) | F.photo | F.document)
    async def receive(self, message: Message, store: Store, services: Services, bot: Bot,
                      actor: Actor | None) -> None:
        assert message.from_user is not None
        await post_report(message, text=message.text or message.caption or "",
                          actor=require_actor(actor, message.from_user.id),
                          store=store, services=services, bot=bot)
        await self.wizard.exit()
