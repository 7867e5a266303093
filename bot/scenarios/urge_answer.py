"""✍️ The section head answers an urge notice in writing: the cause of the delay, then a plan."""

from __future__ import annotations

from typing import TypedDict

from aiogram import Bot
from aiogram.fsm.scene import on
from aiogram.types import CallbackQuery, Message

from bot.domain.rules.errors import TooLong
from bot.domain.rules.vocabulary import ChatKind
from bot.domain.usecases.people import Actor, require_actor
from bot.domain.usecases.scope import nearest_chats
from bot.domain.usecases.supervision import answer_urge
from bot.flows.urge_copies import retire_urge_buttons
from bot.i18n import N_, Translator
from bot.scenarios.base import PLAIN_TEXT, Conversation, ask
from bot.services import Services
from bot.views.cards import refusal
from bot.views.supervision import answer_text
from storage.models import Project
from storage.store import Store


class UrgeAnswerData(TypedDict):
    urge_id: int
    cause: str | None  # the first answer; the plan comes second


class UrgeAnswerScene(Conversation, state="urge_answer"):
    CANCELLED = N_("Cancelled. The urge notice still waits for your answer.")
    WAITING_FOR = N_("I am waiting for your written answer. Reply to my question, or send "
                     "/cancel.")
    NOT_TEXT = N_("Please write the answer as text, or send /cancel.")

    @on.callback_query.enter()
    async def ask_cause(self, query: CallbackQuery, t: Translator, store: Store, bot: Bot,
                        actor: Actor | None, urge_id: int) -> None:
        assert query.message is not None
        await self.wizard.set_data(UrgeAnswerData(urge_id=urge_id, cause=None))
        await ask(bot, query.message.chat.id, t, actor.person if actor else None,
                  t.gettext("Reply with the cause of the delay."), t.gettext("Cause"))

    @on.message(PLAIN_TEXT)
    async def receive(self, message: Message, actor: Actor | None, store: Store,
                      services: Services, bot: Bot, t: Translator) -> None:
        assert message.from_user is not None and message.text is not None
        actor = require_actor(actor, message.from_user.id)
        data = await self.stored(UrgeAnswerData)
        if len(message.text) > services.policy.reason_max_chars:
            await message.reply(refusal(t, TooLong(length=len(message.text),
                                                   limit=services.policy.reason_max_chars)))
            return
        if data["cause"] is None:
            data["cause"] = message.text
            await self.wizard.set_data(data)
            await ask(bot, message.chat.id, t, actor.person,
                      t.gettext("Reply with the plan: what will be done, by when."),
                      t.gettext("Plan"))
            return
        urge = await self.settle(message, t, answer_urge(
            store, actor, data["urge_id"], cause=data["cause"], plan=message.text,
            now=services.now(), policy=services.policy))
        if urge is None:
            return
        await message.reply(t.gettext("📝 Answer recorded and sent to the supervision office."))
        await retire_urge_buttons(bot, store, data["urge_id"])
        project = await store.get(Project, urge.project_id)
        group = services.rendering.for_group()
        for chat in await nearest_chats(store, project.unit_id if project else None,
                                        ChatKind.SUPERVISION):
            await bot.send_message(chat.tg_chat_id, answer_text(
                group, urge, actor.person.name, project.code if project else "?"))
