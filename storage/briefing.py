"""Queries of the monthly briefing (回访工作简报) and the overview: set-based, one query per figure.

Every function takes a :class:`Scope` (a team, one officer, or the institution) and the month's bounds;
none runs a query per visit or per borrower.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import (
    Answer,
    AuditEntry,
    Borrower,
    Dispute,
    Loan,
    ReliefRequest,
    RiskFlag,
    User,
    Visit,
    WatchFlag,
)

__all__ = [
    "REVIEW_ACTIONS",
    "Scope",
    "VisitRow",
    "compared_answers",
    "disputes",
    "flag_rows",
    "last_two_completed",
    "month_visits",
    "opted_out",
    "overdue_loans",
    "relief_requests",
    "review_events",
    "staff_names",
    "watch_flags",
]

REVIEW_ACTIONS = ("review_returned", "review_approved", "review_replied")
"""The audit actions of the review workflow (bot.desk.review writes them)."""
OPEN_LOAN = ("active", "overdue")


class Scope(NamedTuple):
    """Whose records: ``team`` (officers of that team), ``officer_id`` (one officer), neither (everyone)."""

    team: str | None = None
    officer_id: int | None = None


class VisitRow(NamedTuple):
    """A visit that ended in the month, with its borrower and officer."""

    id: int
    borrower_id: int
    borrower_code: str
    borrower_name: str
    officer_id: int | None
    script_id: str
    outcome: str
    finished_at: datetime
    review_status: str | None


def _officer_in(column: Any, scope: Scope) -> list[ColumnElement[bool]]:
    """The conditions that keep rows whose officer (``column``) is in scope."""
    if scope.officer_id is not None:
        return [column == scope.officer_id]
    if scope.team is not None:
        return [column.in_(select(User.id).where(User.team == scope.team))]
    return []


def _within(column: Any, since: datetime, until: datetime) -> list[ColumnElement[bool]]:
    """The conditions that keep rows whose ``column`` falls in [since, until)."""
    return [column >= since, column < until]


async def staff_names(session: AsyncSession) -> dict[int, tuple[str, str | None, str]]:
    """Every staff member: id -> (name, team, role)."""
    rows = (await session.execute(select(User.id, User.name, User.team, User.role))).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


async def month_visits(session: AsyncSession, scope: Scope, since: datetime, until: datetime) -> list[VisitRow]:
    """The visits in scope that ended in [since, until), oldest first."""
    query = (
        select(
            Visit.id,
            Visit.borrower_id,
            Borrower.code,
            Borrower.name,
            Visit.officer_id,
            Visit.script_id,
            Visit.outcome,
            Visit.finished_at,
            Visit.review_status,
        )
        .join(Borrower, Borrower.id == Visit.borrower_id)
        .where(Visit.outcome.is_not(None), *_officer_in(Visit.officer_id, scope))
        .order_by(Visit.finished_at, Visit.id)
    )
    rows = (await session.execute(query.where(*_within(Visit.finished_at, since, until)))).all()
    return [VisitRow(r[0], r[1], r[2], r[3], r[4], r[5], str(r[6]), r[7], r[8]) for r in rows if r[7] is not None]


async def flag_rows(
    session: AsyncSession, scope: Scope, since: datetime, until: datetime
) -> list[tuple[int, int, str, str, str | None, str]]:
    """(visit, borrower, flag code, severity, step, note) of the live flags of the visits that ended in the month."""
    query = (
        select(RiskFlag.visit_id, Visit.borrower_id, RiskFlag.code, RiskFlag.severity, RiskFlag.step_id, RiskFlag.note)
        .join(Visit, Visit.id == RiskFlag.visit_id)
        .where(RiskFlag.cleared_at.is_(None), Visit.outcome.is_not(None), *_officer_in(Visit.officer_id, scope))
        .order_by(RiskFlag.visit_id, RiskFlag.id)
    )
    rows = (await session.execute(query.where(*_within(Visit.finished_at, since, until)))).all()
    return [(r[0], r[1], r[2], r[3], r[4], r[5] or "") for r in rows]


def _last_two(scope: Scope, since: datetime, until: datetime) -> Any:
    """A subquery of the last two completed visits before ``until`` (``rank`` 1 and 2) of every borrower with a
    completed visit in scope in the month."""
    in_month = (
        select(Visit.borrower_id)
        .where(Visit.outcome == "completed", *_within(Visit.finished_at, since, until))
        .where(*_officer_in(Visit.officer_id, scope))
        .distinct()
    )
    rank = (
        func.row_number()
        .over(partition_by=Visit.borrower_id, order_by=(Visit.finished_at.desc(), Visit.id.desc()))
        .label("rank")
    )
    ranked = (
        select(Visit.id, Visit.borrower_id, Visit.officer_id, Visit.finished_at, rank)
        .where(Visit.outcome == "completed", Visit.finished_at < until, Visit.borrower_id.in_(in_month))
        .subquery()
    )
    return select(ranked).where(ranked.c.rank <= 2).subquery()


async def last_two_completed(
    session: AsyncSession, scope: Scope, since: datetime, until: datetime
) -> list[tuple[int, int, int, datetime, str, str, int | None]]:
    """(visit, borrower, rank, finished at, borrower code, name, officer) of the last two completed visits before
    ``until`` of every borrower with a completed visit in scope in the month (rank 1: the last one)."""
    last = _last_two(scope, since, until)
    query = select(
        last.c.id, last.c.borrower_id, last.c.rank, last.c.finished_at, Borrower.code, Borrower.name,
        last.c.officer_id,
    ).join(Borrower, Borrower.id == last.c.borrower_id)  # fmt: skip
    return [(r[0], r[1], int(r[2]), r[3], r[4], r[5], r[6]) for r in (await session.execute(query)).all()]


async def compared_answers(
    session: AsyncSession, scope: Scope, since: datetime, until: datetime, steps: Collection[str]
) -> dict[tuple[int, str], tuple[Any, str]]:
    """(visit, step) -> (parsed value, text shown) of the live, not skipped answers to ``steps`` of the visits
    :func:`last_two_completed` gives (the latest answer of a step), in one query."""
    last = _last_two(scope, since, until)
    query = (
        select(Answer.visit_id, Answer.step_id, Answer.value, Answer.display, Answer.raw)
        .join(last, last.c.id == Answer.visit_id)
        .where(Answer.step_id.in_(sorted(steps)), Answer.undone_at.is_(None), Answer.skipped.is_(False))
        .order_by(Answer.id)
    )
    found: dict[tuple[int, str], tuple[Any, str]] = {}
    for visit_id, step_id, value, display, raw in (await session.execute(query)).all():
        found[(visit_id, step_id)] = (value, display or raw)
    return found


async def review_events(
    session: AsyncSession, scope: Scope, since: datetime, until: datetime
) -> list[tuple[str, datetime, int, str, str, int | None, str | None, str]]:
    """(action, at, visit, borrower code, borrower name, visit's officer, reviewer's name, comment) of the month."""
    reviewer = aliased(User)
    query = (
        select(
            AuditEntry.action,
            AuditEntry.at,
            Visit.id,
            Borrower.code,
            Borrower.name,
            Visit.officer_id,
            reviewer.name,
            AuditEntry.detail,
        )
        .join(Visit, Visit.id == AuditEntry.visit_id)
        .join(Borrower, Borrower.id == Visit.borrower_id)
        .outerjoin(reviewer, reviewer.id == AuditEntry.user_id)
        .where(AuditEntry.action.in_(REVIEW_ACTIONS), *_officer_in(Visit.officer_id, scope))
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    rows = (await session.execute(query.where(*_within(AuditEntry.at, since, until)))).all()
    return [(r[0], r[1], r[2], r[3], r[4], r[5], r[6], str((r[7] or {}).get("text", ""))) for r in rows]


async def relief_requests(
    session: AsyncSession, scope: Scope, since: datetime, until: datetime
) -> list[tuple[datetime, int | None, str, str, int | None, str, str | None, str, datetime | None, str | None, str]]:
    """Hardship requests made or decided in the month: (asked at, visit, borrower code, name, officer, kind,
    terms, status, decided at, decided by, reason)."""
    decider = aliased(User)
    query = (
        select(
            ReliefRequest.requested_at,
            ReliefRequest.visit_id,
            Borrower.code,
            Borrower.name,
            ReliefRequest.officer_id,
            ReliefRequest.kind,
            ReliefRequest.terms,
            ReliefRequest.status,
            ReliefRequest.decided_at,
            decider.name,
            ReliefRequest.reason,
        )
        .join(Borrower, Borrower.id == ReliefRequest.borrower_id)
        .outerjoin(decider, decider.id == ReliefRequest.decided_by)
        .where(
            or_(
                (ReliefRequest.requested_at >= since) & (ReliefRequest.requested_at < until),
                (ReliefRequest.decided_at >= since) & (ReliefRequest.decided_at < until),
            ),
            *_officer_in(ReliefRequest.officer_id, scope),
        )
        .order_by(ReliefRequest.requested_at, ReliefRequest.id)
    )
    rows = (await session.execute(query)).all()
    return [(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10] or "") for r in rows]


async def disputes(
    session: AsyncSession, scope: Scope, since: datetime, until: datetime
) -> list[tuple[int, datetime, datetime | None, int | None, str, str, int | None, str, str | None, str | None]]:
    """Disputes raised or resolved in the month: (id, raised, resolved, visit, code, name, officer, note,
    resolution, resolved by)."""
    resolver = aliased(User)
    query = (
        select(
            Dispute.id,
            Dispute.raised_at,
            Dispute.resolved_at,
            Dispute.visit_id,
            Borrower.code,
            Borrower.name,
            Borrower.officer_id,
            Dispute.note,
            Dispute.resolution,
            resolver.name,
        )
        .join(Borrower, Borrower.id == Dispute.borrower_id)
        .outerjoin(resolver, resolver.id == Dispute.resolved_by)
        .where(
            or_(
                (Dispute.raised_at >= since) & (Dispute.raised_at < until),
                (Dispute.resolved_at >= since) & (Dispute.resolved_at < until),
            ),
            *_officer_in(Borrower.officer_id, scope),
        )
        .order_by(Dispute.raised_at, Dispute.id)
    )
    return [
        (r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7] or "", r[8], r[9]) for r in (await session.execute(query)).all()
    ]


async def watch_flags(
    session: AsyncSession, scope: Scope, since: datetime, until: datetime
) -> list[tuple[datetime, str, str, int | None, str | None, str]]:
    """(flagged at, borrower code, name, borrower's officer, who flagged, reason) of the watch flags of the month."""
    flagger = aliased(User)
    query = (
        select(WatchFlag.flagged_at, Borrower.code, Borrower.name, Borrower.officer_id, flagger.name, WatchFlag.reason)
        .join(Borrower, Borrower.id == WatchFlag.borrower_id)
        .outerjoin(flagger, flagger.id == WatchFlag.user_id)
        .where(*_officer_in(Borrower.officer_id, scope))
        .order_by(WatchFlag.flagged_at, WatchFlag.id)
    )
    rows = (await session.execute(query.where(*_within(WatchFlag.flagged_at, since, until)))).all()
    return [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]


async def overdue_loans(
    session: AsyncSession, scope: Scope
) -> list[tuple[int, str, int, str, str, int | None, int, Any, datetime | None]]:
    """Open overdue loans in scope: (loan, contract, borrower, code, name, officer, overdue days, amount,
    the borrower's latest visit start) — two queries, whatever the number of loans."""
    query = (
        select(
            Loan.id,
            Loan.contract_no,
            Borrower.id,
            Borrower.code,
            Borrower.name,
            Borrower.officer_id,
            Loan.overdue_days,
            Loan.overdue_amount,
        )
        .join(Borrower, Borrower.id == Loan.borrower_id)
        .where(Loan.overdue_days > 0, Loan.status.in_(OPEN_LOAN), *_officer_in(Borrower.officer_id, scope))
        .order_by(Loan.overdue_days.desc(), Loan.id)
    )
    loans = (await session.execute(query)).all()
    overdue = select(Loan.borrower_id).where(Loan.overdue_days > 0, Loan.status.in_(OPEN_LOAN))
    latest_query = (
        select(Visit.borrower_id, func.max(Visit.started_at))
        .where(Visit.borrower_id.in_(overdue))
        .group_by(Visit.borrower_id)
    )
    latest = {r[0]: r[1] for r in (await session.execute(latest_query)).all()}
    return [(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], latest.get(r[2])) for r in loans]


async def opted_out(
    session: AsyncSession, scope: Scope
) -> Sequence[tuple[int, str, str, int | None, datetime, str | None, str | None, str]]:
    """Borrowers in scope who opted out of visits: (id, code, name, officer, when, reason, preferred channel, tier)."""
    query = (
        select(
            Borrower.id,
            Borrower.code,
            Borrower.name,
            Borrower.officer_id,
            Borrower.opted_out_at,
            Borrower.opt_out_reason,
            Borrower.preferred_channel,
            Borrower.risk_tier,
        )
        .where(Borrower.opted_out_at.is_not(None), *_officer_in(Borrower.officer_id, scope))
        .order_by(Borrower.opted_out_at.desc(), Borrower.id)
    )
    rows = (await session.execute(query)).all()
    return [(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]) for r in rows if r[4] is not None]
