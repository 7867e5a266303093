"""✅ on a first-question ledger entry: ask for the outcome, then close it with it."""

from __future__ import annotations

from typing import TypedDict

from aiogram import Bot
from aiogram.fsm.scene import on
from aiogram.types import CallbackQuery, Message

from bot.domain.usecases.inquiries import close
from bot.domain.usecases.people import Actor, require_actor
from bot.i18n import N_, Translator
from bot.scenarios.base import PLAIN_TEXT, Conversation, ask
from bot.services import Services
from bot.views.inquiries import closed_text
from storage.store import Store


class OutcomeData(TypedDict):
    inquiry_id: int


class InquiryOutcomeScene(Conversation, state="inquiry_outcome"):
    CANCELLED = N_("Cancelled. The first question stays open.")
    WAITING_FOR = N_("I am waiting for the outcome. Reply with it, or send /cancel.")
    NOT_TEXT = N_("Please write the outcome as text, or send /cancel.")

    @on.callback_query.enter()
    async def ask_outcome(self, query: CallbackQuery, t: Translator, store: Store, bot: Bot,
                          actor: Actor | None, inquiry_id: int) -> None:
        assert query.message is not None
        await self.wizard.set_data(OutcomeData(inquiry_id=inquiry_id))
        await ask(bot, query.message.chat.id, t, actor.person if actor else None,
                  t.gettext("Reply with the outcome: what they were told or where they were "
                            "sent (办理结果)."), t.gettext("Outcome"))

    @on.message(PLAIN_TEXT)
    async def receive(self, message: Message, actor: Actor | None, store: Store,
                      services: Services, t: Translator) -> None:
        assert message.from_user is not None and message.text is not None
        actor = require_actor(actor, message.from_user.id)
        number = (await self.stored(OutcomeData))["inquiry_id"]
        inquiry = await self.settle(message, t, close(
            store, actor, number, message.text, now=services.now(), policy=services.policy))
        if inquiry is not None:
            await message.reply(closed_text(t, inquiry))
