"""/board: the lights board (a Mini App). In private a web_app button opens it; in a group,
where Telegram refuses web_app buttons, a link to the private chat (``/start board``), which
answers with the same button."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandStart
from aiogram.types import Message

from bot.domain.usecases.people import Actor, require_actor
from bot.i18n import Translator
from bot.services import Services
from bot.views.keyboards import BOARD_START, board_keyboard, board_link_keyboard


async def board_in_private(message: Message, actor: Actor | None, services: Services,
                           t: Translator) -> None:
    assert message.from_user is not None
    require_actor(actor, message.from_user.id)
    url = services.settings.board_url
    if url is None:
        await message.reply(t.gettext("The lights board is not configured here "
                                      "(GREENLIGHT_BOARD_URL is not set)."))
        return
    await message.answer(t.gettext("🚦 Every project and open step with its light, late "
                                   "first."), reply_markup=board_keyboard(t, url))


async def board_in_group(message: Message, actor: Actor | None, services: Services, bot: Bot,
                         t: Translator) -> None:
    assert message.from_user is not None
    require_actor(actor, message.from_user.id)
    if services.settings.board_url is None:
        await message.reply(t.gettext("The lights board is not configured here "
                                      "(GREENLIGHT_BOARD_URL is not set)."))
        return
    me = await bot.me()
    await message.reply(t.gettext("🚦 The lights board opens in your private chat with me."),
                        reply_markup=board_link_keyboard(t, me.username or ""))


def build_router() -> Router:
    router = Router(name="board")
    private = F.chat.type == ChatType.PRIVATE
    router.message.register(board_in_private, Command("board"), private)
    router.message.register(board_in_private,
                            CommandStart(deep_link=True, magic=F.args == BOARD_START), private)
    router.message.register(board_in_group, Command("board"))
    return router
