"""The README tells the truth: every setting documented, the two commands, the CLI as it is."""

from __future__ import annotations

import re
from pathlib import Path

from typer.main import get_command

from bot.cli import app
from bot.config import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_table() -> None:
    documented = set(re.findall(r"^\| `(GREENLIGHT_[A-Z_]+)` \|", README, re.MULTILINE))
    declared = {f"GREENLIGHT_{name.upper()}" for name in Settings.model_fields}
    assert declared <= documented
    assert documented - declared == {"GREENLIGHT_TEST_DATABASE_URL"}


def test_the_two_set_up_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)\n```", README, re.DOTALL)
    assert blocks[:2] == [
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/greenlight sandbox",
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/pytest",
    ]
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install --quiet -e '.[test]'" in ci and "\n.venv/bin/pytest\n" in ci


def test_documented_commands_exist() -> None:
    documented = set(re.findall(r"^\| `greenlight ([a-z]+(?: [a-z]+)?)", README, re.MULTILINE))
    group = get_command(app)
    existing = set()
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        if subcommands:
            existing |= {f"{name} {sub}" for sub in subcommands}
        else:
            existing.add(name)
    assert documented == existing
