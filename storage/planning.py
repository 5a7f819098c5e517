"""Queries of the monthly plan: set-based reads of the loan book, bulk writes of plan entries.

Every function takes a session and leaves the commit to the caller. None runs one query per
borrower: a plan of 100,000 loans reads each table once and writes its entries in batches.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import table_of
from storage.direct import Direct
from storage.models import Base, Borrower, Dispute, Loan, PlanEntry, Repayment, User, Visit, WatchFlag
from storage.repositories import entities

__all__ = [
    "OPEN_LOAN",
    "PlanBorrower",
    "add_flag",
    "borrowers_by_id",
    "clear_flags",
    "disputed_borrowers",
    "entry_rows",
    "finished_visits",
    "insert_entries",
    "last_completed",
    "loans_to_refresh",
    "month_entries",
    "new_loans",
    "open_entry",
    "open_flags",
    "overdue_loans",
    "plan_borrowers",
    "staff",
    "update_entries",
]

OPEN_LOAN = ("active", "overdue")
"""Loan statuses that still need post-loan visits (closed and written-off loans do not)."""
BATCH = 1000
"""Rows per INSERT/UPDATE statement (under SQLite's and asyncpg's parameter limits)."""
ENTRY_COLUMNS = (
    "id", "month", "borrower_id", "loan_id", "officer_id", "script_id", "reasons", "detail", "action", "note",
    "planned_on", "due_on", "visit_id", "done_at",
)  # fmt: skip


class PlanBorrower(NamedTuple):
    """What the plan needs to know of a borrower."""

    id: int
    code: str
    officer_id: int | None
    risk_tier: str
    opted_out: bool
    has_telegram: bool
    open_loan: bool


async def plan_borrowers(session: AsyncSession, officer_ids: Collection[int] | None) -> dict[int, PlanBorrower]:
    """Every borrower (of ``officer_ids`` when given), with whether they have a loan still open."""
    with_loan = select(Loan.borrower_id).where(Loan.status.in_(OPEN_LOAN)).distinct().subquery()
    query = select(
        Borrower.id,
        Borrower.code,
        Borrower.officer_id,
        Borrower.risk_tier,
        Borrower.opted_out_at.is_not(None),
        Borrower.telegram_id.is_not(None),
        with_loan.c.borrower_id.is_not(None),
    ).outerjoin(with_loan, with_loan.c.borrower_id == Borrower.id)
    if officer_ids is not None:
        query = query.where(Borrower.officer_id.in_(list(officer_ids)))
    rows = (await session.execute(query)).all()
    return {r[0]: PlanBorrower(r[0], r[1], r[2], r[3], bool(r[4]), bool(r[5]), bool(r[6])) for r in rows}


async def loans_to_refresh(session: AsyncSession, today: date) -> list[int]:
    """Loans whose overdue days may be out of date on ``today``: an instalment past due and not fully paid,
    or overdue now (to be set back when paid). Loans without repayments keep what they have."""
    query = (
        select(Repayment.loan_id)
        .join(Loan, Loan.id == Repayment.loan_id)
        .where(
            or_(
                and_(Repayment.due_on < today, Repayment.amount_paid < Repayment.amount_due),
                Loan.overdue_days > 0,
                Loan.overdue_amount > 0,
            )
        )
        .distinct()
    )
    return list((await session.scalars(query)).all())


async def new_loans(session: AsyncSession, first: date, last: date) -> list[tuple[int, int, date]]:
    """(loan, borrower, disbursed on) of every loan disbursed from ``first`` to ``last``, both included."""
    query = select(Loan.id, Loan.borrower_id, Loan.disbursed_on).where(
        Loan.disbursed_on >= first, Loan.disbursed_on <= last
    )
    return [(r[0], r[1], r[2]) for r in (await session.execute(query.order_by(Loan.id))).all()]


async def overdue_loans(session: AsyncSession) -> list[tuple[int, int, int, Any]]:
    """(loan, borrower, overdue days, overdue amount) of every open loan overdue now."""
    query = select(Loan.id, Loan.borrower_id, Loan.overdue_days, Loan.overdue_amount).where(
        Loan.overdue_days > 0, Loan.status.in_(OPEN_LOAN)
    )
    return [(r[0], r[1], r[2], r[3]) for r in (await session.execute(query.order_by(Loan.id))).all()]


async def last_completed(session: AsyncSession, before: datetime) -> dict[int, datetime]:
    """Per borrower, when their last completed visit finished, before ``before``."""
    query = (
        select(Visit.borrower_id, func.max(Visit.finished_at))
        .where(Visit.outcome == "completed", Visit.finished_at < before)
        .group_by(Visit.borrower_id)
    )
    return {r[0]: r[1] for r in (await session.execute(query)).all() if r[1] is not None}


async def finished_visits(
    session: AsyncSession, since: datetime, until: datetime
) -> list[tuple[int, int, str, datetime]]:
    """(visit, borrower, outcome, finished at) of the visits that ended in [since, until), oldest first."""
    query = (
        select(Visit.id, Visit.borrower_id, Visit.outcome, Visit.finished_at)
        .where(Visit.finished_at >= since, Visit.finished_at < until, Visit.outcome.is_not(None))
        .order_by(Visit.finished_at, Visit.id)
    )
    return [(r[0], r[1], str(r[2]), r[3]) for r in (await session.execute(query)).all() if r[3] is not None]


async def open_flags(session: AsyncSession, until: datetime) -> dict[int, list[dict[str, Any]]]:
    """Per borrower, their watch flags not cleared yet (raised before ``until``), oldest first."""
    query = (
        select(WatchFlag.id, WatchFlag.borrower_id, WatchFlag.reason, WatchFlag.user_id)
        .where(WatchFlag.cleared_at.is_(None), WatchFlag.flagged_at <= until)
        .order_by(WatchFlag.flagged_at, WatchFlag.id)
    )
    found: dict[int, list[dict[str, Any]]] = {}
    for flag_id, borrower_id, reason, user_id in (await session.execute(query)).all():
        found.setdefault(borrower_id, []).append({"id": flag_id, "reason": reason, "by": user_id})
    return found


async def disputed_borrowers(session: AsyncSession) -> set[int]:
    """Borrowers with a dispute not resolved yet."""
    query = select(Dispute.borrower_id).where(Dispute.resolved_at.is_(None)).distinct()
    return set((await session.scalars(query)).all())


async def month_entries(session: AsyncSession, month: str) -> dict[int, dict[str, Any]]:
    """The month's stored entries by borrower, as plain rows."""
    table = Base.metadata.tables["plan_entries"]
    query = select(*(table.c[name] for name in ENTRY_COLUMNS)).where(table.c.month == month)
    return {row.borrower_id: dict(row._mapping) for row in (await session.execute(query)).all()}


