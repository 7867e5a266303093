"""The crash proof's machinery: ``greenlight run --polling`` as a child process that can be
killed (SIGKILL) at chosen points and started again, the emulator that sets those points,
and the clock every process shares.

Kill points:

- ``delay``: 0–300 ms after a user's update was sent (it may not be fetched yet, be under
  way, or be done);
- ``before N``: as the bot's N-th call that changes what a chat shows (a message sent,
  edited or deleted, a button press answered) reaches the emulator, which does not perform
  it: the bot dies between what it committed and what it meant to say;
- ``after N``: once the emulator performed that call, before the bot hears back (the message
  is shown, the bot never learns its id);
- ``done``: a trap that was not reached while the update was handled is sprung then;
- ``sweep …``: the same traps set when the shared clock jumps a working day ahead, so they
  catch the sweep delivering what fell due.

Starting Python and importing aiogram takes seconds, longer than anything else here, so a
spare process is always waiting with its imports done; on the go it runs ``bot.cli`` exactly
as ``python -m bot.cli run --polling`` does.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.clock_file import FileClock, write_clock_file
from sandbox.emulator.config import EmulatorConfig
from sandbox.emulator.errors import ApiError
from sandbox.emulator.server import Emulator

Json = dict[str, Any]

# Bot API calls that change what someone sees; the traps count these.
EFFECTS = frozenset({"sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup",
                     "editMessageText", "editMessageReplyMarkup", "deleteMessage",
                     "answerCallbackQuery"})

# The fork server: the slow imports once; then, for each line it reads (a log file's path),
# a child that runs ``python -m bot.cli run --polling`` from there, its stderr in that file and
# its exit code in the file's ``.exit`` sibling. Its pid is written back. Children are reaped
# by the kernel (SIGCHLD ignored), so a killed one is gone at once.
FORK_SERVER = """\
import os, runpy, signal, sys, traceback
import bot.app, bot.cli, bot.startup, bot.web  # noqa: F401  (the slow part, done once)
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
for line in sys.stdin:
    log = line.strip()
    pid = os.fork()
    if pid:
        print(pid, flush=True)
        continue
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    quiet = os.open(os.devnull, os.O_RDWR)
    os.dup2(quiet, 0)
    os.dup2(quiet, 1)
    os.dup2(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
    sys.argv = ["bot.cli", "run", "--polling"]
    code = 1
    try:
        runpy.run_module("bot.cli", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stderr.flush()
        with open(log + ".exit", "w") as done:
            done.write(str(code))
        os._exit(code)
"""


class SharedClock:
    """The clock file every bot process reads (``GREENLIGHT_CLOCK_FILE``); it runs on in
    real time from the instant last written."""

    def __init__(self, path: Path, start: datetime) -> None:
        self.path = path
        write_clock_file(path, start)
        self._reader = FileClock(path)

    def now(self) -> datetime:
        return self._reader.now()

    def jump(self, to: datetime) -> None:
        assert to > self.now(), "the shared clock only moves forward"
        write_clock_file(self.path, to)


class BotProcess:
    """``greenlight run --polling`` as a child process, killed and started again at will.

    Starting Python and importing aiogram takes seconds of CPU, longer than anything else
    here: a fork server does it once, and each process starts from a fork of it (the way
    gunicorn's ``--preload`` does), then runs the command line exactly as
    ``python -m bot.cli run --polling`` does.
    """

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder, self.env = folder, env
        self._server: asyncio.subprocess.Process | None = None
        self.pid: int | None = None
        self.starts = 0
        self.killed = False
        self.ended: dict[int, str] = {}  # process number -> the kill point that ended it
        self.kills: Counter[str] = Counter()

    def log_of(self, number: int) -> Path:
        return self.folder / f"stderr-{number:03d}.log"

    async def start(self) -> None:
        assert not self.alive, "the bot is running already"
        if self._server is None:
            with open(self.folder / "fork-server.log", "wb") as log:  # noqa: ASYNC230
                self._server = await asyncio.create_subprocess_exec(
                    sys.executable, "-c", FORK_SERVER, cwd=self.folder, env=self.env,
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log)
        server = self._server
        assert server.stdin is not None and server.stdout is not None
        self.starts += 1
        server.stdin.write(f"{self.log_of(self.starts)}\n".encode())
        await server.stdin.drain()
        line = await asyncio.wait_for(server.stdout.readline(), 120)
        assert line, "the fork server died:\n" + (self.folder / "fork-server.log").read_text()
        self.pid, self.killed = int(line), False

    @property
    def alive(self) -> bool:
        """Running, and not killed."""
        if self.pid is None or self.killed:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def kill_now(self, point: str) -> bool:
        """SIGKILL at once, from wherever the harness is (an emulator request included)."""
        if not self.alive or self.pid is None:
            return False
        os.kill(self.pid, signal.SIGKILL)
        self.killed = True
        self.ended[self.starts] = point
        self.kills[point] += 1
        return True

    async def reaped(self) -> None:
        """Until the process is gone."""
        while self.pid is not None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return
            await asyncio.sleep(0.005)

    async def stop(self) -> int:
        """SIGTERM, as an operator stops it; the exit code."""
        assert self.alive and self.pid is not None
        os.kill(self.pid, signal.SIGTERM)
        await asyncio.wait_for(self.reaped(), 60)
        done = self.log_of(self.starts).with_suffix(".log.exit")
        return int(done.read_text()) if done.exists() else -1

    async def close(self) -> None:
        if self.alive and self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)
            await self.reaped()
        if self._server is not None and self._server.returncode is None:
            self._server.kill()
            await self._server.wait()

    def stderr(self) -> str:
        return "\n".join(f"--- process {n} ---\n" + self.log_of(n).read_text(errors="replace")
                         for n in range(1, self.starts + 1) if self.log_of(n).exists())

    def stderr_tail(self, chars: int = 4000) -> str:
        last = self.log_of(self.starts)
        return last.read_text(errors="replace")[-chars:] if last.exists() else ""


@dataclass
class Trap:
    """Kill the bot as its ``countdown``-th next effect call arrives (``before``) or once it
    was performed."""

    countdown: int
    before: bool
    label: str
    sprung: asyncio.Event = field(default_factory=asyncio.Event)


class CrashEmulator(Emulator):
    """The emulator, able to kill the bot in the middle of a Bot API call."""

    def __init__(self, config: EmulatorConfig) -> None:
        super().__init__(config)
        self.bot: BotProcess | None = None
        self.trap: Trap | None = None
        # (chat, message id) -> the number of the bot process that sent it
        self.sent_by: dict[tuple[int, int], int] = {}

    def arm(self, trap: Trap) -> Trap:
        self.trap = trap
        return trap

    def disarm(self) -> Trap | None:
        trap, self.trap = self.trap, None
        return trap

    async def execute(self, method: str, params: Json) -> Any:
        trap = self.trap
        if trap is None or method not in EFFECTS:
            return self._note(await super().execute(method, params))
        if trap.countdown > 1:
            trap.countdown -= 1
            return self._note(await super().execute(method, params))
        self.trap = None
        if trap.before:
            self._spring(trap, f"{trap.label}before {method}")
            raise ApiError(502, "Bad Gateway")  # nobody is listening any more
        result = self._note(await super().execute(method, params))
        self._spring(trap, f"{trap.label}after {method}")
        return result

    def _note(self, result: Any) -> Any:
        """Which process sent a message (to tell what a double has to do with a kill)."""
        message = getattr(result, "result", result)
        if isinstance(message, dict) and "message_id" in message and "chat" in message \
                and self.bot is not None:
            self.sent_by.setdefault((message["chat"]["id"], message["message_id"]),
                                    self.bot.starts)
        return result

    def _spring(self, trap: Trap, point: str) -> None:
        assert self.bot is not None
        self.bot.kill_now(point)
        trap.label = point
        trap.sprung.set()


def spring_late(emu: CrashEmulator, bot: BotProcess) -> str | None:
    """A trap the bot never reached: kill it now instead (``done``)."""
    trap = emu.disarm()
    if trap is None or trap.sprung.is_set():
        return trap.label if trap else None
    bot.kill_now(f"{trap.label}done")
    return f"{trap.label}done"
