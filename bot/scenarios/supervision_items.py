"""Conversations about supervision items (督查事项): registering one (title, requirement,
assignee, due), the assignee's feedback (the result, then photos or documents, then 📤), and
the reason an answer is sent back."""

from __future__ import annotations

from typing import TypedDict

from aiogram import Bot, F
from aiogram.fsm.scene import on
from aiogram.types import CallbackQuery, Message
from markupsafe import Markup

from bot.domain.rules.errors import BadDate, Refusal, UnknownAssignee
from bot.domain.rules.vocabulary import AttachmentKind
from bot.domain.usecases.people import Actor, require_actor
from bot.domain.usecases.supervision_items import (
    FileIn,
    find_assignee,
    find_item,
    give_feedback,
    parse_due,
    register,
    send_back,
    view_item,
)
from bot.flows.delivery import edit_text
from bot.flows.items import tell, tell_office
from bot.i18n import N_, Translator
from bot.scenarios.base import PLAIN_TEXT, Conversation, ask
from bot.services import Services
from bot.views.cards import refusal
from bot.views.keyboards import FeedbackDoneCb
from bot.views.supervision_items import (
    feedback_keyboard,
    feedback_posted_text,
    item_card,
    item_keyboard,
    sent_back_text,
    submit_keyboard,
    told,
)
from storage.store import Store


class RegisterData(TypedDict):
    title: str | None
    requirement: str | None
    assignee: str | None
    due: str | None


class RegisterItemScene(Conversation, state="dc_register"):
    """/dc new: 登记, four questions."""

    CANCELLED = N_("Cancelled: no supervision item was registered.")

    @on.message.enter()
    async def ask_title(self, message: Message, bot: Bot, t: Translator,
                        actor: Actor | None) -> None:
        await self.wizard.set_data(RegisterData(title=None, requirement=None, assignee=None,
                                                due=None))
        await ask(bot, message.chat.id, t, actor.person if actor else None,
                  t.gettext("📌 New supervision item. Reply with its title."), t.gettext("Title"))

    @on.message(PLAIN_TEXT)
    async def receive(self, message: Message, actor: Actor | None, store: Store,
                      services: Services, bot: Bot, t: Translator) -> None:
        assert message.from_user is not None and message.text is not None
        actor = require_actor(actor, message.from_user.id)
        data = await self.stored(RegisterData)
        text = message.text.strip()
        today = services.now().astimezone(services.settings.tz).date()
        if data["title"] is None:
            data["title"] = text
            question, hint = (t.gettext("Reply with the requirement: where it comes from and "
                                        "what must be done."), t.gettext("Requirement"))
        elif data["requirement"] is None:
            data["requirement"] = text
            question, hint = (t.gettext("Who handles it? Reply with a section (its code or "
                                        "name: its head answers) or a person."),
                              t.gettext("Section or person"))
        elif data["assignee"] is None:
            try:
                await find_assignee(store, text, actor.person)
            except UnknownAssignee as error:
                await message.reply(refusal(t, error))
                return
            data["assignee"] = text
            question, hint = (t.gettext("By when? Reply with working days (e.g. 5) or a date "
                                        "(e.g. 12-20)."), t.gettext("Due"))
        else:
            try:
                parse_due(text, today)
            except BadDate as error:
                await message.reply(refusal(t, error))
                return
            item = await self.settle(message, t, register(
                store, actor, title=data["title"], requirement=data["requirement"],
                assignee=data["assignee"], due=text, now=services.now(), today=today,
                policy=services.policy))
            if item is None:
                return
            view = await view_item(store, item, now=services.now(),
                                   calendar=services.calendar, policy=services.policy)
            await message.reply(Markup("{}\n\n{}").format(
                t.gettext("📌 Registered. Press 📨 Assign to send it."), item_card(t, view)),
                reply_markup=item_keyboard(t, view, manager=True, reader=actor.person))
            return
        await self.wizard.set_data(data)
        await ask(bot, message.chat.id, t, actor.person, question, hint)


class FeedbackData(TypedDict):
    item_id: int
    text: str | None
    files: list[tuple[str, str, str | None]]  # kind, file id, file name


