"""The monthly work briefing (回访工作简报, seed 003): 分类汇总, 识别风险点, 编写报告, 采取措施.

For a month and a scope (:mod:`bot.desk.briefing_scope`) :func:`make_briefing` sums up, front-end free:

- the plan against what was done, per officer and reason (:func:`bot.desk.planning.progress`), and the
  visits that ended in the month per officer and outcome (分类汇总);
- the live risk flags of those visits by kind (rule), with the borrowers behind them (识别风险点);
- the borrowers whose answers got worse between their last two completed visits, step by step as
  :data:`bot.desk.worse.WORSE_RULES` declares;
- what was done about it (采取措施): reviews returned, approved and answered, relief requests
  (展期/分期) made and approved or declined (with the reason), disputes raised and resolved, borrowers
  flagged for the next plan.

Every figure comes from a few set-based queries (:mod:`storage.briefing`), whatever the month's size.
:mod:`bot.desk.briefing_xlsx` writes it as a workbook; the CLI and the web desk lay it out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk.briefing_scope import BriefingScope, briefing_scope, month_bounds, team_choices
from bot.desk.planning import ProgressRow, progress
from bot.desk.relief import detail_of as relief_detail
from bot.desk.worse import WORSE_RULES, WorseRule, got_worse
from storage import briefing as store
from storage import flags as flag_store

__all__ = [
    "ACTION_KINDS",
    "OUTCOMES",
    "SEVERITIES",
    "ActionItem",
    "Briefing",
    "BriefingScope",
    "Change",
    "FlagHit",
    "FlagKind",
    "OfficerFigures",
    "QualityCount",
    "WorsenedBorrower",
    "briefing_scope",
    "make_briefing",
    "month_bounds",
    "team_choices",
]

OUTCOMES = ("completed", "wrong_party", "callback", "refused", "unreachable", "opted_out")
"""Outcomes in the order the briefing lists them (others a script adds follow)."""
SEVERITIES = ("high", "medium", "low")
ACTION_KINDS = (
    "review_returned", "review_approved", "review_replied", "relief_requested", "relief_approved",
    "relief_declined", "dispute_raised", "dispute_resolved", "watch_flagged",
)  # fmt: skip
"""What counts as an action taken (采取措施), in the order the briefing lists them."""
NOBODY = "-"


@dataclass(frozen=True)
class OfficerFigures:
    """One officer's month: plan entries and those done, visits ended (by outcome), flags raised."""

    officer_id: int | None
    officer_name: str
    planned: int
    planned_done: int
    visits: int
    outcomes: dict[str, int]
    flags: int
    high_flags: int


@dataclass(frozen=True)
class FlagHit:
    """One flag of one visit: the borrower behind it."""

    visit_id: int
    borrower_id: int
    borrower_code: str
    borrower_name: str
    officer_name: str
    severity: str
    step_id: str | None
    note: str
    finished_at: datetime


@dataclass(frozen=True)
class FlagKind:
    """Every live flag of one rule (``code``) raised in the month, and the borrowers behind them."""

    code: str
    count: int
    borrowers: int
    by_severity: dict[str, int]
    hits: tuple[FlagHit, ...]


@dataclass(frozen=True)
class Change:
    """One step whose answer got worse: the rule, and the answers before and after (parsed, and as shown)."""

    step_id: str
    kind: str
    before: Any
    after: Any
    before_text: str
    after_text: str


@dataclass(frozen=True)
class WorsenedBorrower:
    """A borrower whose last completed visit (in the month) answered worse than the one before it."""

    borrower_id: int
    borrower_code: str
    borrower_name: str
    officer_name: str
    visit_id: int
    finished_at: datetime
    previous_visit_id: int
    previous_finished_at: datetime
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class ActionItem:
    """One action taken in the month (``kind`` of :data:`ACTION_KINDS`)."""

    kind: str
    at: datetime
    visit_id: int | None
    borrower_code: str
    borrower_name: str
    officer_name: str
    """Whose visit or borrower it is."""
    by_name: str
    """Who acted (the reviewer, the officer who asked, who resolved or flagged); ``-`` when unknown."""
    detail: str
    """The comment, the relief asked for (``extension: 6个月``) or the reason it was approved or declined, the
    dispute's note or resolution, the reason."""


@dataclass(frozen=True)
class QualityCount:
    """The month's quality flags (形式化) of one rule: raised on the visits that ended, and explained since."""

    code: str
    raised: int
    explained: int


