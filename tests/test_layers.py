"""The layering rules, as the README's architecture section draws them.

handlers and scenarios (aiogram) → flows (what they and the sweep share) → views and the
domain's use cases → the domain's pure rules; storage below the use cases, never above.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SQL = ("sqlalchemy", "sqlmodel", "aiosqlite", "asyncpg")
TELEGRAM = ("aiogram", "bot.handlers", "bot.scenarios", "bot.flows", "bot.views")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def offenders(folder: str, forbidden: tuple[str, ...]) -> set[str]:
    return {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / folder).rglob("*.py")
        if "versions" not in path.parts
        for name in imports_of(path)
        if name.startswith(forbidden)
    }


def test_rules_are_pure() -> None:
    """No storage, no use case, no SQL, nothing of Telegram: plain values in, plain values out."""
    assert offenders("bot/domain/rules", ("storage", "bot.domain.usecases", *SQL, *TELEGRAM)) \
        == set()


def test_use_cases_know_no_telegram_and_no_sql() -> None:
    """Use cases talk to the store's named queries, never to SQLAlchemy or aiogram."""
    assert offenders("bot/domain/usecases", (*SQL, *TELEGRAM)) == set()


def test_flows_and_views_sit_below_the_routers() -> None:
    assert offenders("bot/flows", ("bot.handlers", "bot.scenarios")) == set()
    # Views render rows and read models handed to them; they never query.
    assert offenders("bot/views", ("bot.handlers", "bot.scenarios", "bot.flows", "storage.store",
                                   "storage.db", *SQL)) == set()


def test_handlers_are_routers_only() -> None:
    """Every handler module defines a router; nothing but the app and the handlers' own
    package imports them (what is shared lives in bot/flows)."""
    for path in (ROOT / "bot" / "handlers").glob("*.py"):
        if path.name != "__init__.py":
            assert "router = Router(" in path.read_text(encoding="utf-8"), path.name
    importers = {
        f"{path.relative_to(ROOT)}: {name}"
        for folder in ("bot", "sandbox", "bench")
        for path in (ROOT / folder).rglob("*.py")
        if path.parent.name != "handlers" and path.name != "app.py"
        for name in imports_of(path)
        if name.startswith("bot.handlers")
    }
    assert importers == set()


def test_domain_never_reads_the_clock_itself() -> None:
    found = []
    for path in (ROOT / "bot" / "domain").rglob("*.py"):
        if path.name == "clock.py":
            continue
        source = path.read_text(encoding="utf-8")
        for call in ("datetime.now(", "datetime.utcnow(", "date.today(", "time.time("):
            if call in source:
                found.append(f"{path.name}: {call}")
    assert found == []


def test_storage_does_not_import_the_bot() -> None:
    assert offenders("storage", ("bot.handlers", "bot.flows", "bot.scenarios", "bot.views",
                                 "bot.domain.usecases", "aiogram")) == set()


def test_keyboards_are_built_in_views() -> None:
    """Routers and scenes hand a view's markup on; they build no buttons themselves."""
    builders = {
        f"{path.relative_to(ROOT)}"
        for folder in ("bot/handlers", "bot/scenarios")
        for path in (ROOT / folder).rglob("*.py")
        if "InlineKeyboardButton" in path.read_text(encoding="utf-8")
    }
    assert builders == set()


def test_the_bot_reads_through_named_queries() -> None:
    """Outside storage, reads are the Store's named queries (``store.case_rows``,
    ``store.lanes``...), never the generic ``all``/``one``/``count`` with filters."""
    found = []
    for path in (ROOT / "bot").rglob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if any(f"store.{generic}(" in line for generic in ("all", "one", "count")):
                found.append(f"{path.relative_to(ROOT)}:{number}")
    assert found == []
