"""Flags judged on a whole visit, not on one answer: kept in step with the visit whenever it changes.

When a visit finishes (and again after a correction) the desk asks two judges:

- :mod:`bot.desk.history_rules`: the script's cross-visit rules (``across_visits:``), this visit's
  measures against the same borrower's earlier visits and the loan (flag kind ``history``);
- :mod:`bot.desk.quality`: visits that look made up (形式化: too fast, all first options, copied, a
  reused photo, far from the address, an impossible sequence; flag kind ``quality``).

Each judge returns what holds now; :func:`sync_flags` makes the stored flags of that kind match it
(new ones raised, ones that no longer hold cleared, a flag still holding keeps its explanation), and
the visit's place in the review queue is recomputed from the flags just read (:func:`storage.web.rank_of`;
:func:`refresh_rank` reads them, for callers that hold none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from dialogs.engine import FlagRaised, VisitEngine
from dialogs.schema import Severity
from storage import repositories as repo
from storage.models import RiskFlag, Visit
from storage.web import rank_for_review, rank_of

__all__ = ["Judged", "judge_visit", "live_flags", "refresh_rank", "sync_flags"]


@dataclass(frozen=True)
class Judged:
    """A flag a judge finds holding on a visit, with what shows it (both values, both visits, the figures)."""

    code: str
    severity: Severity
    note: str
    evidence: dict[str, Any] = field(default_factory=dict)
    step: str | None = None


async def live_flags(session: AsyncSession, visit_id: int, kinds: Sequence[str] | None = None) -> list[RiskFlag]:
    """A visit's live flags of these kinds (every kind when None: read by the driver, every visit's end
    reads them), in one query."""
    if kinds is None:
        return await repo.live_flags(session, visit_id)
    query = _LIVE_FLAGS.where(RiskFlag.kind.in_(kinds))
    return list((await session.scalars(query, {"b_visit": visit_id})).all())


_LIVE_FLAGS = select(RiskFlag).where(RiskFlag.visit_id == bindparam("b_visit"), RiskFlag.cleared_at.is_(None))


async def sync_flags(
    session: AsyncSession,
    visit: Visit,
    kind: str,
    judged: Sequence[Judged],
    *,
    now: datetime,
    stored: Sequence[RiskFlag] | None = None,
) -> list[FlagRaised]:
    """Make ``visit``'s live flags of ``kind`` be ``judged``; returns the flags newly raised (for alerts).
    ``stored``: its live flags as read already (:func:`live_flags`), else they are read here. Nothing is
    flushed here: the flags go with the visit's own changes (its rank among them) in one flush."""
    if stored is None:
        stored = await live_flags(session, visit.id, [kind])
    live = {flag.code: flag for flag in stored if flag.kind == kind}
    wanted = {j.code: j for j in judged}
    for code, gone in live.items():
        if code not in wanted:
            gone.cleared_at = now
    raised: list[FlagRaised] = []
    for code, j in wanted.items():
        flag = live.get(code)
        if flag is not None:  # still holds: the newest evidence, the explanation (if any) kept
            flag.evidence, flag.severity, flag.note = j.evidence, j.severity.value, j.note
            continue
        record = FlagRaised(j.code, j.severity, j.step or "", j.note)
        await repo.add_flag(session, visit.id, record, at=now, kind=kind, evidence=j.evidence)
        raised.append(record)
    return raised


async def refresh_rank(session: AsyncSession, visit: Visit) -> None:
    """A finished visit's place in the review queue after its flags changed."""
    await session.flush()
    if visit.status == "finished":
        visit.review_rank = await rank_for_review(session, visit.id)


async def judge_visit(
    session: AsyncSession,
    visit: Visit,
    engine: VisitEngine,
    settings: Settings,
    *,
    now: datetime,
    remembered: bool = False,
) -> list[FlagRaised]:
    """Judge a finished visit (again): history and quality flags in step, its review rank recomputed.
    ``remembered``: its measures were kept just now, as it ended (not worked out a second time)."""
    from bot.desk import history_rules, quality  # each judge imports the desk's own modules

    across = await history_rules.judge(session, visit, engine, now=now, remembered=remembered)
    made_up = await quality.judge(session, visit, settings, now=now, engine=engine)
    stored = await live_flags(session, visit.id)  # every kind, one read: both judges' and the rank's
    raised = await sync_flags(session, visit, "history", across, now=now, stored=stored)
    raised += await sync_flags(session, visit, "quality", made_up, now=now, stored=stored)
    if visit.status == "finished":  # its place in the review queue, from the flags held here (no query)
        kept = [f.severity for f in stored if f.cleared_at is None and f.explained_at is None]
        visit.review_rank = rank_of([*kept, *(flag.severity.value for flag in raised)])
    return raised