class FeedbackScene(Conversation, state="dc_feedback"):
    """✍️ 反馈: the result in words, then photos or documents, then 📤."""

    CANCELLED = N_("Cancelled. The supervision item still waits for your feedback.")
    WAITING_FOR = N_("I am waiting for your feedback: the result as text, photos or "
                     "documents, then 📤. Or send /cancel.")
    NOT_TEXT = WAITING_FOR

    @on.callback_query.enter()
    async def ask_result(self, query: CallbackQuery, t: Translator, bot: Bot,
                         actor: Actor | None, item_id: int) -> None:
        assert query.message is not None
        await self.wizard.set_data(FeedbackData(item_id=item_id, text=None, files=[]))
        await ask(bot, query.message.chat.id, t, actor.person if actor else None,
                  t.gettext("Reply with the result: what was done."), t.gettext("Result"))

    async def _more(self, message: Message, t: Translator, data: FeedbackData) -> None:
        await self.wizard.set_data(data)
        await message.reply(
            t.gettext("Noted ({n} file(s) so far). Send photos or documents if any, then press "
                      "📤 to send the feedback.").format(n=len(data["files"])),
            reply_markup=submit_keyboard(t, data["item_id"]))

    @on.message(PLAIN_TEXT)
    async def receive_text(self, message: Message, t: Translator) -> None:
        assert message.text is not None
        data = await self.stored(FeedbackData)
        data["text"] = message.text if data["text"] is None else \
            f"{data['text']}\n{message.text}"
        await self._more(message, t, data)

    @on.message(F.photo | F.document)
    async def receive_file(self, message: Message, t: Translator) -> None:
        data = await self.stored(FeedbackData)
        if message.photo:
            data["files"].append((AttachmentKind.PHOTO.value, message.photo[-1].file_id, None))
        elif message.document:
            data["files"].append((AttachmentKind.DOCUMENT.value, message.document.file_id,
                                  message.document.file_name))
        if message.caption and data["text"] is None:
            data["text"] = message.caption
        await self._more(message, t, data)

    @on.callback_query(FeedbackDoneCb.filter())
    async def send(self, query: CallbackQuery, callback_data: FeedbackDoneCb,
                   actor: Actor | None, store: Store, services: Services, bot: Bot,
                   t: Translator) -> None:
        actor = require_actor(actor, query.from_user.id)
        data = await self.stored(FeedbackData)
        prompt = query.message
        if callback_data.item != data["item_id"] or not isinstance(prompt, Message):
            await query.answer(t.gettext("This button is no longer valid."), show_alert=True)
            return
        if not data["text"]:
            await query.answer(t.gettext("Write the result first."), show_alert=True)
            return
        item = await find_item(store, data["item_id"], actor.person)
        files = [FileIn(AttachmentKind(kind), file_id, name)
                 for kind, file_id, name in data["files"]]
        taken = await self.settle(prompt, t, give_feedback(
            store, actor, item, text=data["text"], files=files, now=services.now(),
            policy=services.policy))
        await query.answer()
        if taken is None:
            return
        await prompt.edit_reply_markup(reply_markup=None)
        await prompt.reply(t.gettext("✍️ Feedback on {code} sent to the supervision office.")
                           .format(code=item.code))
        view = await view_item(store, item, now=services.now(), calendar=services.calendar,
                               policy=services.policy)
        await tell_office(bot, store, services, lambda g: feedback_posted_text(g, view),
                          lambda g: item_keyboard(g, view, manager=True, reader=None))


class SendBackData(TypedDict):
    item_id: int
    card_chat: int
    card_message: int


class SendBackScene(Conversation, state="dc_send_back"):
    """↩️ The reason a supervision item's answer goes back."""

    CANCELLED = N_("Cancelled: the feedback was not sent back.")

    @on.callback_query.enter()
    async def ask_reason(self, query: CallbackQuery, t: Translator, bot: Bot,
                         actor: Actor | None, item_id: int, card_chat: int,
                         card_message: int) -> None:
        await self.wizard.set_data(SendBackData(item_id=item_id, card_chat=card_chat,
                                                card_message=card_message))
        await ask(bot, card_chat, t, actor.person if actor else None,
                  t.gettext("Reply with the reason it goes back."), t.gettext("Reason"))

    @on.message(PLAIN_TEXT)
    async def receive(self, message: Message, actor: Actor | None, store: Store,
                      services: Services, bot: Bot, t: Translator) -> None:
        assert message.from_user is not None and message.text is not None
        actor = require_actor(actor, message.from_user.id)
        data = await self.stored(SendBackData)
        try:
            item = await find_item(store, data["item_id"], actor.person)
        except Refusal as error:
            await self.wizard.exit()
            await message.reply(refusal(t, error))
            return
        reason = message.text
        taken = await self.settle(message, t, send_back(
            store, actor, item, reason=reason, now=services.now(), policy=services.policy))
        if taken is None:
            return
        view = await view_item(store, item, now=services.now(), calendar=services.calendar,
                               policy=services.policy)
        delivered = await tell(bot, store, services, taken.answerer,
                               lambda g: sent_back_text(g, view, reason.strip()),
                               lambda g: feedback_keyboard(g, item.id))
        await message.reply(told(t, t.gettext("↩️ Sent back to {who}."),
                                 taken.answerer.name if taken.answerer else "—",
                                 delivered.channel))
        await edit_text(bot, data["card_chat"], data["card_message"], item_card(t, view),
                        item_keyboard(t, view, manager=True, reader=actor.person))

