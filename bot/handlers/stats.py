"""/stats: the leaders' view of the whole, as text and three charts; /export: records as a
spreadsheet."""

from __future__ import annotations

import tempfile
from pathlib import Path

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message

from bot.domain.rules.vocabulary import ChatKind, Role
from bot.domain.usecases.delegation import parse_day
from bot.domain.usecases.people import Actor, require_actor, require_role
from bot.domain.usecases.records import period, records, require_exporter
from bot.domain.usecases.scope import scope_of, scope_of_chat
from bot.domain.usecases.stats import gather
from bot.flows.charts import chart_album
from bot.flows.context import GROUP_TYPES
from bot.i18n import Translator
from bot.records_export import KINDS, write_records
from bot.services import Services
from bot.views.stats import stats_text
from storage.store import Store


async def stats_command(message: Message, actor: Actor | None, store: Store,
                        services: Services, t: Translator, bot: Bot) -> None:
    assert message.from_user is not None
    actor = require_actor(actor, message.from_user.id)
    require_role(actor, Role.LEADER, Role.DIRECTOR, Role.SUPERVISOR, Role.ADMIN,
                 action="stats")
    scope = await scope_of(store, actor.person)
    if message.chat.type in GROUP_TYPES:
        chat = await store.chat_by_tg(message.chat.id)
        if chat is None or chat.kind != ChatKind.LEADERS:
            await message.reply(t.gettext("The figures are for leaders: ask me in private or "
                                          "in the leaders' group."))
            return
        scope = scope.within(await scope_of_chat(store, chat))  # who reads the group too
    stats = await gather(store, services.now(), services.calendar, services.settings.tz,
                         scope=scope)
    await message.reply(stats_text(t, stats))
    await bot.send_media_group(message.chat.id, await chart_album(t, stats))


async def export_command(message: Message, command: CommandObject, actor: Actor | None,
                         store: Store, services: Services, t: Translator) -> None:
    """/export KIND [FROM [TO]]: the same file as ``greenlight export``, in private."""
    assert message.from_user is not None
    actor = require_actor(actor, message.from_user.id)
    require_exporter(actor)
    words = (command.args or "").split()
    if not words or words[0] not in KINDS or len(words) > 3:
        await message.reply(t.gettext("Usage: <code>/export KIND [FROM [TO]]</code>, KIND one "
                                      "of {kinds}; e.g. <code>/export cases 2026-01-01</code>.")
                            .format(kinds=", ".join(KINDS)))
        return
    if message.chat.type in GROUP_TYPES:
        await message.reply(t.gettext("Records go out in private only: send /export to me "
                                      "there."))
        return
    now = services.now()
    tz = services.settings.tz
    today = now.astimezone(tz).date()
    first = parse_day(words[1], today) if len(words) > 1 else today.replace(month=1, day=1)
    last = parse_day(words[2], today) if len(words) > 2 else today
    start, end = period(first, last, tz)
    _count, rows = await records(store, words[0], start, end, now=now,
                                 calendar=services.calendar, tz=tz,
                                 scope=await scope_of(store, actor.person))
    name = f"{words[0]}-{first}-{last}.xlsx"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        written = await write_records(rows, words[0], path, "xlsx", t.locale, tz)
        data = path.read_bytes()
    await message.reply_document(BufferedInputFile(data, filename=name), caption=t.ngettext(
        "{n} row, {first} – {last}", "{n} rows, {first} – {last}", written).format(
        n=written, first=t.day(first), last=t.day(last)))


def build_router() -> Router:
    router = Router(name="stats")
    router.message.register(stats_command, Command("stats"))
    router.message.register(export_command, Command("export"))
    return router
