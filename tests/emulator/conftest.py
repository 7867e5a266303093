"""Fixtures: an emulator on a free port, its control client, and a raw Bot API caller."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from sandbox.emulator import ControlClient, Emulator, EmulatorConfig

TOKEN = "123456:TEST-TOKEN"
ALICE = 1001  # has started the bot
BOB = 1002  # has never written to the bot
GROUP = -4001
SUPERGROUP = -1001234567890


def make_config(**overrides: Any) -> EmulatorConfig:
    settings: dict[str, Any] = {
        "port": 0,
        "callback_answer_timeout": 0.5,
        "long_poll_max_timeout": 5.0,
        "webhook_retry_base": 0.05,
        "webhook_retry_max": 0.2,
    }
    settings.update(overrides)
    return EmulatorConfig(**settings)


class BotHttp:
    """Calls the emulated Bot API like a bot would; returns the JSON envelope."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str = TOKEN) -> None:
        self.session = session
        self.base_url = base_url
        self.token = token

    async def __call__(self, method: str, *, form: bool = False, **params: Any) -> dict[str, Any]:
        url = f"{self.base_url}/bot{self.token}/{method}"
        if form:
            data = aiohttp.FormData()
            for key, value in params.items():
                if isinstance(value, tuple):  # (filename, bytes, content type)
                    data.add_field(key, value[1], filename=value[0], content_type=value[2])
                elif isinstance(value, str):
                    data.add_field(key, value)
                else:
                    data.add_field(key, json.dumps(value))
            request = self.session.post(url, data=data)
        else:
            request = self.session.post(url, json=params)
        async with request as response:
            body: dict[str, Any] = await response.json()
        expected = 200 if body["ok"] else body["error_code"]
        assert response.status == expected, (response.status, body)
        return body

    async def ok(self, method: str, **params: Any) -> Any:
        body = await self(method, **params)
        assert body["ok"], body
        return body["result"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "allow_violations: the test provokes Bot API spec violations on purpose"
    )


@pytest.fixture
async def emu(request: pytest.FixtureRequest) -> AsyncIterator[Emulator]:
    """An emulator on a free port; the test fails if it saw any spec violation."""
    async with Emulator(make_config()) as emulator:
        yield emulator
        if request.node.get_closest_marker("allow_violations") is None:
            assert emulator.violations.items == [], "Bot API spec violations"


@pytest.fixture
async def ctl(emu: Emulator) -> AsyncIterator[ControlClient]:
    async with ControlClient(emu.base_url) as client:
        yield client


@pytest.fixture
async def bot(emu: Emulator) -> AsyncIterator[BotHttp]:
    async with aiohttp.ClientSession() as session:
        yield BotHttp(session, emu.base_url)


@pytest.fixture
async def world(ctl: ControlClient) -> ControlClient:
    """ALICE (started the bot), BOB (never did), a group and a supergroup with the bot."""
    await ctl.create_user(ALICE, "Alice", "Li", username="alice")
    await ctl.create_user(BOB, "Bob", username="bob")
    await ctl.send_text(ALICE, ALICE, "/start", wait=False)
    await ctl.create_chat(GROUP, "group", "规划一组", members=[ALICE, BOB], admins=[ALICE])
    await ctl.create_chat(SUPERGROUP, "supergroup", "Bureau", members=[ALICE, BOB])
    return ctl


async def drain(bot: BotHttp) -> list[dict[str, Any]]:
    """Take and confirm every pending update."""
    updates: list[dict[str, Any]] = await bot.ok("getUpdates", timeout=0)
    if updates:
        await bot.ok("getUpdates", offset=updates[-1]["update_id"] + 1, timeout=0)
    return updates
