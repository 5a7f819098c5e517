"""Outbox queries: claim due messages (each by one process), mark them sent or failed, list a visit's alerts.

A claim is one ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING id``: on PostgreSQL
two processes claiming at once never get the same row; on SQLite the statement is one write, so the
same holds. A claim is a lease: a process killed while sending leaves ``claimed_at`` set, and the row
is claimed again once the lease is over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage, Task, User

__all__ = [
    "AlertDelivery",
    "alerts_of_visit",
    "claim_due",
    "mark_failed",
    "mark_sent",
    "pending_for_visit",
    "release",
    "renew",
    "staff_to_alert",
]


def _deliverable(now: datetime, lease: timedelta) -> ColumnElement[bool]:
    """Not sent, not given up, due, and not claimed by a live process (its lease still running)."""
    return and_(
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.failed_at.is_(None),
        OutboxMessage.not_before <= now,
        or_(OutboxMessage.claimed_at.is_(None), OutboxMessage.claimed_at < now - lease),
    )


async def claim_due(
    session: AsyncSession, *, now: datetime, lease: timedelta, limit: int = 50
) -> Sequence[OutboxMessage]:
    """Claim up to ``limit`` due messages for this process (oldest first); commit to make the claim stick."""
    due = (
        select(OutboxMessage.id)
        .where(_deliverable(now, lease))
        .order_by(OutboxMessage.not_before, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claim = (
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(due.scalar_subquery()), _deliverable(now, lease))
        .values(claimed_at=now, attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    ids = list((await session.scalars(claim)).all())
    if not ids:
        return []
    rows = await session.scalars(
        select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.not_before, OutboxMessage.id)
    )
    return list(rows.all())


async def mark_sent(session: AsyncSession, message_id: int, *, at: datetime) -> None:
    """The message reached its recipient; a reminder marks its task as reminded too."""
    row = await session.get(OutboxMessage, message_id)
    if row is None:
        return
    row.sent_at = at
    row.error = None
    if row.task_id is not None and row.kind == "reminder":
        task = await session.get(Task, row.task_id)
        if task is not None and task.notified_at is None:
            task.notified_at = at


async def mark_failed(session: AsyncSession, message_id: int, *, at: datetime, error: str) -> None:
    """Give up on a message: ``error`` says why (no Telegram id, blocked, too many attempts)."""
    await session.execute(
        update(OutboxMessage).where(OutboxMessage.id == message_id).values(failed_at=at, error=error[:2000])
    )


async def release(
    session: AsyncSession, message_id: int, *, retry_at: datetime, error: str | None = None, uncount: bool = False
) -> None:
    """Hand a claimed message back, to be tried again at ``retry_at`` (by any process); ``uncount``: the
    claim was no attempt (held for the contact window)."""
    values: dict[str, object] = {"claimed_at": None, "not_before": retry_at, "error": error[:2000] if error else None}
    if uncount:
        values["attempts"] = OutboxMessage.attempts - 1
    await session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(values))


async def renew(session: AsyncSession, message_ids: Sequence[int], *, at: datetime) -> None:
    """Extend this process's claims on rows it is still sending (a heartbeat: a killed process stops renewing)."""
    if not message_ids:
        return
    await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(list(message_ids)),
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.failed_at.is_(None),
            OutboxMessage.claimed_at.is_not(None),
        )
        .values(claimed_at=at)
    )


async def staff_to_alert(session: AsyncSession, team: str | None) -> Sequence[User]:
    """Active supervisors of ``team`` and every active admin (alerted with or without a Telegram id)."""
    query = select(User).where(User.active.is_(True))
    query = query.where(or_(User.role == "admin", (User.role == "supervisor") & (User.team == team)))
    return (await session.scalars(query.order_by(User.id))).all()


@dataclass(frozen=True)
class AlertDelivery:
    """One risk alert of a visit: to whom, and when it was sent (or why it failed)."""

    recipient: str
    role: str
    user_id: int | None
    created_at: datetime
    sent_at: datetime | None
    failed_at: datetime | None
    error: str | None

    @property
    def status(self) -> str:
        """sent, failed or pending."""
        return "sent" if self.sent_at else "failed" if self.failed_at else "pending"


async def alerts_of_visit(session: AsyncSession, visit_id: int) -> list[AlertDelivery]:
    """The risk alerts written for a visit, oldest first, with their recipients."""
    rows = await session.execute(
        select(OutboxMessage, User)
        .outerjoin(User, User.id == OutboxMessage.user_id)
        .where(OutboxMessage.visit_id == visit_id, OutboxMessage.kind == "alert")
        .order_by(OutboxMessage.id)
    )
    return [
        AlertDelivery(
            recipient=user.name if user is not None else str(row.chat_id or "-"),
            role=user.role if user is not None else "-",
            user_id=row.user_id,
            created_at=row.created_at,
            sent_at=row.sent_at,
            failed_at=row.failed_at,
            error=row.error,
        )
        for row, user in rows.all()
    ]


async def pending_for_visit(session: AsyncSession, visit_id: int) -> Sequence[OutboxMessage]:
    """Messages about a visit not sent and not given up yet."""
    query = select(OutboxMessage).where(
        OutboxMessage.visit_id == visit_id, OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None)
    )
    return (await session.scalars(query.order_by(OutboxMessage.id))).all()
