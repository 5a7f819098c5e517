"""Corrections of finished visits' answers (更正记录): the answer corrected, the history kept; the caller commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Answer, Correction, RiskFlag, User

CHUNK = 500

__all__ = ["add_correction", "corrections_of", "corrections_of_visits", "live_answer", "live_step_flags", "version_of"]


async def live_answer(session: AsyncSession, visit_id: int, step_id: str) -> Answer | None:
    """The answer a step stands with now (a loop's newest), None when the visit never answered it."""
    query = select(Answer).where(Answer.visit_id == visit_id, Answer.step_id == step_id, Answer.undone_at.is_(None))
    return await session.scalar(query.order_by(Answer.id.desc()).limit(1))


async def version_of(session: AsyncSession, visit_id: int) -> int:
    """The record's version: 1 as first given, one more for each correction."""
    count = await session.scalar(select(func.count(Correction.id)).where(Correction.visit_id == visit_id))
    return 1 + int(count or 0)


async def add_correction(
    session: AsyncSession,
    answer: Answer,
    *,
    raw: str,
    value: Any,
    display: str,
    reason: str,
    user_id: int | None,
    actor: str,
    at: datetime,
) -> Correction:
    """Change ``answer`` to the new value and keep the change (old and new, who, why) as the next version."""
    version = await version_of(session, answer.visit_id) + 1
    correction = Correction(
        visit_id=answer.visit_id,
        answer_id=answer.id,
        step_id=answer.step_id,
        old_raw=answer.raw,
        old_value=answer.value,
        old_display=answer.display or "",
        new_raw=raw,
        new_value=value,
        new_display=display,
        reason=reason,
        user_id=user_id,
        actor=actor,
        at=at,
        version=version,
    )
    answer.raw, answer.value, answer.display, answer.skipped = raw, value, display, False
    session.add(correction)
    await session.flush()
    return correction


async def corrections_of(session: AsyncSession, visit_id: int) -> Sequence[tuple[Correction, User | None]]:
    """A visit's corrections in order, each with the staff member who made it (None: the command line)."""
    return await corrections_of_visits(session, [visit_id])


async def corrections_of_visits(
    session: AsyncSession, visit_ids: Sequence[int]
) -> Sequence[tuple[Correction, User | None]]:
    """The corrections of several visits (an export), by visit then version."""
    found: list[tuple[Correction, User | None]] = []
    ids = sorted(set(visit_ids))
    for start in range(0, len(ids), CHUNK):  # a bounded IN list: databases cap the parameters of one query
        query = (
            select(Correction, User)
            .outerjoin(User, User.id == Correction.user_id)
            .where(Correction.visit_id.in_(ids[start : start + CHUNK]))
            .order_by(Correction.visit_id, Correction.version)
        )
        found.extend((c, u) for c, u in (await session.execute(query)).all())
    return found


async def live_step_flags(session: AsyncSession, visit_id: int) -> Sequence[RiskFlag]:
    """A visit's live flags raised by step rules on answers (kind ``answer``)."""
    query = select(RiskFlag).where(
        RiskFlag.visit_id == visit_id, RiskFlag.kind == "answer", RiskFlag.cleared_at.is_(None)
    )
    return (await session.scalars(query.order_by(RiskFlag.id))).all()
