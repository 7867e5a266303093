"""/calendar: a year's holidays and make-up workdays; admins declare a day."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.domain.rules.inputs import parse_year
from bot.domain.rules.vocabulary import Role
from bot.domain.usecases.calendar_admin import set_day
from bot.domain.usecases.delegation import parse_day
from bot.domain.usecases.people import Actor, require_actor, require_role
from bot.i18n import Translator
from bot.services import Services
from bot.views.calendar import usage, year_text
from storage.store import Store

KINDS = {"holiday": False, "workday": True, "休息": False, "上班": True}


async def calendar_command(message: Message, command: CommandObject, actor: Actor | None,
                           store: Store, services: Services, t: Translator) -> None:
    assert message.from_user is not None
    actor = require_actor(actor, message.from_user.id)
    today = services.now().astimezone(services.settings.tz).date()
    words = (command.args or "").split()
    year = parse_year(words[0]) if len(words) == 1 else None
    if not words or year is not None:
        await message.reply(year_text(t, services.calendar.year_listing(year or today.year)))
        return
    if len(words) < 2 or words[1] not in KINDS:
        await message.reply(usage(t))
        return
    require_role(actor, Role.ADMIN, action="calendar")
    day = parse_day(words[0], today)
    changed = await set_day(store, day=day, is_workday=KINDS[words[1]],
                            name=" ".join(words[2:])[:100],
                            source=f"/calendar by {actor.person.name}", now=services.now(),
                            actor_id=actor.id)
    await services.reload_calendar(store)
    info = services.calendar.day_info(day)
    await message.reply(
        (t.gettext("📅 {day} is now a working day.") if info.is_workday
         else t.gettext("📅 {day} is now a day off.")).format(day=t.full_day(day))
        if changed else t.gettext("Nothing to change."))


def build_router() -> Router:
    router = Router(name="calendar")
    router.message.register(calendar_command, Command("calendar"))
    return router
