"""The ``/visit`` pick list: an officer's borrowers in the order the list shows them, only as many as it shows.

Ordered in the database, not in Python: borrowers with an open visit first, then the longest unvisited
(never visited first), high risk before medium before low, then by code; and cut to ``limit`` there. The
order is read from the borrowers' own columns ``open_visit_id`` (their newest open visit) and
``last_started_at`` (their last visit's start), which the database keeps from ``visits`` (triggers of
migration 0013), in the order of an index over them (``storage.models.BORROWER_PICK_ORDER``: everyone's
list and each officer's read 20 index entries, whatever the size of the book); visits are read only for the
shown borrowers' open ones (their script). So an admin's list costs the same with no open visit or 10,000.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import BORROWER_PICK_ORDER, TIER_RANK, Borrower, Visit
from storage.repositories import PickRow

__all__ = ["TIER_RANK", "pick_list"]


async def pick_list(
    session: AsyncSession, *, officer_id: int | None = None, text: str | None = None, limit: int | None = None
) -> list[PickRow]:
    """One officer's borrowers (everyone's when None; code or name matching ``text`` when given), each
    with their newest open visit and their last visit's start, in pick-list order, at most ``limit``.

    Two statements: the borrowers shown (their officer joined), then their loans."""
    open_script = select(Visit.script_id).where(Visit.id == Borrower.open_visit_id).scalar_subquery()
    # the marks as columns of the row (not only the entity's attributes): fresh even for a borrower already
    # loaded in this session before a visit of theirs started or ended
    query = select(Borrower, Borrower.open_visit_id, open_script, Borrower.last_started_at).order_by(
        *BORROWER_PICK_ORDER  # as indexed: ix_borrowers_pick, ix_borrowers_officer_pick
    )
    if officer_id is not None:
        query = query.where(Borrower.officer_id == officer_id)
    if text:
        needle = text.strip()
        query = query.where(or_(func.upper(Borrower.code) == needle.upper(), Borrower.name.contains(needle)))
    if limit is not None:
        query = query.limit(limit)
    rows = (await session.execute(query)).unique().all()
    return [PickRow(borrower, visit_id, script_id, started) for borrower, visit_id, script_id, started in rows]
