"""``greenlight run`` as an operator runs it: a child process against the emulator, stopped
with SIGTERM while an update is in flight (it finishes, the process exits 0), in both modes
(polling serving its health checks on GREENLIGHT_HEALTH_PORT); and ``greenlight webhook
remove`` / ``info``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.updates import was_handled
from sandbox.emulator.client import ControlClient
from sandbox.emulator.config import EmulatorConfig
from sandbox.emulator.server import Emulator
from storage.db import create_engine, create_session_factory
from tests.e2e.conftest import eventually
from tests.test_startup import ApiServer

TOKEN = "777002:SERVING"
SECRET = "serving-secret"
USER = 424242
SLOW = 3.0  # seconds the emulator holds the bot's answer: the update is in flight meanwhile


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def emulator() -> AsyncIterator[tuple[Emulator, ControlClient]]:
    emu = Emulator(EmulatorConfig(port=0, bot_token=TOKEN))
    await emu.start()
    ctl = ControlClient(emu.base_url)
    await ctl.create_user(USER, "Ada", username="ada", language_code="en")
    yield emu, ctl
    await ctl.close()
    await emu.stop()


async def start_greenlight(tmp_path: Path, *args: str,
                           **settings: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREENLIGHT_")}
    env.update({f"GREENLIGHT_{k.upper()}": v for k, v in settings.items()})
    env["GREENLIGHT_DATA_DIR"] = str(tmp_path / "data")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", *args, cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def get_json(url: str) -> tuple[int, object]:
    """Without blocking the loop: the emulator the bot asks meanwhile runs on it."""
    async with aiohttp.ClientSession() as http, http.get(
            url, timeout=aiohttp.ClientTimeout(total=15)) as answer:
        return answer.status, await answer.json()


async def stop_in_flight(emu: Emulator, ctl: ControlClient,
                         process: asyncio.subprocess.Process) -> tuple[int, str, int]:
    """/start from a user, the bot's answer held by the emulator; SIGTERM while it is held.
    (exit code, stderr, the update's id)."""
    await ctl.inject_fault("sendMessage", "delay", delay=SLOW)
    sent = await ctl.send_text(USER, USER, "/start", wait=False)

    async def answering() -> bool:  # the held answer was asked for: the update is in flight
        return not emu.faults.pending()

    try:
        await eventually(answering, "the bot to answer /start", timeout=60)
    except AssertionError:
        process.kill()
        _, err = await process.communicate()
        raise AssertionError(err.decode()) from None
    assert not [m for m in await ctl.private(USER) if m.get("from", {}).get("is_bot")]
    process.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    said = [m for m in await ctl.private(USER) if m.get("from", {}).get("is_bot")]
    assert said, "the update in flight did not finish:\n" + err.decode()
    return process.returncode, err.decode(), int(sent["update_id"])


async def handled(tmp_path: Path, update_id: int) -> bool:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'greenlight.db'}")
    try:
        return await was_handled(create_session_factory(engine), update_id)
    finally:
        await engine.dispose()


async def test_sigterm_while_polling_lets_the_update_in_flight_finish(
        tmp_path: Path, emulator: tuple[Emulator, ControlClient]) -> None:
    emu, ctl = emulator
    health = free_port()
    process = await start_greenlight(tmp_path, bot_token=TOKEN, api_base_url=emu.base_url,
                                     health_port=str(health))

    seen: list[object] = []

    async def ready() -> bool:  # health checks are served in polling mode too
        assert process.returncode is None
        try:
            seen.append(await get_json(f"http://127.0.0.1:{health}/readyz"))
        except (OSError, aiohttp.ClientError, TimeoutError) as exc:
            seen.append(exc)
            return False
        return seen[-1] == (200, {"ready": True, "not_ready": {},
                                  "checks": {"database": "ok", "bot_api": "ok", "sweep": "ok"}})

    try:
        await eventually(ready, "the polling bot to be ready", timeout=60)
    except AssertionError:
        process.kill()
        _, err = await process.communicate()
        raise AssertionError(f"{seen[-1:]}\n{err.decode()[-3000:]}") from None
    assert await get_json(f"http://127.0.0.1:{health}/healthz") == (200, {"status": "ok"})
    code, err, update_id = await stop_in_flight(emu, ctl, process)
    assert code == 0, err
    assert "SIGTERM: stopping once the updates under way are done" in err
    assert "Greenlight stopped" in err and "Traceback" not in err
    assert await handled(tmp_path, update_id)


async def test_sigterm_in_webhook_mode_lets_the_update_in_flight_finish(
        tmp_path: Path, emulator: tuple[Emulator, ControlClient]) -> None:
    emu, ctl = emulator
    port = free_port()
    process = await start_greenlight(
        tmp_path, "--webhook", bot_token=TOKEN, api_base_url=emu.base_url,
        webhook_url=f"http://127.0.0.1:{port}/hook", webhook_secret=SECRET,
        webhook_port=str(port))
    code, err, update_id = await stop_in_flight(emu, ctl, process)
    assert code == 0, err
    assert "Greenlight stopped" in err and "Traceback" not in err
    assert await handled(tmp_path, update_id)
    # Answered only once handled: the emulator saw 200 for the update, and nothing pending.
    deliveries = (await ctl.webhook())["deliveries"]
    assert [d.get("status") for d in deliveries if d["update_id"] == update_id] == [200]
    # The webhook stays set for the other workers.
    assert (await ctl.webhook())["info"]["url"] == f"http://127.0.0.1:{port}/hook"


def test_webhook_mode_needs_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("GREENLIGHT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["run", "--webhook"], env={
        "GREENLIGHT_BOT_TOKEN": TOKEN, "GREENLIGHT_WEBHOOK_URL": "https://bot.example.org/hook",
        "GREENLIGHT_DATA_DIR": str(tmp_path / "data")})
    assert result.exit_code == 2
    assert result.stderr.startswith("greenlight: GREENLIGHT_WEBHOOK_SECRET is not set")


def test_webhook_remove_deletes_the_webhook(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("GREENLIGHT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    with ApiServer() as base:
        url = "http://127.0.0.1:9/hook"
        request = urllib.request.Request(
            f"{base}/bot777001:STARTUP-CHECKS/setWebhook", method="POST",
            data=json.dumps({"url": url, "secret_token": SECRET}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert json.load(answer)["ok"]
        env = {"GREENLIGHT_BOT_TOKEN": "777001:STARTUP-CHECKS", "GREENLIGHT_API_BASE_URL": base}
        runner = CliRunner()
        info = runner.invoke(app, ["webhook", "info"], env=env)
        assert info.exit_code == 0, info.output
        assert info.stdout.splitlines()[0] == f"url {url}"
        removed = runner.invoke(app, ["webhook", "remove"], env=env)
        assert removed.exit_code == 0, removed.output
        assert removed.stdout.strip() == f"webhook {url} removed (0 updates pending)"
        assert runner.invoke(app, ["webhook", "remove"], env=env).stdout.strip() == \
            "no webhook was set"
        info = runner.invoke(app, ["webhook", "info"], env=env)
        assert info.stdout.startswith("no webhook: updates wait for polling")
    assert not (tmp_path / "data").exists()  # nothing written: it touches no database
