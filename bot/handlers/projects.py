"""/projects (the roll-up) and /bind CODE (link this group to a key project)."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from markupsafe import Markup

from bot.domain.usecases.access import require_known_place
from bot.domain.usecases.people import Actor, require_actor
from bot.domain.usecases.projects import bind_group, roll_up, rollup
from bot.flows.context import GROUP_TYPES, place_of
from bot.flows.delivery import edit_text
from bot.i18n import Translator
from bot.services import Services
from bot.views.cards import projects_list
from bot.views.keyboards import UnitCb, units_keyboard
from bot.views.text import esc
from storage.store import Store

MOVE = "move"  # /bind CODE move: the project's work group moves here from where it was


async def _roll_up_view(store: Store, services: Services, t: Translator, actor: Actor,
                        unit: str | int | None) -> tuple[Markup, InlineKeyboardMarkup | None]:
    found = await roll_up(store, actor.person, services.now(), services.calendar,
                          services.policy, unit)
    text = projects_list(t, found.lines, rollup(found.lines),
                         found.top.name if found.levels and found.top is not None else None)
    return text, units_keyboard(t, found.below, found.up)


async def projects_command(message: Message, command: CommandObject, actor: Actor | None,
                           store: Store, services: Services, t: Translator) -> None:
    """/projects [UNIT]: the asker's subtree, or a unit within it (code or name)."""
    assert message.from_user is not None
    actor = require_actor(actor, message.from_user.id)
    require_known_place(await place_of(store, message))
    text, keyboard = await _roll_up_view(store, services, t, actor,
                                         (command.args or "").strip() or None)
    await message.reply(text, reply_markup=keyboard)


async def on_unit(query: CallbackQuery, callback_data: UnitCb, actor: Actor | None,
                  store: Store, services: Services, t: Translator, bot: Bot) -> None:
    """A drill-down button: the same roll-up for that unit, in place (refused like a typed
    code when the unit is outside the presser's reach, a forged button too)."""
    actor = require_actor(actor, query.from_user.id)
    text, keyboard = await _roll_up_view(store, services, t, actor, callback_data.unit)
    await query.answer()
    if isinstance(query.message, Message):
        await edit_text(bot, query.message.chat.id, query.message.message_id, text, keyboard)


async def bind_command(message: Message, command: CommandObject, actor: Actor | None,
                       store: Store, services: Services, t: Translator) -> None:
    assert message.from_user is not None
    actor = require_actor(actor, message.from_user.id)
    words = (command.args or "").split()
    if len(words) not in (1, 2) or words[1:] not in ([], [MOVE]):
        await message.reply(t.gettext("Usage: <code>/bind CODE</code>, e.g. "
                                      "<code>/bind KP-002</code>."))
        return
    project = await bind_group(store, actor, words[0], tg_chat_id=message.chat.id,
                               title=message.chat.title or "", now=services.now(),
                               move=words[1:] == [MOVE])
    await message.reply(t.gettext("🔗 This group is now the work group of {code} {name}.").format(
        code=esc(project.code), name=esc(project.name)))


async def bind_in_private(message: Message, t: Translator) -> None:
    await message.reply(t.gettext("Send /bind CODE inside the project's group."))


def build_router() -> Router:
    router = Router(name="projects")
    router.message.register(projects_command, Command("projects"))
    router.callback_query.register(on_unit, UnitCb.filter())
    router.message.register(bind_command, Command("bind"), F.chat.type.in_(GROUP_TYPES))
    router.message.register(bind_in_private, Command("bind"))
    return router
