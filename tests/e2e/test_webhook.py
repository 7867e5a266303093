"""Webhook mode: the emulator delivers updates by webhook to the bot's own aiohttp server.

The bot answers a delivery only once the update is handled and committed (so the
emulator's ``wait`` returns after that); a request without the secret or with a wrong one
is refused with 401 and changes nothing; an update delivered again changes nothing;
``/healthz`` and ``/readyz`` answer, the latter naming what is not ready.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlmodel import select

from bot.app import create_app
from bot.config import load_settings
from bot.domain.rules.clock import ManualClock
from bot.updates import was_handled
from bot.web import SECRET_HEADER, Health, WebhookWorker, sweep_limit
from sandbox.demo import DEMO_CHATS, DEMO_USERS
from sandbox.emulator.client import ControlClient
from sandbox.emulator.config import EmulatorConfig
from sandbox.emulator.server import Emulator
from storage.db import is_sqlite
from storage.models import AuditEvent, Report
from tests.e2e.conftest import (
    PACE,
    RETRY,
    START,
    TOKEN,
    DemoSnapshot,
    World,
    button,
    submit_item,
    text_of,
)

SECRET = "webhook-secret_0123456789"
PATH = "/tg/hook"
Json = dict[str, Any]


@dataclass
class Hooked:
    """The demo world, its updates coming by webhook; every POST the bot got, as sent."""

    world: World
    worker: WebhookWorker
    posts: list[tuple[Json, int]] = field(default_factory=list)  # (body, status answered)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.worker.port}"

    async def post(self, body: Json, secret: str | None = SECRET) -> int:
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        async with aiohttp.ClientSession() as http, http.post(
                self.base + PATH, data=json.dumps(body),
                headers={"Content-Type": "application/json", **headers}) as response:
            return response.status

    async def get(self, path: str) -> tuple[int, Json]:
        async with aiohttp.ClientSession() as http, http.get(self.base + path) as response:
            return response.status, await response.json()


@pytest.fixture
async def hooked(database_url: str, tmp_path: Path,
                 demo_snapshot: DemoSnapshot) -> AsyncIterator[Hooked]:
    emu = Emulator(EmulatorConfig(port=0, bot_token=TOKEN, strict=True))
    await emu.start()
    await demo_snapshot.restore(database_url)
    emu.load_world(demo_snapshot.emulator)
    config = load_settings(bot_token=TOKEN, api_base_url=emu.base_url,
                           database_url=database_url, data_dir=tmp_path,
                           webhook_secret=SECRET, webhook_port=0, webhook_path=PATH)
    clock = ManualClock(START)
    app = await create_app(config, clock=clock, retry=RETRY, pace=PACE)
    world = World(emu, ControlClient(emu.base_url), app, clock,
                  users={key: user.telegram_id for key, user in DEMO_USERS.items()},
                  chats={key: chat.chat_id for key, chat in DEMO_CHATS.items()})
    worker = WebhookWorker(app, with_scheduler=False)
    found = Hooked(world, worker)

    @web.middleware
    async def tap(request: web.Request,
                  handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                  ) -> web.StreamResponse:
        body = await request.json() if request.method == "POST" else {}
        response = await handler(request)
        if request.method == "POST":
            found.posts.append((body, response.status))
        return response

    worker.server.web.middlewares.append(tap)
    await worker.start(lambda port: f"http://127.0.0.1:{port}{PATH}")
    yield found
    violations = list(await world.ctl.violations())
    await worker.stop()
    await world.ctl.close()
    await emu.stop()
    assert violations == [], "Bot API spec violations:\n" + "\n".join(violations)


async def reports(world: World) -> list[Report]:
    async with world.db() as store:
        return list((await store.session.execute(select(Report))).scalars())


async def audit_actions(world: World) -> list[str]:
    async with world.db() as store:
        return [e.action for e in (await store.session.execute(select(AuditEvent))).scalars()]


async def test_updates_arrive_by_webhook_and_are_answered(hooked: Hooked) -> None:
    world = hooked.world
    info = (await world.ctl.webhook())["info"]
    assert info["url"].endswith(PATH) and info["pending_update_count"] == 0
    assert (await world.ctl.requests("setWebhook"))[-1]["params"]["secret_token"] == SECRET

    await world.say("liuxiao", "liuxiao", "/help")
    assert "/report" in text_of(await world.last_from_bot("liuxiao"))

    sent = await world.say("liuxiao", "KP-002", "/report 新址已完成现场踏勘")
    # ``say`` returns once the delivery was answered: by then the report is committed.
    [report] = await reports(world)
    assert report.text == "新址已完成现场踏勘"
    card = await world.last_from_bot("KP-002")
    assert "进展汇报 · KP-002 天台山公园" in text_of(card)
    assert card["reply_to_message"]["message_id"] == sent["message"]["message_id"]
    assert await was_handled(world.app.sessions, sent["update_id"])
    assert [status for _, status in hooked.posts] == [200, 200]
    deliveries = (await world.ctl.webhook())["deliveries"]
    assert [d["status"] for d in deliveries] == [200, 200]


async def test_a_request_without_the_secret_or_with_a_wrong_one_is_refused(
        hooked: Hooked, caplog: pytest.LogCaptureFixture) -> None:
    world = hooked.world
    await world.say("liuxiao", "KP-002", "/report 第一次汇报")
    [(delivered, _), *_] = [p for p in hooked.posts if "message" in p[0]]
    shown = await world.shown("KP-002")
    forged = json.loads(json.dumps(delivered))
    forged["update_id"] = delivered["update_id"] + 1000
    forged["message"]["text"] = "/report 伪造的汇报"

    caplog.set_level(logging.WARNING, logger="bot.web")
    assert await hooked.post(forged, secret=None) == 401
    assert await hooked.post(forged, secret="not-the-secret") == 401
    assert await hooked.post(forged, secret=SECRET[:-1]) == 401
    assert [r.text for r in await reports(world)] == ["第一次汇报"]
    assert await world.shown("KP-002") == shown
    assert not await was_handled(world.app.sessions, forged["update_id"])
    refused = [r.getMessage() for r in caplog.records if "refused (401)" in r.getMessage()]
    assert len(refused) == 3 and "no secret token" in refused[0]
    assert "a wrong secret token" in refused[1]
    assert SECRET not in caplog.text and "not-the-secret" not in caplog.text
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text

    # The same body with the secret is a good update: it was the secret that was refused.
    assert await hooked.post(forged) == 200
    assert [r.text for r in await reports(world)] == ["第一次汇报", "伪造的汇报"]


async def test_an_update_delivered_again_changes_nothing(hooked: Hooked) -> None:
    world = hooked.world
    await world.say("liuxiao", "KP-002", "/report 只应记录一次")
    [report_update] = [body for body, _ in hooked.posts if "message" in body]
    card = await submit_item(world, "微波站迁建选址方案")
    await world.press("li", "KP-002", card["message_id"], button(card, "✅ 同意"))
    press = [body for body, _ in hooked.posts if "callback_query" in body][-1]
    shown = {where: await world.shown(where) for where in ("KP-002", "li", "liuxiao")}
    actions = await audit_actions(world)
    assert len(await reports(world)) == 1

    for again in (report_update, press, report_update):
        assert await hooked.post(again) == 200  # confirmed, so Telegram stops delivering it
    assert len(await reports(world)) == 1
    assert await audit_actions(world) == actions
    assert {where: await world.shown(where) for where in shown} == shown
    assert len(await world.ctl.requests("answerCallbackQuery")) == len(
        [body for body, _ in hooked.posts if "callback_query" in body]) - 1


async def test_health_and_readiness(hooked: Hooked, database_url: str) -> None:
    assert await hooked.get("/healthz") == (200, {"status": "ok"})
    status, body = await hooked.get("/readyz")
    assert status == 200, body
    assert body == {"ready": True, "not_ready": {},
                    "checks": {"database": "ok", "bot_api": "ok", "sweep": "off"}}
    if not is_sqlite(database_url):
        return
    # The database out of reach: its folder gone (the bot's open connections do not notice).
    folder = Path(database_url.removeprefix("sqlite+aiosqlite:///")).parent
    moved = folder.rename(folder.with_name(folder.name + "-away"))
    try:
        status, body = await hooked.get("/readyz")
    finally:
        moved.rename(folder)
    assert status == 503
    assert body["ready"] is False and list(body["not_ready"]) == ["database"]
    assert "unable to open database file" in body["not_ready"]["database"]
    assert body["checks"]["bot_api"] == "ok"
    assert (await hooked.get("/readyz"))[0] == 200


async def test_readiness_names_an_unreachable_bot_api_and_a_stuck_sweep(hooked: Hooked) -> None:
    world = hooked.world
    now = [0.0]
    health = Health(world.app, sweeping=True, monotonic=lambda: now[0])
    try:
        assert (await health.checks())["sweep"] == "no sweep has finished yet"
        await world.sweep()
        swept_at = getattr(world.app.jobs, "swept_at", None)
        assert swept_at is not None
        limit = sweep_limit(world.app.settings.sweep_interval_seconds)
        now[0] = swept_at + limit - 1
        checks = await health.checks()
        assert checks == {"database": "ok", "bot_api": "ok", "sweep": "ok"}
        now[0] = swept_at + limit + 5
        assert "the last sweep finished" in (await health.checks())["sweep"]

        # getMe succeeded a moment ago: no need to ask; a minute on, it is asked and fails.
        await world.ctl.inject_fault("getMe", "500", count=10)
        assert (await health.checks())["bot_api"] == "ok"
        now[0] += 61
        assert (await health.checks())["bot_api"] == "Internal Server Error"
    finally:
        await health.close()
