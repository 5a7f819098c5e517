"""Queries of the morning digest and of ``visitbot tasks``: who gets one, and what their day holds.

:func:`enqueue_once` writes an outbox row that must exist once however many processes queue it: an
``INSERT … ON CONFLICT (dedupe_key) DO NOTHING`` (SQLite and PostgreSQL). Two processes inserting the
same key at once: the second waits for the first to commit, then inserts nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Borrower, Loan, OutboxMessage, PlanEntry, Task, User, Visit

__all__ = [
    "CallbackRow",
    "OverdueRow",
    "PlanRow",
    "ReturnedRow",
    "callbacks_due",
    "digest_recipients",
    "enqueue_once",
    "last_calls",
    "open_plan_entries",
    "overdue_loans",
    "queued_keys",
    "returned_reviews",
    "staff_by_name",
    "tasks_of",
]

OPEN_LOAN = ("active", "overdue")


def _zone_of(default_zone: str) -> Any:
    return func.coalesce(User.timezone, default_zone)


async def digest_recipients(
    session: AsyncSession, *, default_zone: str, zone: str | None = None
) -> list[tuple[User, str]]:
    """Who gets a digest, with their zone: active officers with a Telegram id, and active admins with
    a Telegram id who look after borrowers themselves; only those of ``zone`` when given."""
    has_borrowers = exists().where(Borrower.officer_id == User.id)
    query = select(User, _zone_of(default_zone)).where(
        User.active.is_(True),
        User.telegram_id.is_not(None),
        or_(User.role == "officer", (User.role == "admin") & has_borrowers),
    )
    if zone is not None:
        query = query.where(_zone_of(default_zone) == zone)
    rows = await session.execute(query.order_by(User.id))
    return [(user, str(where)) for user, where in rows.all()]


async def enqueue_once(
    session: AsyncSession,
    dedupe_key: str,
    kind: str,
    body: dict[str, Any],
    *,
    now: datetime,
    user_id: int | None = None,
    chat_id: int | None = None,
) -> int | None:
    """Queue a message unless one with ``dedupe_key`` exists; returns the new row's id, None if it existed."""
    if user_id is None and chat_id is None:
        raise ValueError("an outbox message needs a recipient (user_id or chat_id)")
    values = {
        "kind": kind,
        "user_id": user_id,
        "chat_id": chat_id,
        "payload": body,
        "created_at": now,
        "not_before": now,
        "attempts": 0,
        "dedupe_key": dedupe_key,
    }
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(OutboxMessage)
        .values(values)
        .on_conflict_do_nothing(index_elements=[OutboxMessage.dedupe_key])
        .returning(OutboxMessage.id)
    )
    found = await session.scalar(statement)
    return int(found) if found is not None else None


@dataclass(frozen=True)
class PlanRow:
    """An open plan visit of an officer."""

    officer_id: int
    code: str
    name: str
    reasons: list[str]
    planned_on: date
    due_on: date


@dataclass(frozen=True)
class CallbackRow:
    """A call-back due, with what the rules of contact need (the borrower's zone, who asked for the time)."""

    officer_id: int
    task_id: int
    due_at: datetime
    note: str
    borrower_asked: bool
    code: str
    name: str
    zone: str
    kind: str = "callback"
    """``callback``, or ``promise``: a promise to pay's follow-up on its day (bot.desk.promises)."""


@dataclass(frozen=True)
class OverdueRow:
    """An overdue loan of an officer's borrower."""

    officer_id: int
    borrower_id: int
    code: str
    name: str
    zone: str
    contract_no: str
    overdue_days: int
    overdue_amount: Decimal


@dataclass(frozen=True)
class ReturnedRow:
    """A visit sent back to its officer."""

    officer_id: int
    visit_id: int
    code: str
    name: str
    comment: str


