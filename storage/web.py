"""Queries of the web desk: one-time login links, browser sessions, the review queue page, a visit's file.

Every function takes a session and leaves the commit to the caller. Tokens and session keys arrive
here already hashed: the raw values never reach the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, literal, or_, select, tuple_, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.flags import open_flags_of_kind
from storage.models import Attachment, RiskFlag, User, Visit, WebLogin, WebSession, visit_status_is
from storage.repositories import VisitFilter, visit_conditions

__all__ = [
    "REVIEW_VIEWS",
    "QueueCursor",
    "add_login",
    "add_session",
    "end_session",
    "live_session",
    "purge_web",
    "rank_for_review",
    "rank_of",
    "rank_parts",
    "review_page",
    "review_rank",
    "take_login",
    "visit_attachment",
]

REVIEW_VIEWS: dict[str, tuple[str, ...] | None] = {
    "pending": ("pending", "answered"),  # waiting for a reviewer: not reviewed yet, or answered by the officer
    "returned": ("returned",),
    "answered": ("answered",),
    "approved": ("approved",),
    "all": None,
}
"""The queue's review views: which ``Visit.review_status`` values each shows (a NULL status is pending)."""

_SEVERITY = {3: "high", 2: "medium", 1: "low"}


# -- login links and sessions ------------------------------------------------------------------
async def add_login(
    session: AsyncSession, user_id: int, token_hash: str, *, now: datetime, expires_at: datetime
) -> None:
    """Keep a login link's hash until it expires."""
    session.add(WebLogin(token_hash=token_hash, user_id=user_id, created_at=now, expires_at=expires_at))
    await session.flush()


async def take_login(session: AsyncSession, token_hash: str, *, now: datetime) -> tuple[WebLogin | None, User | None]:
    """Use a login link once: marks it used when it is unused and unexpired (the row is locked first).

    Returns the link (None when unknown) and its user when the link was good and the user is active."""
    query = select(WebLogin).where(WebLogin.token_hash == token_hash).with_for_update()
    login = await session.scalar(query.execution_options(populate_existing=True))
    if login is None or login.used_at is not None or login.expires_at <= now:
        return login, None
    login.used_at = now
    user = await session.get(User, login.user_id)
    await session.flush()
    return login, user if user is not None and user.active else None


async def add_session(
    session: AsyncSession, user_id: int, key_hash: str, *, now: datetime, expires_at: datetime
) -> None:
    """Keep a browser session's hash until it expires."""
    session.add(WebSession(key_hash=key_hash, user_id=user_id, created_at=now, expires_at=expires_at))
    await session.flush()


async def live_session(session: AsyncSession, key_hash: str, *, now: datetime) -> tuple[WebSession, User] | None:
    """The unexpired, not-ended session with this key hash and its active user; None otherwise."""
    query = (
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(
            WebSession.key_hash == key_hash,
            WebSession.expires_at > now,
            WebSession.ended_at.is_(None),
            User.active.is_(True),
        )
    )
    row = (await session.execute(query)).first()
    return (row[0], row[1]) if row is not None else None


async def end_session(session: AsyncSession, key_hash: str, *, now: datetime) -> None:
    """Sign a session out."""
    await session.execute(update(WebSession).where(WebSession.key_hash == key_hash).values(ended_at=now))


async def purge_web(session: AsyncSession, *, before: datetime) -> None:
    """Forget login links and sessions that expired before ``before``."""
    await session.execute(delete(WebLogin).where(WebLogin.expires_at < before))
    await session.execute(delete(WebSession).where(WebSession.expires_at < before))


# -- the review queue --------------------------------------------------------------------------
RANKS = {"high": 3, "medium": 2, "low": 1}
RISK_BOUNDS = {"high": 1000, "medium": 2000, "low": 3000}
"""A visit whose worst live flag is that severity or worse has a review rank below this."""


def review_rank(worst: str | None, high_flags: int) -> int:
    """A finished visit's place in the review queue (lower first): worst live severity, then more high flags."""
    return (3 - RANKS.get(worst or "", 0)) * 1000 + (999 - min(max(high_flags, 0), 999))


