"""/dc: supervision items (督查事项) along the seven steps, from commands and buttons.

``/dc`` or ``/dc list``: open items, late first; ``/dc new``: register one (a short
conversation); ``/dc CODE``: its card with the buttons its state allows the reader;
``/dc assign CODE [WHO DUE]``: assign it (again). Buttons: 📨 assign, ⏰ urge, ✍️ feedback
(the assignee), ✅ accept / ↩️ send back, 📣 bulletin, 🗄 archive.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.scene import ScenesManager
from aiogram.types import CallbackQuery, Message
from markupsafe import Markup

from bot.domain.rules.errors import NotAllowed
from bot.domain.rules.vocabulary import ChatKind, ItemAct
from bot.domain.usecases import supervision_items as items
from bot.domain.usecases.people import Actor, require_actor
from bot.domain.usecases.supervision_items import (
    Taken,
    find_item,
    may_manage,
    require_manager,
    view_item,
)
from bot.flows.context import GROUP_TYPES
from bot.flows.delivery import edit_text
from bot.flows.items import tell, tell_office
from bot.i18n import Translator
from bot.scenarios.supervision_items import FeedbackScene, RegisterItemScene, SendBackScene
from bot.services import Services
from bot.views.keyboards import ItemCb
from bot.views.supervision_items import (
    accepted_text,
    assigned_text,
    bulletin_text,
    feedback_keyboard,
    item_card,
    item_keyboard,
    list_text,
    told,
    urged_text,
)
from storage.models import SupervisionItem
from storage.store import Store


def usage(t: Translator) -> Markup:
    return t.gettext("Usage: <code>/dc</code> lists open supervision items; "
                     "<code>/dc new</code> registers one; <code>/dc DC-2026-001</code> shows "
                     "it; <code>/dc assign DC-2026-001 [WHO DUE]</code> assigns it.")


async def _office_place(store: Store, chat_id: int, chat_type: str) -> None:
    """Items are shown in private or in the office's own chat, never in other groups."""
    if chat_type in GROUP_TYPES:
        chat = await store.chat_by_tg(chat_id)
        if chat is None or chat.kind != ChatKind.SUPERVISION:
            raise NotAllowed(action="dc_here")


async def _card(message: Message, store: Store, services: Services, t: Translator,
                actor: Actor, item: SupervisionItem, head: Markup | None = None) -> None:
    view = await view_item(store, item, now=services.now(), calendar=services.calendar,
                           policy=services.policy)
    manager = may_manage(actor)
    if not manager and (view.answerer is None or view.answerer.id != actor.id):
        raise NotAllowed(action="item_feedback", code=item.code)
    text = item_card(t, view) if head is None else Markup("{}\n\n{}").format(
        head, item_card(t, view))
    await message.reply(text, reply_markup=item_keyboard(t, view, manager=manager,
                                                         reader=actor.person))


async def dc_command(message: Message, command: CommandObject, actor: Actor | None,
                     store: Store, services: Services, t: Translator, bot: Bot,
                     scenes: ScenesManager) -> None:
    assert message.from_user is not None
    actor = require_actor(actor, message.from_user.id)
    words = (command.args or "").split()
    sub = words[0].lower() if words else "list"
    now = services.now()
    await _office_place(store, message.chat.id, message.chat.type)
    if sub in ("list", "ls"):
        views = await items.list_items(store, actor, now=now, calendar=services.calendar,
                                       policy=services.policy)
        await message.reply(list_text(t, views, manager=may_manage(actor)))
    elif sub == "new":
        require_manager(actor)
        await scenes.enter(RegisterItemScene)
    elif sub == "assign":
        require_manager(actor)
        if len(words) not in (2, 4):
            await message.reply(usage(t))
            return
        item = await find_item(store, words[1], actor.person)
        taken = await items.assign(
            store, actor, item, now=now, calendar=services.calendar,
            today=now.astimezone(services.settings.tz).date(),
            assignee=words[2] if len(words) == 4 else None,
            due=words[3] if len(words) == 4 else None)
        head = await _tell_assigned(bot, store, services, t, taken)
        await _card(message, store, services, t, actor, taken.item, head)
    elif sub == "help":
        await message.reply(usage(t))
    else:
        item = await find_item(store, words[0], actor.person)
        await _card(message, store, services, t, actor, item)


async def _tell_assigned(bot: Bot, store: Store, services: Services, t: Translator,
                         taken: Taken) -> Markup:
    view = await view_item(store, taken.item, now=services.now(), calendar=services.calendar,
                           policy=services.policy, history=False)
    delivered = await tell(bot, store, services, taken.answerer,
                           lambda g: assigned_text(g, view),
                           lambda g: feedback_keyboard(g, taken.item.id))
    return told(t, t.gettext("📨 Assigned to {who}."),
                taken.answerer.name if taken.answerer else "—", delivered.channel)


async def _refresh(query: CallbackQuery, bot: Bot, store: Store, services: Services,
                   t: Translator, actor: Actor, item: SupervisionItem) -> None:
    """The pressed card shows the item as it is now, with the buttons now allowed."""
    card = query.message
    if not isinstance(card, Message):
        return
    view = await view_item(store, item, now=services.now(), calendar=services.calendar,
                           policy=services.policy)
    await edit_text(bot, card.chat.id, card.message_id, item_card(t, view),
                    item_keyboard(t, view, manager=may_manage(actor), reader=actor.person))


