"""Queries of the audit log (who viewed, exported, reviewed or purged what); the caller commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import AuditEntry, User, Visit

__all__ = ["AuditFilter", "list_audit"]


@dataclass(frozen=True)
class AuditFilter:
    """Which audit entries to list (every field optional)."""

    visit_id: int | None = None
    user_id: int | None = None
    user_name: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    team: str | None = None
    """Entries about a visit of the team's officers, or made by one of the team."""
    limit: int = 500


async def list_audit(session: AsyncSession, flt: AuditFilter | None = None) -> list[tuple[AuditEntry, User | None]]:
    """Audit entries matching the filter with the user who acted (None for the CLI or the system), newest first."""
    flt = flt or AuditFilter()
    actor = aliased(User)
    query = (
        select(AuditEntry, actor)
        .outerjoin(actor, actor.id == AuditEntry.user_id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(flt.limit)
    )
    if flt.visit_id is not None:
        query = query.where(AuditEntry.visit_id == flt.visit_id)
    if flt.user_id is not None:
        query = query.where(AuditEntry.user_id == flt.user_id)
    if flt.user_name:
        query = query.where(actor.name == flt.user_name)
    if flt.action:
        query = query.where(AuditEntry.action == flt.action)
    if flt.since is not None:
        query = query.where(AuditEntry.at >= flt.since)
    if flt.until is not None:
        query = query.where(AuditEntry.at < flt.until)
    if flt.team is not None:
        officer = aliased(User)
        of_team = (
            select(Visit.id)
            .join(officer, officer.id == Visit.officer_id)
            .where(Visit.id == AuditEntry.visit_id, officer.team == flt.team)
        )
        query = query.where(or_(actor.team == flt.team, of_team.exists()))
    rows = (await session.execute(query)).all()
    return [(entry, user) for entry, user in rows]
