"""Exports for the annual review: who was urged how often, as a spreadsheet (openpyxl)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from bot.domain.usecases.supervision import LEVELS, UrgeCounts

HEADERS = {"yellow": "黄灯预警 yellow", "red": "红灯超期 red", "urge": "催办通知书 urge notices"}


def write_urge_counts(counts: UrgeCounts, path: Path) -> None:
    """Two sheets, people and sections, most urged first."""
    book = Workbook()
    people = book.active
    assert isinstance(people, Worksheet)
    people.title = f"人员 people {counts.year}"
    _table(people, "姓名 person", [(counts.names[i], tally) for i, tally in counts.people.items()])
    sections = book.create_sheet(f"科室 sections {counts.year}")
    _table(sections, "科室 section",
           [(counts.section_names[i], tally) for i, tally in counts.sections.items()])
    book.save(path)


def _table(sheet: Worksheet, first: str, rows: list[tuple[str, Counter[str]]]) -> None:
    sheet.append([first, *(HEADERS[level] for level in LEVELS), "合计 total"])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for name, tally in sorted(rows, key=lambda row: -sum(row[1].values())):
        values = [tally[level] for level in LEVELS]
        sheet.append([name, *values, sum(values)])
    sheet.column_dimensions["A"].width = 24
