"""Borrowers' self-service: one-time invite links, consent records, opt-outs and officers' tasks."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Borrower, Consent, Invite, Task, Visit, utcnow

__all__ = [
    "InviteCheck",
    "add_task",
    "create_invite",
    "hash_token",
    "invite_of_token",
    "invite_reopens",
    "open_tasks",
    "record_consent",
    "redeem_invite",
    "redeem_invite_id",
]


def hash_token(token: str) -> str:
    """The stored form of an invite token (SHA-256, hex)."""
    return hashlib.sha256(token.encode()).hexdigest()


async def create_invite(
    session: AsyncSession,
    borrower: Borrower,
    *,
    script_id: str,
    created_by: int | None,
    valid_for: timedelta = timedelta(days=7),
    now: datetime | None = None,
) -> str:
    """Make a one-time token for a borrower's self-service check-in; only its hash is kept."""
    token = secrets.token_urlsafe(18)
    session.add(
        Invite(
            token_hash=hash_token(token),
            borrower_id=borrower.id,
            script_id=script_id,
            created_by=created_by,
            expires_at=(now or utcnow()) + valid_for,
        )
    )
    await session.flush()
    return token


@dataclass(frozen=True)
class InviteCheck:
    """The result of opening an invite: the invite, or why it was refused."""

    invite: Invite | None
    problem: str | None = None


async def redeem_invite(
    session: AsyncSession, token: str, *, telegram_id: int, now: datetime | None = None
) -> InviteCheck:
    """Use an invite once: links the borrower to this Telegram user. Refuses unknown, used, expired."""
    invite = await session.scalar(
        select(Invite).where(Invite.token_hash == hash_token(token)).with_for_update(of=Invite)
    )
    return await _use(session, invite, telegram_id=telegram_id, now=now or utcnow())


async def redeem_invite_id(
    session: AsyncSession, invite_id: int, *, telegram_id: int, now: datetime | None = None
) -> InviteCheck:
    """Use an invite named by its id (a button the bot sent the borrower) once, as :func:`redeem_invite`."""
    invite = await session.scalar(select(Invite).where(Invite.id == invite_id).with_for_update(of=Invite))
    return await _use(session, invite, telegram_id=telegram_id, now=now or utcnow())


async def invite_of_token(session: AsyncSession, token: str) -> Invite | None:
    """The invite a token opens (read only)."""
    return await session.scalar(select(Invite).where(Invite.token_hash == hash_token(token)))


async def _use(session: AsyncSession, invite: Invite | None, *, telegram_id: int, now: datetime) -> InviteCheck:
    """The checks and the linking of both ways to redeem: unknown, used, expired, else used now."""
    if invite is None:
        return InviteCheck(None, "unknown")
    if invite.used_at is not None:
        return InviteCheck(invite, "used")
    if invite.expires_at <= now:
        return InviteCheck(invite, "expired")
    other = await session.scalar(select(Borrower).where(Borrower.telegram_id == telegram_id))
    if other is not None and other.id != invite.borrower_id:
        other.telegram_id = None
    invite.used_at = now
    invite.used_by_telegram_id = telegram_id
    invite.borrower.telegram_id = telegram_id
    await session.flush()
    return InviteCheck(invite)


async def invite_reopens(session: AsyncSession, invite: Invite, *, telegram_id: int) -> bool:
    """True when a used invite may take its user back to their check-in: they used it themself, and
    the check-in it started has not ended (or never got going, e.g. the bot died right after)."""
    if invite.used_at is None or invite.used_by_telegram_id != telegram_id:
        return False
    ended = await session.scalar(
        select(Visit.id)
        .where(
            Visit.borrower_id == invite.borrower_id,
            Visit.script_id == invite.script_id,
            Visit.status != "open",
            Visit.started_at >= invite.used_at,
        )
        .limit(1)
    )
    return ended is None


async def record_consent(
    session: AsyncSession, borrower_id: int, *, granted: bool, channel: str, visit_id: int | None
) -> None:
    """Keep a consent or refusal with its time and channel."""
    session.add(Consent(borrower_id=borrower_id, visit_id=visit_id, granted=granted, channel=channel))
    await session.flush()


async def add_task(
    session: AsyncSession,
    *,
    kind: str,
    borrower_id: int,
    officer_id: int | None,
    visit_id: int | None,
    note: str,
    due_at: datetime | None = None,
) -> Task:
    """Give an officer something to do (a call-back, a reply to a review)."""
    task = Task(kind=kind, borrower_id=borrower_id, officer_id=officer_id, visit_id=visit_id, note=note, due_at=due_at)
    session.add(task)
    await session.flush()
    return task


async def open_tasks(session: AsyncSession, *, officer_id: int | None = None) -> Sequence[Task]:
    """Tasks not done yet, soonest first."""
    query = select(Task).where(Task.done_at.is_(None))
    if officer_id is not None:
        query = query.where(Task.officer_id == officer_id)
    return (await session.scalars(query.order_by(Task.due_at.is_(None), Task.due_at, Task.id))).unique().all()