@dataclass(frozen=True)
class Briefing:
    """The month's briefing for one scope (every count is of that scope only)."""

    scope: BriefingScope
    planned: int
    planned_done: int
    progress: tuple[ProgressRow, ...]
    visits: int
    outcomes: dict[str, int]
    officers: tuple[OfficerFigures, ...]
    flags: tuple[FlagKind, ...]
    worsened: tuple[WorsenedBorrower, ...]
    compared: int
    """Borrowers with two completed visits to compare (the worsened are among them)."""
    actions: tuple[ActionItem, ...]
    action_counts: dict[str, int] = field(default_factory=dict)
    quality: tuple[QualityCount, ...] = ()
    """Quality flags (形式化) by rule, most raised first (:func:`storage.flags.quality_by_rule`)."""

    @property
    def flag_count(self) -> int:
        """Every live flag raised in the month."""
        return sum(kind.count for kind in self.flags)

    @property
    def flagged_borrowers(self) -> int:
        """Distinct borrowers with at least one flag."""
        return len({hit.borrower_id for kind in self.flags for hit in kind.hits})


def _ordered_outcomes(counts: Counter[str]) -> dict[str, int]:
    known = {code: counts.get(code, 0) for code in OUTCOMES}
    return known | {code: n for code, n in sorted(counts.items()) if code not in known}


async def make_briefing(sessions: async_sessionmaker[AsyncSession], scope: BriefingScope) -> Briefing:
    """The briefing of ``scope``'s month (from :func:`briefing_scope`), read in one session."""
    flt, since, until = scope.filter, scope.since, scope.until
    plan = tuple(await progress(sessions, scope.month, viewer=scope.viewer))
    async with sessions() as session:
        staff = await store.staff_names(session)
        visits = await store.month_visits(session, flt, since, until)
        flag_rows = await store.flag_rows(session, flt, since, until)
        worsened, compared = await _worsened(session, scope, staff)
        actions = await _actions(session, scope, staff)
        quality = await flag_store.quality_by_rule(session, flt, since, until)

    def name(officer_id: int | None) -> str:
        return staff[officer_id][0] if officer_id in staff else NOBODY

    by_visit = {visit.id: visit for visit in visits}
    per_officer: dict[int | None, Counter[str]] = {}
    for visit in visits:
        per_officer.setdefault(visit.officer_id, Counter())[visit.outcome] += 1
    flags_of: Counter[int | None] = Counter()
    high_of: Counter[int | None] = Counter()
    kinds: dict[str, list[FlagHit]] = {}
    for visit_id, borrower_id, code, severity, step_id, note in flag_rows:
        if visit_id not in by_visit:
            continue
        visit = by_visit[visit_id]
        flags_of[visit.officer_id] += 1
        high_of[visit.officer_id] += severity == "high"
        kinds.setdefault(code, []).append(
            FlagHit(
                visit_id,
                borrower_id,
                visit.borrower_code,
                visit.borrower_name,
                name(visit.officer_id),
                severity,
                step_id,
                note,
                visit.finished_at,
            )
        )
    flags = sorted(
        (
            FlagKind(
                code,
                len(hits),
                len({h.borrower_id for h in hits}),
                {s: sum(h.severity == s for h in hits) for s in SEVERITIES},
                tuple(hits),
            )
            for code, hits in kinds.items()
        ),
        key=lambda k: (-k.by_severity["high"], -k.count, k.code),
    )
    totals = {row.officer_id: row for row in plan if row.reason == "total" and row.officer_id is not None}
    officer_ids = sorted(set(per_officer) | set(totals), key=lambda o: (name(o) == NOBODY, name(o), o or 0))
    officers = tuple(
        OfficerFigures(
            o,
            totals[o].officer_name if o in totals else name(o),
            totals[o].planned if o in totals else 0,
            totals[o].done if o in totals else 0,
            sum(per_officer.get(o, Counter()).values()),
            _ordered_outcomes(per_officer.get(o, Counter())),
            flags_of[o],
            high_of[o],
        )
        for o in officer_ids
    )
    # progress() ends with the grand total (officer None, "total"); entries of nobody's borrowers come before it
    overall = next((row for row in reversed(plan) if row.officer_id is None and row.reason == "total"), None)
    return Briefing(
        scope=scope,
        planned=overall.planned if overall else 0,
        planned_done=overall.done if overall else 0,
        progress=plan,
        visits=len(visits),
        outcomes=_ordered_outcomes(Counter(visit.outcome for visit in visits)),
        officers=officers,
        flags=tuple(flags),
        worsened=tuple(worsened),
        compared=compared,
        actions=tuple(actions),
        action_counts={kind: sum(a.kind == kind for a in actions) for kind in ACTION_KINDS},
        quality=tuple(QualityCount(code, raised, explained) for code, raised, explained in quality),
    )


