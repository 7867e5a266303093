"""💬 Approve with a comment: ask for it, then approve with it on the record."""

from __future__ import annotations

from typing import TypedDict

from aiogram import Bot
from aiogram.fsm.scene import on
from aiogram.types import CallbackQuery, Message

from bot.domain.rules.vocabulary import Decision
from bot.domain.usecases.approvals import decide
from bot.domain.usecases.people import Actor, require_actor
from bot.flows.announce import announce
from bot.i18n import N_, Translator
from bot.scenarios.base import PLAIN_TEXT, Conversation, ask
from bot.services import Services
from storage.store import Store


class CommentData(TypedDict):
    step_id: int


class ApproveCommentScene(Conversation, state="approve_comment"):
    CANCELLED = N_("Cancelled. The item is still waiting for a decision.")
    WAITING_FOR = N_("I am waiting for your comment. Reply with it, or send /cancel.")
    NOT_TEXT = N_("Please write the comment as text, or send /cancel.")

    @on.callback_query.enter()
    async def ask_comment(self, query: CallbackQuery, t: Translator, store: Store, bot: Bot,
                          actor: Actor | None, step_id: int) -> None:
        assert query.message is not None
        await self.wizard.set_data(CommentData(step_id=step_id))
        await ask(bot, query.message.chat.id, t, actor.person if actor else None,
                  t.gettext("Reply with your comment: it is recorded with your approval."),
                  t.gettext("Comment"))

    @on.message(PLAIN_TEXT)
    async def receive(self, message: Message, actor: Actor | None, store: Store,
                      services: Services, bot: Bot, t: Translator) -> None:
        assert message.from_user is not None and message.text is not None
        actor = require_actor(actor, message.from_user.id)
        step_id = (await self.stored(CommentData))["step_id"]
        outcome = await self.settle(message, t, decide(
            store, actor, step_id, Decision.APPROVE, comment=message.text, now=services.now(),
            calendar=services.calendar, policy=services.policy))
        if outcome is None:
            return
        await message.reply(t.gettext("✅ Approved with your comment."))
        await announce(bot, store, services, outcome)