async def insert_entries(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Add new entries: on PostgreSQL with COPY (in the session's transaction), else in batches (executemany)."""
    table = Base.metadata.tables["plan_entries"]
    connection = await session.connection()
    if rows and connection.dialect.name == "postgresql" and connection.dialect.driver == "asyncpg":
        await _copy_entries(session, rows)
        return
    for start in range(0, len(rows), BATCH):
        await connection.execute(insert(table), list(rows[start : start + BATCH]))


COPIED = (*ENTRY_COLUMNS[1:], "created_at", "updated_at")
"""The columns COPY writes (the id comes from its sequence)."""


async def _copy_entries(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """COPY the rows into ``plan_entries`` through asyncpg, bypassing per-row parameter binding.

    Values go as the driver takes them: JSON columns as text, timestamps aware (UTC).
    """
    records = []
    for row in rows:
        values = [row[name] for name in COPIED]
        for index in (COPIED.index("reasons"), COPIED.index("detail")):
            values[index] = json.dumps(values[index], ensure_ascii=False, separators=(",", ":"))
        for index in (COPIED.index("done_at"), COPIED.index("created_at"), COPIED.index("updated_at")):
            if values[index] is not None:
                values[index] = values[index].astimezone(UTC)
        records.append(tuple(values))
    raw = await (await session.connection()).get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    await driver.copy_records_to_table("plan_entries", records=records, columns=list(COPIED))


async def update_entries(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Rewrite open entries (reasons, detail, action, note, script, days, done), in batches."""
    if not rows:
        return
    table = Base.metadata.tables["plan_entries"]
    names = [*ENTRY_COLUMNS[3:], "updated_at"]
    stmt = update(table).where(table.c.id == bindparam("b_id")).values({name: bindparam(f"b_{name}") for name in names})
    params = [{f"b_{name}": row[name] for name in ("id", *names)} for row in rows]
    connection = await session.connection()
    for start in range(0, len(params), BATCH):
        await connection.execute(stmt, params[start : start + BATCH])


async def clear_flags(session: AsyncSession, flag_ids: Collection[int], at: datetime) -> None:
    """Mark watch flags cleared (their plan entry was fulfilled)."""
    ids = sorted(flag_ids)
    for start in range(0, len(ids), BATCH):
        await session.execute(
            update(WatchFlag)
            .where(WatchFlag.id.in_(ids[start : start + BATCH]), WatchFlag.cleared_at.is_(None))
            .values(cleared_at=at)
        )


async def borrowers_by_id(session: AsyncSession, ids: Collection[int]) -> list[Borrower]:
    """The borrowers of ``ids`` (for invites; few)."""
    if not ids:
        return []
    return list((await session.scalars(select(Borrower).where(Borrower.id.in_(sorted(ids))))).unique().all())


async def staff(session: AsyncSession) -> list[User]:
    """Every staff member (names and teams of the plan's officers)."""
    return list((await session.scalars(select(User).order_by(User.id))).all())


async def entry_rows(
    session: AsyncSession, month: str, *, officer_ids: Collection[int] | None = None, open_only: bool = False
) -> list[tuple[PlanEntry, str, str, str | None]]:
    """(entry, borrower code, borrower name, officer name) of the month, due first."""
    query = (
        select(PlanEntry, Borrower.code, Borrower.name, User.name)
        .join(Borrower, Borrower.id == PlanEntry.borrower_id)
        .outerjoin(User, User.id == PlanEntry.officer_id)
        .where(PlanEntry.month == month)
        .order_by(PlanEntry.due_on, PlanEntry.planned_on, Borrower.code)
    )
    if officer_ids is not None:
        query = query.where(PlanEntry.officer_id.in_(list(officer_ids)))
    if open_only:
        query = query.where(PlanEntry.done_at.is_(None))
    return [(r[0], r[1], r[2], r[3]) for r in (await session.execute(query)).all()]


async def open_entry(session: AsyncSession, month: str, borrower_id: int) -> PlanEntry | None:
    """The borrower's entry of ``month`` when it is not done yet, in the session (its visit marks it done):
    read by the driver (``repositories.entities``), every visit's end reads it."""
    found = await entities(session, PlanEntry, _OPEN_ENTRY, {"b_month": month, "b_borrower": borrower_id})
    return found[0] if found else None


_ENTRIES = table_of(PlanEntry)
_OPEN_ENTRY = Direct(
    select(_ENTRIES)
    .where(
        _ENTRIES.c.month == bindparam("b_month"),
        _ENTRIES.c.borrower_id == bindparam("b_borrower"),
        _ENTRIES.c.done_at.is_(None),
    )
    .limit(1)
)
"""Built once (every visit's end reads it)."""


async def add_flag(
    session: AsyncSession, *, borrower_id: int, user_id: int | None, reason: str, at: datetime
) -> WatchFlag:
    """Keep an officer's reason to visit a borrower."""
    flag = WatchFlag(borrower_id=borrower_id, user_id=user_id, reason=reason, flagged_at=at)
    session.add(flag)
    await session.flush()
    return flag
