"""💬 Comments: a reply to a case card is kept with the case and shown to whoever holds it."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.types import Message

from bot.domain.usecases.case_view import case_view
from bot.domain.usecases.comments import add_comment
from bot.domain.usecases.people import Actor, require_actor
from bot.flows.delivery import send_private
from bot.flows.publishing import sync_cards
from bot.i18n import Translator
from bot.services import Services
from bot.views.text import esc
from storage.store import Store


async def comment_on_card(message: Message, actor: Actor | None, store: Store,
                          services: Services, bot: Bot, t: Translator) -> None:
    assert message.reply_to_message is not None and message.text is not None
    card = await store.card_of_message(message.chat.id, message.reply_to_message.message_id)
    if card is None:
        raise SkipHandler()  # a reply to some other message of the bot
    assert message.from_user is not None
    actor = require_actor(actor, message.from_user.id)
    comment = await add_comment(store, actor, card.case_id, message.text,
                                tg_chat_id=message.chat.id, tg_message_id=message.message_id,
                                now=services.now(), policy=services.policy)
    await message.reply(t.gettext("💬 Added to #{id}.").format(id=card.case_id))
    view = await case_view(store, card.case_id, services.now(), services.calendar,
                           services.policy)
    readers = {h.person.id: h.person for h in view.current.pending()} if view.current else {}
    readers.setdefault(view.submitter.id, view.submitter)
    readers.pop(actor.id, None)
    for person in readers.values():
        reader = services.rendering.for_person(person)
        await send_private(bot, store, person, reader.gettext(
            "💬 {who} on #{id} “{title}”: {text}").format(
            who=esc(actor.person.name), id=card.case_id, title=esc(view.case.title),
            text=esc(comment.text)))
    await sync_cards(bot, store, services, card.case_id, view=await case_view(
        store, card.case_id, services.now(), services.calendar, services.policy))


def build_router() -> Router:
    router = Router(name="comments")
    router.message.register(comment_on_card, F.reply_to_message.from_user.is_bot,
                            F.text, ~F.text.startswith("/"))
    return router
