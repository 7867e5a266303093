"""/pending: my open turns, oldest first, with one-tap and bulk approve / return."""

from __future__ import annotations

from html import unescape

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.scene import ScenesManager
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from markupsafe import Markup

from bot.domain.rules.errors import NotYourTurn, Refusal, UnknownButton
from bot.domain.rules.vocabulary import Channel, Decision
from bot.domain.usecases.approvals import check_press, decide
from bot.domain.usecases.case_view import PendingItem, pending_for
from bot.domain.usecases.people import Actor, require_actor
from bot.flows.announce import announce
from bot.flows.context import place_of
from bot.flows.delivery import send_private
from bot.i18n import Translator
from bot.scenarios.return_reason import BulkReturnScene, ReturnReasonScene
from bot.services import Services
from bot.views.keyboards import PendingAct, PendingCb
from bot.views.pending import pending_keyboard, pending_text, selected_in
from storage.store import Store


async def pending_command(message: Message, actor: Actor | None, store: Store,
                          services: Services, bot: Bot, t: Translator) -> None:
    assert message.from_user is not None
    actor = require_actor(actor, message.from_user.id)
    items = await pending_for(store, actor.id, services.now(), services.calendar,
                              services.policy)
    if message.chat.type != "private":
        # The whole list goes to the private chat; in the group it is cut to what the group
        # may see, when Telegram refuses the private message (never started the bot).
        text, markup = pending_text(t, items), pending_keyboard(t, items, set())
        delivered = await send_private(bot, store, actor.person, text, markup)
        if delivered.channel is Channel.PRIVATE:
            await message.reply(t.gettext("📥 I sent your list to our private chat."))
            return
    # The list answers the command, so on_pending can tell whose list it is.
    text, markup = await listed(store, message, t, items, set())
    await message.reply(text, reply_markup=markup)


async def listed(store: Store, message: Message, t: Translator, items: list[PendingItem],
                 selected: set[int]) -> tuple[Markup, InlineKeyboardMarkup | None]:
    """The list as this chat may show it: every item in private; in a group only its
    project's (what the group sees on its cards anyway), and how many others there are."""
    hidden = 0
    if message.chat.type != "private":
        place = await place_of(store, message)
        here = [item for item in items if item.view.project.id == place.project_id]
        hidden, items = len(items) - len(here), here
    text = pending_text(t, items)
    if hidden:
        text += Markup("\n\n") + t.ngettext(
            "…and {n} more in other projects: start a private chat with me to see them.",
            "…and {n} more in other projects: start a private chat with me to see them.",
            hidden).format(n=hidden)
    still = {item.step.step.id for item in items}
    return text, pending_keyboard(t, items, selected & still)


async def refresh(message: Message, store: Store, services: Services, t: Translator,
                  person_id: int, selected: set[int]) -> None:
    items = await pending_for(store, person_id, services.now(), services.calendar,
                              services.policy)
    text, markup = await listed(store, message, t, items, selected)
    # Compared as data: a keyboard parsed from an update is bound to the bot, so ``==`` with
    # a new one is never true; and aiogram's html_text writes entities its own way. Editing
    # to the same content is an error on Telegram.
    shown = message.reply_markup.model_dump() if message.reply_markup else None
    if (unescape(text) != unescape(message.html_text)
            or (markup.model_dump() if markup else None) != shown):
        await message.edit_text(text, reply_markup=markup)


async def _on_list(query: CallbackQuery, actor: Actor | None) -> tuple[Actor, Message]:
    """Whose list was pressed, and the list's message; refuses anyone but its owner."""
    actor = require_actor(actor, query.from_user.id)
    if not isinstance(query.message, Message):
        raise UnknownButton()
    message = query.message
    if message.chat.type != "private":
        # A list in a group is its asker's: anyone else's press would re-draw it with their
        # own items or bulk-decide the asker's ticks in their name.
        asker = message.reply_to_message.from_user if message.reply_to_message else None
        if asker is None or asker.id != query.from_user.id:
            raise NotYourTurn()
    return actor, message


async def on_toggle(query: CallbackQuery, callback_data: PendingCb, actor: Actor | None,
                    store: Store, services: Services, t: Translator) -> None:
    actor, message = await _on_list(query, actor)
    selected = selected_in(message.reply_markup) ^ {callback_data.step}
    await query.answer()
    await refresh(message, store, services, t, actor.id, selected)


