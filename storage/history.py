"""Queries of the cross-visit risk rules (:mod:`bot.desk.history_rules`): what the borrower's earlier visits
remembered. Read-only; the caller holds the session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Select, and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Visit, visit_status_is

__all__ = ["EARLIER", "Remembered", "earlier_measures"]

EARLIER = 50
"""Earlier visits read at most (newest first): enough for any ``look_back``, whichever scripts they ran."""


@dataclass(frozen=True)
class Remembered:
    """An earlier finished visit and what it remembered (``Visit.measures``)."""

    visit_id: int
    finished_at: datetime
    measures: dict[str, Any]


def _earlier(*, finished: bool) -> Select[tuple[int, datetime | None, Any]]:
    """The statement of :func:`earlier_measures` (``finished``: the visit has its end time, ``b_at``)."""
    query = select(Visit.id, Visit.finished_at, Visit.measures).where(
        Visit.borrower_id == bindparam("b_borrower"),
        Visit.id != bindparam("b_visit"),
        visit_status_is("finished"),
        Visit.finished_at.is_not(None),
    )
    if finished:
        at: BindParameter[datetime] = bindparam("b_at")
        query = query.where(or_(Visit.finished_at < at, and_(Visit.finished_at == at, Visit.id < bindparam("b_visit"))))
    return query.order_by(Visit.finished_at.desc(), Visit.id.desc()).limit(EARLIER)


_EARLIER = {finished: _earlier(finished=finished) for finished in (False, True)}
"""Built once (every visit's end reads one): building the judging reads' expressions on each read was
about a third of the judging's time (py-spy, 2026-12-04)."""


async def earlier_measures(session: AsyncSession, visit: Visit) -> list[Remembered]:
    """The borrower's visits finished before ``visit`` (by time, then id; at most :data:`EARLIER`) that
    remembered something, newest first."""
    at = visit.finished_at
    params = {"b_borrower": visit.borrower_id, "b_visit": visit.id, "b_at": at}
    rows = await session.execute(_EARLIER[at is not None], params)
    return [
        Remembered(visit_id, finished_at, measures)
        for visit_id, finished_at, measures in rows.all()
        if isinstance(measures, dict) and measures and finished_at is not None
    ]
