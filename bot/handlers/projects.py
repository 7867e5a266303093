"""/projects (the roll-up) and /bind CODE (link this group to a key project)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.domain.usecases.access import require_known_place
from bot.domain.usecases.people import Actor, require_actor
from bot.domain.usecases.projects import bind_group, overview, rollup
from bot.domain.usecases.scope import scope_of
from bot.flows.context import GROUP_TYPES, place_of
from bot.i18n import Translator
from bot.services import Services
from bot.views.cards import projects_list
from bot.views.text import esc
from storage.store import Store

MOVE = "move"  # /bind CODE move: the project's work group moves here from where it was


async def projects_command(message: Message, actor: Actor | None, store: Store,
                           services: Services, t: Translator) -> None:
    assert message.from_user is not None
    actor = require_actor(actor, message.from_user.id)
    require_known_place(await place_of(store, message))
    lines = await overview(store, services.now(), services.calendar, services.policy,
                           await scope_of(store, actor.person))
    await message.reply(projects_list(t, lines, rollup(lines)))


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
    router.message.register(bind_command, Command("bind"), F.chat.type.in_(GROUP_TYPES))
    router.message.register(bind_in_private, Command("bind"))
    return router
