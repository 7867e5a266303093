"""/submit: pick the kind of item, give its title and fields, choose the green channel if the
kind has one, and it goes to its first step. Every answer is a reply to the bot's question
(or a button), so it works under group privacy mode."""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from typing import Any, Literal, NotRequired, TypedDict

from aiogram import Bot, F
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.scene import on
from aiogram.types import CallbackQuery, ForceReply, Message

from bot.domain.rules.casetypes import CaseType
from bot.domain.rules.errors import Refusal
from bot.domain.usecases.approvals import submit_case
from bot.domain.usecases.people import Actor, require_actor
from bot.domain.usecases.reporting import FileRef
from bot.flows.publishing import publish_case, reply_to_message
from bot.flows.receipt import send_receipt
from bot.i18n import N_, Translator
from bot.scenarios.base import PLAIN_TEXT, Conversation, ask
from bot.services import Services
from bot.views.cards import refusal
from bot.views.keyboards import TypeCb, green_keyboard, type_keyboard
from bot.views.text import esc
from storage.models import Project
from storage.store import Store


class SubmitData(TypedDict):
    """What /submit has gathered so far (stored as JSON with the conversation)."""

    title: str
    files: list[dict[str, Any]]  # FileRef fields
    project_id: int
    type: int | None  # index in the configured case types, once picked
    details: dict[str, str]  # the kind's fields answered so far, by key
    field: int  # index of the next field to ask
    green: bool | None  # None: not asked (yet)
    chat_id: int
    reply_to: int  # the /submit message
    asking: NotRequired[Literal["title", "field"] | None]  # what the next text answers
    # The message whose buttons the wizard waits for, and every button message it sent
    # (see ``picked``); missing from a wizard persisted by an older version.
    buttons: NotRequired[int | None]
    asked: NotRequired[list[int]]
    # The wizard's questions and the answers to them: in a group they are deleted once the
    # card is there, so the group sees the /submit and its card (answers only where the bot
    # may delete others' messages, as an admin).
    tidy: NotRequired[list[int]]


