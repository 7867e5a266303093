"""Telegram Bot API emulator: a real HTTP server the bot talks to in tests and the sandbox.

async with Emulator(EmulatorConfig(port=0)) as emu, ControlClient(emu.base_url) as ctl:
    await ctl.create_user(1001, "Alice")
    # the bot polls TelegramAPIServer.from_base(emu.base_url) ...
    await ctl.send_text(1001, 1001, "/start")  # returns once the bot has handled it
    print(await ctl.private(1001))
"""

from .client import ControlClient, ControlError
from .config import EmulatorConfig
from .server import Emulator, run_emulator

__all__ = ["ControlClient", "ControlError", "Emulator", "EmulatorConfig", "run_emulator"]
