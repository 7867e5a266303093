"""/stats: the leaders' view of the whole, as text and three charts."""

from __future__ import annotations

import asyncio

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, InputMediaPhoto, Message

from bot.domain.rules.vocabulary import ChatKind, Role
from bot.domain.usecases.people import Actor, require_actor, require_role
from bot.domain.usecases.stats import gather
from bot.flows.context import GROUP_TYPES
from bot.i18n import Translator
from bot.services import Services
from bot.views.charts import stats_charts
from bot.views.stats import stats_text
from storage.store import Store


async def stats_command(message: Message, actor: Actor | None, store: Store,
                        services: Services, t: Translator, bot: Bot) -> None:
    assert message.from_user is not None
    actor = require_actor(actor, message.from_user.id)
    require_role(actor, Role.LEADER, Role.DIRECTOR, Role.SUPERVISOR, Role.ADMIN,
                 action="stats")
    if message.chat.type in GROUP_TYPES:
        chat = await store.chat_by_tg(message.chat.id)
        if chat is None or chat.kind != ChatKind.LEADERS:
            await message.reply(t.gettext("The figures are for leaders: ask me in private or "
                                          "in the leaders' group."))
            return
    stats = await gather(store, services.now(), services.calendar, services.settings.tz)
    await message.reply(stats_text(t, stats))
    charts = await asyncio.to_thread(stats_charts, t, stats)  # a second of CPU, off the loop
    await bot.send_media_group(message.chat.id, [
        InputMediaPhoto(media=BufferedInputFile(png, filename=name)) for name, png in charts])


def build_router() -> Router:
    router = Router(name="stats")
    router.message.register(stats_command, Command("stats"))
    return router
