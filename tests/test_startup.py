"""``greenlight run`` refuses to start with one line naming what is wrong, writing nothing.

Each case runs the command and reads what it printed: one line on stderr, nothing on
stdout, exit code 2, and no data folder made. The first runs it in a child process exactly
as an operator would; the others in this process (a child spends seconds importing aiogram).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from sandbox.emulator.config import EmulatorConfig
from sandbox.emulator.server import Emulator
from storage.migrate import head_revision

TOKEN = "777001:STARTUP-CHECKS"


def closed_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def settings_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {f"GREENLIGHT_{k.upper()}": v for k, v in settings.items()}
    env.setdefault("GREENLIGHT_DATA_DIR", str(tmp_path / "data"))
    return env


def greenlight_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                   **settings: str) -> tuple[int, list[str], str]:
    """``greenlight run`` with only these settings; (exit code, stderr lines, stdout)."""
    for name in list(os.environ):
        if name.startswith("GREENLIGHT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    result = CliRunner().invoke(app, ["run"], env=settings_env(tmp_path, **settings))
    return result.exit_code, result.stderr.splitlines(), result.stdout


def one_line(tmp_path: Path, code: int, lines: list[str], out: str) -> str:
    assert code == 2 and out == "", (code, out)
    assert len(lines) == 1, "\n".join(lines)
    assert not (tmp_path / "data").exists(), "wrote to disk before refusing"
    assert lines[0].startswith("greenlight: ")
    return lines[0]


class ApiServer:
    """The emulator on a loop of its own thread, so the command's own loop can call it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.emulator = Emulator(EmulatorConfig(port=0, bot_token=TOKEN))

    def __enter__(self) -> str:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.emulator.start(), self.loop).result(10)
        return self.emulator.base_url

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self.emulator.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def api() -> Iterator[str]:
    with ApiServer() as url:
        yield url


async def test_a_malformed_token_in_a_real_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREENLIGHT_")}
    env.update(settings_env(tmp_path, bot_token="12345-no-colon"))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    line = one_line(tmp_path, process.returncode, err.decode().splitlines(), out.decode())
    assert "GREENLIGHT_BOT_TOKEN is malformed" in line and "@BotFather" in line


def test_an_unreachable_bot_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    line = one_line(tmp_path, *greenlight_run(tmp_path, monkeypatch, bot_token=TOKEN,
                                              api_base_url=url))
    assert f"cannot reach the Bot API at {url}" in line and "GREENLIGHT_API_BASE_URL" in line


def test_a_token_the_server_refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    api: str) -> None:
    line = one_line(tmp_path, *greenlight_run(
        tmp_path, monkeypatch, bot_token="777001:SOMEONE-ELSES", api_base_url=api))
    assert "refused the token (401 Unauthorized)" in line and "GREENLIGHT_BOT_TOKEN" in line


def test_an_unreachable_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 api: str) -> None:
    url = f"postgresql+asyncpg://greenlight:secret@127.0.0.1:{closed_port()}/bureau"
    line = one_line(tmp_path, *greenlight_run(
        tmp_path, monkeypatch, bot_token=TOKEN, api_base_url=api, database_url=url))
    assert "cannot open the database" in line and "GREENLIGHT_DATABASE_URL" in line
    assert "secret" not in line  # the password is never printed


def test_a_database_from_an_unknown_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           api: str) -> None:
    path = tmp_path / "elsewhere.db"
    with sqlite3.connect(path) as connection:  # as a newer Greenlight would have left it
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        connection.execute("INSERT INTO alembic_version VALUES ('9999_from_the_future')")
    line = one_line(tmp_path, *greenlight_run(
        tmp_path, monkeypatch, bot_token=TOKEN, api_base_url=api,
        database_url=f"sqlite+aiosqlite:///{path}"))
    assert "cannot bring the database" in line and "9999_from_the_future" in line
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [
            ("9999_from_the_future",)]
    assert head_revision() != "9999_from_the_future"
