"""Queries of the rules of contact: calls counted against the caps, disputes, refused contacts."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import Borrower, ContactRefusal, Dispute, User, Visit

__all__ = [
    "RefusalRow",
    "add_dispute",
    "add_refusal",
    "counted_calls",
    "list_disputes",
    "list_refusals",
    "open_dispute",
    "resolve_disputes",
]


async def counted_calls(
    session: AsyncSession,
    borrower_id: int,
    *,
    since: datetime,
    channels: Collection[str],
    attempt_scripts: Collection[str],
    but: int | None = None,
) -> list[datetime]:
    """When the borrower's calls that count against the caps started, since ``since`` (oldest first).

    A call counts when it was made on one of ``channels`` and was connected: still open, or ended
    with any outcome but ``unreachable``. Visits of ``attempt_scripts`` (overdue reminders) count
    even when the borrower could not be reached. Visit ``but`` (the one being started) is left out.
    """
    query = (
        select(Visit.started_at)
        .where(
            Visit.borrower_id == borrower_id,
            Visit.started_at >= since,
            Visit.channel.in_(list(channels)),
            or_(
                Visit.outcome.is_(None),
                Visit.outcome != "unreachable",
                Visit.script_id.in_(list(attempt_scripts)),
            ),
        )
        .order_by(Visit.started_at)
    )
    if but is not None:
        query = query.where(Visit.id != but)
    return list((await session.scalars(query)).all())


async def open_dispute(session: AsyncSession, borrower_id: int) -> Dispute | None:
    """The borrower's oldest dispute not resolved yet, if any."""
    query = (
        select(Dispute)
        .where(Dispute.borrower_id == borrower_id, Dispute.resolved_at.is_(None))
        .order_by(Dispute.raised_at, Dispute.id)
        .limit(1)
    )
    return (await session.scalars(query)).first()


async def add_dispute(
    session: AsyncSession, *, borrower_id: int, loan_id: int | None, visit_id: int | None, note: str, at: datetime
) -> Dispute:
    """Keep a borrower's dispute (their words in ``note``) in the caller's transaction."""
    dispute = Dispute(borrower_id=borrower_id, loan_id=loan_id, visit_id=visit_id, note=note, raised_at=at)
    session.add(dispute)
    await session.flush()
    return dispute


async def list_disputes(
    session: AsyncSession, *, borrower_id: int | None = None, team: str | None = None, include_resolved: bool = False
) -> Sequence[Dispute]:
    """Disputes, newest first: open ones only unless ``include_resolved``; ``team`` limits to a team's borrowers."""
    query = select(Dispute).join(Borrower, Dispute.borrower_id == Borrower.id)
    if borrower_id is not None:
        query = query.where(Dispute.borrower_id == borrower_id)
    if not include_resolved:
        query = query.where(Dispute.resolved_at.is_(None))
    if team is not None:
        officer = aliased(User)
        query = query.join(officer, Borrower.officer_id == officer.id).where(officer.team == team)
    return (await session.scalars(query.order_by(Dispute.raised_at.desc(), Dispute.id.desc()))).unique().all()


async def resolve_disputes(
    session: AsyncSession, borrower_id: int, *, by: int | None, resolution: str, at: datetime
) -> list[Dispute]:
    """Mark every open dispute of the borrower resolved (who, when, why); returns those changed."""
    query = select(Dispute).where(Dispute.borrower_id == borrower_id, Dispute.resolved_at.is_(None))
    changed = list((await session.scalars(query.with_for_update(of=Dispute))).unique().all())
    for dispute in changed:
        dispute.resolved_at = at
        dispute.resolved_by = by
        dispute.resolution = resolution
    await session.flush()
    return changed


async def add_refusal(
    session: AsyncSession,
    *,
    borrower_id: int,
    user_id: int | None,
    channel: str,
    rule: str,
    script_id: str | None,
    next_allowed_at: datetime | None,
    at: datetime,
    detail: dict[str, Any],
) -> ContactRefusal:
    """Keep a refused contact in the caller's transaction."""
    row = ContactRefusal(
        at=at,
        borrower_id=borrower_id,
        user_id=user_id,
        channel=channel,
        rule=rule,
        script_id=script_id,
        next_allowed_at=next_allowed_at,
        detail=detail,
    )
    session.add(row)
    await session.flush()
    return row


@dataclass(frozen=True)
class RefusalRow:
    """A refused contact with the names people read: the borrower and who tried."""

    refusal: ContactRefusal
    borrower_code: str
    borrower_name: str
    borrower_zone: str
    user_name: str | None


async def list_refusals(
    session: AsyncSession,
    *,
    borrower_id: int | None = None,
    team: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
) -> list[RefusalRow]:
    """Refused contacts, newest first; ``team`` limits to the borrowers of that team's officers."""
    who = aliased(User)
    query = (
        select(ContactRefusal, Borrower.code, Borrower.name, Borrower.timezone, who.name)
        .join(Borrower, ContactRefusal.borrower_id == Borrower.id)
        .outerjoin(who, ContactRefusal.user_id == who.id)
    )
    if borrower_id is not None:
        query = query.where(ContactRefusal.borrower_id == borrower_id)
    if since is not None:
        query = query.where(ContactRefusal.at >= since)
    if team is not None:
        officer = aliased(User)
        query = query.join(officer, Borrower.officer_id == officer.id).where(officer.team == team)
    query = query.order_by(ContactRefusal.at.desc(), ContactRefusal.id.desc()).limit(limit)
    return [RefusalRow(*row) for row in (await session.execute(query)).all()]
