"""The monthly visit plan (月度回访计划, seeds 001 and 004): whom each officer visits this month, and why.

:func:`make_plan` stores one :class:`~storage.models.PlanEntry` per borrower per month with every
reason that applies (:data:`PLAN_REASONS`); months are calendar months in the deployment's zone
(``VISITBOT_TIMEZONE``), "today" is the clock's day there. The rules:

- ``overdue``: an open loan with overdue days after :func:`storage.importing.refresh_overdue` has set
  them from the repayments as of today. The loan went overdue on ``today - overdue_days`` (the missed
  due date); the reminder (script ``overdue_reminder``) is planned on the first working day the plan
  allows and due ``VISITBOT_PLAN_OVERDUE_WITHIN`` (7) days after it went overdue, never before it is
  planned (a loan long overdue is due at once).
- ``broken_promise``: a promise to pay judged broken (:mod:`bot.desk.promises`) whose borrower no
  visit reached since (an outcome in :data:`REACHED`).
- ``new_loan``: a loan disbursed in the calendar month before the plan's month.
- ``policy``: a borrower with an open loan (active or overdue) whose tier asks for a visit every N
  months (``VISITBOT_PLAN_EVERY_HIGH/MEDIUM/LOW``: 1, 3, 6) is required when they have no *completed*
  visit from the first day of month−(N−1) up to the plan month's start. High risk: every month;
  medium: a borrower last visited in September is due again in December; never visited: required.
- ``flagged``: the borrower's watch flags not cleared (``/flag``, ``visitbot flag``).
- ``sample``: ``VISITBOT_PLAN_SAMPLE_SIZE`` borrowers per officer, drawn from that officer's borrowers
  with an open loan who are in the plan for no other reason, with ``random.Random(f"{month}:{officer
  id}:{seed}")`` over the candidates sorted by id. Without a seed the month gives it (``202612``), and
  the summary says which seed was used. Re-planning draws only what an officer's sample still lacks.

The rules of contact (:mod:`bot.desk.contact`) then choose the action: ``call`` (script
``overdue_reminder`` when overdue, else ``VISITBOT_DEFAULT_SCRIPT``); ``invite`` (self-service
``self_checkin``) for a borrower who opted out and whose tier is in ``VISITBOT_CONTACT_OPT_OUT_TIERS``;
an opted-out borrower of another tier (high) stays a call, the note says why; an opt-out never stops
the overdue reminder (collection). An open dispute holds the overdue reminder: an entry in the plan
for being overdue only gets the action ``hold`` (kept, not called, the note says why); with other
reasons it stays a visit with the default script. An invite is queued to a borrower on Telegram
through the outbox (once per entry, ``detail["invite_queued"]``); the note of one without Telegram
says to send ``/invite <code>``.

Days: overdue entries on the first working day (Mon–Fri) of the month, or today's when planning the
current month; the others spread evenly over the working days left, per officer; all due by the
month's last day. Re-planning keeps done entries as they are, merges new reasons into open ones
(their days stay) and adds new borrowers. A visit fulfils its borrower's open entry of the month when
it ends *completed*; an entry in the plan for being overdue only is also fulfilled by any outcome that
reached the borrower (:data:`REACHED`): the reminder was given. Visits that ended in the month before
the plan was made count the same way. A fulfilled entry clears the watch flags that put it there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk import plan_rules as rules
from bot.desk.clock import Clock
from bot.desk.contact import ContactRules
from bot.desk.errors import NotFound
from bot.desk.plan_rules import PLAN_REASONS, REACHED, note_text
from bot.desk.planning_text import MESSAGES
from bot.settings import Settings
from dialogs.i18n import DEFAULT_LOCALE, message, register
from storage import importing as loan_book
from storage import planning as store
from storage import promises as promise_book
from storage import repositories as repo
from storage.models import User, Visit, WatchFlag

__all__ = [
    "PLAN_REASONS",
    "REACHED",
    "PlanInputError",
    "PlanLine",
    "PlanSummary",
    "ProgressRow",
    "flag_borrower",
    "fulfil_plan",
    "make_plan",
    "note_text",
    "parse_month",
    "plan_lines",
    "progress",
]

register(MESSAGES)


class PlanInputError(ValueError):
    """A month, officer or flag reason the plan cannot take; ``text(locale)`` words it."""

    def __init__(self, key: str, **params: object) -> None:
        self.key = key
        self.params = params
        super().__init__(key)

    def text(self, locale: str) -> str:
        """The problem in ``locale``."""
        return message(self.key, locale, **self.params)


@dataclass(frozen=True)
class PlanLine:
    """One plan entry as shown (``note`` in the deployment's language; :func:`note_text` for another)."""

    entry_id: int
    month: str
    borrower_id: int
    borrower_code: str
    borrower_name: str
    officer_id: int | None
    officer_name: str
    reasons: tuple[str, ...]
    action: str
    note: str
    script_id: str
    planned_on: date
    due_on: date
    done: bool
    visit_id: int | None
    notes: tuple[tuple[str, dict[str, Any]], ...] = ()
    """The note as message keys and their parameters."""


@dataclass(frozen=True)
class PlanSummary:
    """What :func:`make_plan` did (``by_reason`` counts every entry of the month in scope)."""

    month: str
    entries: int
    added: int
    kept_done: int
    updated: int
    invites_queued: int
    by_reason: dict[str, int]
    seed: int = 0
    """The sample's seed: give it as ``--seed`` to draw the same borrowers again."""
    done_now: int = 0
    """Entries marked done by visits that had already ended in the month."""


@dataclass(frozen=True)
class ProgressRow:
    """Planned vs done for one officer and reason; ``reason == "total"``: the officer's entries (each once),
    and with ``officer_id`` None the total of everything shown."""

    officer_id: int | None
    officer_name: str
    reason: str
    planned: int
    done: int


# -- months and days ---------------------------------------------------------------------------------
def parse_month(text: str) -> str:
    """``2026-12`` (or ``2026/12``, ``2026-1``) -> ``2026-12``; anything else raises :class:`PlanInputError`."""
    found = re.fullmatch(r"\s*(\d{4})[-/.](\d{1,2})\s*", text or "")
    if not found or not 1 <= int(found[2]) <= 12 or not 2000 <= int(found[1]) <= 2100:
        raise PlanInputError("plan_bad_month", value=text)
    return f"{int(found[1]):04d}-{int(found[2]):02d}"


# -- making the plan ---------------------------------------------------------------------------------
async def make_plan(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: Clock,
    month: str,
    *,
    officer_ids: Sequence[int] | None = None,
    seed: int | None = None,
) -> PlanSummary:
    """Make or update the plan of ``month`` (of ``officer_ids``' borrowers, or everyone's), in one transaction."""
    month = parse_month(month)
    zone = ZoneInfo(settings.timezone)
    now = clock.now()
    today = now.astimezone(zone).date()
    first = rules.first_of(month)
    if rules.last_of(first) < today:
        raise PlanInputError("plan_month_over", month=month, today=today.isoformat())
    seed = int(month.replace("-", "")) if seed is None else seed
    scope = None if officer_ids is None else set(officer_ids)
    async with sessions() as session, session.begin():
        await loan_book.refresh_overdue(session, today, await store.loans_to_refresh(session, today))
        borrowers = await store.plan_borrowers(session, scope)
        found, loans = await _found(session, borrowers, settings, first, now)
        stored = await store.month_entries(session, month)
        entries = {b: rules.Entry(row, False, stored=dict(row)) for b, row in stored.items() if b in borrowers}
        for borrower_id, reasons in found.items():
            if borrower_id not in entries:
                entries[borrower_id] = rules.Entry({"borrower_id": borrower_id, "reasons": [], "detail": {}}, True)
            entries[borrower_id].found = reasons
        rules.draw_samples(entries, borrowers, settings.plan_sample_size, month, seed, scope)
        disputed = await store.disputed_borrowers(session)
        _shape(entries, borrowers, loans, disputed, settings, month, max(first, today))
        invites = await rules.queue_invites(session, entries, now, settings.locale)
        done_now = await rules.done_already(session, entries, rules.instant(first, zone), now)
        fresh = [e.row for e in entries.values() if e.new]
        for row in fresh:
            row.setdefault("visit_id", None)
            row.setdefault("done_at", None)
            row.update(created_at=now, updated_at=now)
        changed = [e.row for e in entries.values() if not e.new and e.row != e.stored]
        for row in changed:
            row["updated_at"] = now
        await store.insert_entries(session, fresh)
        await store.update_entries(session, changed)
    kept_done = sum(not e.new and e.stored.get("done_at") is not None for e in entries.values())
    by_reason = {code: sum(code in e.row["reasons"] for e in entries.values()) for code in PLAN_REASONS}
    return PlanSummary(month, len(entries), len(fresh), kept_done, len(changed), invites, by_reason, seed, done_now)


async def _found(
    session: AsyncSession, borrowers: dict[int, store.PlanBorrower], settings: Settings, first: date, now: datetime
) -> tuple[dict[int, dict[str, Any]], dict[int, int]]:
    """Per borrower, each reason that applies now with what made it apply; and the loan each entry is about."""
    zone = ZoneInfo(settings.timezone)
    today = now.astimezone(zone).date()
    found: dict[int, dict[str, Any]] = {}
    loans: dict[int, int] = {}

    def add(borrower_id: int, reason: str, detail: Any, loan_id: int | None = None) -> None:
        if borrower_id in borrowers:
            found.setdefault(borrower_id, {})[reason] = detail
            if loan_id is not None:
                loans.setdefault(borrower_id, loan_id)

    worst: dict[int, tuple[int, int, Any]] = {}
    for loan_id, borrower_id, days, amount in await store.overdue_loans(session):
        if days > worst.get(borrower_id, (0, 0, 0))[1]:
            worst[borrower_id] = (loan_id, days, amount)
    for borrower_id, (loan_id, days, amount) in worst.items():
        since = (today - timedelta(days=days)).isoformat()
        add(borrower_id, "overdue", {"loan_id": loan_id, "since": since, "amount": str(amount)}, loan_id)
    for broken in await promise_book.broken_unvisited(session, REACHED):  # bot.desk.promises
        promised = {"promise": broken.promise_id, "promised_on": broken.promised_on.isoformat()}
        add(broken.borrower_id, "broken_promise", {**promised, "amount": str(broken.amount)}, broken.loan_id)
    for loan_id, borrower_id, disbursed in await store.new_loans(session, rules.shift(first, -1), first - timedelta(1)):
        add(borrower_id, "new_loan", {"loan_id": loan_id, "disbursed_on": disbursed.isoformat()}, loan_id)
    visited = await store.last_completed(session, rules.instant(first, zone))
    intervals = rules.every(settings)
    windows = {tier: rules.instant(rules.shift(first, 1 - months), zone) for tier, months in intervals.items()}
    for borrower in borrowers.values():
        every = intervals.get(borrower.risk_tier, settings.plan_every_low)
        last_visit = visited.get(borrower.id)
        window = windows.get(borrower.risk_tier, windows["low"])
        if borrower.open_loan and (last_visit is None or last_visit < window):
            shown = last_visit.astimezone(zone).date().isoformat() if last_visit else None
            add(borrower.id, "policy", {"tier": borrower.risk_tier, "every": every, "last_visit": shown})
    for borrower_id, flags in (await store.open_flags(session, now)).items():
        add(borrower_id, "flagged", {"flags": flags})
    return found, loans


def _shape(
    entries: dict[int, rules.Entry],
    borrowers: dict[int, store.PlanBorrower],
    loans: dict[int, int],
    disputed: set[int],
    settings: Settings,
    month: str,
    start: date,
) -> None:
    """Give every open entry its merged reasons, action, script, note and (new ones) days."""
    contact = ContactRules.of(settings)
    last = rules.last_of(rules.first_of(month))
    days = rules.working_days(start, last)
    spread: dict[int | None, list[rules.Entry]] = {}
    for borrower_id, entry in entries.items():
        row = entry.row
        if row.get("done_at") is not None:
            continue
        borrower = borrowers[borrower_id]
        detail = {**row["detail"], **entry.found}
        reasons = rules.ordered(set(row["reasons"]) | set(entry.found))
        action, script, notes = rules.contact_action(
            borrower, reasons, borrower_id in disputed, contact, settings.default_script
        )
        if action == "invite":
            if detail.get("invite_queued"):
                notes.append(("plan_note_invite_queued", {}))
            elif not borrower.has_telegram:
                notes.append(("plan_note_send_invite", {"code": borrower.code}))
        detail["notes"] = [[key, params] for key, params in notes]
        newly_overdue = "overdue" in reasons and "overdue" not in row["reasons"]
        row.update(
            month=month, officer_id=borrower.officer_id, reasons=reasons, detail=detail, action=action,
            script_id=script, note=note_text(notes, settings.locale),
            loan_id=row.get("loan_id") or loans.get(borrower_id),
        )  # fmt: skip
        if newly_overdue:
            since = date.fromisoformat(detail["overdue"]["since"])
            row["planned_on"] = days[0] if entry.new else min(row["planned_on"], days[0])
            row["due_on"] = max(since + timedelta(days=settings.plan_overdue_within), row["planned_on"])
        elif entry.new:
            spread.setdefault(borrower.officer_id, []).append(entry)
            row["due_on"] = last
    for group in spread.values():
        group.sort(key=lambda e: (PLAN_REASONS.index(e.row["reasons"][0]), borrowers[e.row["borrower_id"]].code))
        for index, entry in enumerate(group):
            entry.row["planned_on"] = days[index * len(days) // len(group)]


# -- showing it ----------------------------------------------------------------------------------------
async def _visible_officers(session: AsyncSession, viewer: User | None) -> set[int] | None:
    """The officers whose entries ``viewer`` sees: None for all (the CLI, admins)."""
    if viewer is None or viewer.role == "admin":
        return None
    if viewer.role == "supervisor" and viewer.team is not None:
        return {u.id for u in await store.staff(session) if u.team == viewer.team} | {viewer.id}
    return {viewer.id}


async def plan_lines(
    sessions: async_sessionmaker[AsyncSession],
    month: str,
    *,
    officer_id: int | None = None,
    viewer: User | None = None,
    open_only: bool = False,
) -> list[PlanLine]:
    """The month's entries the viewer may see (of ``officer_id`` when given), due first (due_on, planned_on, code)."""
    month = parse_month(month)
    async with sessions() as session:
        visible = await _visible_officers(session, viewer)
        if officer_id is not None:
            visible = {officer_id} if visible is None or officer_id in visible else set()
        rows = await store.entry_rows(session, month, officer_ids=visible, open_only=open_only)
    return [
        PlanLine(
            entry.id,
            entry.month,
            entry.borrower_id,
            code,
            name,
            entry.officer_id,
            officer or "-",
            tuple(entry.reasons),
            entry.action,
            entry.note,
            entry.script_id,
            entry.planned_on,
            entry.due_on,
            entry.done_at is not None,
            entry.visit_id,
            tuple((str(key), dict(params)) for key, params in (entry.detail or {}).get("notes", [])),
        )
        for entry, code, name, officer in rows
    ]


async def progress(
    sessions: async_sessionmaker[AsyncSession], month: str, *, viewer: User | None = None
) -> list[ProgressRow]:
    """Planned vs done per officer and reason (an entry with two reasons counts in both), each officer's
    total, and the total of all (``officer_id`` None, reason ``total``). Supervisors see their team."""
    lines = await plan_lines(sessions, month, viewer=viewer)
    counts: dict[tuple[int | None, str], list[int]] = {}
    names: dict[int | None, str] = {}
    for line in lines:
        names[line.officer_id] = line.officer_name
        for reason in (*line.reasons, "total"):
            tally = counts.setdefault((line.officer_id, reason), [0, 0])
            tally[0] += 1
            tally[1] += line.done
    order = {code: index for index, code in enumerate((*PLAN_REASONS, "total"))}
    rows = [
        ProgressRow(officer, names[officer], reason, planned, done)
        for (officer, reason), (planned, done) in sorted(
            counts.items(), key=lambda item: (names[item[0][0]], item[0][0] or 0, order.get(item[0][1], 99))
        )
    ]
    rows.append(ProgressRow(None, "", "total", len(lines), sum(line.done for line in lines)))
    return rows


# -- flags and visits ------------------------------------------------------------------------------
async def flag_borrower(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    *,
    user: User | None,
    code: str,
    reason: str,
    locale: str | None = None,
) -> WatchFlag:
    """Flag a borrower for the next plan with the officer's reason (``user`` None: the CLI, any borrower).

    Raises :class:`PlanInputError` without a reason, :class:`NotFound` (in the user's language) when
    the code is unknown or the borrower is not the user's to flag (an officer's own; a supervisor's team).
    """
    locale = locale or (user.locale if user is not None else None) or DEFAULT_LOCALE
    reason = " ".join(reason.split())
    if not reason:
        raise PlanInputError("plan_flag_no_reason")
    async with sessions() as session, session.begin():
        borrower = await repo.borrower_by_code(session, code.strip().upper())
        allowed = borrower is not None and (
            user is None
            or user.role == "admin"
            or borrower.officer_id == user.id
            or (
                user.role == "supervisor"
                and user.team is not None
                and getattr(borrower.officer, "team", None) == user.team
            )
        )
        if borrower is None or not allowed:
            raise NotFound(message("plan_flag_unknown", locale, code=code.strip().upper()))
        return await store.add_flag(
            session, borrower_id=borrower.id, user_id=user.id if user else None, reason=reason[:500], at=clock.now()
        )


async def fulfil_plan(session: AsyncSession, visit: Visit, now: datetime, *, timezone: str | None = None) -> None:
    """Mark the borrower's open entry of this month done when ``visit`` fulfils it, in the visit's transaction.

    The month is ``now``'s in ``timezone`` (the deployment's; the borrower's when not given). The entry's
    watch flags are cleared.
    """
    zone = ZoneInfo(timezone or visit.borrower.timezone)
    month = now.astimezone(zone).strftime("%Y-%m")
    entry = await store.open_entry(session, month, visit.borrower_id)
    if entry is None or not rules.fulfils(entry.reasons, visit.outcome):
        return
    entry.visit_id = visit.id
    entry.done_at = now
    entry.updated_at = now
    flags = {f["id"] for f in (entry.detail or {}).get("flagged", {}).get("flags", [])}
    await store.clear_flags(session, flags, now)
    await session.flush()
