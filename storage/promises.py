"""Promises to pay (承诺还款): stored, claimed once for their follow-up and decision, and read back.

The claims are conditional updates (``... WHERE followed_up_at IS NULL``, ``... WHERE status = 'pending'``):
two processes running the same pass follow a promise up, or decide it, once — the second update
finds the row changed (PostgreSQL re-reads it after the first commits; SQLite writes one at a time).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Loan, Promise, Repayment, Visit, visit_status_is

__all__ = [
    "BrokenPromise",
    "add_promise",
    "broken_unvisited",
    "claim_decision",
    "claim_follow_up",
    "claimable",
    "counts_decided",
    "list_promises",
    "loan_cleared",
    "paid_between",
    "pending",
    "promises_of_visit",
]


async def add_promise(
    session: AsyncSession,
    *,
    borrower_id: int,
    loan_id: int | None,
    visit_id: int | None,
    officer_id: int | None,
    promised_on: date,
    amount: Decimal,
    made_at: datetime,
) -> Promise:
    """Keep a promise made in a visit (pending until decided)."""
    promise = Promise(
        borrower_id=borrower_id, loan_id=loan_id, visit_id=visit_id, officer_id=officer_id,
        promised_on=promised_on, amount=amount, made_at=made_at, status="pending",
    )  # fmt: skip
    session.add(promise)
    await session.flush()
    return promise


async def claimable(session: AsyncSession, borrower_id: int) -> Promise | None:
    """The borrower's latest promise that was followed up and has no check-in answer yet."""
    query = (
        select(Promise)
        .where(
            Promise.borrower_id == borrower_id, Promise.followed_up_at.is_not(None), Promise.claim_visit_id.is_(None)
        )
        .order_by(Promise.promised_on.desc(), Promise.id.desc())
        .limit(1)
    )
    return await session.scalar(query)


async def pending(session: AsyncSession, *, due_by: date | None = None) -> Sequence[Promise]:
    """Promises not decided yet (promised on or before ``due_by`` when given), oldest date first."""
    query = select(Promise).where(Promise.status == "pending")
    if due_by is not None:
        query = query.where(Promise.promised_on <= due_by)
    return (await session.scalars(query.order_by(Promise.promised_on, Promise.id))).unique().all()


async def claim_follow_up(session: AsyncSession, promise_id: int, now: datetime) -> bool:
    """Mark a pending promise followed up now; False when another pass already did (or it was decided)."""
    result = await session.execute(
        update(Promise)
        .where(Promise.id == promise_id, Promise.followed_up_at.is_(None), Promise.status == "pending")
        .values(followed_up_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def claim_decision(session: AsyncSession, promise_id: int, status: str, paid: Decimal, now: datetime) -> bool:
    """Decide a pending promise (``kept`` or ``broken``); False when another pass already did."""
    result = await session.execute(
        update(Promise)
        .where(Promise.id == promise_id, Promise.status == "pending")
        .values(status=status, paid_amount=paid, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def paid_between(session: AsyncSession, loan_id: int, start: date, end: date) -> Decimal:
    """What the loan's instalments show paid on days ``start`` to ``end`` (both included)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(Repayment.amount_paid), 0)).where(
            Repayment.loan_id == loan_id,
            Repayment.paid_on.is_not(None),
            Repayment.paid_on >= start,
            Repayment.paid_on <= end,
            Repayment.amount_paid > 0,
        )
    )
    return Decimal(str(total or 0))


async def loan_cleared(session: AsyncSession, loan_id: int) -> bool:
    """True when the loan has nothing overdue now (its overdue amount, as the repayments set it, is zero)."""
    owed = await session.scalar(select(Loan.overdue_amount).where(Loan.id == loan_id))
    return owed is not None and Decimal(owed) <= 0


async def promises_of_visit(session: AsyncSession, visit_id: int) -> Sequence[Promise]:
    """The promises made in a visit, oldest first."""
    query = select(Promise).where(Promise.visit_id == visit_id).order_by(Promise.id)
    return (await session.scalars(query)).unique().all()


async def list_promises(
    session: AsyncSession, *, status: str | None = None, borrower_ids: Collection[int] | None = None
) -> Sequence[Promise]:
    """Promises (of one status, of some borrowers), latest date first."""
    query = select(Promise)
    if status is not None:
        query = query.where(Promise.status == status)
    if borrower_ids is not None:
        query = query.where(Promise.borrower_id.in_(list(borrower_ids)))
    return (await session.scalars(query.order_by(Promise.promised_on.desc(), Promise.id.desc()))).unique().all()


@dataclass(frozen=True)
class BrokenPromise:
    """A broken promise whose borrower nobody reached since it was judged broken."""

    borrower_id: int
    promise_id: int
    loan_id: int | None
    promised_on: date
    amount: Decimal
    decided_at: datetime


async def broken_unvisited(session: AsyncSession, reached: Collection[str]) -> list[BrokenPromise]:
    """Broken promises decided before now with no visit of the borrower since that ended in ``reached``."""
    later = (
        select(Visit.id)
        .where(
            Visit.borrower_id == Promise.borrower_id,
            visit_status_is("finished"),
            Visit.started_at > Promise.decided_at,
            Visit.outcome.in_(list(reached)),
        )
        .exists()
    )
    columns = (Promise.borrower_id, Promise.id, Promise.loan_id, Promise.promised_on, Promise.amount)
    query = (
        select(*columns, Promise.decided_at)
        .where(Promise.status == "broken", Promise.decided_at.is_not(None), ~later)
        .order_by(Promise.borrower_id, Promise.promised_on)
    )
    rows = (await session.execute(query)).all()
    return [BrokenPromise(b, p, loan, on, Decimal(amount), at) for b, p, loan, on, amount, at in rows if at is not None]


async def counts_decided(
    session: AsyncSession, since: datetime, until: datetime, officer_ids: Collection[int] | None = None
) -> dict[str, int]:
    """Promises decided in ``[since, until)`` by status (``kept``, ``broken``), of some officers when given."""
    query = (
        select(Promise.status, func.count())
        .where(Promise.decided_at >= since, Promise.decided_at < until, Promise.status.in_(("kept", "broken")))
        .group_by(Promise.status)
    )
    if officer_ids is not None:
        query = query.where(Promise.officer_id.in_(list(officer_ids)))
    return {str(status): int(count) for status, count in (await session.execute(query)).all()}
