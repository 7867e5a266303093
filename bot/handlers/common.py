"""/start, /help and /cancel: a role-aware welcome that tells each person what they can do."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandStart
from aiogram.types import Message
from markupsafe import Markup

from bot.domain.rules.vocabulary import Role
from bot.domain.usecases.people import Actor
from bot.i18n import Translator
from bot.views.text import esc
from storage.store import Store


async def help_text(t: Translator, actor: Actor | None, tg_user_id: int, store: Store) -> Markup:
    if actor is None:
        return t.gettext(
            "👋 This is Greenlight (绿灯), the bureau's reporting and approval assistant.\n"
            "You are not registered yet. Ask an administrator to add your Telegram id "
            "<code>{id}</code>.").format(id=tg_user_id)
    lines = [t.gettext("👋 {name}, this is Greenlight (绿灯).").format(
        name=esc(actor.person.name)), ""]
    lines.append(t.gettext("/projects — key projects with their status and lights"))
    lines.append(t.gettext("/board — the lights board: every project and open step at a "
                           "glance, with filters"))
    handles = actor.has(Role.HANDLER, Role.ADMIN) or await store.handles_any_project(actor.id)
    decides = actor.has(Role.LEADER, Role.DIRECTOR) or await store.heads_a_section(actor.id)
    if handles or actor.has(Role.GUIDE, Role.LEADER):
        lines.append(t.gettext("/report text — post progress in the project's group "
                               "(or send a photo or document with /report as caption)"))
        lines.append(t.gettext("/done — mark the project's current milestone reached"))
    if handles:
        lines.append(t.gettext("/submit title — submit an item for the leader's approval"))
    if actor.has(Role.LEADER, Role.DIRECTOR):
        lines.append(t.gettext("Items for your approval arrive as cards with ✅ Approve and "
                               "↩️ Return buttons, here and in the project's group."))
        lines.append(t.gettext("/due CODE N DATE REASON — move a milestone's due date; "
                               "/status CODE — change a project's status"))
    if decides:
        lines.append(t.gettext("/pending — everything waiting for your decision, with bulk "
                               "approve and return"))
        lines.append(t.gettext("/away FROM TO WHO — out of office: WHO decides for you "
                               "meanwhile; /back ends it"))
    if actor.has(Role.LEADER, Role.SUPERVISOR, Role.DIRECTOR, Role.ADMIN):
        lines.append(t.gettext("/stats — the whole at a glance, with charts"))
    if actor.has(Role.SUPERVISOR, Role.DIRECTOR, Role.ADMIN):
        lines.append(t.gettext("/urges — who was urged how often this year"))
    if actor.has(Role.SUPERVISOR, Role.ADMIN):
        lines.append(t.gettext("/dc new — register a supervision item; /dc — the open ones, "
                               "late first; /dc CODE — one, with its buttons (assign, urge, "
                               "accept or send back, bulletin, archive)"))
    elif await store.items_assigned_to(actor.id):
        lines.append(t.gettext("/dc — the supervision items assigned to you; answer each with "
                               "✍️ Feedback"))
    lines.append(t.gettext("/ask WHO: QUESTION — record a question you were asked first "
                           "(首问负责制) and see it through; /asks — your open ones"))
    lines.append(t.gettext("Reply to a case card to add a comment to it."))
    if actor.has(Role.GUIDE):
        lines.append(t.gettext("You will get deadline reminders for the projects you guide."))
    if actor.has(Role.ADMIN):
        lines.append(t.gettext("/bind CODE — make this group the work group of project CODE"))
    lines.append(t.gettext("/lang — 中文 / English: the language I use with you"))
    lines.append(t.gettext("/cancel — stop what you are entering"))
    lines.append(t.gettext("/help — this list"))
    return Markup("\n").join(lines)


async def start(message: Message, actor: Actor | None, store: Store, t: Translator) -> None:
    assert message.from_user is not None
    await message.answer(await help_text(t, actor, message.from_user.id, store))


async def help_command(message: Message, actor: Actor | None, store: Store,
                       t: Translator) -> None:
    assert message.from_user is not None
    await message.reply(await help_text(t, actor, message.from_user.id, store))


async def cancel_outside_conversation(message: Message, t: Translator) -> None:
    await message.reply(t.gettext("Nothing to cancel."))


def build_router() -> Router:
    router = Router(name="common")
    router.message.register(start, CommandStart())
    router.message.register(help_command, Command("help"))
    router.message.register(cancel_outside_conversation, Command("cancel"))
    return router
