"""Queries of hardship requests (展期 / 分期, ``relief_requests``): add, lock one, list what a viewer may see.

Who may see a request is its officer's team (the visit's officer; the borrower's when the request has
none): :func:`visible_requests` takes the team or officer to keep, as :mod:`bot.desk.relief` decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import Borrower, ChatSession, ReliefRequest, User

__all__ = [
    "ReliefRow",
    "add_request",
    "lock_request",
    "officer_of",
    "requests_of_visit",
    "set_reason_mode",
    "visible_requests",
]


class ReliefRow(NamedTuple):
    """A request with the names around it: its officer (and their team) and who decided it."""

    request: ReliefRequest
    officer_name: str | None
    team: str | None
    decided_by_name: str | None


async def add_request(
    session: AsyncSession,
    *,
    borrower_id: int,
    loan_id: int | None,
    visit_id: int | None,
    officer_id: int | None,
    kind: str,
    terms: str | None,
    now: datetime,
) -> ReliefRequest:
    """A pending request (flushed, so it has an id)."""
    row = ReliefRequest(
        borrower_id=borrower_id, loan_id=loan_id, visit_id=visit_id, officer_id=officer_id, kind=kind,
        terms=terms, requested_at=now, status="pending",
    )  # fmt: skip
    session.add(row)
    await session.flush()
    return row


async def lock_request(session: AsyncSession, request_id: int) -> ReliefRequest | None:
    """One request, its row locked (PostgreSQL) so two decisions on it queue up; read afresh."""
    query = (
        select(ReliefRequest)
        .where(ReliefRequest.id == request_id)
        .with_for_update(of=ReliefRequest)
        .execution_options(populate_existing=True)
    )
    return await session.scalar(query)


async def officer_of(session: AsyncSession, request: ReliefRequest) -> User | None:
    """The officer a request belongs to: the visit's, else the borrower's."""
    officer_id = request.officer_id if request.officer_id is not None else request.borrower.officer_id
    return await session.get(User, officer_id) if officer_id is not None else None


def _rows(team: str | None, officer_id: int | None) -> Any:
    officer = aliased(User)
    decider = aliased(User)
    whose = func.coalesce(ReliefRequest.officer_id, Borrower.officer_id)
    query = (
        select(ReliefRequest, officer.name, officer.team, decider.name)
        .join(Borrower, Borrower.id == ReliefRequest.borrower_id)
        .outerjoin(officer, officer.id == whose)
        .outerjoin(decider, decider.id == ReliefRequest.decided_by)
    )
    if team is not None:
        query = query.where(officer.team == team)
    if officer_id is not None:
        query = query.where(whose == officer_id)
    return query


async def visible_requests(
    session: AsyncSession,
    *,
    team: str | None,
    officer_id: int | None,
    status: str | None = None,
    limit: int = 200,
) -> list[ReliefRow]:
    """Requests of ``team``'s officers (or of one officer; everyone's with neither): pending first (oldest
    first, the longest waiting on top), then decided ones (latest decision first)."""
    query = _rows(team, officer_id)
    conditions: list[ColumnElement[bool]] = []
    if status is not None:
        conditions.append(ReliefRequest.status == status)
    pending_first = case((ReliefRequest.status == "pending", 0), else_=1)
    order = (pending_first, case((ReliefRequest.status == "pending", ReliefRequest.requested_at), else_=None))
    query = (
        query.where(*conditions).order_by(*order, ReliefRequest.decided_at.desc(), ReliefRequest.id.desc()).limit(limit)
    )
    return [ReliefRow(r[0], r[1], r[2], r[3]) for r in (await session.execute(query)).all()]


async def requests_of_visit(session: AsyncSession, visit_id: int) -> Sequence[ReliefRow]:
    """The requests made in one visit (one, usually), oldest first."""
    query = _rows(None, None).where(ReliefRequest.visit_id == visit_id).order_by(ReliefRequest.id)
    return [ReliefRow(r[0], r[1], r[2], r[3]) for r in (await session.execute(query)).all()]


async def set_reason_mode(
    session: AsyncSession, chat_id: int, *, mode: str | None, request_id: int | None, message_id: int | None
) -> None:
    """Store a chat's relief mode (None: idle) and the request it is about; the chat's visit is left as it is."""
    row = await session.get(ChatSession, chat_id)
    if row is None:
        row = ChatSession(chat_id=chat_id)
        session.add(row)
    row.mode = mode
    row.mode_visit_id = None
    row.mode_ref = request_id if mode else None
    row.mode_message_id = message_id if mode else None
    await session.flush()
