"""A visit as a stable, machine-readable record (``visits show --json``, exports, reports)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage import repositories as repo
from storage.attachments import visit_attachments
from storage.models import User, Visit

__all__ = ["RECORD_FORMAT", "view_record", "visit_record", "visit_summary"]

RECORD_FORMAT = 1
"""Bumped when a field of the record changes meaning or disappears (new fields may be added)."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def visit_summary(visit: Visit) -> dict[str, Any]:
    """One visit without its answers and transcript (for lists)."""
    return {
        "id": visit.id,
        "script": {"id": visit.script_id, "version": visit.script_version},
        "borrower": {"code": visit.borrower.code, "name": visit.borrower.name},
        "loan": ({"contract_no": visit.loan.contract_no, "amount": str(visit.loan.amount)} if visit.loan else None),
        "officer": {"id": visit.officer.id, "name": visit.officer.name} if visit.officer else None,
        "channel": visit.channel,
        "locale": visit.locale,
        "status": visit.status,
        "step": visit.step,
        "outcome": visit.outcome,
        "callback_at": _iso(visit.callback_at),
        "started_at": _iso(visit.started_at),
        "finished_at": _iso(visit.finished_at),
        "review_status": visit.review_status,
        "review_comment": visit.review_comment,
    }


async def visit_record(session: AsyncSession, visit: Visit) -> dict[str, Any]:
    """The whole visit: summary, answers (raw and parsed), risk flags and the transcript."""
    record = visit_summary(visit)
    record["format"] = RECORD_FORMAT
    record["remark"] = visit.remark
    record["answers"] = [
        {
            "step": a.step_id,
            "question": a.question,
            "raw": a.raw,
            "value": a.value,
            "display": a.display,
            "skipped": a.skipped,
            "answered_by": a.answered_by,
            "answered_at": _iso(a.answered_at),
        }
        for a in await repo.visit_answers(session, visit.id)
    ]
    record["flags"] = [
        {
            "code": f.code,
            "severity": f.severity,
            "step": f.step_id,
            "note": f.note,
            "raised_at": _iso(f.raised_at),
        }
        for f in await repo.visit_flags(session, visit.id)
    ]
    record["attachments"] = [  # photos given as answers, kept in the file store (bot.desk.files) under "key"
        {"step": f.step_id, "kind": f.kind, "key": f.store_key, "size": f.size, "sha256": f.sha256,
         "content_type": f.content_type, "at": _iso(f.created_at)}
        for f in await visit_attachments(session, visit.id)
    ]  # fmt: skip
    record["transcript"] = [
        {"at": _iso(m.at), "direction": m.direction, "actor": m.actor, "text": m.text}
        for m in await repo.visit_transcript(session, visit.id)
    ]
    return record


async def view_record(session: AsyncSession, viewer: User, visit_id: int, *, now: datetime) -> dict[str, Any] | None:
    """The record of a visit as ``viewer`` may see it (None when they may not), the view audited.

    Every front-end that shows a transcript comes through here: visibility by role and team,
    masking of personal data by role, and the audit log entry are decided once.
    """
    from bot.desk.access import can_see

    visit = await repo.load_visit(session, visit_id)
    if visit is None or not can_see(viewer, visit):
        return None
    return await visit_record(session, visit)