async def queued_keys(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` a message exists for already (sent or not)."""
    if not keys:
        return set()
    found = await session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(list(keys))))
    return {key for key in found.all() if key is not None}


async def open_plan_entries(session: AsyncSession, officer_ids: Sequence[int], *, today: date) -> list[PlanRow]:
    """The officers' open plan visits (action ``call``) planned for ``today`` or earlier: this month's,
    and earlier months' still due this month; the longest waiting first."""
    if not officer_ids:
        return []
    month = f"{today:%Y-%m}"
    query = (
        select(
            PlanEntry.officer_id, Borrower.code, Borrower.name, PlanEntry.reasons, PlanEntry.planned_on,
            PlanEntry.due_on,
        )
        .join(Borrower, Borrower.id == PlanEntry.borrower_id)
        .where(
            PlanEntry.officer_id.in_(list(officer_ids)),
            PlanEntry.done_at.is_(None),
            PlanEntry.action == "call",
            PlanEntry.planned_on <= today,
            or_(PlanEntry.month == month, PlanEntry.due_on >= today.replace(day=1)),
        )
        .order_by(PlanEntry.planned_on, PlanEntry.due_on, Borrower.code)
    )  # fmt: skip
    return [
        PlanRow(int(officer or 0), code, name, list(reasons or []), planned_on, due_on)
        for officer, code, name, reasons, planned_on, due_on in (await session.execute(query)).all()
    ]


async def callbacks_due(session: AsyncSession, officer_ids: Sequence[int], *, before: datetime) -> list[CallbackRow]:
    """The officers' call-backs (and promise follow-ups) not done whose time is before ``before`` (the end of
    their day), soonest first."""
    if not officer_ids:
        return []
    query = (
        select(
            Task.officer_id, Task.id, Task.due_at, Task.note, Task.borrower_asked, Borrower.code, Borrower.name,
            Borrower.timezone, Task.kind,
        )
        .join(Borrower, Borrower.id == Task.borrower_id)
        .where(
            Task.officer_id.in_(list(officer_ids)),
            Task.kind.in_(("callback", "promise")),
            Task.done_at.is_(None),
            Task.due_at.is_not(None),
            Task.due_at < before,
        )
        .order_by(Task.due_at, Task.id)
    )  # fmt: skip
    return [
        CallbackRow(int(officer or 0), task_id, due_at, note, asked, code, name, zone, kind)
        for officer, task_id, due_at, note, asked, code, name, zone, kind in (await session.execute(query)).all()
        if due_at is not None
    ]


async def overdue_loans(session: AsyncSession, officer_ids: Sequence[int], *, past_days: int) -> list[OverdueRow]:
    """Open loans of the officers' borrowers overdue more than ``past_days`` days, longest overdue first."""
    if not officer_ids:
        return []
    query = (
        select(
            Borrower.officer_id, Borrower.id, Borrower.code, Borrower.name, Borrower.timezone, Loan.contract_no,
            Loan.overdue_days, Loan.overdue_amount,
        )
        .join(Borrower, Borrower.id == Loan.borrower_id)
        .where(
            Borrower.officer_id.in_(list(officer_ids)), Loan.overdue_days > past_days, Loan.status.in_(OPEN_LOAN)
        )
        .order_by(Loan.overdue_days.desc(), Borrower.code, Loan.id)
    )  # fmt: skip
    return [
        OverdueRow(int(officer or 0), borrower_id, code, name, zone, contract, days, amount)
        for officer, borrower_id, code, name, zone, contract, days, amount in (await session.execute(query)).all()
    ]


async def last_calls(
    session: AsyncSession, borrower_ids: Sequence[int], channels: Sequence[str]
) -> dict[int, datetime]:
    """When each borrower's latest call (a visit by one of ``channels``) started."""
    if not borrower_ids:
        return {}
    query = (
        select(Visit.borrower_id, func.max(Visit.started_at))
        .where(Visit.borrower_id.in_(list(borrower_ids)), Visit.channel.in_(list(channels)))
        .group_by(Visit.borrower_id)
    )
    return {borrower_id: at for borrower_id, at in (await session.execute(query)).all() if at is not None}


async def returned_reviews(session: AsyncSession, officer_ids: Sequence[int]) -> list[ReturnedRow]:
    """The officers' visits a reviewer sent back, waiting for their answer (oldest first)."""
    if not officer_ids:
        return []
    query = (
        select(Visit.officer_id, Visit.id, Borrower.code, Borrower.name, func.coalesce(Visit.review_comment, ""))
        .join(Borrower, Borrower.id == Visit.borrower_id)
        .where(Visit.officer_id.in_(list(officer_ids)), Visit.review_status == "returned")
        .order_by(Visit.reviewed_at, Visit.id)
    )
    return [
        ReturnedRow(int(officer or 0), visit_id, code, name, str(comment))
        for officer, visit_id, code, name, comment in (await session.execute(query)).all()
    ]


async def tasks_of(session: AsyncSession, *, officer_id: int | None, include_done: bool) -> Sequence[Task]:
    """Tasks (of one officer, or everyone's), open ones first and soonest first; done ones only when asked.

    Relief tasks of before migration 0011 are left out: they became hardship requests (``relief_requests``)."""
    query = select(Task).where(Task.kind != "relief")
    if officer_id is not None:
        query = query.where(Task.officer_id == officer_id)
    if not include_done:
        query = query.where(Task.done_at.is_(None))
    order = (Task.done_at.is_not(None), Task.due_at.is_(None), Task.due_at, Task.id)
    return (await session.scalars(query.order_by(*order))).unique().all()


async def staff_by_name(session: AsyncSession, name: str) -> Sequence[User]:
    """Staff whose name is ``name`` (ignoring case and surrounding blanks)."""
    query = select(User).where(func.lower(User.name) == name.strip().lower())
    return (await session.scalars(query.order_by(User.id))).all()
