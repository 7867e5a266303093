"""Webhooks: delivery with the secret header, retries, getWebhookInfo, 409 for getUpdates."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from sandbox.emulator import ControlClient

from .conftest import ALICE, BotHttp, drain


class Receiver:
    """A tiny webhook endpoint on a free port."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, Any], str | None]] = []
        self.fail_next = 0
        self.answer: dict[str, Any] | None = None
        self.delay = 0.0
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        if self.fail_next:
            self.fail_next -= 1
            return web.Response(status=500)
        await asyncio.sleep(self.delay)
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        self.received.append((await request.json(), secret))
        if self.answer is not None:
            return web.json_response(self.answer)
        return web.Response(text="")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    hook.url = f"http://127.0.0.1:{port}/hook"
    yield hook
    await runner.cleanup()


async def test_webhook_delivery_and_conflict(
    world: ControlClient, bot: BotHttp, receiver: Receiver
) -> None:
    await drain(bot)
    body = await bot("setWebhook", url=receiver.url, secret_token="s3cr3t_token")
    assert body == {"ok": True, "result": True, "description": "Webhook was set"}
    conflict = await bot("getUpdates")
    assert conflict == {
        "ok": False,
        "error_code": 409,
        "description": "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first",
    }
    receiver.delay = 0.2
    result = await world.send_text(ALICE, ALICE, "via webhook", timeout=3)
    assert len(receiver.received) == 1  # wait returned after the POST was answered
    update, secret = receiver.received[0]
    assert update["update_id"] == result["update_id"]
    assert update["message"]["text"] == "via webhook"
    assert secret == "s3cr3t_token"
    info = await bot.ok("getWebhookInfo")
    assert info["url"] == receiver.url
    assert info["pending_update_count"] == 0
    assert info["has_custom_certificate"] is False

    deleted = await bot("deleteWebhook")
    assert deleted == {"ok": True, "result": True, "description": "Webhook was deleted"}
    assert (await bot("deleteWebhook"))["description"] == "Webhook is already deleted"
    assert (await bot("getUpdates"))["ok"]


async def test_webhook_retries_and_reports_errors(
    world: ControlClient, bot: BotHttp, receiver: Receiver
) -> None:
    await drain(bot)
    receiver.fail_next = 2
    await bot.ok("setWebhook", url=receiver.url)
    await world.send_text(ALICE, ALICE, "retry me", timeout=3)
    assert [u["message"]["text"] for u, _ in receiver.received] == ["retry me"]
    info = await bot.ok("getWebhookInfo")
    assert (
        info["last_error_message"] == "Wrong response from the webhook: 500 Internal Server Error"
    )
    assert isinstance(info["last_error_date"], int)
    deliveries = (await world.webhook())["deliveries"]
    assert [d.get("status") for d in deliveries] == [500, 500, 200]


async def test_webhook_pending_and_drop(world: ControlClient, bot: BotHttp) -> None:
    await drain(bot)
    await bot.ok("setWebhook", url="http://127.0.0.1:9/unreachable")
    await world.send_text(ALICE, ALICE, "lost", wait=False)
    await asyncio.sleep(0.1)
    info = await bot.ok("getWebhookInfo")
    assert info["pending_update_count"] == 1
    assert info["last_error_message"] == "Connection refused"
    await bot.ok("deleteWebhook", drop_pending_updates=True)
    assert await bot.ok("getUpdates") == []
    bad = await bot("setWebhook", url="ftp://example.org")
    assert (
        bad["description"] == "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
    )


async def test_webhook_reply_can_call_a_method(
    world: ControlClient, bot: BotHttp, receiver: Receiver
) -> None:
    await drain(bot)
    receiver.answer = {"method": "sendMessage", "chat_id": ALICE, "text": "webhook reply"}
    await bot.ok("setWebhook", url=receiver.url)
    await world.send_text(ALICE, ALICE, "hi", timeout=3)
    for _ in range(50):
        if (await world.private(ALICE))[-1].get("text") == "webhook reply":
            break
        await asyncio.sleep(0.02)
    assert (await world.private(ALICE))[-1]["text"] == "webhook reply"
    assert json.dumps(await world.violations()) == "[]"
