"""Review queries: the review queue, a visit's review history, who reviews a visit, a chat's comment mode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, ChatSession, RiskFlag, User, Visit, visit_status_is

__all__ = ["lock_chat", "review_history", "review_queue", "reviewers_of", "set_chat_mode"]

WAITING = ("pending", "answered")
"""Review states a supervisor has to act on."""

_RANK = case((RiskFlag.severity == "high", 3), (RiskFlag.severity == "medium", 2), (RiskFlag.severity == "low", 1))
_SEVERITY = {3: "high", 2: "medium", 1: "low"}


async def review_queue(
    session: AsyncSession, *, team: str | None = None, officer_id: int | None = None, limit: int = 20
) -> list[tuple[Visit, str | None, int]]:
    """Finished visits waiting for review, highest live risk first (then the longest waiting):
    each with its worst live flag's severity and its number of live high flags, in one query."""
    live = (RiskFlag.visit_id == Visit.id, RiskFlag.cleared_at.is_(None))
    worst = select(func.max(_RANK)).where(*live).correlate(Visit).scalar_subquery()
    high = select(func.count(RiskFlag.id)).where(*live, RiskFlag.severity == "high").correlate(Visit).scalar_subquery()
    rank = func.coalesce(worst, 0)
    query = (
        select(Visit, rank.label("rank"), high.label("high"))
        .where(visit_status_is("finished"), or_(Visit.review_status.in_(WAITING), Visit.review_status.is_(None)))
        .order_by(rank.desc(), high.desc(), Visit.finished_at, Visit.id)
        .limit(limit)
    )
    conditions: list[Any] = []
    if team is not None:
        conditions.append(Visit.officer.has(User.team == team))
    if officer_id is not None:
        conditions.append(Visit.officer_id == officer_id)
    rows = (await session.execute(query.where(*conditions))).unique().all()
    return [(visit, _SEVERITY.get(int(r or 0)), int(h or 0)) for visit, r, h in rows]


async def review_history(
    session: AsyncSession, visit_id: int, actions: Sequence[str]
) -> list[tuple[AuditEntry, str | None]]:
    """A visit's audit entries of these actions, oldest first, each with the name of who acted."""
    query = (
        select(AuditEntry, User.name)
        .outerjoin(User, User.id == AuditEntry.user_id)
        .where(AuditEntry.visit_id == visit_id, AuditEntry.action.in_(list(actions)))
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    return [(entry, name) for entry, name in (await session.execute(query)).all()]


async def reviewers_of(session: AsyncSession, visit: Visit) -> list[User]:
    """Who reviews the visit: the active supervisors of its officer's team, and admins."""
    team = visit.officer.team if visit.officer else None
    query = select(User).where(User.active.is_(True))
    query = query.where(or_(User.role == "admin", (User.role == "supervisor") & (User.team == team)))
    return list((await session.scalars(query.order_by(User.id))).all())


async def lock_chat(session: AsyncSession, chat_id: int) -> ChatSession | None:
    """The chat's session row, locked (PostgreSQL) so two updates of a chat change its mode one after the other."""
    query = select(ChatSession).where(ChatSession.chat_id == chat_id).with_for_update()
    return await session.scalar(query.execution_options(populate_existing=True))


async def set_chat_mode(
    session: AsyncSession, chat_id: int, *, mode: str, visit_id: int | None, message_id: int | None
) -> None:
    """Store a chat's mode (``idle`` is stored as NULL); the visit the chat is on is left as it is."""
    row = await session.get(ChatSession, chat_id)
    if row is None:
        row = ChatSession(chat_id=chat_id)
        session.add(row)
    row.mode = None if mode == "idle" else mode
    row.mode_visit_id = visit_id if row.mode else None
    row.mode_message_id = message_id if row.mode else None
    await session.flush()