def rank_parts(rank: int | None) -> tuple[str | None, int]:
    """The worst live severity and the number of live high flags a review rank was made from."""
    if rank is None:
        return None, 0
    worst = {3: "high", 2: "medium", 1: "low"}.get(3 - rank // 1000)
    return worst, 999 - rank % 1000


def rank_of(severities: Iterable[str]) -> int:
    """The review rank made from the severities of a visit's live, unexplained flags (as
    :func:`rank_for_review` reads them), for a caller that holds those flags already."""
    worst, high = 0, 0
    for severity in severities:
        worst = max(worst, RANKS.get(severity, 0))
        high += severity == "high"
    return review_rank(_SEVERITY.get(worst), high)


async def rank_for_review(session: AsyncSession, visit_id: int) -> int:
    """The review rank of a visit from its live flags now: set on ``Visit.review_rank`` when it finishes and
    again whenever its flags change (a correction, a flag explained, a broken promise). Explained flags
    no longer count."""
    live = (RiskFlag.visit_id == visit_id, RiskFlag.cleared_at.is_(None), RiskFlag.explained_at.is_(None))
    return rank_of((await session.scalars(select(RiskFlag.severity).where(*live))).all())


@dataclass(frozen=True)
class QueueCursor:
    """Where a queue page ends: the last row's sort key (review rank, finished, id)."""

    rank: int
    finished_at: datetime
    visit_id: int


async def review_page(
    session: AsyncSession,
    flt: VisitFilter,
    *,
    view: str = "pending",
    script_id: str | None = None,
    after: QueueCursor | None = None,
    limit: int = 50,
    open_kind: str | None = None,
) -> tuple[list[tuple[Visit, str | None, int]], QueueCursor | None]:
    """One page of finished visits matching ``flt``, highest live risk first, then the longest waiting.

    Keyset pagination over ``ix_visits_review_queue`` (status, review_rank, finished_at, id): ``after`` is
    the previous page's cursor; the cursor of this page comes back when there is a next page (one row
    more is read to know). Each row: the visit, its worst live flag's severity, its live high flags.
    ``open_kind``: only visits with a live flag of that kind nobody explained (``quality``: 形式化)."""
    officers: list[int | None] = [None]  # None: every officer's visits (the index on status, review_rank, …)
    if flt.officer_id is not None:
        officers = [flt.officer_id]
    elif flt.team is not None:  # a supervisor's queue: each team officer's index, merged
        officers = list((await session.scalars(select(User.id).where(User.team == flt.team))).all())
        if not officers:
            return [], None
        flt = replace(flt, team=None)
    bound = RISK_BOUNDS.get(flt.risk or "")
    if bound is not None:  # that severity or worse: a range of the rank (flags no longer change once finished)
        flt = replace(flt, risk=None)
    flt = replace(flt, officer_id=None)
    conditions: list[Any] = [visit_status_is("finished"), *visit_conditions(flt)]
    if bound is not None:
        conditions.append(Visit.review_rank < bound)
    states = REVIEW_VIEWS[view]
    if states is not None:
        allowed: Any = Visit.review_status.in_(list(states))
        conditions.append(or_(allowed, Visit.review_status.is_(None)) if "pending" in states else allowed)
    if script_id:
        conditions.append(Visit.script_id == script_id)
    if open_kind is not None:
        conditions.append(open_flags_of_kind(open_kind))
    order = (Visit.review_rank, Visit.finished_at, Visit.id)

    def where_of(officer: int | None) -> list[Any]:
        """The conditions of one officer's visits (everyone's: None), keyset by row comparison."""
        where = list(conditions)
        if officer is not None:
            where.append(Visit.officer_id == officer)
        if after is not None:  # the row compared is the index's own, so only that index serves it
            mine: list[Any] = [Visit.review_rank, Visit.finished_at, Visit.id]
            theirs: list[Any] = [literal(after.rank), literal(after.finished_at, Visit.finished_at.type),
                                 literal(after.visit_id)]  # fmt: skip
            if officer is not None:
                mine, theirs = [Visit.officer_id, Visit.status, *mine], [literal(officer), literal("finished"), *theirs]
            where.append(tuple_(*mine) > tuple_(*theirs))
        return where

    if officers == [None]:
        query = select(Visit).where(*where_of(None)).order_by(*order).limit(limit + 1)
    else:  # each officer's first page-full from ix_visits_officer_queue, then the page of them all
        firsts = [
            select(select(Visit.id).where(*where_of(officer)).order_by(*order).limit(limit + 1).subquery())
            for officer in officers
        ]
        picked = union_all(*firsts).subquery() if len(firsts) > 1 else firsts[0].subquery()
        query = select(Visit).where(Visit.id.in_(select(picked.c.id))).order_by(*order).limit(limit + 1)
    visits = list((await session.scalars(query)).unique().all())
    cursor = None
    if len(visits) > limit:
        visits = visits[:limit]
        last = visits[-1]
        assert last.finished_at is not None
        cursor = QueueCursor(last.review_rank or 0, last.finished_at, last.id)
    return [(visit, *rank_parts(visit.review_rank)) for visit in visits], cursor


async def visit_attachment(session: AsyncSession, visit_id: int, attachment_id: int) -> Attachment | None:
    """A file kept with this visit (None when the id is another visit's or unknown)."""
    query = select(Attachment).where(Attachment.id == attachment_id, Attachment.visit_id == visit_id)
    return await session.scalar(query)
