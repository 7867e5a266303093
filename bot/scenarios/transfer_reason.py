"""🔁 Transfer: ask why, then hand the turn to the chosen colleague."""

from __future__ import annotations

from typing import TypedDict

from aiogram import Bot
from aiogram.fsm.scene import on
from aiogram.types import CallbackQuery, Message

from bot.domain.usecases.approvals import transfer
from bot.domain.usecases.people import Actor, require_actor
from bot.flows.announce import announce
from bot.i18n import N_, Translator
from bot.scenarios.base import PLAIN_TEXT, Conversation, ask
from bot.services import Services
from bot.views.text import esc
from storage.models import Person
from storage.store import Store


class TransferData(TypedDict):
    step_id: int
    person_id: int  # whom the turn goes to


class TransferReasonScene(Conversation, state="transfer_reason"):
    CANCELLED = N_("Cancelled. The decision stays with you.")
    WAITING_FOR = N_("I am waiting for the reason for the transfer. Reply with it, or send "
                     "/cancel.")
    NOT_TEXT = N_("Please write the reason as text, or send /cancel.")

    @on.callback_query.enter()
    async def ask_reason(self, query: CallbackQuery, t: Translator, store: Store, bot: Bot,
                         actor: Actor | None, step_id: int, person_id: int) -> None:
        assert query.message is not None
        target = await store.get(Person, person_id)
        await self.wizard.set_data(TransferData(step_id=step_id, person_id=person_id))
        await ask(bot, query.message.chat.id, t, actor.person if actor else None,
                  t.gettext("Reply with the reason for handing this to {who}.").format(
                      who=esc(target.name if target else "?")),
                  t.gettext("Reason for the transfer"))

    @on.message(PLAIN_TEXT)
    async def receive(self, message: Message, actor: Actor | None, store: Store,
                      services: Services, bot: Bot, t: Translator) -> None:
        assert message.from_user is not None and message.text is not None
        actor = require_actor(actor, message.from_user.id)
        data = await self.stored(TransferData)
        outcome = await self.settle(message, t, transfer(
            store, actor, data["step_id"], data["person_id"], reason=message.text,
            now=services.now(), calendar=services.calendar, policy=services.policy))
        if outcome is None:
            return
        await message.reply(t.gettext("🔁 Handed on."))
        await announce(bot, store, services, outcome)
