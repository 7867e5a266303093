"""Records out (#13.7): cases, steps, nudges, the audit trail, supervision (urge notices and
their written answers), the /stats figures and supervision items (督查事项), for a period,
as .xlsx (openpyxl, written a row at a time) or .csv (UTF-8 with a BOM, so Excel reads the
Chinese). Headers are Chinese by default, English on request; times are the bureau's local
time."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

Format = Literal["xlsx", "csv"]
KINDS = ("cases", "steps", "nudges", "audit", "supervision", "items", "ledger", "stats")


@dataclass(frozen=True)
class Column:
    zh: str
    en: str
    width: int = 14


COLUMNS: dict[str, tuple[Column, ...]] = {
    "cases": (Column("编号", "id", 8), Column("查询码", "query code", 12),
              Column("项目", "project", 10), Column("事项", "title", 36),
              Column("类型", "type", 16), Column("提交人", "submitter", 10),
              Column("状态", "state", 12), Column("绿色通道", "green channel", 10),
              Column("提交时间", "submitted", 18), Column("办结时间", "closed", 18)),
    "steps": (Column("编号", "id", 8), Column("事项编号", "item id", 10),
              Column("项目", "project", 10), Column("事项", "title", 36),
              Column("环节", "step", 20), Column("轮次", "round", 6), Column("方式", "mode", 10),
              Column("时限（工作日）", "limit (working days)", 12), Column("状态", "state", 12),
              Column("开始", "started", 18), Column("到期", "due", 18),
              Column("办结", "closed", 18)),
    "nudges": (Column("编号", "id", 8), Column("对象", "subject", 10),
               Column("对象编号", "subject id", 10), Column("级别", "level", 10),
               Column("人员", "person", 10), Column("渠道", "channel", 10),
               Column("认领时间", "claimed", 18), Column("发送时间", "sent", 18),
               Column("补发", "late", 6), Column("错误", "error", 30)),
    "audit": (Column("编号", "id", 8), Column("时间", "at", 18), Column("人员", "actor", 10),
              Column("动作", "action", 20), Column("对象", "subject", 20),
              Column("数据", "data", 50), Column("哈希", "hash", 20)),
    "supervision": (Column("编号", "id", 8), Column("项目", "project", 10),
                    Column("责任科室", "section", 16), Column("科长", "head", 10),
                    Column("对象", "subject", 10), Column("对象编号", "subject id", 10),
                    Column("到期", "due", 18), Column("发出", "issued", 18),
                    Column("书面说明时间", "answered", 18), Column("说明人", "answered by", 10),
                    Column("延误原因", "cause", 40), Column("整改措施", "plan", 40)),
    "items": (Column("编号", "id", 8), Column("督查事项编号", "code", 14),
              Column("事项", "title", 36), Column("承办科室", "section", 16),
              Column("承办人", "assignee", 10), Column("登记人", "registered by", 10),
              Column("登记时间", "registered", 18), Column("交办时间", "assigned", 18),
              Column("归档时间", "archived", 18), Column("状态", "state", 12),
              Column("办结时限", "due", 18), Column("反馈时间", "answered", 18),
              Column("逾期（工作日）", "late (working days)", 12)),
    "ledger": (Column("编号", "id", 8), Column("登记时间", "recorded", 18),
             Column("首问责任人", "first asked", 10), Column("来访人", "asked by", 20),
             Column("咨询事项", "question", 40), Column("承办人", "owner", 10),
             Column("答复时限", "due", 18), Column("办结时间", "closed", 18),
             Column("办结人", "closed by", 10), Column("办理结果", "outcome", 40)),
    "stats": (Column("科室", "section", 16), Column("未办结", "open", 8),
              Column("超期", "late", 8), Column("办结", "closed", 8),
              Column("按时办结", "closed on time", 10), Column("按时率", "on-time rate", 10),
              Column("催办通知书", "urge notices", 10)),
}
YES_NO = {"zh": ("是", "否"), "en": ("yes", "no")}


class Writer:
    """One file, a row at a time."""

    def __init__(self, kind: str, path: Path, fmt: Format, lang: str, tz: ZoneInfo) -> None:
        self.columns, self.path, self.fmt, self.lang, self.tz = COLUMNS[kind], path, fmt, lang, tz
        self.rows = 0
        headers = [c.zh if lang == "zh" else c.en for c in self.columns]
        if fmt == "xlsx":
            self.book = Workbook(write_only=True)
            self.sheet = self.book.create_sheet(kind)
            self.sheet.freeze_panes = "A2"
            for index, column in enumerate(self.columns, start=1):
                self.sheet.column_dimensions[get_column_letter(index)].width = column.width
            cells = []
            for header in headers:
                cell = WriteOnlyCell(self.sheet, value=header)
                cell.font = Font(bold=True)
                cells.append(cell)
            self.sheet.append(cells)
        else:
            self.file = path.open("w", encoding="utf-8-sig", newline="")
            self.csv = csv.writer(self.file)
            self.csv.writerow(headers)

    def value(self, value: Any) -> Any:
        if isinstance(value, datetime):
            local = value.astimezone(self.tz).replace(tzinfo=None)
            return local if self.fmt == "xlsx" else local.strftime("%Y-%m-%d %H:%M")
        if isinstance(value, bool):
            yes, no = YES_NO.get(self.lang, YES_NO["en"])
            return yes if value else no
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, date) and self.fmt == "csv":
            return value.isoformat()
        return value

    def add(self, row: tuple[Any, ...]) -> None:
        values = [self.value(v) for v in row]
        if self.fmt == "xlsx":
            self.sheet.append(values)
        else:
            self.csv.writerow(["" if v is None else v for v in values])
        self.rows += 1

    def close(self) -> None:
        if self.fmt == "xlsx":
            self.book.save(self.path)
        else:
            self.file.close()


async def write_records(rows: AsyncIterator[tuple[Any, ...]], kind: str, path: Path,
                        fmt: Format, lang: str, tz: ZoneInfo,
                        progress: Callable[[int], None] | None = None) -> int:
    """Every row into ``path``; ``progress(n)`` after each; returns how many were written."""
    writer = Writer(kind, path, fmt, lang, tz)
    try:
        async for row in rows:
            writer.add(row)
            if progress is not None:
                progress(1)
    finally:
        writer.close()
    return writer.rows
