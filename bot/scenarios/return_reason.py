"""↩️ Return: ask for the reason, then send the case back (to the submitter, or to an
earlier step) with it."""

from __future__ import annotations

from typing import TypedDict

from aiogram import Bot
from aiogram.fsm.scene import on
from aiogram.types import CallbackQuery, Message

from bot.domain.rules.errors import EmptyText, Refusal, TooLong
from bot.domain.rules.vocabulary import Decision, OutcomeEvent
from bot.domain.usecases.approvals import decide
from bot.domain.usecases.people import Actor, require_actor
from bot.flows.announce import announce
from bot.flows.pending_list import redraw_list
from bot.i18n import N_, Translator
from bot.scenarios.base import PLAIN_TEXT, Conversation, ask
from bot.services import Services
from bot.views.cards import refusal
from storage.models import Case, Step
from storage.store import Store


class ReturnData(TypedDict):
    step_id: int
    return_to: int  # 0: to the handler (a supplement), n: back to step n
    list_message_id: int  # the /pending list it was returned from, or 0


class BulkReturnData(TypedDict):
    step_ids: list[int]
    list_message_id: int  # the /pending list the items were ticked on, or 0


class ReturnReasonScene(Conversation, state="return_reason"):
    CANCELLED = N_("Cancelled. The item is still waiting for a decision.")
    WAITING_FOR = N_("I am waiting for the reason for returning. Reply with it, or send /cancel.")
    NOT_TEXT = N_("Please write the reason as text, or send /cancel.")

    @on.callback_query.enter()
    async def ask_reason(self, query: CallbackQuery, t: Translator, store: Store, bot: Bot,
                         actor: Actor | None, step_id: int, return_to: int = 0,
                         list_message_id: int = 0) -> None:
        assert query.message is not None
        step = await store.get(Step, step_id)
        case = await store.get(Case, step.case_id) if step else None
        await self.wizard.set_data(ReturnData(step_id=step_id, return_to=return_to,
                                              list_message_id=list_message_id))
        await ask(bot, query.message.chat.id, t, actor.person if actor else None,
                  t.gettext("Reply to this message with the reason for returning “{title}”. "
                            "/cancel keeps it open.").format(title=case.title if case else "?"),
                  t.gettext("Reason for returning"))

    @on.message(PLAIN_TEXT)
    async def receive(self, message: Message, actor: Actor | None, store: Store,
                      services: Services, bot: Bot, t: Translator) -> None:
        assert message.from_user is not None and message.text is not None
        actor = require_actor(actor, message.from_user.id)
        data = await self.stored(ReturnData)
        outcome = await self.settle(message, t, decide(
            store, actor, data["step_id"], Decision.RETURN, reason=message.text,
            return_to=data["return_to"] or None, now=services.now(),
            calendar=services.calendar, policy=services.policy))
        if outcome is None:
            return
        await message.reply(t.gettext("↩️ Returned to the handler with your reason.")
                            if outcome.event is OutcomeEvent.RETURNED else
                            t.gettext("↩️ Returned to the earlier step with your reason."))
        await announce(bot, store, services, outcome)
        if data["list_message_id"]:  # returned from a /pending list: it leaves the list
            await redraw_list(bot, store, services, t, chat_id=message.chat.id,
                              message_id=data["list_message_id"], person_id=actor.id)



class BulkReturnScene(Conversation, state="bulk_return"):
    """↩️ Return several items from /pending with one reason, each to its submitter."""

    CANCELLED = N_("Cancelled. The items are still waiting for a decision.")
    WAITING_FOR = N_("I am waiting for the reason for returning. Reply with it, or send /cancel.")
    NOT_TEXT = N_("Please write the reason as text, or send /cancel.")

    @on.callback_query.enter()
    async def ask_reason(self, query: CallbackQuery, t: Translator, store: Store, bot: Bot,
                         actor: Actor | None, step_ids: list[int],
                         list_message_id: int = 0) -> None:
        assert query.message is not None
        await self.wizard.set_data(BulkReturnData(step_ids=step_ids,
                                                  list_message_id=list_message_id))
        await ask(bot, query.message.chat.id, t, actor.person if actor else None,
                  t.ngettext("Reply with the reason for returning this item.",
                             "Reply with one reason for returning these {n} items.",
                             len(step_ids)).format(n=len(step_ids)),
                  t.gettext("Reason for returning"))

    @on.message(PLAIN_TEXT)
    async def receive(self, message: Message, actor: Actor | None, store: Store,
                      services: Services, bot: Bot, t: Translator) -> None:
        assert message.from_user is not None and message.text is not None
        actor = require_actor(actor, message.from_user.id)
        done = refused = 0
        data = await self.stored(BulkReturnData)
        for step_id in data["step_ids"]:
            try:  # a refused item undoes only itself
                async with store.savepoint():
                    outcome = await decide(store, actor, step_id, Decision.RETURN,
                                           reason=message.text, now=services.now(),
                                           calendar=services.calendar, policy=services.policy)
            except (TooLong, EmptyText) as error:
                await message.reply(refusal(t, error))  # the same for all: let them retry
                return
            except Refusal:
                refused += 1
                continue
            done += 1
            await announce(bot, store, services, outcome)
        await self.wizard.exit()
        summary = t.ngettext("↩️ {n} returned to its handler.", "↩️ {n} returned to their "
                             "handlers.", done).format(n=done)
        if refused:
            summary += " " + t.ngettext("{n} could not be: already decided or not yours.",
                                        "{n} could not be: already decided or not yours.",
                                        refused).format(n=refused)
        await message.reply(summary)
        # As for bulk approve: the returned items leave the /pending list they were ticked
        # on, and the selection is cleared.
        if data["list_message_id"]:
            await redraw_list(bot, store, services, t, chat_id=message.chat.id,
                              message_id=data["list_message_id"], person_id=actor.id)
