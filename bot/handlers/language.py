"""/lang (also /language, /settings): the language the bot speaks to me."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InaccessibleMessage, Message

from bot.domain.usecases.people import Actor, choose_locale, require_actor
from bot.i18n import Translator
from bot.services import Services
from bot.views.keyboards import LANGUAGE_NAMES, LangCb, language_keyboard
from storage.store import Store


async def lang_command(message: Message, actor: Actor | None, t: Translator) -> None:
    assert message.from_user is not None
    if message.chat.type != "private":
        # The choice is one's own: a group keeps the bureau's language for everyone.
        await message.reply(t.gettext("Choose your language in our private chat: send /lang "
                                      "to me there."))
        return
    require_actor(actor, message.from_user.id)
    await message.answer(t.gettext("🌐 Which language shall I use with you?"),
                         reply_markup=language_keyboard(t.locale))


async def on_lang(query: CallbackQuery, callback_data: LangCb, actor: Actor | None,
                  store: Store, services: Services) -> None:
    actor = require_actor(actor, query.from_user.id)
    await choose_locale(store, actor.person, callback_data.lang, now=services.now())
    t = services.rendering.for_person(actor.person)
    done = t.gettext("🌐 I will speak {language} with you.").format(
        language=LANGUAGE_NAMES[callback_data.lang])
    await query.answer(done)
    if query.message is not None and not isinstance(query.message, InaccessibleMessage):
        await query.message.edit_text(done)


def build_router() -> Router:
    router = Router(name="language")
    router.message.register(lang_command, Command("lang", "language", "settings"))
    router.callback_query.register(on_lang, LangCb.filter())
    return router
