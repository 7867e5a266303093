"""The command line: admin commands print plainly, bad input exits 2 with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from storage.migrate import head_revision

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("GREENLIGHT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GREENLIGHT_DATABASE_URL", database_url)


def test_run_without_a_token_names_the_variable() -> None:
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 2
    assert "GREENLIGHT_BOT_TOKEN is not set" in result.output


def test_a_bad_setting_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GREENLIGHT_TIMEZONE", "Mars/Base")
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "greenlight: GREENLIGHT_TIMEZONE: unknown time zone 'Mars/Base'")


def test_db_upgrade_reports_the_revision() -> None:
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"database at revision {head_revision()}"


def test_org_import_is_idempotent_and_errors_name_the_line(tmp_path: Path) -> None:
    example = ROOT / "examples" / "org.yaml"
    first = runner.invoke(app, ["org", "import", str(example)])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["org", "import", str(example)])
    assert second.exit_code == 0
    assert first.output != second.output  # created first, unchanged the second time
    broken = tmp_path / "broken.yaml"
    broken.write_text("sections:\n  - {code: a, name: A, head: nobody}\n", encoding="utf-8")
    failed = runner.invoke(app, ["org", "import", str(broken)])
    assert failed.exit_code == 2
    assert "broken.yaml line 2" in failed.output and "nobody" in failed.output


def test_calendar_due_across_national_day_2026() -> None:
    result = runner.invoke(app, ["calendar", "due", "2026-09-21", "30"])
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == "2026-11-09"


def test_calendar_due_in_an_uncovered_year_is_marked_uncertain() -> None:
    result = runner.invoke(app, ["calendar", "due", "2026-12-21", "30"])
    first = result.output.splitlines()[0]
    assert first.startswith("2027-02-01 uncertain")
    assert "2027" in first


def test_calendar_import_makes_the_year_certain(tmp_path: Path) -> None:
    notice = tmp_path / "2027.yaml"
    notice.write_text(
        "year: 2027\nsource: 国务院办公厅通知（示例）\nholidays:\n"
        "  - {from: 2027-01-01, to: 2027-01-03, name: 元旦}\n"
        "workdays:\n  - {date: 2027-01-04, name: 元旦调休}\n", encoding="utf-8")
    imported = runner.invoke(app, ["calendar", "import", str(notice)])
    assert imported.exit_code == 0, imported.output
    assert imported.output.strip() == (
        "4 days added, 0 changed, 0 unchanged; official data now covers: 2027")
    again = runner.invoke(app, ["calendar", "import", str(notice)])
    assert again.output.startswith("0 days added, 0 changed, 4 unchanged")
    due = runner.invoke(app, ["calendar", "due", "2026-12-31", "1"])
    assert due.output.splitlines()[0] == "2027-01-04"  # New Year off, the 4th made a workday
    shown = runner.invoke(app, ["calendar", "show", "2027"])
    assert "2027: official data" in shown.output
    assert "2027-01-04" in shown.output and "[override]" in shown.output


def test_calendar_due_refuses_a_malformed_date() -> None:
    result = runner.invoke(app, ["calendar", "due", "2026-02-30", "3"])
    assert result.exit_code == 2
    assert "is not a date" in result.output


def test_status_shows_the_last_sweep_recent_updates_and_unsent_claims(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    import asyncio
    import re
    from datetime import UTC, datetime, timedelta

    from bot.clock_file import write_clock_file
    from bot.domain.rules.vocabulary import CardKind, CaseState
    from bot.status import record_sweep
    from storage.db import create_engine, create_session_factory
    from storage.models import Card, Case, HandledUpdate, Person, Project
    from storage.store import Store

    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    write_clock_file(tmp_path / "clock.json", now)
    monkeypatch.setenv("GREENLIGHT_CLOCK_FILE", str(tmp_path / "clock.json"))
    assert runner.invoke(app, ["org", "import", str(ROOT / "examples" / "org.yaml")]
                         ).exit_code == 0
    empty = runner.invoke(app, ["status"])
    assert empty.exit_code == 0, empty.output
    assert empty.output.splitlines() == [
        "last sweep: never", "updates handled in the last hour: 0",
        "card claims not sent: 0 (oldest: none)", "cases with cards behind: 0",
        "reports without a card: 0", "nudge claims not sent: 0", "open cases: none"]

    async def arrange() -> None:
        engine = create_engine(database_url)
        try:
            async with create_session_factory(engine)() as session:
                store = Store(session)
                [person, *_] = await store.all(Person)
                [project, *_] = await store.all(Project)
                case = Case(project_id=project.id, type_code="general", title="微波站迁建",
                            submitter_id=person.id, state=CaseState.PENDING, query_code="Q1",
                            created_at=now)
                store.add(case)
                await session.flush()
                for message_id in (None, 7, None):
                    store.add(Card(case_id=case.id, tg_chat_id=-100 - (message_id or 0),
                                   tg_message_id=message_id, kind=CardKind.PRIVATE))
                for update_id, ago in ((1, 10), (2, 59), (3, 61), (4, 600)):
                    store.add(HandledUpdate(update_id=update_id,
                                            handled_at=now - timedelta(minutes=ago)))
                await record_sweep(store, now - timedelta(seconds=30), sent=2, skipped=False)
                await session.commit()
        finally:
            await engine.dispose()

    asyncio.run(arrange())
    shown = runner.invoke(app, ["status"])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    sweep = re.fullmatch(r"last sweep: 2026-11-23T01:59:30\+00:00 \((\d+) s ago\)", lines[0])
    assert sweep is not None and 30 <= int(sweep[1]) < 300, lines[0]  # the clock runs on
    assert lines[1:] == [
        "updates handled in the last hour: 2",
        "card claims not sent: 2 (oldest: card #1 of case #1)",
        "cases with cards behind: 1",  # its cards were never sent: the next sweep sends them
        "reports without a card: 0", "nudge claims not sent: 0", "open cases: pending 1"]


def _execute(database_url: str, statement: str) -> None:
    import asyncio

    from sqlalchemy import text

    from storage.db import create_engine

    async def main() -> None:
        engine = create_engine(database_url)
        async with engine.begin() as connection:
            await connection.execute(text(statement))
        await engine.dispose()

    asyncio.run(main())


def test_audit_verify_names_the_first_edited_or_removed_event(database_url: str) -> None:
    example = str(ROOT / "examples" / "org.yaml")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    for _ in range(3):  # each import leaves an event in the trail
        assert runner.invoke(app, ["org", "import", example]).exit_code == 0
    held = runner.invoke(app, ["audit", "verify"])
    assert held.exit_code == 0, held.output
    assert held.output.strip() == "audit chain holds: 3 events"

    _execute(database_url, "UPDATE auditevent SET data = '{}' WHERE id = 2")
    edited = runner.invoke(app, ["audit", "verify"])
    assert edited.exit_code == 1
    assert "audit chain broken at event 2 (" in edited.output
    assert "org.imported org): its contents do not match its hash (edited)" in edited.output
    assert edited.output.strip().endswith("; the event before it holds")

    _execute(database_url, "DELETE FROM auditevent WHERE id = 2")
    removed = runner.invoke(app, ["audit", "verify"])
    assert removed.exit_code == 1
    assert "broken at event 3 (" in removed.output and "one was removed" in removed.output


def test_export_writes_the_audit_trail_as_xlsx_and_csv(tmp_path: Path) -> None:
    import csv
    from datetime import datetime

    from openpyxl import load_workbook

    example = str(ROOT / "examples" / "org.yaml")
    for _ in range(3):
        assert runner.invoke(app, ["org", "import", example]).exit_code == 0
    period = ["--from", "2000-01-01", "--to", "2199-12-31"]
    out = tmp_path / "audit.xlsx"
    done = runner.invoke(app, ["export", "audit", "--out", str(out), *period])
    assert done.exit_code == 0, done.output
    assert f"wrote {out} (3 rows)" in done.output
    sheet = load_workbook(out)["audit"]
    assert [c.value for c in sheet[1]] == ["编号", "时间", "人员", "动作", "对象", "数据", "哈希"]
    assert sheet.freeze_panes == "A2" and sheet.column_dimensions["F"].width == 50
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [row[3] for row in rows] == ["org.imported"] * 3
    assert all(isinstance(row[1], datetime) and row[1].tzinfo is None for row in rows)

    out = tmp_path / "audit.csv"
    done = runner.invoke(app, ["export", "audit", "--format", "csv", "--lang", "en",
                               "--out", str(out), *period])
    assert done.exit_code == 0, done.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 by its BOM
    with out.open(encoding="utf-8-sig", newline="") as file:
        table = list(csv.reader(file))
    assert table[0] == ["id", "at", "actor", "action", "subject", "data", "hash"]
    assert len(table) == 4 and table[1][3] == "org.imported"


def test_export_refuses_a_bad_format_period_or_date(tmp_path: Path) -> None:
    for args, said in (
            (["--format", "pdf"], "--format: xlsx or csv, not 'pdf'"),
            (["--from", "2026-12-01", "--to", "2026-11-01"], "is before --from"),
            (["--from", "2026-02-30"], "--from/--to:"),
            (["--lang", "fr"], "--lang: zh or en"),
    ):
        result = runner.invoke(app, ["export", "cases", "--out", str(tmp_path / "x"), *args])
        assert result.exit_code == 2, (args, result.output)
        assert said in result.output
        assert not (tmp_path / "x").exists()
