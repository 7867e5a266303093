"""📤 Resubmit after a return: take the supplement (text, photos, a document) or none."""

from __future__ import annotations

from typing import TypedDict

from aiogram import Bot, F
from aiogram.fsm.scene import on
from aiogram.types import CallbackQuery, Message

from bot.domain.rules.errors import CaseClosed, Refusal, StaleCard
from bot.domain.rules.vocabulary import CaseState
from bot.domain.usecases.approvals import resubmit
from bot.domain.usecases.people import Actor, require_actor
from bot.flows.announce import announce
from bot.flows.context import files_of
from bot.i18n import N_, Translator
from bot.scenarios.base import Conversation, ask
from bot.services import Services
from storage.store import Store


class ResubmitData(TypedDict):
    case_id: int


class ResubmitScene(Conversation, state="resubmit"):
    CANCELLED = N_("Cancelled. The item stays with you until you resubmit it.")
    WAITING_FOR = N_("I am waiting for the supplement. Reply with it, /skip to resubmit "
                     "without one, or /cancel.")

    @on.callback_query.enter()
    async def ask_supplement(self, query: CallbackQuery, t: Translator, store: Store, bot: Bot,
                             actor: Actor | None, case_id: int) -> None:
        assert query.message is not None
        await self.wizard.set_data(ResubmitData(case_id=case_id))
        await ask(bot, query.message.chat.id, t, actor.person if actor else None,
                  t.gettext("Reply with the supplement: text, photos or a document. "
                            "/skip resubmits without one."),
                  t.gettext("Supplement"))

    @on.message(F.text.startswith("/skip"))
    async def skip(self, message: Message, actor: Actor | None, store: Store,
                   services: Services, bot: Bot, t: Translator) -> None:
        await self._resubmit(message, None, actor, store, services, bot, t)

    @on.message(F.photo | F.document | (F.text & ~F.text.startswith("/")))
    async def receive(self, message: Message, actor: Actor | None, store: Store,
                      services: Services, bot: Bot, t: Translator) -> None:
        await self._resubmit(message, message.text or message.caption, actor, store, services,
                             bot, t)

    async def _resubmit(self, message: Message, note: str | None, actor: Actor | None,
                        store: Store, services: Services, bot: Bot, t: Translator) -> None:
        assert message.from_user is not None
        actor = require_actor(actor, message.from_user.id)
        case_id = (await self.stored(ResubmitData))["case_id"]
        outcome = await self.settle(
            message, t, resubmit(store, actor, case_id, note=note, files=files_of(message),
                                 now=services.now(), calendar=services.calendar,
                                 policy=services.policy), refine=_already_resubmitted)
        if outcome is None:
            return
        await message.reply(t.gettext("📤 Resubmitted: the clock runs again."))
        await announce(bot, store, services, outcome)


def _already_resubmitted(error: Refusal) -> Refusal:
    """Resubmitted meanwhile (from another prompt): this prompt is out of date, the case is
    not closed."""
    if isinstance(error, CaseClosed) and error.values.get("state") == CaseState.PENDING:
        return StaleCard()
    return error
