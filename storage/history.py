"""Queries of the cross-visit risk rules (:mod:`bot.desk.history_rules`): what the borrower's earlier visits
remembered. Read-only; the caller holds the session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import direct
from storage.db import table_of
from storage.direct import Direct
from storage.models import Visit, visit_status_is
from storage.repositories import autoflush

__all__ = ["EARLIER", "Remembered", "earlier_measures"]

EARLIER = 50
"""Earlier visits read at most (newest first): enough for any ``look_back``, whichever scripts they ran."""


@dataclass(frozen=True)
class Remembered:
    """An earlier finished visit and what it remembered (``Visit.measures``)."""

    visit_id: int
    finished_at: datetime
    measures: dict[str, Any]


_VISITS = table_of(Visit)


def _earlier(*, finished: bool) -> Direct:
    """The statement of :func:`earlier_measures` (``finished``: the visit has its end time, ``b_at``)."""
    visits = _VISITS.c
    query = select(visits.id, visits.finished_at, visits.measures).where(
        visits.borrower_id == bindparam("b_borrower"),
        visits.id != bindparam("b_visit"),
        visit_status_is("finished"),
        visits.finished_at.is_not(None),
    )
    if finished:
        at: BindParameter[datetime] = bindparam("b_at")
        query = query.where(
            or_(visits.finished_at < at, and_(visits.finished_at == at, visits.id < bindparam("b_visit")))
        )
    return Direct(query.order_by(visits.finished_at.desc(), visits.id.desc()).limit(EARLIER))


_EARLIER = {finished: _earlier(finished=finished) for finished in (False, True)}
"""Built once (every visit's end reads one): building the judging reads' expressions on each read was
about a third of the judging's time (py-spy, 2026-12-04); run by the driver (``storage.direct``)."""


async def earlier_measures(session: AsyncSession, visit: Visit) -> list[Remembered]:
    """The borrower's visits finished before ``visit`` (by time, then id; at most :data:`EARLIER`) that
    remembered something, newest first. The session's pending changes are flushed first, as the ORM's
    autoflush would (unless autoflush is off)."""
    await autoflush(session)
    at = visit.finished_at
    params = {"b_borrower": visit.borrower_id, "b_visit": visit.id}
    rows = await direct.rows(session, _EARLIER[at is not None], {**params, "b_at": at} if at is not None else params)
    return [
        Remembered(visit_id, finished_at, measures)
        for visit_id, finished_at, measures in rows
        if isinstance(measures, dict) and measures and finished_at is not None
    ]
