"""The month's overview for the web desk: outcomes and risk flags per ISO week, overdue loans nobody
has called since they went overdue, and the borrowers who opted out of visits.

The scope is the briefing's (:mod:`bot.desk.briefing_scope`); plan vs done per officer and reason is
:func:`bot.desk.planning.progress`, given here too so one call fills the page. Weeks are ISO weeks
(Monday to Sunday) in the deployment's zone, cut to the month: a month has four to six of them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk import plan_rules
from bot.desk.briefing_scope import BriefingScope
from bot.desk.clock import Clock
from bot.desk.planning import ProgressRow, progress
from storage import briefing as store

__all__ = ["OptOut", "OverdueLoan", "Overview", "WeekFigures", "make_overview", "month_weeks"]


@dataclass(frozen=True)
class WeekFigures:
    """One ISO week of the month (``2026-W49``; ``first``/``last``: its days inside the month)."""

    week: str
    first: date
    last: date
    visits: int
    outcomes: dict[str, int]
    flags: dict[str, int]
    """Live flags raised on the week's visits, by severity (``high``, ``medium``, ``low``)."""


@dataclass(frozen=True)
class OverdueLoan:
    """An open overdue loan whose borrower has had no visit started since it went overdue."""

    loan_id: int
    contract_no: str
    borrower_id: int
    borrower_code: str
    borrower_name: str
    officer_id: int | None
    officer_name: str
    overdue_days: int
    overdue_amount: Decimal
    overdue_since: date
    last_visit_at: datetime | None


@dataclass(frozen=True)
class OptOut:
    """A borrower who does not want visits (不想回访): when, why, and how they prefer to be reached."""

    borrower_id: int
    borrower_code: str
    borrower_name: str
    officer_name: str
    opted_out_at: datetime
    reason: str | None
    preferred_channel: str | None
    risk_tier: str
    in_month: bool


@dataclass(frozen=True)
class Overview:
    """Everything the overview page shows for one scope and month."""

    scope: BriefingScope
    progress: tuple[ProgressRow, ...]
    weeks: tuple[WeekFigures, ...]
    overdue_uncalled: tuple[OverdueLoan, ...]
    opt_outs: tuple[OptOut, ...]
    today: date

    @property
    def opted_out_this_month(self) -> int:
        """Opt-outs recorded in the month."""
        return sum(o.in_month for o in self.opt_outs)


def month_weeks(month: str) -> list[tuple[str, date, date]]:
    """The month's ISO weeks: (``YYYY-Www``, first day in the month, last day in the month)."""
    first = plan_rules.first_of(month)
    last = plan_rules.last_of(first)
    weeks: list[tuple[str, date, date]] = []
    day = first
    while day <= last:
        year, week, weekday = day.isocalendar()
        end = min(day + timedelta(days=7 - weekday), last)
        weeks.append((f"{year}-W{week:02d}", day, end))
        day = end + timedelta(days=1)
    return weeks


async def make_overview(sessions: async_sessionmaker[AsyncSession], scope: BriefingScope, clock: Clock) -> Overview:
    """The overview of ``scope``'s month; overdue loans and opt-outs as they stand now (``clock``)."""
    zone = ZoneInfo(scope.zone)
    today = clock.now().astimezone(zone).date()
    plan = tuple(await progress(sessions, scope.month, viewer=scope.viewer))
    async with sessions() as session:
        staff = await store.staff_names(session)
        visits = await store.month_visits(session, scope.filter, scope.since, scope.until)
        flags = await store.flag_rows(session, scope.filter, scope.since, scope.until)
        loans = await store.overdue_loans(session, scope.filter)
        outs = await store.opted_out(session, scope.filter)

    def name(officer_id: int | None) -> str:
        return staff[officer_id][0] if officer_id in staff else "-"

    weeks = month_weeks(scope.month)
    week_of = {}
    for key, first, last in weeks:
        for n in range((last - first).days + 1):
            week_of[first + timedelta(days=n)] = key
    outcomes: dict[str, Counter[str]] = {key: Counter() for key, _, _ in weeks}
    severities: dict[str, Counter[str]] = {key: Counter() for key, _, _ in weeks}
    visit_week = {}
    for visit in visits:
        key = week_of[visit.finished_at.astimezone(zone).date()]
        visit_week[visit.id] = key
        outcomes[key][visit.outcome] += 1
    for visit_id, _, _, severity, _, _ in flags:
        if visit_id in visit_week:
            severities[visit_week[visit_id]][severity] += 1
    figures = tuple(
        WeekFigures(key, first, last, sum(outcomes[key].values()), dict(sorted(outcomes[key].items())),
                    {s: severities[key].get(s, 0) for s in ("high", "medium", "low")})
        for key, first, last in weeks
    )  # fmt: skip
    uncalled = []
    for loan_id, contract, borrower_id, code, borrower, officer, days, amount, last_visit in loans:
        since = today - timedelta(days=days)
        if last_visit is not None and last_visit.astimezone(zone).date() >= since:
            continue
        uncalled.append(
            OverdueLoan(loan_id, contract, borrower_id, code, borrower, officer, name(officer), days,
                        Decimal(str(amount)), since, last_visit)
        )  # fmt: skip
    opt_outs = tuple(
        OptOut(b, code, borrower, name(officer), at, reason, channel, tier, scope.since <= at < scope.until)
        for b, code, borrower, officer, at, reason, channel, tier in outs
    )
    return Overview(scope, plan, figures, tuple(uncalled), opt_outs, today)
