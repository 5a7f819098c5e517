"""Queries of risk flags as reviewers handle them: one flag (locked), a list, the queue's quality badges,
the month's quality flags by rule (raised / explained). The caller commits."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.briefing import Scope, _officer_in
from storage.models import RiskFlag, User, Visit
from storage.repositories import VisitFilter, visit_conditions

__all__ = ["FlagRow", "flag_for_update", "list_flags", "open_flags_of_kind", "quality_by_rule", "quality_codes"]

FlagRow = tuple[RiskFlag, Visit, str | None]
"""A flag, its visit (borrower and officer loaded) and the name of who explained it (None: nobody yet)."""


def open_flags_of_kind(kind: str) -> ColumnElement[bool]:
    """A condition over ``Visit``: it has a live flag of ``kind`` nobody explained yet."""
    live = select(RiskFlag.id).where(
        RiskFlag.visit_id == Visit.id,
        RiskFlag.kind == kind,
        RiskFlag.cleared_at.is_(None),
        RiskFlag.explained_at.is_(None),
    )
    return live.exists()


async def flag_for_update(session: AsyncSession, flag_id: int) -> RiskFlag | None:
    """A flag by id, its row locked (PostgreSQL) so two reviewers explaining it at once queue up."""
    query = select(RiskFlag).where(RiskFlag.id == flag_id).with_for_update()
    return await session.scalar(query.execution_options(populate_existing=True))


async def list_flags(
    session: AsyncSession,
    flt: VisitFilter,
    *,
    visit_id: int | None = None,
    kind: str | None = None,
    open_only: bool = False,
    limit: int = 200,
    flag_id: int | None = None,
) -> list[FlagRow]:
    """Live flags of the visits matching ``flt`` (newest visit first), with who explained them.

    ``open_only``: only those nobody explained yet."""
    explainer = aliased(User)
    query = (
        select(RiskFlag, Visit, explainer.name)
        .join(Visit, Visit.id == RiskFlag.visit_id)
        .outerjoin(explainer, explainer.id == RiskFlag.explained_by)
        .where(RiskFlag.cleared_at.is_(None), *visit_conditions(flt))
        .order_by(Visit.id.desc(), RiskFlag.id)
        .limit(limit)
    )
    if visit_id is not None:
        query = query.where(RiskFlag.visit_id == visit_id)
    if flag_id is not None:
        query = query.where(RiskFlag.id == flag_id)
    if kind is not None:
        query = query.where(RiskFlag.kind == kind)
    if open_only:
        query = query.where(RiskFlag.explained_at.is_(None))
    return [(row[0], row[1], row[2]) for row in (await session.execute(query)).unique().all()]


async def quality_codes(session: AsyncSession, visit_ids: Collection[int]) -> dict[int, list[str]]:
    """The codes of each visit's live quality flags nobody explained yet (a queue page's badges)."""
    if not visit_ids:
        return {}
    query = (
        select(RiskFlag.visit_id, RiskFlag.code)
        .where(
            RiskFlag.visit_id.in_(list(visit_ids)),
            RiskFlag.kind == "quality",
            RiskFlag.cleared_at.is_(None),
            RiskFlag.explained_at.is_(None),
        )
        .order_by(RiskFlag.visit_id, RiskFlag.id)
    )
    found: dict[int, list[str]] = {}
    for visit_id, code in (await session.execute(query)).all():
        found.setdefault(visit_id, []).append(code)
    return found


async def quality_by_rule(
    session: AsyncSession, scope: Scope, since: datetime, until: datetime
) -> list[tuple[str, int, int]]:
    """(code, raised, explained) of the live quality flags of the scope's visits that ended in [since, until)
    (the briefing's visits, as :func:`storage.briefing.flag_rows` reads their flags)."""
    explained = func.count(RiskFlag.explained_at)
    query = (
        select(RiskFlag.code, func.count(RiskFlag.id), explained)
        .join(Visit, Visit.id == RiskFlag.visit_id)
        .where(
            RiskFlag.kind == "quality",
            RiskFlag.cleared_at.is_(None),
            Visit.outcome.is_not(None),
            Visit.finished_at >= since,
            Visit.finished_at < until,
            *_officer_in(Visit.officer_id, scope),
        )
        .group_by(RiskFlag.code)
        .order_by(func.count(RiskFlag.id).desc(), RiskFlag.code)
    )
    return [(str(r[0]), int(r[1]), int(r[2])) for r in (await session.execute(query)).all()]
