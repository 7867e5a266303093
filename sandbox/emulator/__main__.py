"""``python -m sandbox.emulator``: run the emulator until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from .config import EmulatorConfig
from .server import run_emulator


def main(argv: list[str] | None = None) -> None:
    defaults = EmulatorConfig()
    parser = argparse.ArgumentParser(prog="python -m sandbox.emulator", description=__doc__)
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=int, default=defaults.port)
    parser.add_argument("--token", default=defaults.bot_token)
    parser.add_argument("--username", default=defaults.bot_username)
    parser.add_argument("--no-privacy", action="store_true", help="turn group privacy mode off")
    parser.add_argument("--strict", action="store_true", help="reject requests the spec refuses")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = EmulatorConfig(
        host=args.host,
        port=args.port,
        bot_token=args.token,
        bot_username=args.username,
        privacy_mode=not args.no_privacy,
        strict=args.strict,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_emulator(config))


if __name__ == "__main__":
    main()
