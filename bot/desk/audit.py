"""The audit log: who viewed a transcript, exported what, changed a review (kept from officers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, User

__all__ = ["record"]


async def record(
    session: AsyncSession,
    action: str,
    *,
    now: datetime,
    user: User | None = None,
    actor: str | None = None,
    visit_id: int | None = None,
    **detail: Any,
) -> AuditEntry:
    """Add one audit entry in the caller's transaction (``actor`` defaults to the user's role)."""
    entry = AuditEntry(
        at=now,
        user_id=user.id if user is not None else None,
        actor=actor or (user.role if user is not None else "system"),
        action=action,
        visit_id=visit_id,
        detail=detail,
    )
    session.add(entry)
    return entry
