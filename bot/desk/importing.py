"""The loan book in: borrowers, loans and repayments from a CSV or XLSX file, checked row by row.

:func:`~bot.desk.sheets.read_sheet` streams a file's rows; :func:`import_sheet` checks each row (every
bad cell becomes a :class:`~bot.desk.sheets.RowProblem` naming row, column and reason as an i18n key)
and upserts the good ones in batches, all in one transaction: a failure part-way leaves the database
as it was, ``dry_run`` rolls back at the end. Repayments set each loan's overdue days and amount as of
the clock's day.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk.clock import Clock
from bot.desk.importing_text import MESSAGES
from bot.desk.sheets import (
    CellError,
    ImportFileError,
    RowProblem,
    Sheet,
    SheetRow,
    cell_choice,
    cell_coordinate,
    cell_date,
    cell_locale,
    cell_money,
    cell_text,
    cell_zone,
    read_sheet,
    template_text,
)
from dialogs.errors import InvalidAnswer
from dialogs.i18n import register
from dialogs.parsing import fold, parse_phone
from storage import importing as store
from storage.models import Borrower, Loan

__all__ = [
    "COLUMNS",
    "COORDINATES",
    "KINDS",
    "REQUIRED",
    "ImportFileError",
    "ImportResult",
    "RowProblem",
    "Sheet",
    "import_sheet",
    "read_sheet",
    "refresh_overdue",
    "template_text",
]

register(MESSAGES)

KINDS = ("borrowers", "loans", "repayments")
COLUMNS: dict[str, tuple[str, ...]] = {
    "borrowers": (
        *("code", "name", "phone", "business", "address", "officer", "risk_tier", "timezone", "locale"),
        *("latitude", "longitude"),
    ),
    "loans": ("contract_no", "borrower_code", "product", "amount", "disbursed_on", "due_on", "purpose", "status"),
    "repayments": ("contract_no", "due_on", "amount_due", "amount_paid", "paid_on"),
}
"""Each file's columns, in the template's order."""
COORDINATES = ("latitude", "longitude")
"""The address on file as WGS84 degrees (on-site visits are checked against it): both or neither. A borrowers
file without these columns leaves the coordinates on file as they are."""
REQUIRED: dict[str, frozenset[str]] = {
    "borrowers": frozenset({"code", "name", "risk_tier"}),
    "loans": frozenset({"contract_no", "borrower_code", "product", "amount", "disbursed_on"}),
    "repayments": frozenset({"contract_no", "due_on", "amount_due"}),
}
"""Columns the header must have and every row must fill; the others may be missing or blank."""
BATCH = 1000
"""Rows per INSERT statement (under SQLite's and asyncpg's parameter limits)."""
TIERS = {"low": "low", "medium": "medium", "high": "high", "低": "low", "中": "medium", "高": "high"}
LOAN_STATUSES = {"active": "active", "overdue": "overdue", "closed": "closed", "written_off": "written_off"}
LOAN_STATUSES |= {"正常": "active", "逾期": "overdue", "结清": "closed", "核销": "written_off"}
LIMITS: dict[str, int] = {
    **{c.name: int(getattr(c.type, "length", 0) or 0) for c in Borrower.__table__.c},
    **{c.name: int(getattr(c.type, "length", 0) or 0) for c in Loan.__table__.c},
    "borrower_code": 32,
}
"""The longest text each column stores (0: no limit)."""


@dataclass
class ImportResult:
    """What an import found and did."""

    kind: str
    rows: int = 0
    """Data rows read (blank rows not counted)."""
    good: int = 0
    written: store.Written = field(default_factory=store.Written)
    problems: list[RowProblem] = field(default_factory=list)
    bad_rows: int = 0
    duplicates: int = 0
    """Rows whose key an earlier row of the file had (reported as problems, not imported)."""
    ignored_columns: tuple[str, ...] = ()
    dry_run: bool = False
    loans_refreshed: int = 0
    """Loans whose overdue days and amount were set from their repayments (as of ``today``)."""
    today: date | None = None


# -- one kind each: parse a row into the values stored ---------------------------------------------
def _borrower(row: SheetRow, now: datetime) -> dict[str, Any]:
    return {
        "code": row.text("code"),
        "name": row.text("name"),
        "phone": row.parsed("phone", _phone),
        "business": row.text("business"),
        "address": row.text("address"),
        "officer": row.text("officer"),
        "risk_tier": row.parsed("risk_tier", lambda v: cell_choice(cell_text(v), TIERS, "import_bad_tier")),
        "timezone": row.parsed("timezone", lambda v: cell_zone(cell_text(v)), "Asia/Shanghai"),
        "locale": row.parsed("locale", lambda v: cell_locale(cell_text(v)), "zh-CN"),
        **_coordinates(row),
        "created_at": now,
    }


def _coordinates(row: SheetRow) -> dict[str, float | None]:
    """The address's latitude and longitude: in range, and both given or neither."""
    lat = row.parsed("latitude", lambda v: cell_coordinate(v, 90, "import_bad_latitude"))
    lon = row.parsed("longitude", lambda v: cell_coordinate(v, 180, "import_bad_longitude"))
    given = [name for name in COORDINATES if cell_text(row.cells.get(name))]
    if len(given) == 1 and (lat, lon) != (None, None):  # one given and good: the other is missing
        row.fail(COORDINATES[given[0] == "latitude"], "import_coordinates_pair")
    return {"latitude": lat, "longitude": lon}


