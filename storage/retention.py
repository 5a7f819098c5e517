"""Queries of the retention purge: what of a visit finished before a cutoff is kept, and removing it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Answer, Attachment, AuditEntry, RiskFlag, TranscriptMessage, Visit

__all__ = ["VisitData", "count_visit_data", "delete_visit_data"]

_TABLES: dict[str, Any] = {
    "answers": Answer,
    "transcript": TranscriptMessage,
    "flags": RiskFlag,
    "attachments": Attachment,
}


@dataclass
class VisitData:
    """How much personal data of old visits there is (or was removed): rows per table, and file keys."""

    visits: int = 0
    answers: int = 0
    transcript: int = 0
    flags: int = 0
    attachments: int = 0
    files: list[str] = field(default_factory=list)
    """File store keys no attachment uses any more once these rows are gone (deleted after the commit)."""

    def counts(self) -> dict[str, int]:
        """The counts by name (for reports and the audit log)."""
        return {name: getattr(self, name) for name in ("visits", *_TABLES)}


def _old(before: datetime) -> Select[Any]:
    """The ids of visits finished before ``before``."""
    return select(Visit.id).where(Visit.finished_at.is_not(None), Visit.finished_at < before)


def _holding_data() -> ColumnElement[bool]:
    """A visit still holds personal data: rows in one of the tables, a remark or a review comment."""
    rows = [select(t.id).where(t.visit_id == Visit.id).exists() for t in _TABLES.values()]
    return or_(*rows, Visit.remark.is_not(None), Visit.review_comment.is_not(None))


async def count_visit_data(session: AsyncSession, before: datetime) -> VisitData:
    """What a purge with this cutoff would remove (nothing is changed)."""
    ids = _old(before)
    data = VisitData()
    data.visits = int(
        await session.scalar(select(func.count()).select_from(ids.where(_holding_data()).subquery())) or 0
    )
    for name, table in _TABLES.items():
        count = await session.scalar(select(func.count()).select_from(table).where(table.visit_id.in_(ids)))
        setattr(data, name, int(count or 0))
    old_keys = select(Attachment.store_key).where(Attachment.visit_id.in_(ids))
    kept = select(Attachment.store_key).where(Attachment.visit_id.not_in(ids))
    data.files = sorted(set(await session.scalars(old_keys.except_(kept))))
    return data


async def delete_visit_data(session: AsyncSession, before: datetime) -> VisitData:
    """Remove the answers, transcript, risk flags and attachment rows of visits finished before ``before``.

    The visit rows stay (outcome, dates, review status: what reports count), their dialog state
    emptied of answers and flags, their remark and review comment cleared; their audit entries
    stay without the review comments they quoted. In the caller's
    transaction; returns what was removed.
    """
    data = await count_visit_data(session, before)
    ids = _old(before)
    visits = (await session.scalars(select(Visit).where(Visit.id.in_(ids.where(_holding_data()))))).unique().all()
    for visit in visits:
        state = dict(visit.state or {})
        state.update(answers={}, earlier={}, flags=[])
        visit.state = state
        visit.remark = None
        visit.review_comment = None
    for entry in (await session.scalars(select(AuditEntry).where(AuditEntry.visit_id.in_(ids)))).all():
        if "text" in (entry.detail or {}):  # a review comment: what was said goes, who did what stays
            entry.detail = {k: v for k, v in entry.detail.items() if k != "text"}
    await session.flush()
    for table in _TABLES.values():
        await session.execute(delete(table).where(table.visit_id.in_(ids)))
    return data
