"""Control API under ``/_control/``: set up the world, act as users, inspect what the bot did.

JSON in, JSON out. A bad request answers 400 ``{"error": ...}``; a ``wait`` that runs out
answers 504 ``{"error": ...}``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .actions import ActionError
from .limits import Fault

if TYPE_CHECKING:
    from .server import Emulator

Json = dict[str, Any]
Route = Callable[[Json], Awaitable[Any]]


class Refusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _require(body: Json, *names: str) -> None:
    missing = [name for name in names if body.get(name) is None]
    if missing:
        raise Refusal(400, f"missing field(s): {', '.join(missing)}")


def _bytes(body: Json, name: str) -> bytes | None:
    value = body.get(name)
    if value is None:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError) as error:
        raise Refusal(400, f"{name} must be base64") from error


def _whole(body: Json, name: str, default: int) -> int:
    """A whole number, from JSON or a query string; 1.5 or "1.5" is refused, not rounded."""
    value = body.get(name, default)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if type(value) is not int:
        raise Refusal(400, f"{name} must be a whole number, not {value!r}")
    return value


def _flag(body: Json, name: str) -> bool:
    value = body.get(name, False)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if not isinstance(value, bool):
        raise Refusal(400, f"{name} must be true or false, not {value!r}")
    return value


class ControlApi:
    """Handlers of the control routes, bound to one emulator."""

    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator
        self.routes: dict[str, Route] = {
            "create_user": self.create_user,
            "block_bot": self.block_bot,
            "create_chat": self.create_chat,
            "set_privacy": self.set_privacy,
            "send_text": self.send_text,
            "send_photo": self.send_photo,
            "send_document": self.send_document,
            "press": self.press,
            "chat": self.chat,
            "message": self.message,
            "inject_fault": self.inject_fault,
            "requests": self.requests,
            "violations": self.violations,
            "commands": self.commands,
            "set_flood_limits": self.set_flood_limits,
            "reset": self.reset,
            "updates_pending": self.updates_pending,
            "file": self.file,
            "webhook": self.webhook,
            "state": self.state,
        }

    def install(self, app: web.Application) -> None:
        app.router.add_route("*", "/_control/{action}", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        route = self.routes.get(request.match_info["action"])
        if route is None:
            return web.json_response({"error": "unknown control action"}, status=404)
        body: Json = dict(request.query)
        if request.body_exists:
            try:
                posted = await request.json()
            except ValueError:
                return web.json_response({"error": "body must be JSON"}, status=400)
            if not isinstance(posted, dict):
                return web.json_response({"error": "body must be a JSON object"}, status=400)
            body.update(posted)
        try:
            result = await route(body)
        except Refusal as error:
            return web.json_response({"error": str(error)}, status=error.status)
        except (ActionError, ValueError, TypeError) as error:
            return web.json_response({"error": str(error)}, status=400)
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response(result, dumps=lambda obj: json.dumps(obj, ensure_ascii=False))

    # -- waiting -------------------------------------------------------------------------------

    async def _settle(self, outcome: Json, body: Json) -> Json:
        """With ``wait``: return only after the bot has processed the update."""
        update_id = outcome.get("update_id")
        if not body.get("wait", True) or update_id is None:
            return outcome
        timeout = float(body.get("timeout", 10.0))
        if not await self.emu.queue.wait_processed(update_id, timeout):
            how = (
                "the webhook did not acknowledge it"
                if self.emu.webhook.active
                else f"no getUpdates with offset > {update_id} came"
            )
            raise Refusal(
                504,
                f"timed out after {timeout:g} s waiting for the bot to process update "
                f"{update_id}: {how}",
            )
        return outcome

    # -- setup ---------------------------------------------------------------------------------

    async def create_user(self, body: Json) -> Any:
        _require(body, "id", "first_name")
        user = self.emu.world.add_user(
            int(body["id"]),
            str(body["first_name"]),
            body.get("last_name"),
            body.get("username"),
            body.get("language_code", "zh-hans"),
        )
        return user.to_dict()

    async def block_bot(self, body: Json) -> Any:
        _require(body, "user_id")
        return self.emu.actions.block_bot(int(body["user_id"]), bool(body.get("blocked", True)))

    async def create_chat(self, body: Json) -> Any:
        _require(body, "id", "type")
        return self.emu.actions.create_chat(
            int(body["id"]),
            str(body["type"]),
            str(body.get("title") or ""),
            [int(m) for m in body.get("members", [])],
            [int(a) for a in body.get("admins", [])],
            bool(body.get("bot_member", True)),
            bool(body.get("bot_admin", False)),
            int(body["owner"]) if body.get("owner") is not None else None,
            body.get("username"),
        )

    async def set_privacy(self, body: Json) -> Any:
        _require(body, "enabled")
        self.emu.world.privacy_mode = bool(body["enabled"])
        return {"privacy_mode": self.emu.world.privacy_mode}

    # -- users acting --------------------------------------------------------------------------

    @staticmethod
    def _reply_to(body: Json) -> int | None:
        value = body.get("reply_to_message_id")
        return int(value) if value is not None else None

    async def send_text(self, body: Json) -> Any:
        _require(body, "user_id", "chat_id", "text")
        outcome = self.emu.actions.send_text(
            int(body["user_id"]), int(body["chat_id"]), str(body["text"]), self._reply_to(body)
        )
        return await self._settle(outcome, body)

    async def send_photo(self, body: Json) -> Any:
        _require(body, "user_id", "chat_id")
        outcome = self.emu.actions.send_photo(
            int(body["user_id"]),
            int(body["chat_id"]),
            body.get("caption"),
            _bytes(body, "content"),
            self._reply_to(body),
        )
        return await self._settle(outcome, body)

    async def send_document(self, body: Json) -> Any:
        _require(body, "user_id", "chat_id", "content", "file_name")
        outcome = self.emu.actions.send_document(
            int(body["user_id"]),
            int(body["chat_id"]),
            _bytes(body, "content") or b"",
            str(body["file_name"]),
            str(body.get("mime_type") or "application/octet-stream"),
            body.get("caption"),
            self._reply_to(body),
        )
        return await self._settle(outcome, body)

    async def press(self, body: Json) -> Any:
        _require(body, "user_id", "chat_id", "message_id", "callback_data")
        outcome = self.emu.actions.press(
            int(body["user_id"]),
            int(body["chat_id"]),
            int(body["message_id"]),
            str(body["callback_data"]),
            bool(body.get("forge", False)),
        )
        await self._settle(outcome, body)
        record = self.emu.world.callbacks[outcome["callback_query_id"]]
        answer = None
        if record.answer is not None:
            answer = {k: record.answer[k] for k in ("text", "show_alert", "url")}
        return {**outcome, "answer": answer}

    # -- inspection ----------------------------------------------------------------------------

    async def chat(self, body: Json) -> Any:
        _require(body, "chat_id")
        return self.emu.world.history(self.emu.actions.chat(int(body["chat_id"])))

    async def message(self, body: Json) -> Any:
        _require(body, "chat_id", "message_id")
        chat = self.emu.actions.chat(int(body["chat_id"]))
        message = self.emu.world.get_message(chat, int(body["message_id"]))
        if message is None:
            raise Refusal(404, f"no message {body['message_id']} in chat {chat.id}")
        return message

    async def requests(self, body: Json) -> Any:
        method = body.get("method")
        log = self.emu.request_log
        if method:
            return [entry for entry in log if entry["method"].lower() == str(method).lower()]
        return list(log)

    async def violations(self, body: Json) -> Any:
        return list(self.emu.violations.items)

    async def commands(self, body: Json) -> Any:
        return list(self.emu.world.commands.values())

    async def updates_pending(self, body: Json) -> Any:
        return self.emu.queue.pending_count

    async def file(self, body: Json) -> Any:
        _require(body, "file_id")
        stored = self.emu.world.files.get(str(body["file_id"]))
        if stored is None:
            raise Refusal(404, "unknown file_id")
        return web.Response(body=stored.data, content_type="application/octet-stream")

    async def webhook(self, body: Json) -> Any:
        hook = self.emu.webhook
        return {"info": hook.info(), "deliveries": list(hook.deliveries)}

    async def state(self, body: Json) -> Any:
        world = self.emu.world
        return {
            "bot": world.get_me(),
            "privacy_mode": world.privacy_mode,
            "users": [
                {**u.to_dict(), "started": u.started, "blocked": u.blocked}
                for u in world.users.values()
            ],
            "chats": [
                {
                    **world.chat_dict(c),
                    "members": sorted(c.members),
                    "admins": sorted(c.admins),
                    "owner": c.owner,
                    "bot_member": c.bot_member,
                    "bot_admin": c.bot_admin,
                    "reply_keyboard": c.reply_keyboard,
                }
                for c in world.chats.values()
            ],
            "webhook": self.emu.webhook.info(),
            "updates_pending": self.emu.queue.pending_count,
            "faults": self.emu.faults.pending(),
        }

    # -- behaviour -----------------------------------------------------------------------------

    async def inject_fault(self, body: Json) -> Any:
        _require(body, "method", "kind")
        fault = Fault(
            kind=str(body["kind"]),
            retry_after=_whole(body, "retry_after", 1),
            delay=float(body.get("delay", 0.0)),
            html=_flag(body, "html"),
        )
        chat_id = body.get("chat_id")
        self.emu.faults.add(str(body["method"]), fault, _whole(body, "count", 1),
                            int(chat_id) if chat_id is not None else None)
        return self.emu.faults.pending()

    async def set_flood_limits(self, body: Json) -> Any:
        self.emu.flood.configure(
            body.get("per_chat_per_second"),
            body.get("per_group_per_minute"),
            body.get("global_per_second"),
            float(body.get("group_window_seconds") or 60.0),
            float(body.get("global_window_seconds") or 1.0),
        )
        return {
            "per_chat_per_second": self.emu.flood.per_chat_per_second,
            "per_group_per_minute": self.emu.flood.per_group_per_minute,
            "global_per_second": self.emu.flood.global_per_second,
        }

    async def reset(self, body: Json) -> Any:
        await self.emu.reset()
        return {"ok": True}
