"""The layering rule: the domain is pure Python (no aiogram, no SQL session, no clock reads)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_DOMAIN = ("aiogram", "sqlalchemy", "sqlmodel", "aiosqlite", "asyncpg", "bot.handlers",
                       "bot.views", "bot.scenarios")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_domain_imports_neither_aiogram_nor_sql() -> None:
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "bot" / "domain").glob("*.py")
        for name in imports_of(path)
        if name.startswith(FORBIDDEN_IN_DOMAIN)
    }
    assert offenders == set()


def test_domain_never_reads_the_clock_itself() -> None:
    offenders = []
    for path in (ROOT / "bot" / "domain").glob("*.py"):
        if path.name == "clock.py":
            continue
        source = path.read_text(encoding="utf-8")
        for call in ("datetime.now(", "datetime.utcnow(", "date.today(", "time.time("):
            if call in source:
                offenders.append(f"{path.name}: {call}")
    assert offenders == []


def test_storage_does_not_import_the_bot() -> None:
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "storage").rglob("*.py")
        if "versions" not in path.parts
        for name in imports_of(path)
        if name.startswith(("bot.handlers", "bot.views", "aiogram"))
    }
    assert offenders == set()
