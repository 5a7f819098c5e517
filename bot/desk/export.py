"""Visit exports: one row per visit, one column per question, and a sheet of risk flags.

Every text cell is inert: text a spreadsheet would run as a formula (starting with ``= + - @``, a
tab or a carriage return, as OWASP lists them, or their full-width forms) gets a leading ``'``,
so a borrower's answer like ``=HYPERLINK(...)`` shows as text and never runs. Numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from sqlalchemy.ext.asyncio import AsyncSession

from bot.desk.records import visit_record
from storage import repositories as repo

__all__ = ["VISIT_COLUMNS", "export_csv", "export_rows", "export_xlsx", "inert"]

VISIT_COLUMNS = (
    "visit_id", "borrower_code", "borrower_name", "officer", "script", "script_version", "channel",
    "status", "outcome", "started_at", "finished_at", "callback_at", "review_status", "risk_flags",
    "max_severity", "remark",
)  # fmt: skip
FLAG_COLUMNS = ("visit_id", "borrower_code", "borrower_name", "flag", "severity", "step", "note", "raised_at")
SEVERITY_ORDER = {"low": 1, "medium": 2, "high": 3}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
"""How a cell starts when a spreadsheet would read it as a formula (OWASP CSV injection, plus full-width forms)."""


def inert(value: Any) -> Any:
    """A cell value a spreadsheet shows as it is: formula-like text gets a leading ``'``; numbers are kept."""
    if isinstance(value, str) and value.lstrip(" \n\u3000").startswith(FORMULA_START):
        return "'" + value
    return value


def _row(values: Sequence[Any], *, xlsx: bool = False) -> list[Any]:
    """A row of inert cells; for XLSX without the control characters a workbook cannot hold."""
    cells = [inert(v) for v in values]
    if xlsx:
        cells = [ILLEGAL_CHARACTERS_RE.sub("", c) if isinstance(c, str) else c for c in cells]
    return cells


def day_start(value: str, zone: str, *, end: bool = False) -> datetime:
    """The start of a day (``YYYY-MM-DD``) in a time zone; with ``end``, the start of the next day."""
    day = date.fromisoformat(value) + (timedelta(days=1) if end else timedelta())
    return datetime.combine(day, time(), tzinfo=ZoneInfo(zone))


async def export_rows(
    session: AsyncSession, flt: repo.VisitFilter
) -> tuple[list[str], list[list[Any]], list[list[Any]]]:
    """Header and rows for visits (one column per question step, in first-seen order) and flags."""
    records = [await visit_record(session, v) for v in reversed(await repo.list_visits(session, flt))]
    steps: list[str] = []
    for record in records:
        for answer in record["answers"]:
            if answer["step"] not in steps:
                steps.append(answer["step"])
    header = [*VISIT_COLUMNS, *steps]
    visits: list[list[Any]] = []
    flags: list[list[Any]] = []
    for r in records:
        severities = [f["severity"] for f in r["flags"]]
        worst = max(severities, key=lambda s: SEVERITY_ORDER.get(s, 0)) if severities else ""
        by_step = {a["step"]: ("" if a["skipped"] else a["display"] or a["raw"]) for a in r["answers"]}
        visits.append(
            [
                r["id"], r["borrower"]["code"], r["borrower"]["name"], (r["officer"] or {}).get("name", ""),
                r["script"]["id"], r["script"]["version"], r["channel"], r["status"], r["outcome"] or "",
                r["started_at"] or "", r["finished_at"] or "", r["callback_at"] or "",
                r.get("review_status") or "",
                ", ".join(f["code"] for f in r["flags"]), worst, r["remark"] or "",
                *(by_step.get(step, "") for step in steps),
            ]
        )  # fmt: skip
        flags.extend(
            [r["id"], r["borrower"]["code"], r["borrower"]["name"], f["code"], f["severity"], f["step"] or "",
             f["note"], f["raised_at"]]
            for f in r["flags"]
        )  # fmt: skip
    return header, visits, flags


def export_xlsx(header: Sequence[str], visits: list[list[Any]], flags: list[list[Any]]) -> bytes:
    """An Excel workbook with the sheets ``visits`` and ``risk_flags``."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "visits"
    for title, rows, columns in (("visits", visits, header), ("risk_flags", flags, FLAG_COLUMNS)):
        ws = sheet if title == "visits" else book.create_sheet(title)
        ws.append(_row(columns, xlsx=True))
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in rows:
            ws.append(_row(row, xlsx=True))
        ws.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def export_csv(header: Sequence[str], visits: list[list[Any]]) -> bytes:
    """The visits as CSV (UTF-8 with a BOM, so Excel shows Chinese correctly)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_row(header))
    writer.writerows(_row(row) for row in visits)
    return buffer.getvalue().encode("utf-8-sig")
