"""Webhook delivery: POST each update to the bot's URL, in order, retrying with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from .config import EmulatorConfig
from .updates import UpdateQueue

log = logging.getLogger("sandbox.emulator.webhook")
Json = dict[str, Any]
ReplyHandler = Callable[[str, Json], Awaitable[None]]
UpdateObserver = Callable[[Json], None]


class Webhook:
    """The webhook setting of the bot and the task delivering updates to it."""

    def __init__(
        self,
        queue: UpdateQueue,
        config: EmulatorConfig,
        on_reply: ReplyHandler,
        on_update: UpdateObserver,
    ) -> None:
        self._queue = queue
        self._config = config
        self._on_reply = on_reply
        self._on_update = on_update
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self.clear()

    def clear(self) -> None:
        self.url = ""
        self.secret_token: str | None = None
        self.max_connections = 40
        self.ip_address: str | None = None
        self.last_error_date: int | None = None
        self.last_error_message: str | None = None
        self.deliveries: list[Json] = []

    @property
    def active(self) -> bool:
        return bool(self.url)

    def set(
        self, url: str, secret_token: str | None, max_connections: int, ip_address: str | None
    ) -> None:
        self.url = url
        self.secret_token = secret_token
        self.max_connections = max_connections
        self.ip_address = ip_address
        self.last_error_date = None
        self.last_error_message = None
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="emulator-webhook")

    async def delete(self) -> None:
        self.url = ""
        await self._stop_task()

    async def close(self) -> None:
        await self._stop_task()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _stop_task(self) -> None:
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def info(self) -> Json:
        """A ``WebhookInfo`` dict."""
        info: Json = {
            "url": self.url,
            "has_custom_certificate": False,
            "pending_update_count": self._queue.pending_count,
        }
        if self.url:
            info["max_connections"] = self.max_connections
            if self.ip_address:
                info["ip_address"] = self.ip_address
            if self._queue.allowed_updates:
                info["allowed_updates"] = list(self._queue.allowed_updates)
        if self.last_error_date is not None and self.last_error_message is not None:
            info["last_error_date"] = self.last_error_date
            info["last_error_message"] = self.last_error_message
        return info

    async def _run(self) -> None:
        delay = self._config.webhook_retry_base
        while self.url and not self._queue.closed:
            pending = self._queue.peek(1)
            if not pending:
                await self._queue.wait_change(1.0)
                continue
            update = pending[0]
            if await self._deliver(update):
                self._queue.confirm(update["update_id"] + 1)
                delay = self._config.webhook_retry_base
            else:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._config.webhook_retry_max)

    async def _deliver(self, update: Json) -> bool:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        self._on_update(update)
        headers = {"Content-Type": "application/json"}
        if self.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.secret_token
        record: Json = {"update_id": update["update_id"], "url": self.url, "at": time.time()}
        self.deliveries.append(record)
        try:
            timeout = aiohttp.ClientTimeout(total=self._config.webhook_timeout)
            async with self._session.post(
                self.url, data=json.dumps(update), headers=headers, timeout=timeout
            ) as response:
                body = await response.read()
                record["status"] = response.status
                if not 200 <= response.status < 300:
                    return self._failed(
                        f"Wrong response from the webhook: {response.status} {response.reason}"
                    )
        except aiohttp.ClientConnectorError:
            return self._failed("Connection refused")
        except TimeoutError:
            return self._failed("Read timeout expired")
        except aiohttp.ClientError as error:
            return self._failed(f"{type(error).__name__}: {error}")
        await self._handle_reply(body)
        return True

    def _failed(self, message: str) -> bool:
        log.info("webhook delivery failed: %s", message)
        self.last_error_date = int(time.time())
        self.last_error_message = message
        self.deliveries[-1]["error"] = message
        return False

    async def _handle_reply(self, body: bytes) -> None:
        """A webhook answer may carry one Bot API call, as Telegram allows."""
        if not body.strip():
            return
        try:
            reply = json.loads(body)
        except ValueError:
            return
        if isinstance(reply, dict) and isinstance(reply.get("method"), str):
            params = {k: v for k, v in reply.items() if k != "method"}
            try:
                await self._on_reply(reply["method"], params)
            except Exception:  # the bot never learns the outcome of such a call
                log.exception("webhook reply %s failed", reply["method"])
