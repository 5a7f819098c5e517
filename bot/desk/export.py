"""Visit exports: one row per visit, one column per question, and a sheet of risk flags.

Every text cell is inert: text a spreadsheet would run as a formula (starting with ``= + - @``, a
tab or a carriage return, as OWASP lists them, or their full-width forms) gets a leading ``'``,
so a borrower's answer like ``=HYPERLINK(...)`` shows as text and never runs. Numbers stay numbers.

In XLSX, times are real date-times in the viewer's zone (named in the column's header), dates are
dates and amounts real numbers with a number format; CSV keeps the text people read (ISO times in
UTC, ``5万元``). Phone and ID numbers are masked by the viewer's role (:mod:`bot.desk.access`), and
:func:`export_visits` writes the audit entry (filters and row count) of every export.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.desk import audit
from bot.desk.access import filter_detail, sees_numbers, visible_filter
from bot.desk.labels import answered_by_label, flag_label
from bot.desk.records import masked_record, visit_record
from dialogs.catalog import ScriptCatalog
from dialogs.errors import DialogError
from dialogs.i18n import DEFAULT_LOCALE
from dialogs.schema import AnswerKind
from storage import repositories as repo
from storage.models import User, Visit

ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
"""Control characters a workbook cannot hold (openpyxl's own pattern; openpyxl loads only for an XLSX)."""

__all__ = [
    "CORRECTION_COLUMNS",
    "VISIT_COLUMNS",
    "Cell",
    "ExportFile",
    "export_csv",
    "export_rows",
    "export_visits",
    "export_xlsx",
    "inert",
]

VISIT_COLUMNS = (
    "visit_id", "borrower_code", "borrower_name", "officer", "script", "script_version", "channel",
    "status", "outcome", "started_at", "finished_at", "callback_at", "review_status", "risk_flags",
    "max_severity", "remark", "risk_flag_labels", "answered_by", "record_version", "corrections",
)  # fmt: skip
"""``risk_flags`` keeps the codes (for filters and formulas); ``risk_flag_labels`` names them in words;
``answered_by`` says who gave the answers (the borrower themself, or staff for the borrower on a call);
``record_version`` is the version of the record the row shows (1 as first given, +1 per correction: the
answer columns hold the corrected values) and ``corrections`` sums up each change (the XLSX has them in
the sheet ``corrections``, one row each)."""
CORRECTION_COLUMNS = (
    "visit_id", "borrower_code", "version", "step", "question", "old", "new", "reason", "by", "at",
)  # fmt: skip
"""The sheet ``corrections``: each change of an answer after the fact, with the record version it made."""
FLAG_COLUMNS = (
    "visit_id", "borrower_code", "borrower_name", "flag", "severity", "step", "note", "raised_at", "flag_label",
)  # fmt: skip
TIME_COLUMNS = frozenset({"started_at", "finished_at", "callback_at", "raised_at"})
SEVERITY_ORDER = {"low": 1, "medium": 2, "high": 3}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
"""How a cell starts when a spreadsheet would read it as a formula (OWASP CSV injection, plus full-width forms)."""


NUMBER_FORMATS = {
    "time": "yyyy-mm-dd hh:mm",
    "date": "yyyy-mm-dd",
    "money": "#,##0.00",
    "integer": "#,##0",
    "percent": '0.00"%"',
}
"""The XLSX number format of each kind of typed cell."""


@dataclass(frozen=True)
class Cell:
    """A typed value for XLSX (an aware datetime, a date, a Decimal or int) and the text CSV shows."""

    value: Any
    text: str
    kind: Literal["time", "date", "money", "integer", "percent"]


@dataclass(frozen=True)
class ExportFile:
    """An export ready to write: the file's bytes, its format, and how many visits and flags it holds."""

    data: bytes
    kind: Literal["xlsx", "csv"]
    rows: int
    flags: int


def inert(value: Any) -> Any:
    """A cell value a spreadsheet shows as it is: formula-like text gets a leading ``'``; numbers are kept."""
    if isinstance(value, str) and value.lstrip(" \n\u3000").startswith(FORMULA_START):
        return "'" + value
    return value


def _row(values: Sequence[Any], *, xlsx: bool = False, zone: ZoneInfo | None = None) -> list[Any]:
    """A row of inert cells: for XLSX typed (times naive in ``zone``), without the control characters a
    workbook cannot hold; for CSV the text of typed cells."""
    cells: list[Any] = []
    for value in values:
        if isinstance(value, Cell):
            if not xlsx:
                cells.append(inert(value.text))
            elif isinstance(value.value, datetime):
                cells.append(value.value.astimezone(zone).replace(tzinfo=None))
            else:
                cells.append(value.value)
            continue
        cell = inert(value)
        cells.append(ILLEGAL_CHARACTERS_RE.sub("", cell) if xlsx and isinstance(cell, str) else cell)
    return cells


def day_start(value: str, zone: str, *, end: bool = False) -> datetime:
    """The start of a day (``YYYY-MM-DD``) in a time zone; with ``end``, the start of the next day."""
    day = date.fromisoformat(value) + (timedelta(days=1) if end else timedelta())
    return datetime.combine(day, time(), tzinfo=ZoneInfo(zone))


def _time(iso: str | None) -> Cell | str:
    """A stored time (ISO text with an offset) as a typed cell; blank when unset."""
    return Cell(datetime.fromisoformat(iso), iso, "time") if iso else ""


def _answer(answer: dict[str, Any], kind: AnswerKind | None) -> Any:
    """An answer's cell: typed for dates, date-times and numbers; otherwise the text people read."""
    if answer["skipped"]:
        return ""
    text = answer["display"] or answer["raw"]
    value = answer["value"]
    try:
        if kind in (AnswerKind.MONEY, AnswerKind.PERCENT) and isinstance(value, str | int) and value != "":
            return Cell(Decimal(str(value)), text, "money" if kind is AnswerKind.MONEY else "percent")
        if kind is AnswerKind.INTEGER and isinstance(value, int) and not isinstance(value, bool):
            return Cell(value, text, "integer")
        if kind is AnswerKind.DATE and isinstance(value, str):
            return Cell(date.fromisoformat(value), text, "date")
        if kind is AnswerKind.DATETIME and isinstance(value, str) and datetime.fromisoformat(value).tzinfo:
            return Cell(datetime.fromisoformat(value), text, "time")
    except (ValueError, InvalidOperation):
        pass
    return text


async def _kinds(
    session: AsyncSession, catalog: ScriptCatalog | None, visit: Visit, cache: dict[tuple[str, int], dict[str, Any]]
) -> dict[str, AnswerKind]:
    """The answer kind of each question step of the visit's script version (empty when it cannot be loaded)."""
    key = (visit.script_id, visit.script_version)
    if catalog is None:
        return {}
    if key not in cache:
        try:
            pinned = None if catalog.has(*key) else await repo.pinned_source(session, *key)
            engine = catalog.get(*key, pinned_source=pinned)
            cache[key] = {sid: step.ask.kind for sid, step in engine.compiled.steps.items() if step.ask is not None}
        except DialogError:
            cache[key] = {}
    return cache[key]


async def export_rows(
    session: AsyncSession,
    flt: repo.VisitFilter,
    *,
    viewer: User | None = None,
    catalog: ScriptCatalog | None = None,
    locale: str | None = None,
    corrections: list[list[Any]] | None = None,
) -> tuple[list[str], list[list[Any]], list[list[Any]]]:
    """Header and rows for visits (one column per question step, in first-seen order) and flags;
    the rows of the corrections sheet (:data:`CORRECTION_COLUMNS`) appended to ``corrections`` when given.

    Times are :class:`Cell` values, and with ``catalog`` so are dates and numbers given as answers.
    With ``viewer``, phone and ID numbers are masked in the rows of borrowers whose numbers the
    viewer may not see (:func:`bot.desk.access.sees_numbers`).
    """
    lang = locale or (viewer.locale if viewer is not None and viewer.locale else DEFAULT_LOCALE)
    sep = "、" if lang.startswith("zh") else ", "
    cache: dict[tuple[str, int], dict[str, Any]] = {}
    records: list[tuple[dict[str, Any], dict[str, AnswerKind]]] = []
    for visit in reversed(await repo.list_visits(session, flt)):
        record = await visit_record(session, visit)
        if viewer is not None and not sees_numbers(viewer, visit.borrower):
            record = masked_record(record)
        records.append((record, await _kinds(session, catalog, visit, cache)))
    steps: list[str] = []
    for record, _ in records:
        for answer in record["answers"]:
            if answer["step"] not in steps:
                steps.append(answer["step"])
    header = [*VISIT_COLUMNS, *steps]
    visits: list[list[Any]] = []
    flags: list[list[Any]] = []
    for r, kinds in records:
        severities = [f["severity"] for f in r["flags"]]
        worst = max(severities, key=lambda s: SEVERITY_ORDER.get(s, 0)) if severities else ""
        by_step = {a["step"]: _answer(a, kinds.get(a["step"])) for a in r["answers"]}
        visits.append(
            [
                r["id"], r["borrower"]["code"], r["borrower"]["name"], (r["officer"] or {}).get("name", ""),
                r["script"]["id"], r["script"]["version"], r["channel"], r["status"], r["outcome"] or "",
                _time(r["started_at"]), _time(r["finished_at"]), _time(r["callback_at"]),
                r.get("review_status") or "",
                ", ".join(f["code"] for f in r["flags"]), worst, r["remark"] or "",
                sep.join(flag_label(f["code"], lang) for f in r["flags"]),
                sep.join(dict.fromkeys(answered_by_label(a.get("answered_by"), lang) for a in r["answers"])),
                r.get("version", 1), _changes(r),
                *(by_step.get(step, "") for step in steps),
            ]
        )  # fmt: skip
        flags.extend(
            [r["id"], r["borrower"]["code"], r["borrower"]["name"], f["code"], f["severity"], f["step"] or "",
             f["note"], _time(f["raised_at"]), flag_label(f["code"], lang)]
            for f in r["flags"]
        )  # fmt: skip
        if corrections is not None:
            questions = {a["step"]: a["question"] for a in r["answers"]}
            corrections.extend(
                [r["id"], r["borrower"]["code"], c["version"], c["step"], questions.get(c["step"], ""),
                 _said(c["old"]), _said(c["new"]), c["reason"], _by(c), _time(c["at"])]
                for c in r.get("corrections", [])
            )  # fmt: skip
    return header, visits, flags


def _said(side: dict[str, Any]) -> str:
    return str(side.get("display") or side.get("raw") or "")


def _by(change: dict[str, Any]) -> str:
    return str(change["by"]["name"]) if change.get("by") else str(change.get("actor") or "")


def _changes(record: dict[str, Any]) -> str:
    """A record's corrections on one line: ``v2 step: old → new (who: why)``, oldest first."""
    return "; ".join(
        f"v{c['version']} {c['step']}: {_said(c['old'])} → {_said(c['new'])} ({_by(c)}: {c['reason']})"
        for c in record.get("corrections", [])
    )


def _titles(columns: Sequence[str], rows: list[list[Any]], zone: str) -> list[str]:
    """Column titles; a column of times names the zone they are shown in (``started_at (Asia/Shanghai)``)."""
    timed = {i for row in rows for i, v in enumerate(row) if isinstance(v, Cell) and v.kind == "time"}
    timed |= {i for i, title in enumerate(columns) if title in TIME_COLUMNS}
    return [f"{title} ({zone})" if i in timed else title for i, title in enumerate(columns)]


def export_xlsx(
    header: Sequence[str],
    visits: list[list[Any]],
    flags: list[list[Any]],
    *,
    zone: str = "UTC",
    corrections: list[list[Any]] | None = None,
) -> bytes:
    """An Excel workbook with the sheets ``visits`` and ``risk_flags`` (and ``corrections`` when given);
    times shown in ``zone``."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    tz = ZoneInfo(zone)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "visits"
    sheets = [("visits", visits, header), ("risk_flags", flags, FLAG_COLUMNS)]
    if corrections is not None:
        sheets.append(("corrections", corrections, CORRECTION_COLUMNS))
    for title, rows, columns in sheets:
        ws = sheet if title == "visits" else book.create_sheet(title)
        ws.append(_row(_titles(columns, rows, zone), xlsx=True))
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for number, row in enumerate(rows, 2):
            ws.append(_row(row, xlsx=True, zone=tz))
            for column, value in enumerate(row, 1):  # ws.cell is a lookup; ws.max_row would scan every cell
                if isinstance(value, Cell):
                    ws.cell(row=number, column=column).number_format = NUMBER_FORMATS[value.kind]
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


async def export_visits(
    session: AsyncSession,
    viewer: User,
    flt: repo.VisitFilter,
    *,
    kind: Literal["xlsx", "csv"],
    now: datetime,
    zone: str,
    catalog: ScriptCatalog | None = None,
    actor: str | None = None,
) -> ExportFile:
    """The visits ``viewer`` may see that match ``flt``, as a file; the export audited (filters, row count).

    The filter is narrowed to the viewer's visits (:func:`bot.desk.access.visible_filter`), numbers
    masked by role, times in ``zone`` (the viewer's). The audit entry is committed here, before
    the file leaves: an export is its own unit of work.
    """
    flt = visible_filter(viewer, flt)
    changes: list[list[Any]] = []
    header, visits, flags = await export_rows(session, flt, viewer=viewer, catalog=catalog, corrections=changes)
    if kind == "xlsx":
        data = export_xlsx(header, visits, flags, zone=zone, corrections=changes)
    else:
        data = export_csv(header, visits)
    await audit.record(
        session,
        audit.EXPORTED,
        now=now,
        user=viewer,
        actor=actor,
        format=kind,
        filters=filter_detail(flt),
        rows=len(visits),
        flags=len(flags),
    )
    await session.commit()
    return ExportFile(data, kind, len(visits), len(flags))
