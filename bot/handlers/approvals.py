"""Submitting items and deciding them from the cards' buttons."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.scene import ScenesManager
from aiogram.types import CallbackQuery, Message

from bot.domain.approvals import check_press, decide, submit_case
from bot.domain.errors import UnknownButton
from bot.domain.people import Actor, require_actor
from bot.domain.vocabulary import Decision
from bot.handlers.announce import announce_decision
from bot.handlers.context import GROUP_TYPES, files_of, project_here
from bot.i18n import Translator
from bot.publishing import publish_case
from bot.scenarios.return_reason import ReturnReasonScene
from bot.services import Services
from bot.views.keyboards import DecideCb
from storage.store import Store


async def submit_command(message: Message, command: CommandObject, actor: Actor | None,
                         store: Store, services: Services, bot: Bot) -> None:
    """``/submit title``; a document or photo may come as the message or the one replied to."""
    assert message.from_user is not None
    actor = require_actor(actor, message.from_user.id)
    project = await project_here(store, message)
    files = files_of(message) or files_of(message.reply_to_message)
    view = await submit_case(store, actor, project, title=command.args or "", files=files,
                             now=services.now(), calendar=services.calendar,
                             policy=services.policy)
    await publish_case(bot, store, view, group_chat_id=message.chat.id,
                       reply_to=message.message_id, rendering=services.rendering)


async def submit_in_private(message: Message, actor: Actor | None, store: Store) -> None:
    assert message.from_user is not None
    require_actor(actor, message.from_user.id)
    await project_here(store, message)  # refuses: items are submitted in the project's group


async def on_decision(query: CallbackQuery, callback_data: DecideCb, actor: Actor | None,
                      store: Store, services: Services, bot: Bot, t: Translator,
                      scenes: ScenesManager) -> None:
    actor = require_actor(actor, query.from_user.id)
    decision = callback_data.decision
    if decision is None:
        raise UnknownButton()
    if decision is Decision.RETURN:
        await check_press(store, actor, callback_data.step)  # refuses before asking a reason
        await query.answer(t.gettext("Please reply with the reason for returning it."))
        await scenes.enter(ReturnReasonScene, step_id=callback_data.step)
        return
    result = await decide(store, actor, callback_data.step, decision, reason=None,
                          now=services.now(), policy=services.policy)
    await query.answer(t.gettext("✅ Approved. Thank you."))
    await announce_decision(bot, store, services, result.case_id, actor)


def build_router() -> Router:
    router = Router(name="approvals")
    router.message.register(submit_command, Command("submit"), F.chat.type.in_(GROUP_TYPES))
    router.message.register(submit_in_private, Command("submit"))
    router.callback_query.register(on_decision, DecideCb.filter())
    return router
