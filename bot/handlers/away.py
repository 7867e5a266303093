"""/away FROM TO WHO [note] — out of office with a delegate; /back — end it early."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from markupsafe import Markup

from bot.domain.usecases.delegation import (
    arrangements,
    come_back,
    find_person,
    parse_range,
    set_away,
)
from bot.domain.usecases.people import Actor, require_actor
from bot.flows.delivery import send_private
from bot.i18n import Translator
from bot.services import Services
from bot.views.text import esc
from storage.store import Store


def usage(t: Translator) -> Markup:
    return t.gettext("Usage: <code>/away FROM TO WHO [note]</code>, e.g. "
                     "<code>/away 11-24 11-28 @he_deputy 出差</code>. While you are away, new "
                     "items for you go to WHO. /back ends it early.")


async def away_command(message: Message, command: CommandObject, actor: Actor | None,
                       store: Store, services: Services, bot: Bot, t: Translator) -> None:
    assert message.from_user is not None
    actor = require_actor(actor, message.from_user.id)
    today = services.now().astimezone(services.settings.tz).date()
    words = (command.args or "").split()
    if not words:
        current = await arrangements(store, actor.id, today)
        lines = [t.gettext("🏖 Away {start}–{end}: {who} acts for you.").format(
            start=t.day(a.starts_on), end=t.day(a.ends_on), who=esc(d.name))
            for a, d in current] or [t.gettext("You are not away.")]
        await message.reply(Markup("\n").join([*lines, "", usage(t)]))
        return
    if len(words) < 3:
        await message.reply(usage(t))
        return
    starts_on, ends_on = parse_range(words[0], words[1], today)
    delegate = await find_person(store, words[2])
    away = await set_away(store, actor, starts_on=starts_on, ends_on=ends_on,
                          delegate=delegate, note=" ".join(words[3:]), today=today,
                          now=services.now())
    await message.reply(t.gettext("🏖 Away {start}–{end}: new items for you go to {who}.").format(
        start=t.day(away.starts_on), end=t.day(away.ends_on), who=esc(delegate.name)))
    told = services.rendering.for_person(delegate)
    await send_private(bot, store, delegate, told.gettext(
        "🏖 {who} is away {start}–{end}: their new items come to you meanwhile.").format(
        who=esc(actor.person.name), start=told.day(away.starts_on), end=told.day(away.ends_on)))
    await store.commit()


async def back_command(message: Message, actor: Actor | None, store: Store,
                       services: Services, t: Translator) -> None:
    assert message.from_user is not None
    actor = require_actor(actor, message.from_user.id)
    today = services.now().astimezone(services.settings.tz).date()
    ended = await come_back(store, actor, today=today, now=services.now())
    await message.reply(t.gettext("Welcome back: new items come to you again.") if ended
                        else t.gettext("You were not away."))


def build_router() -> Router:
    router = Router(name="away")
    router.message.register(away_command, Command("away"))
    router.message.register(back_command, Command("back"))
    return router
