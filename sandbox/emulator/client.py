"""``ControlClient``: async Python access to the emulator's control API (tests, sandbox)."""

from __future__ import annotations

import base64
from types import TracebackType
from typing import Any, Literal

import aiohttp

Json = dict[str, Any]


class ControlError(Exception):
    """The control API refused a call (non-2xx); ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class ControlClient:
    """``async with ControlClient(emu.base_url) as ctl: await ctl.create_user(...)``."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ControlClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, action: str, body: Json | None = None, raw: bool = False) -> Any:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        payload = {k: v for k, v in (body or {}).items() if v is not None}
        timeout = aiohttp.ClientTimeout(total=float(payload.get("timeout", 10.0)) + 30.0)
        async with self._session.post(
            f"{self.base_url}/_control/{action}", json=payload, timeout=timeout
        ) as response:
            if response.status >= 300:
                try:
                    message = (await response.json()).get("error", response.reason)
                except (aiohttp.ContentTypeError, ValueError):
                    message = await response.text()
                raise ControlError(response.status, str(message))
            if raw:
                return await response.read()
            return await response.json()

    # -- setup ---------------------------------------------------------------------------------

    async def create_user(
        self,
        id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "zh-hans",
    ) -> Json:
        """Create a user (a Telegram ``User`` dict comes back)."""
        answer: Json = await self._call(
            "create_user",
            {
                "id": id,
                "first_name": first_name,
                "last_name": last_name,
                "username": username,
                "language_code": language_code,
            },
        )
        return answer

    async def block_bot(self, user_id: int, blocked: bool = True) -> Json:
        answer: Json = await self._call("block_bot", {"user_id": user_id, "blocked": blocked})
        return answer

    async def create_chat(
        self,
        id: int,
        type: Literal["group", "supergroup", "private"],
        title: str,
        members: list[int],
        admins: list[int] | None = None,
        bot_member: bool = True,
        bot_admin: bool = False,
        owner: int | None = None,
        username: str | None = None,
    ) -> Json:
        """Create a group or supergroup (a ``Chat`` dict comes back)."""
        answer: Json = await self._call(
            "create_chat",
            {
                "id": id,
                "type": type,
                "title": title,
                "members": members,
                "admins": admins or [],
                "bot_member": bot_member,
                "bot_admin": bot_admin,
                "owner": owner,
                "username": username,
            },
        )
        return answer

    async def set_privacy(self, enabled: bool) -> Json:
        answer: Json = await self._call("set_privacy", {"enabled": enabled})
        return answer

    # -- users acting --------------------------------------------------------------------------

    async def send_text(
        self,
        user_id: int,
        chat_id: int,
        text: str,
        reply_to_message_id: int | None = None,
        wait: bool = True,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> Json:
        """A user writes; ``{"message", "update_id", "delivered"}`` comes back."""
        answer: Json = await self._call(
            "send_text",
            {
                "user_id": user_id,
                "chat_id": chat_id,
                "text": text,
                "reply_to_message_id": reply_to_message_id,
                "wait": wait,
                "timeout": timeout,
            },
        )
        return answer

    async def send_photo(
        self,
        user_id: int,
        chat_id: int,
        caption: str | None = None,
        content: bytes | None = None,
        reply_to_message_id: int | None = None,
        wait: bool = True,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> Json:
        """A user sends a picture (a generated PNG when ``content`` is None)."""
        answer: Json = await self._call(
            "send_photo",
            {
                "user_id": user_id,
                "chat_id": chat_id,
                "caption": caption,
                "content": base64.b64encode(content).decode() if content is not None else None,
                "reply_to_message_id": reply_to_message_id,
                "wait": wait,
                "timeout": timeout,
            },
        )
        return answer

    async def send_document(
        self,
        user_id: int,
        chat_id: int,
        content: bytes,
        file_name: str,
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
        reply_to_message_id: int | None = None,
        wait: bool = True,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> Json:
        answer: Json = await self._call(
            "send_document",
            {
                "user_id": user_id,
                "chat_id": chat_id,
                "content": base64.b64encode(content).decode(),
                "file_name": file_name,
                "mime_type": mime_type,
                "caption": caption,
                "reply_to_message_id": reply_to_message_id,
                "wait": wait,
                "timeout": timeout,
            },
        )
        return answer

    async def press(
        self,
        user_id: int,
        chat_id: int,
        message_id: int,
        callback_data: str,
        forge: bool = False,
        wait: bool = True,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> Json:
        """A user presses an inline button; ``{"update_id", "answer", ...}`` comes back."""
        answer: Json = await self._call(
            "press",
            {
                "user_id": user_id,
                "chat_id": chat_id,
                "message_id": message_id,
                "callback_data": callback_data,
                "forge": forge,
                "wait": wait,
                "timeout": timeout,
            },
        )
        return answer

    # -- inspection ----------------------------------------------------------------------------

    async def chat(self, chat_id: int) -> list[Json]:
        """What the chat shows now, oldest first (``Message`` dicts)."""
        answer: list[Json] = await self._call("chat", {"chat_id": chat_id})
        return answer

    async def private(self, user_id: int) -> list[Json]:
        """The private chat between the bot and ``user_id``."""
        return await self.chat(user_id)

    async def message(self, chat_id: int, message_id: int) -> Json:
        answer: Json = await self._call("message", {"chat_id": chat_id, "message_id": message_id})
        return answer

    async def requests(self, method: str | None = None) -> list[Json]:
        """Bot API calls the bot made: ``{"method", "params", "ok", "error_code", ...}``."""
        answer: list[Json] = await self._call("requests", {"method": method})
        return answer

    async def violations(self) -> list[str]:
        answer: list[str] = await self._call("violations")
        return answer

    async def commands(self) -> list[Json]:
        """What setMyCommands stored: ``[{"scope", "language_code", "commands"}]``."""
        answer: list[Json] = await self._call("commands")
        return answer

    async def updates_pending(self) -> int:
        answer: int = await self._call("updates_pending")
        return answer

    async def file(self, file_id: str) -> bytes:
        """The bytes of any file the emulator keeps."""
        data: bytes = await self._call("file", {"file_id": file_id}, raw=True)
        return data

    async def webhook(self) -> Json:
        """``{"info": WebhookInfo, "deliveries": [...]}``."""
        answer: Json = await self._call("webhook")
        return answer

    async def state(self) -> Json:
        answer: Json = await self._call("state")
        return answer

    # -- behaviour -----------------------------------------------------------------------------

    async def inject_fault(
        self,
        method: str,
        kind: Literal["429", "500", "502", "503", "504", "delay"],
        count: int = 1,
        retry_after: int = 1,
        delay: float = 0.0,
        html: bool = False,
        chat_id: int | None = None,
    ) -> Json:
        """The next ``count`` calls of ``method`` (``*``: any; to ``chat_id`` only, if given)
        fail: 429 with ``retry_after``
        (whole seconds, as Telegram), a 5xx as the Bot API's JSON or, with ``html``, as the
        HTML page Telegram's front end (nginx) answers; or they are answered after ``delay``."""
        answer: Json = await self._call(
            "inject_fault",
            {
                "method": method,
                "kind": kind,
                "count": count,
                "retry_after": retry_after,
                "delay": delay,
                "html": html,
                "chat_id": chat_id,
            },
        )
        return answer

    async def set_flood_limits(
        self,
        per_chat_per_second: float | None = None,
        per_group_per_minute: int | None = None,
        global_per_second: int | None = None,
        group_window_seconds: float = 60.0,
        global_window_seconds: float = 1.0,
    ) -> Json:
        """``group_window_seconds`` shortens a group's minute, ``global_window_seconds`` the
        global limit's second, for tests that cannot wait them out."""
        answer: Json = await self._call(
            "set_flood_limits",
            {
                "per_chat_per_second": per_chat_per_second,
                "per_group_per_minute": per_group_per_minute,
                "global_per_second": global_per_second,
                "group_window_seconds": group_window_seconds,
                "global_window_seconds": global_window_seconds,
            },
        )
        return answer

    async def reset(self) -> Json:
        answer: Json = await self._call("reset")
        return answer
