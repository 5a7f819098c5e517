"""The rules of the monthly plan that need no database of their own: months and working days, the
tier's interval, the rules of contact applied to an entry, the random sample, and what a visit fulfils.

:mod:`bot.desk.planning` reads the loan book and writes the entries; its docstring states the rules.
"""

from __future__ import annotations

import calendar
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.desk.contact import ContactRules
from dialogs.i18n import message
from storage import planning as store

if TYPE_CHECKING:
    from bot.settings import Settings

__all__ = [
    "INVITE_SCRIPT",
    "OVERDUE_SCRIPT",
    "PLAN_REASONS",
    "REACHED",
    "Entry",
    "contact_action",
    "done_already",
    "draw_samples",
    "every",
    "first_of",
    "fulfils",
    "instant",
    "last_of",
    "note_text",
    "ordered",
    "queue_invites",
    "shift",
    "working_days",
]

PLAN_REASONS = ("overdue", "broken_promise", "new_loan", "policy", "flagged", "sample")
"""Reason codes, in display order."""
REACHED = frozenset({"completed", "callback", "refused", "opted_out"})
"""Outcomes that reached the borrower: any of them fulfils an entry that is there for being overdue only."""
OVERDUE_SCRIPT = "overdue_reminder"
INVITE_SCRIPT = "self_checkin"


def first_of(month: str) -> date:
    return date(int(month[:4]), int(month[5:7]), 1)


def shift(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def last_of(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def instant(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def working_days(start: date, end: date) -> list[date]:
    days = [start + timedelta(n) for n in range((end - start).days + 1)]
    return [day for day in days if day.weekday() < 5] or [start]


def note_text(notes: Sequence[tuple[str, dict[str, Any]]] | Sequence[Sequence[Any]], locale: str) -> str:
    """An entry's notes in ``locale``, joined."""
    if not notes:
        return ""
    return "; ".join(message(str(key), locale, **dict(params)) for key, params in notes)


# -- making the plan ---------------------------------------------------------------------------------
@dataclass
class Entry:
    """An entry being planned: stored values plus what this run found."""

    row: dict[str, Any]
    new: bool
    found: dict[str, Any] = field(default_factory=dict)
    stored: dict[str, Any] = field(default_factory=dict)
    """The row as read (to write back only what changed)."""


def every(settings: Settings) -> dict[str, int]:
    """Months between the required visits, by risk tier (a tier not known: as low)."""
    return {"high": settings.plan_every_high, "medium": settings.plan_every_medium, "low": settings.plan_every_low}


def contact_action(
    borrower: store.PlanBorrower, reasons: Sequence[str], disputed: bool, rules: ContactRules, default_script: str
) -> tuple[str, str, list[tuple[str, dict[str, Any]]]]:
    """(action, script, notes) of an entry under the rules of contact."""
    notes: list[tuple[str, dict[str, Any]]] = []
    script = OVERDUE_SCRIPT if "overdue" in reasons else default_script
    action = "call"
    if script in rules.collection_scripts and disputed:
        if len(reasons) == 1:
            return "hold", script, [("plan_note_dispute_hold", {})]
        script = default_script
        notes.append(("plan_note_dispute_other", {}))
    if borrower.opted_out:
        if script in rules.collection_scripts:
            notes.append(("plan_note_opted_out_collection", {}))
        elif borrower.risk_tier in rules.opt_out_tiers:
            action, script = "invite", INVITE_SCRIPT
            notes.append(("plan_note_opted_out_invite", {}))
        else:
            notes.append(("plan_note_opted_out_kept", {}))
    return action, script, notes


def ordered(reasons: Sequence[str] | set[str]) -> list[str]:
    return [code for code in PLAN_REASONS if code in reasons]


def draw_samples(
    entries: dict[int, Entry],
    borrowers: dict[int, store.PlanBorrower],
    size: int,
    month: str,
    seed: int,
    scope: set[int] | None,
) -> None:
    """Add each officer's random sample to ``entries`` (what their sample still lacks)."""
    drawn: dict[int, int] = {}
    for entry in entries.values():
        officer = borrowers[entry.row["borrower_id"]].officer_id
        if officer is not None and "sample" in entry.row["reasons"]:
            drawn[officer] = drawn.get(officer, 0) + 1
    candidates: dict[int, list[int]] = {}
    for borrower in borrowers.values():
        if borrower.officer_id is not None and borrower.open_loan and borrower.id not in entries:
            candidates.setdefault(borrower.officer_id, []).append(borrower.id)
    for officer, ids in sorted(candidates.items()):
        if scope is not None and officer not in scope:
            continue
        need = max(0, size - drawn.get(officer, 0))
        picks = random.Random(f"{month}:{officer}:{seed}").sample(sorted(ids), min(need, len(ids)))
        for borrower_id in picks:
            row = {"borrower_id": borrower_id, "reasons": [], "detail": {}}
            entries[borrower_id] = Entry(row, True, {"sample": {"seed": seed}})


async def queue_invites(session: AsyncSession, entries: dict[int, Entry], now: datetime, locale: str) -> int:
    """Send each open invite entry of a borrower on Telegram their self-service invite, once."""
    waiting = [e for e in entries.values() if e.row.get("done_at") is None and e.row.get("action") == "invite"]
    waiting = [e for e in waiting if not e.row["detail"].get("invite_queued")]
    if not waiting:
        return 0
    try:
        from bot.desk.invites import queue_invite  # H4's module (issue 10); the plan works without it
    except ImportError:  # pragma: no cover - until bot/desk/invites.py lands
        return 0
    queued = 0
    for borrower in await store.borrowers_by_id(session, [e.row["borrower_id"] for e in waiting]):
        if borrower.telegram_id is None:
            continue
        sent = await queue_invite(session, borrower, script_id=INVITE_SCRIPT, now=now, created_by=None)
        if sent is not None:
            row = entries[borrower.id].row
            notes = [*row["detail"].get("notes", []), ["plan_note_invite_queued", {}]]
            row["detail"] = {**row["detail"], "invite_queued": now.isoformat(), "notes": notes}
            row["note"] = note_text(notes, locale)
            queued += 1
    return queued


def fulfils(reasons: Sequence[str], outcome: str | None) -> bool:
    """True when a visit ending with ``outcome`` fulfils an entry of ``reasons``."""
    return outcome == "completed" or (list(reasons) == ["overdue"] and outcome in REACHED)


async def done_already(session: AsyncSession, entries: dict[int, Entry], since: datetime, now: datetime) -> int:
    """Mark done the open entries a visit already ended in the month fulfils; returns how many."""
    flags: set[int] = set()
    done = 0
    for visit_id, borrower_id, outcome, finished in await store.finished_visits(session, since, now):
        entry = entries.get(borrower_id)
        if entry is None or entry.row.get("done_at") is not None or not fulfils(entry.row["reasons"], outcome):
            continue
        entry.row.update(visit_id=visit_id, done_at=finished)
        flags |= {f["id"] for f in entry.row["detail"].get("flagged", {}).get("flags", [])}
        done += 1
    await store.clear_flags(session, flags, now)
    return done