def _phone(value: Any) -> str:
    try:
        return parse_phone(cell_text(value))
    except InvalidAnswer:
        raise CellError("import_bad_phone") from None


def _loan(row: SheetRow, now: datetime) -> dict[str, Any]:
    values = {
        "contract_no": row.text("contract_no"),
        "borrower_code": row.text("borrower_code"),
        "product": row.text("product"),
        "amount": row.parsed("amount", lambda v: cell_money(v, positive=True)),
        "disbursed_on": row.parsed("disbursed_on", cell_date),
        "due_on": row.parsed("due_on", cell_date),
        "purpose": row.text("purpose", ""),
        "status": row.parsed(
            "status", lambda v: cell_choice(cell_text(v), LOAN_STATUSES, "import_bad_status"), "active"
        ),
    }
    if values["due_on"] and values["disbursed_on"] and values["due_on"] < values["disbursed_on"]:
        row.fail("due_on", "import_due_before_disbursed")
    return values


def _status(value: Any) -> str:
    return cell_choice(cell_text(value), LOAN_STATUSES, "import_bad_status")


def _repayment(row: SheetRow, now: datetime) -> dict[str, Any]:
    return {
        "contract_no": row.text("contract_no"),
        "due_on": row.parsed("due_on", cell_date),
        "amount_due": row.parsed("amount_due", lambda v: cell_money(v, positive=True)),
        "amount_paid": row.parsed("amount_paid", lambda v: cell_money(v, positive=False), Decimal(0)),
        "paid_on": row.parsed("paid_on", cell_date),
    }


_PARSERS: dict[str, Callable[[SheetRow, datetime], dict[str, Any]]] = {
    "borrowers": _borrower,
    "loans": _loan,
    "repayments": _repayment,
}
_KEYS = {"borrowers": ("code",), "loans": ("contract_no",), "repayments": ("contract_no", "due_on")}


# -- references and writing, a batch at a time ----------------------------------------------------
def _officers(staff: list[store.Staff]) -> Callable[[str], int | str]:
    """Find a staff member by Telegram id or name: their id, or the problem's message key."""
    by_telegram = {s.telegram_id: s.id for s in staff if s.telegram_id is not None}
    by_name: dict[str, list[int]] = {}
    for s in staff:
        if s.active:
            by_name.setdefault(s.name.casefold(), []).append(s.id)

    def find(text: str) -> int | str:
        if text.isdigit() and int(text) in by_telegram:
            return by_telegram[int(text)]
        ids = by_name.get(text.casefold(), [])
        if len(ids) == 1:
            return ids[0]
        return "import_officer_ambiguous" if ids else "import_unknown_officer"

    return find


Batch = list[tuple[int, dict[str, Any]]]


async def _write(
    session: AsyncSession, kind: str, batch: Batch, result: ImportResult, find_officer: Callable[[str], int | str]
) -> list[int]:
    """Resolve the batch's references (a row naming nothing stored is a problem), upsert the rest; loans touched."""
    rows: list[dict[str, Any]] = []
    if kind == "borrowers":
        for number, values in batch:
            officer = values.pop("officer")
            values["officer_id"] = None
            if officer is not None:
                found = find_officer(officer)
                if isinstance(found, str):
                    _reject(result, RowProblem(number, "officer", found, {"value": officer}))
                    continue
                values["officer_id"] = found
            rows.append(values)
        result.written += await store.upsert_borrowers(session, rows)
        return []
    if kind == "loans":
        ids = await store.borrower_ids(session, {values["borrower_code"] for _, values in batch})
        for number, values in batch:
            code = values.pop("borrower_code")
            if code not in ids:
                _reject(result, RowProblem(number, "borrower_code", "import_unknown_borrower", {"value": code}))
                continue
            rows.append({**values, "borrower_id": ids[code]})
        result.written += await store.upsert_loans(session, rows)
        return []
    loans = await store.loan_ids(session, {values["contract_no"] for _, values in batch})
    for number, values in batch:
        number_text = values.pop("contract_no")
        if number_text not in loans:
            _reject(result, RowProblem(number, "contract_no", "import_unknown_loan", {"value": number_text}))
            continue
        rows.append({**values, "loan_id": loans[number_text]})
    result.written += await store.upsert_repayments(session, rows)
    return sorted({row["loan_id"] for row in rows})