async def on_select_all(query: CallbackQuery, actor: Actor | None, store: Store,
                        services: Services, t: Translator) -> None:
    actor, message = await _on_list(query, actor)
    items = await pending_for(store, actor.id, services.now(), services.calendar,
                              services.policy)
    selected = {i.step.step.id for i in items}
    await query.answer()
    await refresh(message, store, services, t, actor.id, selected)


async def on_approve_one(query: CallbackQuery, callback_data: PendingCb, actor: Actor | None,
                         store: Store, services: Services, bot: Bot, t: Translator) -> None:
    actor, message = await _on_list(query, actor)
    selected = selected_in(message.reply_markup)
    try:
        outcome = await decide(store, actor, callback_data.step, Decision.APPROVE,
                               now=services.now(), calendar=services.calendar,
                               policy=services.policy)
    except Refusal:
        # A row decided meanwhile (by the other post, on a card) leaves the list; the
        # refusal is then answered and audited as any other.
        await refresh(message, store, services, t, actor.id, selected)
        raise
    await query.answer(t.gettext("✅ Approved. Thank you."))
    await announce(bot, store, services, outcome)
    await refresh(message, store, services, t, actor.id, selected)


async def on_return_one(query: CallbackQuery, callback_data: PendingCb, actor: Actor | None,
                        store: Store, services: Services, t: Translator,
                        scenes: ScenesManager) -> None:
    actor, message = await _on_list(query, actor)
    try:
        await check_press(store, actor, callback_data.step)
    except Refusal:  # as for approve
        await refresh(message, store, services, t, actor.id, selected_in(message.reply_markup))
        raise
    await query.answer(t.gettext("Please reply with the reason for returning it."))
    await scenes.enter(ReturnReasonScene, step_id=callback_data.step, return_to=0,
                       list_message_id=message.message_id)


async def on_approve_selected(query: CallbackQuery, actor: Actor | None, store: Store,
                              services: Services, bot: Bot, t: Translator) -> None:
    actor, message = await _on_list(query, actor)
    selected = selected_in(message.reply_markup)
    if not selected:
        await query.answer(t.gettext("Tick some items first."), show_alert=True)
        return
    outcomes, refused = [], []
    for chosen in sorted(selected):
        try:  # a refused row undoes only itself: the others stay decided
            async with store.savepoint():
                outcomes.append(await decide(store, actor, chosen, Decision.APPROVE,
                                             now=services.now(), calendar=services.calendar,
                                             policy=services.policy))
        except Refusal as error:
            refused.append(error)
    done = len(outcomes)
    summary = t.ngettext("✅ {n} approved.", "✅ {n} approved.", done).format(n=done)
    if refused:
        summary += " " + t.ngettext("{n} could not be: already decided or not yours.",
                                    "{n} could not be: already decided or not yours.",
                                    len(refused)).format(n=len(refused))
    # Answered and re-drawn before the cards are brought up to date: card edits wait
    # under flood limits (20 a minute in a group), and a press answered after them
    # outlives Telegram's callback timeout ("query is too old").
    await query.answer(summary, show_alert=bool(refused))
    await refresh(message, store, services, t, actor.id, set())
    for outcome in outcomes:
        await announce(bot, store, services, outcome)


async def on_return_selected(query: CallbackQuery, actor: Actor | None, t: Translator,
                             scenes: ScenesManager) -> None:
    _, message = await _on_list(query, actor)
    selected = selected_in(message.reply_markup)
    if not selected:
        await query.answer(t.gettext("Tick some items first."), show_alert=True)
        return
    await query.answer(t.gettext("Please reply with one reason for all of them."))
    await scenes.enter(BulkReturnScene, step_ids=sorted(selected),
                       list_message_id=message.message_id)


def build_router() -> Router:
    router = Router(name="pending")
    router.message.register(pending_command, Command("pending"))
    # One handler per action; an unknown action reaches the fallback router, which refuses it.
    register = router.callback_query.register
    register(on_toggle, PendingCb.filter(F.act == PendingAct.TOGGLE))
    register(on_select_all, PendingCb.filter(F.act == PendingAct.SELECT_ALL))
    register(on_approve_one, PendingCb.filter(F.act == PendingAct.APPROVE))
    register(on_return_one, PendingCb.filter(F.act == PendingAct.RETURN))
    register(on_approve_selected, PendingCb.filter(F.act == PendingAct.APPROVE_SELECTED))
    register(on_return_selected, PendingCb.filter(F.act == PendingAct.RETURN_SELECTED))
    return router
