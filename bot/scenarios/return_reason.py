"""↩️ Return: ask the leader for the reason, then send the case back to the handler with it."""

from __future__ import annotations

from aiogram import Bot, F
from aiogram.fsm.scene import Scene, on
from aiogram.types import CallbackQuery, ForceReply, Message

from bot.domain.approvals import decide
from bot.domain.errors import EmptyText, Refusal, TooLong
from bot.domain.people import Actor, require_actor
from bot.domain.vocabulary import Decision
from bot.handlers.announce import announce_decision
from bot.i18n import Translator
from bot.services import Services
from bot.views.cards import refusal
from bot.views.text import mention
from storage.models import Case, Step
from storage.store import Store


class ReturnReasonScene(Scene, state="return_reason"):
    @on.callback_query.enter()
    async def ask(self, query: CallbackQuery, t: Translator, store: Store,
                  step_id: int) -> None:
        assert query.message is not None
        step = await store.get(Step, step_id)
        case = await store.get(Case, step.case_id) if step else None
        person = await store.person_by_tg(query.from_user.id)
        await self.wizard.update_data(step_id=step_id)
        await query.bot.send_message(  # type: ignore[union-attr]
            query.message.chat.id,
            t.gettext("{who} Reply to this message with the reason for returning "
                      "“{title}”. /cancel keeps it open.").format(
                who=mention(person) if person else "", title=case.title if case else "?"),
            reply_markup=ForceReply(selective=True,
                                    input_field_placeholder=t.gettext("Reason for returning")))

    @on.message(F.text.startswith("/cancel"))
    async def cancel(self, message: Message, t: Translator) -> None:
        await self.wizard.exit()
        await message.reply(t.gettext("Cancelled. The item is still waiting for a decision."))

    @on.message(F.text.startswith("/"))
    async def other_command(self, message: Message, t: Translator) -> None:
        await message.reply(t.gettext("I am waiting for the reason for returning. Reply with "
                                      "it, or send /cancel."))

    @on.message(F.text)
    async def receive(self, message: Message, actor: Actor | None, store: Store,
                      services: Services, bot: Bot, t: Translator) -> None:
        assert message.from_user is not None and message.text is not None
        actor = require_actor(actor, message.from_user.id)
        step_id = int((await self.wizard.get_data())["step_id"])
        try:
            result = await decide(store, actor, step_id, Decision.RETURN, reason=message.text,
                                  now=services.now(), policy=services.policy)
        except (TooLong, EmptyText) as error:
            await message.reply(refusal(t, error))  # stay here: they can try again
            return
        except Refusal as error:
            await self.wizard.exit()
            await message.reply(refusal(t, error))
            return
        await self.wizard.exit()
        await message.reply(t.gettext("↩️ Returned to the handler with your reason."))
        await announce_decision(bot, store, services, result.case_id, actor)

    @on.message()
    async def not_text(self, message: Message, t: Translator) -> None:
        await message.reply(t.gettext("Please write the reason as text, or send /cancel."))
