"""The loan book in: batched Core upserts of borrowers, loans and repayments, keyed on their external ids.

Each call writes one batch as multi-row ``INSERT ... ON CONFLICT DO UPDATE`` statements (Core, no ORM
object per row), changing a stored row only when a value differs, and says how many rows were new, updated or
unchanged. The caller holds one transaction for the whole file and commits (or rolls back) it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Base, Borrower, Loan, Repayment, User

__all__ = [
    "BORROWER_FIELDS",
    "LOAN_FIELDS",
    "REPAYMENT_FIELDS",
    "Staff",
    "Written",
    "borrower_ids",
    "loan_ids",
    "refresh_overdue",
    "staff_directory",
    "upsert_borrowers",
    "upsert_loans",
    "upsert_repayments",
]

BORROWER_FIELDS = ("code", "name", "phone", "business", "address", "officer_id", "risk_tier", "timezone", "locale")
"""The borrower columns an import writes (the rest — Telegram id, opt-out, created — stay as they are); also
``latitude`` and ``longitude`` when its rows hold them (a file with those columns)."""
LOAN_FIELDS = ("contract_no", "borrower_id", "product", "amount", "disbursed_on", "due_on", "purpose", "status")
"""The loan columns an import writes (overdue days and amount follow from the repayments)."""
REPAYMENT_FIELDS = ("loan_id", "due_on", "amount_due", "amount_paid", "paid_on")
"""The repayment columns an import writes."""


@dataclass(frozen=True)
class Written:
    """How one batch (or a whole file) changed the database."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: Written) -> Written:
        """The counts of both."""
        return Written(self.new + other.new, self.updated + other.updated, self.unchanged + other.unchanged)


@dataclass(frozen=True)
class Staff:
    """A staff member a borrower's ``officer`` cell may name (by Telegram id or name)."""

    id: int
    telegram_id: int | None
    name: str
    active: bool


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _insert(session: AsyncSession, table: Table) -> Any:
    """The dialect's INSERT (with ON CONFLICT) for ``table``."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for the {dialect} dialect")


async def _upsert(
    session: AsyncSession,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    key: tuple[str, ...],
    fields: tuple[str, ...],
    existing: set[tuple[Any, ...]],
) -> Written:
    """Insert ``rows``; a row whose ``key`` is stored updates it only where a value differs."""
    if not rows:
        return Written()
    stmt = _insert(session, table)
    changing = [name for name in fields if name not in key]
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c[name] for name in key],
        set_={name: stmt.excluded[name] for name in changing},
        where=or_(*(table.c[name].is_distinct_from(stmt.excluded[name]) for name in changing)),
    ).returning(*(table.c[name] for name in key))
    # executemany: SQLAlchemy sends it as multi-row VALUES pages ("insertmanyvalues"), compiled once and cached
    connection = await session.connection()
    written = {tuple(row) for row in (await connection.execute(stmt, list(rows))).all()}
    new = len(written - existing)
    updated = len(written) - new
    return Written(new, updated, len(rows) - new - updated)


async def borrower_ids(session: AsyncSession, codes: Collection[str]) -> dict[str, int]:
    """The stored borrowers among ``codes``: code to id."""
    if not codes:
        return {}
    result = await session.execute(select(Borrower.code, Borrower.id).where(Borrower.code.in_(list(codes))))
    return {code: id_ for code, id_ in result.all()}


async def loan_ids(session: AsyncSession, contract_nos: Collection[str]) -> dict[str, int]:
    """The stored loans among ``contract_nos``: contract number to id."""
    if not contract_nos:
        return {}
    result = await session.execute(select(Loan.contract_no, Loan.id).where(Loan.contract_no.in_(list(contract_nos))))
    return {number: id_ for number, id_ in result.all()}


async def staff_directory(session: AsyncSession) -> list[Staff]:
    """Every staff member (few: loaded once per file)."""
    result = await session.execute(select(User.id, User.telegram_id, User.name, User.active).order_by(User.id))
    return [Staff(id_, telegram_id, name, active) for id_, telegram_id, name, active in result.all()]


async def upsert_borrowers(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> Written:
    """Insert or update borrowers by ``code``; each row holds :data:`BORROWER_FIELDS` and ``created_at`` (and
    the same coordinates keys as the others)."""
    existing = {(code,) for code in await borrower_ids(session, [row["code"] for row in rows])}
    fields = BORROWER_FIELDS + (("latitude", "longitude") if rows and "latitude" in rows[0] else ())
    return await _upsert(session, _table("borrowers"), rows, ("code",), fields, existing)


async def upsert_loans(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> Written:
    """Insert or update loans by ``contract_no``; each row holds :data:`LOAN_FIELDS` (new loans: nothing overdue)."""
    existing = {(number,) for number in await loan_ids(session, [row["contract_no"] for row in rows])}
    full = [{"overdue_amount": Decimal(0), "overdue_days": 0, **row} for row in rows]
    return await _upsert(session, _table("loans"), full, ("contract_no",), LOAN_FIELDS, existing)


async def upsert_repayments(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> Written:
    """Insert or update instalments by (``loan_id``, ``due_on``); each row holds :data:`REPAYMENT_FIELDS`."""
    if not rows:
        return Written()
    loans = {row["loan_id"] for row in rows}
    stored = await session.execute(select(Repayment.loan_id, Repayment.due_on).where(Repayment.loan_id.in_(loans)))
    existing = {(loan_id, due_on) for loan_id, due_on in stored.all()}
    return await _upsert(session, _table("repayments"), rows, ("loan_id", "due_on"), REPAYMENT_FIELDS, existing)


def _overdue(instalments: Iterable[tuple[int, date, Decimal, Decimal]], today: date) -> dict[int, tuple[Decimal, int]]:
    """Per loan: the amount past due and unpaid, and the days since the oldest such instalment fell due."""
    owed: dict[int, tuple[Decimal, date]] = {}
    for loan_id, due_on, amount_due, amount_paid in instalments:
        amount, oldest = owed.get(loan_id, (Decimal(0), due_on))
        owed[loan_id] = (amount + Decimal(amount_due) - Decimal(amount_paid), min(oldest, due_on))
    return {loan_id: (amount, (today - oldest).days) for loan_id, (amount, oldest) in owed.items()}


async def refresh_overdue(session: AsyncSession, today: date, loans: Collection[int] | None = None) -> int:
    """Set each loan's overdue amount and days from its repayments as of ``today``; returns the loans written.

    An instalment is overdue when its due date is before ``today`` and less than its amount was paid.
    ``loans`` limits the refresh to those ids; None refreshes every loan that has repayments (in batches).
    """
    if loans is None:
        ids = list((await session.scalars(select(Repayment.loan_id).distinct().order_by(Repayment.loan_id))).all())
    else:
        ids = sorted(loans)
    table = _table("loans")
    stmt = (
        update(table)
        .where(table.c.id == bindparam("loan"))
        .values(overdue_amount=bindparam("owed"), overdue_days=bindparam("days"))
    )
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        unpaid = await session.execute(
            select(Repayment.loan_id, Repayment.due_on, Repayment.amount_due, Repayment.amount_paid).where(
                Repayment.loan_id.in_(chunk), Repayment.due_on < today, Repayment.amount_paid < Repayment.amount_due
            )
        )
        owed = _overdue(((r[0], r[1], r[2], r[3]) for r in unpaid.all()), today)
        params = [{"loan": i, "owed": owed.get(i, (Decimal(0), 0))[0], "days": owed.get(i, (0, 0))[1]} for i in chunk]
        await (await session.connection()).execute(stmt, params)
    return len(ids)