async def _pressed(query: CallbackQuery, callback_data: ItemCb, actor: Actor | None,
                   store: Store) -> tuple[Actor, SupervisionItem]:
    actor = require_actor(actor, query.from_user.id)
    return actor, await find_item(store, callback_data.item, actor.person)


async def on_assign(query: CallbackQuery, callback_data: ItemCb, actor: Actor | None,
                    store: Store, services: Services, t: Translator, bot: Bot) -> None:
    actor, item = await _pressed(query, callback_data, actor, store)
    now = services.now()
    taken = await items.assign(store, actor, item, now=now, calendar=services.calendar,
                               today=now.astimezone(services.settings.tz).date())
    await query.answer(await _tell_assigned(bot, store, services, t, taken))
    await _refresh(query, bot, store, services, t, actor, item)


async def on_urge(query: CallbackQuery, callback_data: ItemCb, actor: Actor | None,
                  store: Store, services: Services, t: Translator, bot: Bot) -> None:
    actor, item = await _pressed(query, callback_data, actor, store)
    taken = await items.urge(store, actor, item, now=services.now())
    view = await view_item(store, item, now=services.now(), calendar=services.calendar,
                           policy=services.policy, history=False)
    delivered = await tell(bot, store, services, taken.answerer, lambda g: urged_text(g, view),
                           lambda g: feedback_keyboard(g, item.id))
    await query.answer(told(t, t.gettext("⏰ {who} was urged."),
                            taken.answerer.name if taken.answerer else "—", delivered.channel))
    await _refresh(query, bot, store, services, t, actor, item)


async def on_feedback(query: CallbackQuery, callback_data: ItemCb, actor: Actor | None,
                      store: Store, t: Translator, scenes: ScenesManager) -> None:
    actor, item = await _pressed(query, callback_data, actor, store)
    await items.may_answer(store, actor, item)
    await query.answer(t.gettext("Please reply with the result."))
    await scenes.enter(FeedbackScene, item_id=item.id)


async def on_accept(query: CallbackQuery, callback_data: ItemCb, actor: Actor | None,
                    store: Store, services: Services, t: Translator, bot: Bot) -> None:
    actor, item = await _pressed(query, callback_data, actor, store)
    taken = await items.accept(store, actor, item, now=services.now())
    view = await view_item(store, item, now=services.now(), calendar=services.calendar,
                           policy=services.policy, history=False)
    await query.answer(t.gettext("✅ Accepted."))
    await tell(bot, store, services, taken.answerer, lambda g: accepted_text(g, view))
    await _refresh(query, bot, store, services, t, actor, item)


async def on_send_back(query: CallbackQuery, callback_data: ItemCb, actor: Actor | None,
                       store: Store, t: Translator, scenes: ScenesManager) -> None:
    actor, item = await _pressed(query, callback_data, actor, store)
    await items.may_send_back(actor, item)
    card = query.message
    if not isinstance(card, Message):
        await query.answer(t.gettext("This button is no longer valid."), show_alert=True)
        return
    await query.answer(t.gettext("Please reply with the reason."))
    await scenes.enter(SendBackScene, item_id=item.id, card_chat=card.chat.id,
                       card_message=card.message_id)


async def on_bulletin(query: CallbackQuery, callback_data: ItemCb, actor: Actor | None,
                      store: Store, services: Services, t: Translator, bot: Bot) -> None:
    actor, item = await _pressed(query, callback_data, actor, store)
    await items.bulletin(store, actor, item, now=services.now(), calendar=services.calendar)
    view = await view_item(store, item, now=services.now(), calendar=services.calendar,
                           policy=services.policy, history=False)
    posted = await tell_office(bot, store, services, lambda g: bulletin_text(g, view))
    await query.answer(t.gettext("📣 Bulletin posted to the supervision chat.") if posted
                       else t.gettext("📣 Bulletin recorded; there is no supervision chat to "
                                      "post it to."))
    await _refresh(query, bot, store, services, t, actor, item)


async def on_archive(query: CallbackQuery, callback_data: ItemCb, actor: Actor | None,
                     store: Store, services: Services, t: Translator, bot: Bot) -> None:
    actor, item = await _pressed(query, callback_data, actor, store)
    await items.archive(store, actor, item, now=services.now())
    await query.answer(t.gettext("🗄 Archived."))
    await _refresh(query, bot, store, services, t, actor, item)


def build_router() -> Router:
    router = Router(name="supervision_items")
    router.message.register(dc_command, Command("dc"))
    for act, handler in ((ItemAct.ASSIGN, on_assign), (ItemAct.URGE, on_urge),
                         (ItemAct.FEEDBACK, on_feedback), (ItemAct.ACCEPT, on_accept),
                         (ItemAct.SEND_BACK, on_send_back), (ItemAct.BULLETIN, on_bulletin),
                         (ItemAct.ARCHIVE, on_archive)):
        router.callback_query.register(handler, ItemCb.filter(F.act == act))
    return router
