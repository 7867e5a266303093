"""The README tells the truth: every setting documented, the two commands, the CLI as it is."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.markers import Marker
from typer.main import get_command

from bot.cli import app
from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
LOCK = (ROOT / "requirements.lock").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_setting_is_in_the_table() -> None:
    documented = set(re.findall(r"^\| `(GREENLIGHT_[A-Z_]+)` \|", README, re.MULTILINE))
    declared = {f"GREENLIGHT_{name.upper()}" for name in Settings.model_fields}
    assert declared <= documented
    assert documented - declared == {"GREENLIGHT_TEST_DATABASE_URL"}


def test_the_two_set_up_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)\n```", README, re.DOTALL)
    assert blocks[:2] == [
        "python3 -m venv .venv && .venv/bin/pip install -c requirements.lock -e . "
        "&& .venv/bin/greenlight sandbox",
        "python3 -m venv .venv && .venv/bin/pip install -c requirements.lock -e '.[test]' "
        "&& .venv/bin/pytest",
    ]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install --quiet -c requirements.lock -e '.[test]'" in ci
    assert "\n.venv/bin/pytest\n" in ci


def test_what_is_installed_is_what_the_lock_pins() -> None:
    """The README's commands install the lock's versions: a package that drifted from its
    pin (installed without ``-c requirements.lock``, or a lock not refreshed after a change in
    pyproject.toml) fails here rather than on another day."""
    # A pin with a marker (``; python_full_version >= '3.12'``) counts where it applies.
    pins = {name: pinned for name, pinned, marker
            in re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;]+)(?: ; (.+))?$", LOCK, re.MULTILINE)
            if not marker or Marker(marker).evaluate()}
    drifted = {}
    for name, pinned in pins.items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            continue  # for another platform (a marker), or an extra not installed
        if installed != pinned:
            drifted[name] = f"{installed} installed, {pinned} pinned"
    assert drifted == {}, "install with -c requirements.lock, or run `bash .ci/lock`"
    for requirement in [*PYPROJECT["project"]["dependencies"],
                        *PYPROJECT["project"]["optional-dependencies"]["test"]]:
        name = re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0]
        assert canonical(name) in {canonical(pin) for pin in pins}, \
            f"{name} is not in requirements.lock: run `bash .ci/lock`"


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
