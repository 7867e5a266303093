"""Logs an operator can search: one JSON object per line (``GREENLIGHT_LOG_FORMAT=json``), and
one line per update handled with its id, chat, person key, kind, outcome and duration.

Never the token (a filter replaces it wherever it appears, an aiohttp error may quote the URL
that holds it) nor what people wrote: the update line carries ids and a kind, never a text.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

log = logging.getLogger("greenlight.updates")

# The fields a record may carry (``extra=``) that the JSON line keeps.
FIELDS = ("update_id", "chat_id", "person", "kind", "outcome", "duration_ms")
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value if isinstance(value, (int, float, str, bool)) or value is None \
                    else str(value)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class Redact(logging.Filter):
    """Replaces the token wherever a message or an error would show it."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secret and self.secret in record.getMessage():
            record.msg, record.args = record.getMessage().replace(self.secret, "<token>"), None
        if self.secret and record.exc_info and record.exc_info[1] is not None:
            text = str(record.exc_info[1])
            if self.secret in text:
                record.exc_info = None
                record.msg = f"{record.msg} ({text.replace(self.secret, '<token>')})"
        return True


def configure(level: str, fmt: str, secret: str = "") -> None:
    """The root logger's one handler: plain lines or JSON, with the token redacted."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(Redact(secret))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def _where(update: Update) -> tuple[int | None, int | None, str]:
    """(chat id, user id, kind) of an update, from its ids only."""
    event = update.event
    kind = update.event_type
    chat = getattr(event, "chat", None) or getattr(getattr(event, "message", None), "chat", None)
    user = getattr(event, "from_user", None)
    return (chat.id if chat is not None else None, user.id if user is not None else None, kind)


class UpdateLog(BaseMiddleware):
    """The outermost middleware: one INFO line per update once it is handled (or failed)."""

    async def __call__(self, handler: Handler, event: TelegramObject,
                       data: dict[str, Any]) -> Any:
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await handler(event, data)
            outcome = "ok"
            return result
        finally:
            if isinstance(event, Update):
                chat_id, _user, kind = _where(event)
                log.info("update %s %s", event.update_id, outcome, extra={
                    "update_id": event.update_id, "chat_id": chat_id, "kind": kind,
                    "person": data.get("person_key"),
                    "outcome": outcome,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