async def _worsened(
    session: AsyncSession, scope: BriefingScope, staff: dict[int, tuple[str, str | None, str]]
) -> tuple[list[WorsenedBorrower], int]:
    """The borrowers whose last two completed visits compare worse by :data:`WORSE_RULES`; and how many compared."""
    ranked = await store.last_two_completed(session, scope.filter, scope.since, scope.until)
    pairs: dict[int, dict[int, tuple[int, datetime]]] = {}
    about: dict[int, tuple[str, str, int | None]] = {}
    for visit_id, borrower_id, rank, finished, code, borrower_name, officer_id in ranked:
        pairs.setdefault(borrower_id, {})[rank] = (visit_id, finished)
        about[visit_id] = (code, borrower_name, officer_id)
    pairs = {b: p for b, p in pairs.items() if 1 in p and 2 in p and p[1][1] >= scope.since}
    rules: dict[str, WorseRule] = {rule.step: rule for rule in WORSE_RULES}
    answers = await store.compared_answers(session, scope.filter, scope.since, scope.until, rules)
    zone = ZoneInfo(scope.zone)
    found: list[WorsenedBorrower] = []
    for borrower_id, pair in pairs.items():
        (last, last_at), (previous, previous_at) = pair[1], pair[2]
        changes = []
        for step, rule in rules.items():
            if (previous, step) not in answers or (last, step) not in answers:
                continue
            (old, old_text), (new, new_text) = answers[(previous, step)], answers[(last, step)]
            if got_worse(rule, old, new, before_at=previous_at.astimezone(zone), after_at=last_at.astimezone(zone)):
                changes.append(Change(step, rule.kind, old, new, old_text, new_text))
        if changes:
            code, borrower_name, officer_id = about[last]
            officer = staff[officer_id][0] if officer_id in staff else NOBODY
            found.append(
                WorsenedBorrower(borrower_id, code, borrower_name, officer, last, last_at, previous, previous_at,
                                 tuple(changes))
            )  # fmt: skip
    found.sort(key=lambda w: (-len(w.changes), w.borrower_code))
    return found, len(pairs)


async def _actions(
    session: AsyncSession, scope: BriefingScope, staff: dict[int, tuple[str, str | None, str]]
) -> list[ActionItem]:
    """Reviews, relief requests, disputes and watch flags of the month, oldest first."""
    flt, since, until = scope.filter, scope.since, scope.until

    def name(officer_id: int | None) -> str:
        return staff[officer_id][0] if officer_id in staff else NOBODY

    items = [
        ActionItem(action, at, visit_id, code, borrower, name(officer), reviewer or NOBODY, comment)
        for action, at, visit_id, code, borrower, officer, reviewer, comment in await store.review_events(
            session, flt, since, until
        )
    ]
    for at, visit_id, code, borrower, officer, kind, terms, status, decided, by, reason in await store.relief_requests(
        session, flt, since, until
    ):  # asked for, and approved or declined with a reason (bot.desk.relief)
        if since <= at < until:
            items.append(ActionItem("relief_requested", at, visit_id, code, borrower, name(officer), name(officer),
                                    relief_detail(kind, terms)))  # fmt: skip
        if decided is not None and since <= decided < until and status in ("approved", "declined"):
            items.append(ActionItem(f"relief_{status}", decided, visit_id, code, borrower, name(officer),
                                    by or NOBODY, reason))  # fmt: skip
    for _, raised, resolved, visit_id, code, borrower, officer, note, resolution, by in await store.disputes(
        session, flt, since, until
    ):
        if since <= raised < until:
            items.append(ActionItem("dispute_raised", raised, visit_id, code, borrower, name(officer), NOBODY, note))
        if resolved is not None and since <= resolved < until:
            items.append(
                ActionItem("dispute_resolved", resolved, visit_id, code, borrower, name(officer), by or NOBODY,
                           resolution or "")
            )  # fmt: skip
    items += [
        ActionItem("watch_flagged", at, None, code, borrower, name(officer), by or NOBODY, reason)
        for at, code, borrower, officer, by, reason in await store.watch_flags(session, flt, since, until)
    ]
    items.sort(key=lambda a: (a.at, ACTION_KINDS.index(a.kind)))
    return items
