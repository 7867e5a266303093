"""/missing #N [DATE NAME] lists or adds what a case still owes; /supplied #N NAME ticks it off."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from markupsafe import Markup

from bot.domain.rules.inputs import parse_id
from bot.domain.usecases.delegation import parse_day
from bot.domain.usecases.missing import add_missing, mark_supplied, missing_of
from bot.domain.usecases.people import Actor, require_actor
from bot.flows.context import place_of
from bot.flows.publishing import sync_cards
from bot.i18n import Translator
from bot.services import Services
from bot.views.text import esc
from storage.store import Store


def usage(t: Translator) -> Markup:
    return t.gettext("Usage: <code>/missing #12</code> lists what item #12 still owes; "
                     "<code>/missing #12 12-01 地形图</code> adds one, due by that date; "
                     "<code>/supplied #12 地形图</code> ticks it off.")


async def missing_command(message: Message, command: CommandObject, actor: Actor | None,
                          store: Store, services: Services, bot: Bot, t: Translator) -> None:
    assert message.from_user is not None
    actor = require_actor(actor, message.from_user.id)
    words = (command.args or "").split()
    case_id = parse_id(words[0]) if words else None
    if case_id is None or len(words) == 2:
        await message.reply(usage(t))
        return
    if len(words) > 2:
        today = services.now().astimezone(services.settings.tz).date()
        item = await add_missing(store, actor, case_id, name=" ".join(words[2:]),
                                 supply_by=parse_day(words[1], today), today=today,
                                 now=services.now(), place=await place_of(store, message))
        await message.reply(t.gettext("🧩 #{id}: “{name}” to be supplied by {day}.").format(
            id=case_id, name=esc(item.name), day=t.full_day(item.supply_by)))
        await sync_cards(bot, store, services, case_id)
        return
    items = await missing_of(store, actor, case_id, await place_of(store, message))
    if not items:
        await message.reply(t.gettext("#{id} owes nothing.").format(id=case_id))
        return
    lines = [t.gettext("🧩 <b>#{id} was accepted with missing materials</b>").format(id=case_id)]
    for item in items:
        state = (t.gettext("✅ supplied") if item.supplied_at
                 else t.gettext("due {day}").format(day=t.full_day(item.supply_by)))
        lines.append(Markup("· {} — {}").format(item.name, state))
    await message.reply(Markup("\n").join(lines))


async def supplied_command(message: Message, command: CommandObject, actor: Actor | None,
                           store: Store, services: Services, bot: Bot, t: Translator) -> None:
    assert message.from_user is not None
    actor = require_actor(actor, message.from_user.id)
    words = (command.args or "").split()
    case_id = parse_id(words[0]) if words else None
    if case_id is None or len(words) < 2:
        await message.reply(usage(t))
        return
    item = await mark_supplied(store, actor, case_id, name=" ".join(words[1:]),
                               place=await place_of(store, message),
                               now=services.now())
    await message.reply(t.gettext("✅ #{id}: “{name}” supplied.").format(
        id=case_id, name=esc(item.name)))
    await sync_cards(bot, store, services, case_id)


def build_router() -> Router:
    router = Router(name="missing")
    router.message.register(missing_command, Command("missing"))
    router.message.register(supplied_command, Command("supplied"))
    return router
