"""The ``/visit`` pick list: an officer's borrowers in the order the list shows them, only as many as it shows.

Ordered in the database, not in Python: borrowers with an open visit first, then the longest unvisited
(never visited first), high risk before medium before low, then by code; and cut to ``limit`` there. So
the borrowers' rows, their loans and officers are loaded only for the borrowers shown, and each
borrower's visits are read through ``ix_visits_borrower_status`` (the newest open one) and
``ix_visits_borrower_started`` (the last start): other officers' visits, however many are open, are
never read.
"""

from __future__ import annotations

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Borrower, Visit
from storage.repositories import PickRow

__all__ = ["TIER_RANK", "pick_list"]

TIER_RANK = {"high": 0, "medium": 1, "low": 2}
"""The order of risk tiers in the list (a tier not named comes after them)."""


async def pick_list(
    session: AsyncSession, *, officer_id: int | None = None, text: str | None = None, limit: int | None = None
) -> list[PickRow]:
    """One officer's borrowers (everyone's when None; code or name matching ``text`` when given), each
    with their newest open visit and their last visit's start, in pick-list order, at most ``limit``.

    Two statements: the borrowers shown (their officer joined), then their loans."""
    newest_open = (
        select(Visit.id)
        .where(Visit.borrower_id == Borrower.id, Visit.status == "open")
        .order_by(Visit.id.desc())
        .limit(1)
        .correlate(Borrower)
        .scalar_subquery()
    )
    last_started = (
        select(func.max(Visit.started_at)).where(Visit.borrower_id == Borrower.id).correlate(Borrower).scalar_subquery()
    )
    tier = case(*((Borrower.risk_tier == name, rank) for name, rank in TIER_RANK.items()), else_=len(TIER_RANK))
    ranked = select(
        Borrower.id.label("borrower_id"),
        newest_open.label("open_id"),
        last_started.label("last_started"),
        tier.label("tier"),
        Borrower.code.label("code"),
    )
    if officer_id is not None:
        ranked = ranked.where(Borrower.officer_id == officer_id)
    if text:
        needle = text.strip()
        ranked = ranked.where(or_(func.upper(Borrower.code) == needle.upper(), Borrower.name.contains(needle)))
    order = (
        ranked.selected_columns.open_id.is_(None),
        ranked.selected_columns.last_started.asc().nulls_first(),
        ranked.selected_columns.tier,
        ranked.selected_columns.code,
    )
    ranked = ranked.order_by(*order)
    if limit is not None:
        ranked = ranked.limit(limit)
    picks = ranked.subquery("picks")  # ranked and cut on narrow rows; the borrowers' rows only for those shown
    open_script = select(Visit.script_id).where(Visit.id == picks.c.open_id).scalar_subquery()
    query = (
        select(Borrower, picks.c.open_id, open_script, picks.c.last_started)
        .join(picks, picks.c.borrower_id == Borrower.id)
        .order_by(picks.c.open_id.is_(None), picks.c.last_started.asc().nulls_first(), picks.c.tier, picks.c.code)
    )
    rows = (await session.execute(query)).unique().all()
    return [PickRow(borrower, visit_id, script_id, started) for borrower, visit_id, script_id, started in rows]
