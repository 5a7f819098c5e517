"""A visit as a stable, machine-readable record (``visits show --json``, exports, reports)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.desk import audit
from bot.desk.access import can_see, sees_numbers
from bot.desk.correction_record import add_corrections, mask_corrections
from bot.logs import mask
from dialogs.parsing import mask_phone
from storage import repositories as repo
from storage.attachments import visit_attachments
from storage.models import User, Visit
from storage.outbox import alerts_of_visit

__all__ = ["RECORD_FORMAT", "masked_record", "view_record", "visit_record", "visit_summary"]

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
    record["borrower"]["phone"] = visit.borrower.phone
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
    await add_corrections(session, visit.id, record)  # version, the history, each answer's "corrected"
    record["flags"] = [
        {
            "id": f.id,  # what `visitbot flags explain` and /explain take
            "code": f.code,
            "severity": f.severity,
            "kind": f.kind,  # answer, history (cross-visit), quality (形式化), promise
            "step": f.step_id,
            "note": f.note,
            "raised_at": _iso(f.raised_at),
            "evidence": f.evidence,  # the rule, both values and both visits; the figures of a quality flag
            "explained": (
                {"at": _iso(f.explained_at), "by": f.explained_by, "reason": f.explanation}
                if f.explained_at is not None
                else None
            ),
        }
        for f in await repo.visit_flags(session, visit.id)
    ]
    record["attachments"] = [  # photos given as answers, kept in the file store (bot.desk.files) under "key"
        {"id": f.id, "step": f.step_id, "kind": f.kind, "key": f.store_key, "size": f.size, "sha256": f.sha256,
         "content_type": f.content_type, "at": _iso(f.created_at)}
        for f in await visit_attachments(session, visit.id)
    ]  # fmt: skip
    record["transcript"] = [
        {"at": _iso(m.at), "direction": m.direction, "actor": m.actor, "text": m.text}
        for m in await repo.visit_transcript(session, visit.id)
    ]
    record["alerts"] = [  # risk alerts from the outbox: whom, and whether and when they were delivered
        {"recipient": a.recipient, "role": a.role, "status": a.status, "queued_at": _iso(a.created_at),
         "sent_at": _iso(a.sent_at), "failed_at": _iso(a.failed_at), "error": a.error}
        for a in await alerts_of_visit(session, visit.id)
    ]  # fmt: skip
    return record


def _masked(value: Any) -> Any:
    """Text with phone and ID numbers masked; anything else (numbers, option ids, photos) as it is."""
    return mask(value) if isinstance(value, str) else value


def masked_record(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of a visit record with phone and ID numbers masked wherever people typed or read text.

    The borrower's phone always; in answers (question, raw, value, display: a phone answer's number
    too), flag notes, the remark, the review comment and the transcript, whatever looks like a
    phone or ID number (:func:`bot.logs.mask`, the rule the logs use).
    """
    masked = dict(record)
    borrower = dict(record["borrower"])
    if borrower.get("phone"):
        borrower["phone"] = mask_phone(borrower["phone"])
    masked["borrower"] = borrower
    for key in ("remark", "review_comment"):
        masked[key] = _masked(record.get(key))
    masked["answers"] = [
        {**a, **{k: _masked(a[k]) for k in ("question", "raw", "value", "display") if k in a}}
        for a in record.get("answers", [])
    ]
    masked["flags"] = [{**f, "note": _masked(f.get("note"))} for f in record.get("flags", [])]
    masked["transcript"] = [{**m, "text": _masked(m.get("text"))} for m in record.get("transcript", [])]
    masked.update(mask_corrections(masked, _masked))  # old and new answers and reasons of corrections
    masked["masked"] = True
    return masked


async def view_record(
    session: AsyncSession, viewer: User, visit_id: int, *, now: datetime, actor: str | None = None
) -> dict[str, Any] | None:
    """The record of a visit as ``viewer`` may see it (None when they may not), the view audited.

    Every front-end that shows a transcript comes through here: visibility by role and team,
    masking of personal data by role (:data:`bot.desk.access.SEES_NUMBERS`), and the audit log
    entry are decided once. A view is its own unit of work: the entry is committed here, before
    the record is returned, so no transcript is shown without its entry. ``actor`` names the
    front-end when the viewer is not a stored user (the CLI).
    """
    visit = await repo.load_visit(session, visit_id)
    if visit is None or not can_see(viewer, visit):
        return None
    record = await visit_record(session, visit)
    full = sees_numbers(viewer, visit.borrower)
    record = masked_record(record) if not full else {**record, "masked": False}
    await audit.record(
        session, "transcript_viewed", now=now, user=viewer, actor=actor, visit_id=visit.id, masked=not full
    )
    await session.commit()
    return record
