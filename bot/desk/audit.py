"""The audit log: who viewed a transcript, exported what, changed a review, purged what (kept from officers)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.logs import mask
from storage.audit import AuditFilter, list_audit
from storage.models import AuditEntry, User

__all__ = [
    "EXPORTED",
    "PURGED",
    "VIEWED",
    "AuditFilter",
    "AuditLine",
    "AuditRefused",
    "describe",
    "entries",
    "record",
]

VIEWED = "transcript_viewed"
EXPORTED = "export"
PURGED = "purge"


class AuditRefused(PermissionError):
    """The viewer may not read the audit log (officers); ``key`` is the i18n message to show."""

    key = "audit_refused"


@dataclass(frozen=True)
class AuditLine:
    """One audit entry as people read it: when, who (name and role or front-end), what, which visit, details."""

    at: datetime
    user_id: int | None
    user_name: str | None
    actor: str
    action: str
    visit_id: int | None
    detail: dict[str, Any]


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


async def entries(session: AsyncSession, viewer: User, flt: AuditFilter | None = None) -> list[AuditLine]:
    """The audit entries ``viewer`` may read, newest first: all for an admin, their team's for a supervisor.

    Officers are refused (:class:`AuditRefused`): the log says who looked at whose data. Phone and
    ID numbers in the details (a quoted review comment) are masked: the log is not where they are read.
    """
    flt = flt or AuditFilter()
    if viewer.role == "supervisor":
        flt = replace(flt, team=viewer.team or "\x00")
    elif viewer.role != "admin":
        raise AuditRefused(viewer.role)
    return [
        AuditLine(e.at, e.user_id, u.name if u else None, e.actor, e.action, e.visit_id, _masked(e.detail or {}))
        for e, u in await list_audit(session, flt)
    ]


def _masked(detail: dict[str, Any]) -> dict[str, Any]:
    """Details with phone and ID numbers masked in their texts (a review comment may quote one)."""
    return {k: mask(v) if isinstance(v, str) else _masked(v) if isinstance(v, dict) else v for k, v in detail.items()}


def describe(detail: dict[str, Any]) -> str:
    """An entry's details on one line: ``key=value`` pairs, nested filters flattened (``filters.risk=high``)."""
    parts: list[str] = []
    for key, value in detail.items():
        if isinstance(value, dict):
            parts.extend(f"{key}.{k}={v}" for k, v in value.items())
        else:
            parts.append(f"{key}={value}")
    return ", ".join(parts)
