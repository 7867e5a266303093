"""The supervision office: answering urge notices (✍️) and /urges, who was urged how often."""

from __future__ import annotations

import contextlib

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.fsm.scene import ScenesManager
from aiogram.types import CallbackQuery, InaccessibleMessage, Message

from bot.domain.rules.errors import AlreadyAnswered
from bot.domain.rules.inputs import parse_year
from bot.domain.rules.vocabulary import Role
from bot.domain.usecases.people import Actor, require_actor, require_role
from bot.domain.usecases.scope import scope_of
from bot.domain.usecases.supervision import urge_counts, urge_to_answer
from bot.i18n import Translator
from bot.scenarios.urge_answer import UrgeAnswerScene
from bot.services import Services
from bot.views.keyboards import UrgeCb
from bot.views.supervision import counts_text
from storage.store import Store


async def on_urge_answer(query: CallbackQuery, callback_data: UrgeCb, actor: Actor | None,
                         store: Store, t: Translator, scenes: ScenesManager) -> None:
    actor = require_actor(actor, query.from_user.id)
    try:
        await urge_to_answer(store, actor, callback_data.urge)  # refuses others, a second time
    except AlreadyAnswered:
        # A copy whose button outlived the answer (Telegram refused the edit): drop it now.
        if query.message is not None and not isinstance(query.message, InaccessibleMessage):
            with contextlib.suppress(TelegramAPIError):
                await query.message.edit_reply_markup(reply_markup=None)
        raise
    await query.answer(t.gettext("Please reply with the cause of the delay."))
    await scenes.enter(UrgeAnswerScene, urge_id=callback_data.urge)


async def urges_command(message: Message, command: CommandObject, actor: Actor | None,
                        store: Store, services: Services, t: Translator) -> None:
    assert message.from_user is not None
    actor = require_actor(actor, message.from_user.id)
    require_role(actor, Role.SUPERVISOR, Role.DIRECTOR, Role.ADMIN, action="urges")
    year = services.now().astimezone(services.settings.tz).year
    if command.args:
        asked = parse_year(command.args)
        if asked is None:
            await message.reply(t.gettext("Usage: <code>/urges</code> for this year, or "
                                          "<code>/urges 2026</code>."))
            return
        year = asked
    scope = await scope_of(store, actor.person)
    await message.reply(counts_text(t, await urge_counts(store, year, services.settings.tz,
                                                         scope)))


def build_router() -> Router:
    router = Router(name="supervision")
    router.callback_query.register(on_urge_answer, UrgeCb.filter())
    router.message.register(urges_command, Command("urges"))
    return router
