"""Per-update plumbing: one database session (a Store), and who is acting in which language."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from html import unescape
from typing import Any

from aiogram import BaseMiddleware
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Chat, TelegramObject, Update, User

from bot.domain.rules.errors import Refusal
from bot.domain.usecases.approvals import record_refused_press
from bot.domain.usecases.people import identify
from bot.i18n import pick_locale, translator
from bot.services import Services
from bot.telegram import describe
from bot.views.cards import refusal as refusal_text
from storage.db import SessionFactory, saved_part, unit_of_work
from storage.store import Store

log = logging.getLogger(__name__)

ALERT_LIMIT = 200  # Telegram shows at most 200 characters in a callback alert
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class UnitOfWork(BaseMiddleware):
    """Opens one session per update; commits what the handler left, rolls back on error.

    The session is the update's unit of work (:func:`storage.db.unit_of_work`): conversation
    state joins it, and a call to Telegram commits it first."""

    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions

    async def __call__(self, handler: Handler, event: TelegramObject,
                       data: dict[str, Any]) -> Any:
        async with self.sessions() as session:
            store = Store(session)
            data["store"] = store
            with unit_of_work(session):
                try:
                    result = await handler(event, data)
                except BaseException:
                    await session.rollback()
                    raise
                await session.commit()
            return result


class ActorContext(BaseMiddleware):
    """Puts ``actor`` (a registered person or None) and ``t`` (their translator) in data.

    Someone writing to the bot in private can receive private messages from now on,
    so a 403 recorded earlier is cleared.
    """

    def __init__(self, services: Services) -> None:
        self.services = services

    async def __call__(self, handler: Handler, event: TelegramObject,
                       data: dict[str, Any]) -> Any:
        store: Store = data["store"]
        user: User | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        actor = await identify(store, user.id) if user is not None else None
        if actor is not None and chat is not None and chat.type == "private":
            person = actor.person
            if person.started_at is None or person.dm_blocked:
                person.started_at = person.started_at or self.services.now()
                person.dm_blocked = False
                await store.save(person)
        settings = self.services.settings
        locale = pick_locale(actor.person.locale if actor else None,
                             user.language_code if user else None, settings.default_locale)
        data["actor"] = actor
        # For the update's log line, read now: a refusal's rollback expires the row.
        data["person_key"] = actor.person.key if actor else None
        data["t"] = translator(locale, settings.timezone)
        return await handler(event, data)


class Refusals(BaseMiddleware):
    """Turns a domain refusal into a clear reply (an alert for a button), inside the update's
    unit of work: whatever the handler had started is rolled back, and a refused button press
    is written to the audit trail."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def __call__(self, handler: Handler, event: TelegramObject,
                       data: dict[str, Any]) -> Any:
        try:
            return await handler(event, data)
        except Refusal as refusal:
            store: Store = data["store"]
            text = refusal_text(data["t"], refusal)  # rendered before rollback expires rows
            actor = data.get("actor")
            await store.rollback()
            if isinstance(event, Update) and event.callback_query is not None:
                query = event.callback_query
                await record_refused_press(
                    store, actor_id=actor.id if actor else None, tg_user_id=query.from_user.id,
                    data=query.data or "", why=refusal.code, now=self.services.now())
                await query.answer(plain(text)[:ALERT_LIMIT], show_alert=True)
            elif isinstance(event, Update) and event.message is not None:
                await event.message.reply(text)
            return None
        except Exception:
            # A bug, or a fault outside the bot: nothing it began is kept, and the person is
            # told so rather than left with a spinning button or no reply.
            update_id = getattr(event, "update_id", "?")
            log.exception("update %s failed", update_id)
            store = data["store"]
            await store.rollback()
            if saved_part(store.session):  # a message had been sent for what was committed
                text = data["t"].gettext("Your action was recorded, but something went wrong "
                                         "on our side after that: a message about it may be "
                                         "missing. Please check before trying again.")
            else:
                text = data["t"].gettext("Something went wrong on our side, and nothing was "
                                         "changed. Please try again in a moment.")
            try:
                if isinstance(event, Update) and event.callback_query is not None:
                    await event.callback_query.answer(text[:ALERT_LIMIT], show_alert=True)
                elif isinstance(event, Update) and event.message is not None:
                    await event.message.reply(text)
            except TelegramAPIError as exc:  # Telegram still failing, or the press answered
                log.warning("update %s: could not say so either: %s", update_id,
                            describe(exc, data["bot"].token))
            return None


def plain(html_text: str) -> str:
    """Alerts show plain text: drop tags, unescape entities."""
    return unescape(re.sub(r"<[^>]+>", "", html_text))
