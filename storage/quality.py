"""Queries of the quality judge (形式化, :mod:`bot.desk.quality`): the visit before, look-alike photos, an
officer's located visits around a time. Read-only; the caller holds the session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, bindparam, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import direct
from storage.attachments import phash_quarters
from storage.db import table_of
from storage.direct import Direct
from storage.models import Answer, Attachment, Borrower, Visit, visit_status_is

__all__ = [
    "Earlier",
    "LocatedAnswer",
    "PhotoTwin",
    "located_answers",
    "photo_twins",
    "previous_visit",
    "visit_location",
]

CANDIDATES = 200
"""Look-alike photos read per photo at most (those sharing a quarter of its hash), nearest kept."""


@dataclass(frozen=True)
class PhotoTwin:
    """A photo of another visit whose hash shares a quarter with one of this visit's photos."""

    step: str
    """The step of this visit's photo."""
    phash: str
    """This visit's photo's hash."""
    other_phash: str
    visit_id: int
    borrower_code: str
    borrower_name: str
    started_at: datetime


@dataclass(frozen=True)
class LocatedAnswer:
    """A location given in a visit: where and when."""

    visit_id: int
    step: str
    lat: float
    lon: float
    at: datetime


_VISITS = table_of(Visit)
_PREVIOUS = Direct(
    select(_VISITS.c.id, _VISITS.c.started_at)
    .where(
        _VISITS.c.borrower_id == bindparam("b_borrower"),
        _VISITS.c.script_id == bindparam("b_script"),
        visit_status_is("finished"),
        _VISITS.c.id != bindparam("b_visit"),
        _VISITS.c.started_at <= bindparam("b_started"),
    )
    .order_by(_VISITS.c.started_at.desc(), _VISITS.c.id.desc())
    .limit(1)
)
"""Built once, run by the driver (every visit's end reads it): the id and start of the visit before."""


@dataclass(frozen=True)
class Earlier:
    """The visit before: which, and when it started."""

    id: int
    started_at: datetime


async def previous_visit(session: AsyncSession, visit: Visit) -> Earlier | None:
    """The same borrower's finished visit of the same script that started last before ``visit``."""
    params = {"b_borrower": visit.borrower_id, "b_script": visit.script_id, "b_visit": visit.id}
    row = await direct.first(session, _PREVIOUS, {**params, "b_started": visit.started_at})
    return None if row is None else Earlier(row[0], row[1])


async def photo_twins(session: AsyncSession, visit_id: int) -> list[PhotoTwin]:
    """Other visits' photos that may be one of ``visit_id``'s (a shared 16-bit quarter of the hash, by index).

    Two 64-bit hashes within 3 bits of each other agree on at least one of four quarters, so this finds every
    photo within that distance; the caller measures the exact Hamming distance.
    """
    mine = await session.execute(
        select(Attachment.step_id, Attachment.phash).where(
            Attachment.visit_id == visit_id, Attachment.phash.is_not(None)
        )
    )
    found: list[PhotoTwin] = []
    for step, phash in mine.all():
        if phash is None:
            continue
        q = phash_quarters(phash)
        query = (
            select(Attachment.phash, Visit.id, Borrower.code, Borrower.name, Visit.started_at)
            .join(Visit, Visit.id == Attachment.visit_id)
            .join(Borrower, Borrower.id == Visit.borrower_id)
            .where(
                or_(
                    Attachment.phash_0 == q[0],
                    Attachment.phash_1 == q[1],
                    Attachment.phash_2 == q[2],
                    Attachment.phash_3 == q[3],
                ),
                Attachment.visit_id != visit_id,
                Attachment.phash.is_not(None),
            )
            .order_by(Attachment.id)
            .limit(CANDIDATES)
        )
        for other, other_visit, code, name, started in (await session.execute(query)).all():
            if other is not None:
                found.append(PhotoTwin(step, phash, other, other_visit, code, name, started))
    return found


def _located(visit_id: int, step: str, value: Any, at: datetime) -> LocatedAnswer | None:
    if not isinstance(value, dict):
        return None
    lat, lon = value.get("lat"), value.get("lon")
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return None
    return LocatedAnswer(visit_id, step, float(lat), float(lon), at)


def visit_location(answers: Sequence[Answer]) -> LocatedAnswer | None:
    """Where a visit says it took place: its last location answer (a value ``{"lat": .., "lon": ..}``)."""
    for a in reversed(answers):
        if not a.skipped and (found := _located(a.visit_id, a.step_id, a.value, a.answered_at)) is not None:
            return found
    return None


async def located_answers(
    session: AsyncSession, officer_id: int, around: datetime, *, within: timedelta, besides: int
) -> list[LocatedAnswer]:
    """The locations the officer's other visits (not ``besides``) gave within ``within`` of ``around``.

    One per visit (its last); ``answers.answered_at`` bounded, the officer's visits by their index.
    """
    query = (
        select(Answer.visit_id, Answer.step_id, Answer.value, Answer.answered_at)
        .join(Visit, Visit.id == Answer.visit_id)
        .where(
            Visit.officer_id == officer_id,
            Visit.id != besides,
            Visit.started_at <= around + within,
            Visit.started_at >= around - within - timedelta(days=7),  # a visit paused a while still counts
            Answer.undone_at.is_(None),
            Answer.skipped.is_(False),
            Answer.answered_at >= around - within,
            Answer.answered_at <= around + within,
            cast(Answer.value, Text).like('%"lat"%'),
        )
        .order_by(Answer.id)
    )
    last: dict[int, LocatedAnswer] = {}
    for visit_id, step, value, at in (await session.execute(query)).all():
        if (found := _located(visit_id, step, value, at)) is not None:
            last[visit_id] = found
    return list(last.values())
