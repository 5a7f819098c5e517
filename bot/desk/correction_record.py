"""A visit record's corrections (更正记录): its version, the history, and which answers were corrected how.

Kept apart from :mod:`bot.desk.corrections` (which makes corrections) so the record, exports and
pages read the history without importing the visit desk.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.corrections import corrections_of
from storage.models import Correction, User

__all__ = ["add_corrections", "correction_entry", "mask_corrections"]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def correction_entry(c: Correction, user: User | None) -> dict[str, Any]:
    """One correction as the record holds it: the version it made, old and new, who, why, when."""
    return {
        "version": c.version,
        "step": c.step_id,
        "old": {"raw": c.old_raw, "value": c.old_value, "display": c.old_display},
        "new": {"raw": c.new_raw, "value": c.new_value, "display": c.new_display},
        "reason": c.reason,
        "by": {"id": user.id, "name": user.name, "role": user.role} if user is not None else None,
        "actor": c.actor,  # the role, or the front-end (cli) when no stored user made it
        "at": _iso(c.at),
    }


async def add_corrections(session: AsyncSession, visit_id: int, record: dict[str, Any]) -> None:
    """Put ``version`` (1 as first given, +1 per correction), ``corrections`` and each answer's
    ``corrected`` (None, or how many times, the original answer and the last change) into ``record``."""
    rows = await corrections_of(session, visit_id)
    history = [correction_entry(c, u) for c, u in rows]
    record["version"] = 1 + len(history)
    record["corrections"] = history
    by_step: dict[str, list[dict[str, Any]]] = {}
    for entry in history:
        by_step.setdefault(entry["step"], []).append(entry)
    marked: set[str] = set()
    for answer in reversed(record.get("answers", [])):  # a step a loop asked twice: its newest answer
        changes = by_step.get(answer["step"], []) if answer["step"] not in marked else []
        marked.add(answer["step"])
        last = changes[-1] if changes else None
        answer["corrected"] = (
            {
                "times": len(changes),
                "version": last["version"],
                "original": changes[0]["old"],
                "at": last["at"],
                "by": last["by"]["name"] if last["by"] else last["actor"],
                "reason": last["reason"],
            }
            if last is not None
            else None
        )


def mask_corrections(record: dict[str, Any], mask: Callable[[Any], Any]) -> dict[str, Any]:
    """The parts of a record the corrections touch (``corrections``, ``answers``), their old and new
    answers and reasons masked like answers are."""

    def side(values: dict[str, Any]) -> dict[str, Any]:
        return {k: mask(v) for k, v in values.items()}

    history = [
        {**c, "old": side(c["old"]), "new": side(c["new"]), "reason": mask(c["reason"])}
        for c in record.get("corrections", [])
    ]
    answers = [
        {**a, "corrected": {**a["corrected"], "original": side(a["corrected"]["original"]),
                            "reason": mask(a["corrected"]["reason"])}}
        if a.get("corrected") else a
        for a in record.get("answers", [])
    ]  # fmt: skip
    return {"corrections": history, "answers": answers}
