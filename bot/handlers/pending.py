"""/pending: my open turns, oldest first, with one-tap and bulk approve / return."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.fsm.scene import ScenesManager
from aiogram.types import CallbackQuery, Message

from bot.domain.approvals import check_press, decide
from bot.domain.case_view import pending_for
from bot.domain.errors import Refusal, UnknownButton
from bot.domain.people import Actor, require_actor
from bot.domain.vocabulary import Decision
from bot.handlers.announce import announce
from bot.i18n import Translator
from bot.scenarios.return_reason import BulkReturnScene, ReturnReasonScene
from bot.services import Services
from bot.views.keyboards import PendingCb
from bot.views.pending import pending_keyboard, pending_text, selected_in
from storage.store import Store


async def pending_command(message: Message, actor: Actor | None, store: Store,
                          services: Services, t: Translator) -> None:
    assert message.from_user is not None
    actor = require_actor(actor, message.from_user.id)
    items = await pending_for(store, actor.id, services.now(), services.calendar,
                              services.policy)
    await message.answer(pending_text(t, items), reply_markup=pending_keyboard(t, items, set()))


async def refresh(message: Message, store: Store, services: Services, t: Translator,
                  person_id: int, selected: set[int]) -> None:
    items = await pending_for(store, person_id, services.now(), services.calendar,
                              services.policy)
    still = {item.step.step.id for item in items}
    text = pending_text(t, items)
    markup = pending_keyboard(t, items, selected & still)
    if text != message.html_text or markup != message.reply_markup:
        await message.edit_text(text, reply_markup=markup)


async def on_pending(query: CallbackQuery, callback_data: PendingCb, actor: Actor | None,
                     store: Store, services: Services, bot: Bot, t: Translator,
                     scenes: ScenesManager) -> None:
    actor = require_actor(actor, query.from_user.id)
    if not isinstance(query.message, Message):
        raise UnknownButton()
    message = query.message
    selected = selected_in(message.reply_markup)
    act, step_id = callback_data.act, callback_data.step
    if act == "t":
        selected ^= {step_id}
        await query.answer()
    elif act == "x":
        items = await pending_for(store, actor.id, services.now(), services.calendar,
                                  services.policy)
        selected = {i.step.step.id for i in items if i.step.step.id is not None}
        await query.answer()
    elif act == "a":
        outcome = await decide(store, actor, step_id, Decision.APPROVE, now=services.now(),
                               calendar=services.calendar, policy=services.policy)
        await query.answer(t.gettext("✅ Approved. Thank you."))
        await announce(bot, store, services, outcome)
    elif act == "r":
        await check_press(store, actor, step_id)
        await query.answer(t.gettext("Please reply with the reason for returning it."))
        await scenes.enter(ReturnReasonScene, step_id=step_id, return_to=0)
        return
    elif act == "A":
        if not selected:
            await query.answer(t.gettext("Tick some items first."), show_alert=True)
            return
        done, refused = 0, []
        for chosen in sorted(selected):
            try:
                outcome = await decide(store, actor, chosen, Decision.APPROVE,
                                       now=services.now(), calendar=services.calendar,
                                       policy=services.policy)
            except Refusal as error:
                await store.rollback()
                refused.append(error)
                continue
            done += 1
            await announce(bot, store, services, outcome)
        summary = t.ngettext("✅ {n} approved.", "✅ {n} approved.", done).format(n=done)
        if refused:
            summary += " " + t.ngettext("{n} could not be: already decided or not yours.",
                                        "{n} could not be: already decided or not yours.",
                                        len(refused)).format(n=len(refused))
        await query.answer(summary, show_alert=bool(refused))
        selected = set()
    elif act == "R":
        if not selected:
            await query.answer(t.gettext("Tick some items first."), show_alert=True)
            return
        await query.answer(t.gettext("Please reply with one reason for all of them."))
        await scenes.enter(BulkReturnScene, step_ids=sorted(selected))
        return
    else:
        raise UnknownButton()
    await refresh(message, store, services, t, actor.id, selected)


def build_router() -> Router:
    router = Router(name="pending")
    router.message.register(pending_command, Command("pending"))
    router.callback_query.register(on_pending, PendingCb.filter())
    return router