class SubmitScene(Conversation, state="submit"):
    CANCELLED = N_("Cancelled. Nothing was submitted.")
    WAITING_FOR = N_("I am waiting for your answer to my question. Reply to it, or send "
                     "/cancel.")

    @on.message.enter()
    async def start(self, message: Message, t: Translator, services: Services, title: str,
                    files: list[dict[str, Any]], project_id: int) -> None:
        types = list(services.case_types)
        data = SubmitData(title=" ".join(title.split()), files=files, project_id=project_id,
                          type=None, details={}, field=0, green=None, chat_id=message.chat.id,
                          reply_to=message.message_id, buttons=None, asked=[])
        if len(types) == 1:
            data["type"] = 0
            await self.wizard.set_data(data)
            assert message.bot is not None
            await self._next(message.bot, message.from_user.id if message.from_user else 0)
            return
        await self.wizard.set_data(data)
        picker = await message.reply(t.gettext("What kind of item is it?"),
                                     reply_markup=type_keyboard(t, types))
        await self._wait_for_buttons(picker.message_id)

    @on.callback_query(TypeCb.filter())
    async def picked(self, query: CallbackQuery, callback_data: TypeCb, t: Translator,
                     services: Services, bot: Bot) -> None:
        types = list(services.case_types)
        # The wizard is keyed by (chat, presser): a colleague's picker pressed by someone with
        # a /submit of their own open in the group, or a second tap on a picker already
        # answered, must not drive it. Only the buttons it waits for count (a wizard
        # persisted by an older version has no "buttons" and takes any).
        data = await self.stored(SubmitData)
        pressed_on = query.message.message_id if query.message is not None else None
        if "buttons" in data and (pressed_on is None or pressed_on != data["buttons"]):
            mine = pressed_on in data.get("asked", [])
            await query.answer(t.gettext("This button is no longer valid.") if mine else
                               t.gettext("This question is for whoever sent /submit."),
                               show_alert=True)
            return
        if callback_data.index == -1:
            await self.wizard.exit()
            await query.answer(t.gettext(self.CANCELLED))
            if isinstance(query.message, Message):
                await query.message.edit_text(t.gettext(self.CANCELLED))
            return
        # A kind is picked while none is chosen yet, the green channel only after that.
        if (not 0 <= callback_data.index < len(types)
                or (callback_data.green == -1) != (data.get("type") is None)):
            await query.answer(t.gettext("This button is no longer valid."), show_alert=True)
            return
        data["buttons"] = None
        chosen = types[callback_data.index]
        if callback_data.green == -1:
            data["type"] = callback_data.index
            text = t.gettext("Kind: {type}").format(type=esc(chosen.display_name(t.locale)))
        else:
            data["green"] = bool(callback_data.green)
            text = (t.gettext("🟢 Green channel") if callback_data.green
                    else t.gettext("Ordinary"))
        await self.wizard.set_data(data)
        await query.answer()
        if isinstance(query.message, Message):
            await query.message.edit_text(text)
        await self._next(bot, query.from_user.id)

    @on.message(F.text.startswith("/skip"))
    async def skip(self, message: Message, t: Translator, services: Services, bot: Bot) -> None:
        data = await self.stored(SubmitData)
        data["tidy"] = [*data.get("tidy", []), message.message_id]
        case_type = self._type(services, data)
        asking = data.get("asking")
        fields = case_type.fields if case_type else ()
        if asking == "field" and not fields[data["field"]].required:
            data["field"], data["asking"] = data["field"] + 1, None
            await self.wizard.set_data(data)
            assert message.from_user is not None
            await self._next(bot, message.from_user.id)
        else:
            refused = await message.reply(t.gettext("This one is required."))
            data["tidy"].append(refused.message_id)
            await self.wizard.set_data(data)

    @on.message(PLAIN_TEXT)
    async def answered(self, message: Message, t: Translator, services: Services,
                       bot: Bot) -> None:
        assert message.text is not None and message.from_user is not None
        data = await self.stored(SubmitData)
        data["tidy"] = [*data.get("tidy", []), message.message_id]
        value = " ".join(message.text.split())
        asking = data.get("asking")
        limit: int = services.policy.title_max_chars
        placeholder: str = t.gettext("Title")
        if asking == "field":
            case_type = self._type(services, data)
            assert case_type is not None
            field = case_type.fields[data["field"]]
            limit, placeholder = field.max_length, field.display_name(t.locale)
        if asking in ("title", "field") and len(value) > limit:
            # The refusal asks again with a force-reply: under group privacy mode an answer
            # that replies to nothing would never reach the bot.
            refused = await message.reply(t.gettext("Too long: {length} characters, the limit "
                                                    "is {limit}. Please shorten it.").format(
                length=len(value), limit=limit),
                reply_markup=ForceReply(selective=True, input_field_placeholder=placeholder[:64]))
            data["tidy"].append(refused.message_id)
            await self.wizard.set_data(data)
            return
        if asking == "title":
            data["title"] = value
        elif asking == "field":
            data["details"] = data["details"] | {field.key: value}
            data["field"] += 1
        else:
            await message.reply(t.gettext(self.WAITING_FOR))
            return
        data["asking"] = None
        await self.wizard.set_data(data)
        await self._next(bot, message.from_user.id)

    async def _next(self, bot: Bot, tg_user_id: int) -> None:
        """Ask what is still missing, or submit."""
        data = await self.stored(SubmitData)
        services: Services = self.wizard.data["services"]
        t: Translator = self.wizard.data["t"]
        store: Store = self.wizard.data["store"]
        case_type = self._type(services, data)
        if case_type is None:
            return  # still choosing the kind
        actor: Actor | None = self.wizard.data.get("actor")
        person = actor.person if actor else None
        chat_id = data["chat_id"]
        if len(data["title"]) > services.policy.title_max_chars:
            # Checked before the other questions, so an over-long title given with /submit
            # does not throw away every answer given after it.
            await bot.send_message(chat_id, t.gettext(
                "Too long: {length} characters, the limit is {limit}. Please shorten it.").format(
                length=len(data["title"]), limit=services.policy.title_max_chars))
            data["title"] = ""
        if not data["title"]:
            data["asking"] = "title"
            await self.wizard.set_data(data)
            await self._keep(await ask(bot, chat_id, t, person,
                                       t.gettext("Reply with the title of the item."),
                                       t.gettext("Title")))
            return
        if data["field"] < len(case_type.fields):
            field = case_type.fields[data["field"]]
            data["asking"] = "field"
            await self.wizard.set_data(data)
            question = t.gettext("Reply with “{field}”.").format(
                field=esc(field.display_name(t.locale)))
            if not field.required:
                question += " " + t.gettext("/skip if there is none.")
            await self._keep(await ask(bot, chat_id, t, person, question,
                                       field.display_name(t.locale)))
            return
        if case_type.green_channel_limit_factor and data["green"] is None:
            assert data["type"] is not None
            asked = await bot.send_message(chat_id, t.gettext("Green channel (shorter limits) "
                                                              "or ordinary?"),
                                           reply_markup=green_keyboard(t, data["type"]))
            await self._wait_for_buttons(asked.message_id)
            return
        await self._submit(bot, store, services, t, case_type, data, tg_user_id)

    async def _submit(self, bot: Bot, store: Store, services: Services, t: Translator,
                      case_type: CaseType, data: SubmitData, tg_user_id: int) -> None:
        actor: Actor | None = self.wizard.data.get("actor")
        await self.wizard.exit()
        project = await store.get(Project, data["project_id"])
        assert project is not None
        try:
            case = await submit_case(
                store, require_actor(actor, tg_user_id), project, case_type,
                title=data["title"], details=dict(data["details"]),
                files=[FileRef(**f) for f in data["files"]], green_channel=bool(data["green"]),
                now=services.now(), calendar=services.calendar, policy=services.policy)
        except Refusal as error:
            await bot.send_message(data["chat_id"], refusal(t, error),
                                   reply_parameters=reply_to_message(data["reply_to"]))
            return
        await publish_case(bot, store, services, case.id, group_chat_id=data["chat_id"],
                           reply_to=data["reply_to"])
        await send_receipt(bot, store, services, case, require_actor(actor, tg_user_id).person)
        if data["chat_id"] < 0:  # a group: the card stands for the conversation
            for message_id in (*data.get("asked", []), *data.get("tidy", [])):
                with contextlib.suppress(TelegramBadRequest):  # not ours, and not admin
                    await bot.delete_message(data["chat_id"], message_id)

    async def _keep(self, question: Message) -> None:
        data = await self.stored(SubmitData)
        data["tidy"] = [*data.get("tidy", []), question.message_id]
        await self.wizard.set_data(data)

    async def _wait_for_buttons(self, message_id: int) -> None:
        data = await self.stored(SubmitData)
        data["buttons"], data["asked"] = message_id, [*data.get("asked", []), message_id]
        await self.wizard.set_data(data)

    @staticmethod
    def _type(services: Services, data: SubmitData) -> CaseType | None:
        if data["type"] is None:
            return None
        return list(services.case_types)[data["type"]]


def file_dicts(files: list[FileRef]) -> list[dict[str, Any]]:
    return [asdict(f) for f in files]
