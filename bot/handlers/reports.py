"""Progress reports in a project's group: ``/report text``, a photo or document captioned
``/report …``, or ``/report`` alone and then a reply (which may be an album)."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.scene import ScenesManager
from aiogram.types import Message

from bot.domain.usecases.people import Actor, require_actor, require_reporter
from bot.flows.context import GROUP_TYPES, files_of, project_here
from bot.flows.posting import post_report
from bot.scenarios.report_prompt import ReportPromptScene
from bot.services import Services
from storage.store import Store


async def report_command(message: Message, command: CommandObject, actor: Actor | None,
                         store: Store, services: Services, bot: Bot,
                         scenes: ScenesManager) -> None:
    assert message.from_user is not None
    actor = require_actor(actor, message.from_user.id)
    text = command.args or ""
    if not text.strip() and not files_of(message):
        await require_reporter(store, actor, await project_here(store, message))
        await scenes.enter(ReportPromptScene)
        return
    await post_report(message, text=text, actor=actor, store=store, services=services, bot=bot)


async def report_in_private(message: Message, actor: Actor | None, store: Store) -> None:
    assert message.from_user is not None
    require_actor(actor, message.from_user.id)
    await project_here(store, message)  # refuses: reports belong in the project's group


async def album_item(message: Message, actor: Actor | None, store: Store, services: Services,
                     bot: Bot) -> None:
    """Further photos of an album whose first item was filed as a report."""
    assert message.media_group_id is not None
    if actor is None or await store.report_by_media_group(
            message.chat.id, message.media_group_id) is None:
        return
    await post_report(message, text=message.caption or "", actor=actor, store=store,
                      services=services, bot=bot)


def build_router() -> Router:
    router = Router(name="reports")
    router.message.register(report_command, Command("report"), F.chat.type.in_(GROUP_TYPES))
    router.message.register(report_in_private, Command("report"))
    router.message.register(album_item, F.media_group_id, F.chat.type.in_(GROUP_TYPES))
    return router
