"""/ask (record, close, hand over a first question: 首问负责制) and /asks (the open ones)."""

from __future__ import annotations

import re

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.scene import ScenesManager
from aiogram.types import CallbackQuery, Message

from bot.domain.usecases.delegation import find_person
from bot.domain.usecases.inquiries import (
    close,
    hand_over,
    ledger,
    open_entry,
    parse_ask,
    record,
)
from bot.domain.usecases.people import Actor, require_actor
from bot.flows.delivery import send_private
from bot.i18n import Translator
from bot.scenarios.inquiry_outcome import InquiryOutcomeScene
from bot.services import Services
from bot.views.inquiries import closed_text, handed_text, ledger_text, recorded_text, usage
from bot.views.keyboards import InquiryCb, inquiry_keyboard
from bot.views.text import esc
from storage.store import Store

_ENTRY = re.compile(r"#(\d{1,9})\s*(?:(done|close|办结|结办)\s+(.+)|(to|转交|交给)\s+(\S+)\s*)?$",
                    re.DOTALL | re.IGNORECASE)
ALL = ("all", "全部")


async def ask_command(message: Message, command: CommandObject, actor: Actor | None,
                      store: Store, services: Services, t: Translator, bot: Bot) -> None:
    assert message.from_user is not None
    actor = require_actor(actor, message.from_user.id)
    text = (command.args or "").strip()
    now, calendar, policy = services.now(), services.calendar, services.policy
    if text.startswith("#"):
        found = _ENTRY.fullmatch(text)
        if found is None or not (found.group(2) or found.group(4)):
            await message.reply(usage(t))
            return
        number = int(found.group(1))
        if found.group(2):
            inquiry = await close(store, actor, number, found.group(3), now=now, policy=policy)
            await message.reply(closed_text(t, inquiry))
            return
        to = await find_person(store, found.group(5))
        inquiry = await hand_over(store, actor, number, to, now=now, calendar=calendar,
                                  policy=policy)
        await message.reply(t.gettext("📒 First question #{number} is now {name}'s.").format(
            number=number, name=esc(to.name)))
        told = services.rendering.for_person(to)
        await send_private(bot, store, to, handed_text(told, inquiry, actor.person),
                           inquiry_keyboard(told, inquiry.id))
        return
    parsed = parse_ask(text)
    if parsed is None:
        await message.reply(usage(t))
        return
    inquiry = await record(store, actor, *parsed, now=now, calendar=calendar, policy=policy)
    await message.reply(recorded_text(t, inquiry, actor.person),
                        reply_markup=inquiry_keyboard(t, inquiry.id))


async def asks_command(message: Message, command: CommandObject, actor: Actor | None,
                       store: Store, services: Services, t: Translator) -> None:
    """/asks: your open entries; /asks all: every open one you oversee."""
    assert message.from_user is not None
    actor = require_actor(actor, message.from_user.id)
    everyone = (command.args or "").strip().lower() in ALL
    entries = await ledger(store, actor, now=services.now(), calendar=services.calendar,
                           policy=services.policy, everyone=everyone)
    await message.reply(ledger_text(t, entries, everyone))


async def on_close(query: CallbackQuery, callback_data: InquiryCb, actor: Actor | None,
                   store: Store, scenes: ScenesManager) -> None:
    """✅: refused at once when the entry is closed or not the presser's, else asks why."""
    actor = require_actor(actor, query.from_user.id)
    await open_entry(store, actor, callback_data.inquiry)
    await query.answer()
    await scenes.enter(InquiryOutcomeScene, inquiry_id=callback_data.inquiry)


def build_router() -> Router:
    router = Router(name="inquiries")
    router.message.register(ask_command, Command("ask"))
    router.message.register(asks_command, Command("asks"))
    router.callback_query.register(on_close, InquiryCb.filter())
    return router