def _reject(result: ImportResult, problem: RowProblem) -> None:
    result.problems.append(problem)
    result.bad_rows += 1
    result.good -= 1


def _columns(kind: str, header: list[str]) -> tuple[dict[int, str], tuple[str, ...]]:
    """Which cell holds which column; the header's unknown columns. A missing required column is an error."""
    known = COLUMNS[kind]
    names = [fold(name).replace(" ", "_") for name in header]
    where = {index: name for index, name in enumerate(names) if name in known}
    missing = sorted(REQUIRED[kind] - set(where.values()))
    if missing:
        raise ImportFileError("import_missing_columns", kind=kind, columns=", ".join(missing))
    ignored = tuple(header[i] for i, name in enumerate(names) if name and name not in known)
    return where, ignored


async def import_sheet(
    sessions: async_sessionmaker[AsyncSession],
    kind: str,
    sheet: Sheet,
    *,
    clock: Clock,
    timezone: str,
    dry_run: bool = False,
    progress: Callable[[int], Awaitable[None] | None] | None = None,
    batch_size: int = BATCH,
) -> ImportResult:
    """Check every row of ``sheet`` and upsert the good ones in one transaction (rolled back when ``dry_run``).

    Repayments then refresh their loans' overdue days and amount as of today in ``timezone``.
    """
    if kind not in KINDS:
        raise ImportFileError("import_bad_kind", kind=kind)
    where, ignored = _columns(kind, sheet.header)
    now = clock.now()
    today = now.astimezone(ZoneInfo(timezone)).date()
    result = ImportResult(kind, ignored_columns=ignored, dry_run=dry_run, today=today)
    parse, key = _PARSERS[kind], _KEYS[kind]
    required = REQUIRED[kind]
    unlocated = kind == "borrowers" and not set(COORDINATES) & set(where.values())  # keep those on file
    seen: dict[tuple[Any, ...], int] = {}
    touched: set[int] = set()
    async with sessions() as session:
        transaction = await session.begin()
        try:
            find_officer = _officers(await store.staff_directory(session)) if kind == "borrowers" else None
            batch: Batch = []
            for number, cells in sheet.rows:
                if not any(cell_text(cell) for cell in cells):
                    continue
                result.rows += 1
                row = SheetRow(
                    number, {name: cells[i] for i, name in where.items() if i < len(cells)}, required, LIMITS
                )
                values = parse(row, now)
                if unlocated:
                    del values["latitude"], values["longitude"]
                if not row.problems:
                    identity = tuple(values[name] for name in key)
                    first = seen.setdefault(identity, number)
                    if first != number:
                        shown = " ".join(str(part) for part in identity)
                        row.problems.append(
                            RowProblem(number, key[0], "import_duplicate", {"value": shown, "first": first})
                        )
                        result.duplicates += 1
                if row.problems:
                    result.problems.extend(row.problems)
                    result.bad_rows += 1
                    continue
                result.good += 1
                batch.append((number, values))
                if len(batch) >= batch_size:
                    touched.update(await _flush(session, kind, batch, result, find_officer, today))
                    batch = []
                    if progress is not None and (waiting := progress(result.rows)) is not None:
                        await waiting
            touched.update(await _flush(session, kind, batch, result, find_officer, today))
            result.loans_refreshed = len(touched)
            if progress is not None and (waiting := progress(result.rows)) is not None:
                await waiting
        except BaseException:
            await transaction.rollback()
            raise
        if dry_run:
            await transaction.rollback()
        else:
            await transaction.commit()
    result.problems.sort(key=lambda p: p.row)
    return result


async def _flush(
    session: AsyncSession,
    kind: str,
    batch: Batch,
    result: ImportResult,
    find_officer: Callable[[str], int | str] | None,
    today: date,
) -> list[int]:
    """Write a batch; for repayments, refresh the overdue days and amount of the loans it touched."""
    if not batch:
        return []
    touched = await _write(session, kind, batch, result, find_officer or (lambda _: "import_unknown_officer"))
    if touched:
        await store.refresh_overdue(session, today, touched)
    return touched


async def refresh_overdue(sessions: async_sessionmaker[AsyncSession], *, clock: Clock, timezone: str) -> int:
    """Move every loan's overdue days and amount on to today in ``timezone`` (run daily); returns the loans set."""
    today = clock.now().astimezone(ZoneInfo(timezone)).date()
    async with sessions() as session, session.begin():
        return await store.refresh_overdue(session, today)
