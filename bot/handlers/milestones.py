"""Key projects kept current from chat: /done (a milestone reached, also 🏁 under a report
card), /due (a milestone's due date moved, with a reason), /status (a project's status)."""

from __future__ import annotations

from collections.abc import Callable

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from markupsafe import Markup

from bot.domain.rules.errors import NoMilestone, NotAllowed
from bot.domain.rules.vocabulary import ProjectStatus
from bot.domain.usecases.delegation import parse_day
from bot.domain.usecases.milestones import (
    mark_reached,
    may_steer,
    move_due,
    pick_milestone,
    set_status,
)
from bot.domain.usecases.people import Actor, require_actor
from bot.domain.usecases.reporting import current_milestone
from bot.flows.context import GROUP_TYPES, project_named_or_here
from bot.i18n import Translator
from bot.services import Services
from bot.views.keyboards import MilestoneCb, StatusCb, status_keyboard
from bot.views.milestones import moved_text, reached_text, status_changed_text, status_prompt
from storage.models import Milestone, Project
from storage.store import Store


def _usage(t: Translator, command: str) -> Markup:
    return {
        "done": t.gettext("Usage: <code>/done</code> in the project's group marks its current "
                          "milestone reached; <code>/done KP-002 2</code> names the project and "
                          "the milestone (number or part of its title)."),
        "due": t.gettext("Usage: <code>/due [KP-002] MILESTONE DATE REASON</code>, e.g. "
                         "<code>/due 2 12-20 waiting for the survey</code>."),
        "status": t.gettext("Usage: <code>/status</code> in the project's group, or "
                            "<code>/status KP-002</code>; add the new status, or pick it from "
                            "the buttons."),
    }[command]


async def _tell_group(bot: Bot, store: Store, services: Services, project: Project,
                      here: int, render: Callable[[Translator], Markup]) -> None:
    """A change made outside the project's group is posted there too."""
    chat = await store.chat_of(project)
    if chat is not None and chat.tg_chat_id != here:
        await bot.send_message(chat.tg_chat_id, render(services.rendering.for_group()))


async def _asked(message: Message, command: CommandObject, actor: Actor | None,
                 store: Store, t: Translator) -> tuple[Actor, Project, list[str]] | None:
    """Who asks, about which project (named first, or this group's), and the words after;
    None once the usage was shown (in private, a project must be named)."""
    assert message.from_user is not None
    actor = require_actor(actor, message.from_user.id)
    words = (command.args or "").split()
    if message.chat.type not in GROUP_TYPES and not words:
        await message.reply(_usage(t, str(command.command)))
        return None
    project, rest = await project_named_or_here(store, message, words)
    return actor, project, rest


async def done_command(message: Message, command: CommandObject, actor: Actor | None,
                       store: Store, services: Services, t: Translator, bot: Bot) -> None:
    if (asked := await _asked(message, command, actor, store, t)) is None:
        return
    actor, project, rest = asked
    milestone = await pick_milestone(store, project, " ".join(rest))
    await _reached(message, actor, project, milestone, store, services, t, bot)


async def _reached(message: Message, actor: Actor, project: Project, milestone: Milestone,
                   store: Store, services: Services, t: Translator, bot: Bot) -> None:
    now = services.now()
    changed = await mark_reached(store, actor, project, milestone, now=now,
                                 today=now.astimezone(services.settings.tz).date())
    upcoming = await current_milestone(store, project, now, services.calendar, services.policy)
    await message.reply(reached_text(t, changed, actor.person, upcoming))
    await _tell_group(bot, store, services, project, message.chat.id,
                      lambda g: reached_text(g, changed, actor.person, upcoming))


async def on_reached(query: CallbackQuery, callback_data: MilestoneCb, actor: Actor | None,
                     store: Store, services: Services, t: Translator, bot: Bot) -> None:
    actor = require_actor(actor, query.from_user.id)
    milestone = await store.get(Milestone, callback_data.milestone)
    project = await store.get(Project, milestone.project_id) if milestone else None
    if milestone is None or project is None:
        raise NoMilestone(project="?", which=str(callback_data.milestone))
    card = query.message
    if not isinstance(card, Message):
        await query.answer(t.gettext("This button is no longer valid."), show_alert=True)
        return
    await _reached(card, actor, project, milestone, store, services, t, bot)
    await query.answer(t.gettext("🏁 Marked reached."))
    await card.edit_reply_markup(reply_markup=None)


async def due_command(message: Message, command: CommandObject, actor: Actor | None,
                      store: Store, services: Services, t: Translator, bot: Bot) -> None:
    if (asked := await _asked(message, command, actor, store, t)) is None:
        return
    actor, project, rest = asked
    if len(rest) < 2:
        await message.reply(_usage(t, "due"))
        return
    now = services.now()
    today = now.astimezone(services.settings.tz).date()
    milestone = await pick_milestone(store, project, rest[0])
    changed = await move_due(store, actor, project, milestone, parse_day(rest[1], today),
                             " ".join(rest[2:]), now=now, today=today, policy=services.policy)
    upcoming = await current_milestone(store, project, now, services.calendar, services.policy)
    await message.reply(moved_text(t, changed, actor.person, upcoming))
    await _tell_group(bot, store, services, project, message.chat.id,
                      lambda g: moved_text(g, changed, actor.person, upcoming))


async def status_command(message: Message, command: CommandObject, actor: Actor | None,
                         store: Store, services: Services, t: Translator, bot: Bot) -> None:
    if (asked := await _asked(message, command, actor, store, t)) is None:
        return
    actor, project, rest = asked
    if not rest:
        if not await may_steer(store, actor, project):  # the picker only for who may use it
            raise NotAllowed(action="steer", project=project.code)
        await message.reply(status_prompt(t, project),
                            reply_markup=status_keyboard(t, project.id, project.status))
        return
    changed = await set_status(store, actor, project, " ".join(rest), now=services.now())
    await message.reply(status_changed_text(t, changed, actor.person))
    await _tell_group(bot, store, services, project, message.chat.id,
                      lambda g: status_changed_text(g, changed, actor.person))


async def on_status(query: CallbackQuery, callback_data: StatusCb, actor: Actor | None,
                    store: Store, services: Services, t: Translator, bot: Bot) -> None:
    actor = require_actor(actor, query.from_user.id)
    project = await store.get(Project, callback_data.project)
    prompt = query.message
    if project is None or not isinstance(prompt, Message):
        await query.answer(t.gettext("This button is no longer valid."), show_alert=True)
        return
    status = list(ProjectStatus)[callback_data.status]
    changed = await set_status(store, actor, project, status.value, now=services.now())
    await query.answer()
    await prompt.edit_text(status_changed_text(t, changed, actor.person))
    await _tell_group(bot, store, services, project, prompt.chat.id,
                      lambda g: status_changed_text(g, changed, actor.person))


def build_router() -> Router:
    router = Router(name="milestones")
    router.message.register(done_command, Command("done"))
    router.message.register(due_command, Command("due"))
    router.message.register(status_command, Command("status"))
    router.callback_query.register(on_reached, MilestoneCb.filter())
    router.callback_query.register(on_status, StatusCb.filter())
    return router
