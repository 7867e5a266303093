"""/query CODE: an applicant (anyone, registered or not) asks how their item stands."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.domain.usecases.query import Limited, Miss, look_up
from bot.i18n import Translator
from bot.services import Services
from bot.views.query import limited_text, miss_text, status_text, usage_text
from storage.store import Store


async def query_command(message: Message, command: CommandObject, store: Store,
                        services: Services, t: Translator) -> None:
    assert message.from_user is not None
    if not (command.args or "").strip():
        await message.reply(usage_text(t))
        return
    found = await look_up(store, command.args or "", asker_tg_id=message.from_user.id,
                          now=services.now(), calendar=services.calendar,
                          policy=services.policy)
    if isinstance(found, Limited):
        await message.reply(limited_text(t, found))
    elif isinstance(found, Miss):
        await message.reply(miss_text(t, found))
    else:
        await message.reply(status_text(t, found))


async def query_in_group(message: Message, t: Translator) -> None:
    await message.reply(t.gettext("Query codes are answered in private: send "
                                  "<code>/query CODE</code> to me there."))


def build_router() -> Router:
    router = Router(name="query")
    router.message.register(query_command, Command("query"), F.chat.type == ChatType.PRIVATE)
    router.message.register(query_in_group, Command("query"))
    return router
