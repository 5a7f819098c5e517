"""How fast a month's briefing and overview are: 200,000 visits over a year, 200 officers in 20 teams.

Generated with Core bulk inserts: borrowers (one in ten overdue, one in 37 opted out), visits spread
over December 2025 – November 2026 (two thirds completed), three compared answers on every completed
visit (business condition, staff, repayment pressure; one borrower in four
answers worse than the time before), a flag on one visit in eight, a review approved or sent back on
one in four of November's. Then, for November 2026: the institution's briefing, one team's, the
overview, and the workbook. Run ``python -m bench.briefing [--visits N] [--only sqlite|postgresql]``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.postgres import on_each_database
from bot.desk import FixedClock
from bot.desk.briefing import briefing_scope, make_briefing
from bot.desk.briefing_xlsx import briefing_xlsx
from bot.desk.overview import make_overview
from storage.db import make_engine, make_sessionmaker
from storage.models import Base

NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
START = datetime(2025, 12, 1, 3, 0, tzinfo=UTC)
OUTCOMES = ("completed", "completed", "unreachable", "completed", "callback", "refused")
BATCH = 1000
ZONE = "Asia/Shanghai"


async def _bulk(engine: AsyncEngine, name: str, rows: list[dict[str, Any]]) -> None:
    table = Base.metadata.tables[name]
    async with engine.begin() as conn:
        for start in range(0, len(rows), BATCH):
            await conn.execute(insert(table), rows[start : start + BATCH])


async def generate(engine: AsyncEngine, visits: int, officers: int) -> dict[str, int]:
    """Users, borrowers (one per four visits), loans, visits, answers, flags and reviews."""
    borrowers = max(visits // 4, 1)
    users = [{"id": n + 1, "name": f"信贷员{n:03d}", "role": "officer", "team": f"支行{n % 20:02d}",
              "active": True, "created_at": START} for n in range(officers)]  # fmt: skip
    users.append({"id": officers + 1, "name": "主管", "role": "supervisor", "team": "支行00", "active": True,
                  "created_at": START})  # fmt: skip
    await _bulk(engine, "users", users)
    await _bulk(engine, "borrowers", [
        {"id": n + 1, "code": f"C{n:07d}", "name": f"借款人{n}", "officer_id": n % officers + 1, "risk_tier": "low",
         "timezone": ZONE, "locale": "zh-CN", "created_at": START,
         "opted_out_at": START + timedelta(days=n % 365) if n % 37 == 0 else None}
        for n in range(borrowers)
    ])  # fmt: skip
    await _bulk(engine, "loans", [
        {"id": n + 1, "borrower_id": n + 1, "contract_no": f"DK{n:09d}", "product": "经营贷",
         "amount": Decimal(50_000), "disbursed_on": START.date(), "purpose": "进货", "status": "active",
         "overdue_amount": Decimal(3000 if n % 10 == 0 else 0), "overdue_days": 12 if n % 10 == 0 else 0}
        for n in range(borrowers)
    ])  # fmt: skip
    rows, answers, flags, reviews = [], [], [], []
    span = (datetime(2026, 11, 30, 3, tzinfo=UTC) - START).total_seconds()
    for n in range(visits):
        borrower = n % borrowers
        at = START + timedelta(seconds=span * (n // borrowers * borrowers + borrower) / visits)
        outcome = OUTCOMES[(n // borrowers + borrower) % len(OUTCOMES)]
        rows.append({"id": n + 1, "borrower_id": borrower + 1, "officer_id": borrower % officers + 1,
                     "script_id": "officer_phone_visit", "script_version": 1, "channel": "phone", "locale": "zh-CN",
                     "state": {}, "status": "finished", "outcome": outcome, "started_at": at, "updated_at": at,
                     "finished_at": at, "review_status": "pending", "revision": 1})  # fmt: skip
        if outcome == "completed":
            worse = borrower % 4 == 0 and at >= datetime(2026, 10, 31, tzinfo=UTC)
            for step, value in (("business_status", "poor" if worse else "good"), ("staff_total", 6 if worse else 10),
                                ("repayment_pressure", "none")):  # fmt: skip
                answers.append({"visit_id": n + 1, "step_id": step, "question": step, "raw": str(value),
                                "value": value, "display": str(value), "skipped": False, "answered_by": "officer",
                                "answered_at": at})  # fmt: skip
        if n % 8 == 0:
            flags.append({"visit_id": n + 1, "code": ("business_worse", "funds_diverted", "other_debt")[n % 3],
                          "severity": ("medium", "high", "medium")[n % 3], "note": "", "raised_at": at})  # fmt: skip
        if n % 4 == 0 and at >= datetime(2026, 10, 31, tzinfo=UTC):
            reviews.append({"at": at + timedelta(hours=2), "user_id": officers + 1, "actor": "supervisor",
                            "action": ("review_approved", "review_returned")[n % 2], "visit_id": n + 1,
                            "detail": {"text": "补充"}})  # fmt: skip
    await _bulk(engine, "visits", rows)
    await _bulk(engine, "answers", answers)
    await _bulk(engine, "risk_flags", flags)
    await _bulk(engine, "audit_log", reviews)
    return {"borrowers": borrowers, "answers": len(answers), "flags": len(flags), "supervisor": officers + 1}


async def one_database(url: str, visits: int, officers: int) -> None:
    engine = make_engine(url)
    try:
        begun = time.perf_counter()
        made = await generate(engine, visits, officers)
        built = time.perf_counter() - begun
        sessions = make_sessionmaker(engine)
        timings: list[tuple[str, float, str]] = []
        for label, team_of in (("institution", None), ("team 支行00", made["supervisor"])):
            begun = time.perf_counter()
            scope = await briefing_scope(sessions, "2026-11", zone=ZONE, team_of=team_of)
            b = await make_briefing(sessions, scope)
            seconds = time.perf_counter() - begun
            timings.append((f"briefing, {label}", seconds,
                            f"{b.visits:,} visits, {b.flag_count:,} flags, {len(b.worsened):,} worse of "
                            f"{b.compared:,} compared, {len(b.actions):,} actions"))  # fmt: skip
            if team_of is None:
                begun = time.perf_counter()
                data = briefing_xlsx(b, "zh-CN")
                timings.append(("workbook (institution)", time.perf_counter() - begun, f"{len(data):,} bytes"))
                begun = time.perf_counter()
                view = await make_overview(sessions, scope, FixedClock(NOW))
                timings.append(("overview, institution", time.perf_counter() - begun,
                                f"{len(view.weeks)} weeks, {len(view.overdue_uncalled):,} overdue uncalled, "
                                f"{len(view.opt_outs):,} opt-outs"))  # fmt: skip
    finally:
        await engine.dispose()
    backend = make_url(url).get_backend_name()
    print(f"{backend}: {visits:,} visits, {made['borrowers']:,} borrowers, {officers} officers, "
          f"{made['answers']:,} answers, {made['flags']:,} flags (generated in {built:.1f} s)")  # fmt: skip
    for step, seconds, what in timings:
        print(f"  {step:<26} {seconds:>7.2f} s  {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--visits", type=int, default=200_000)
    parser.add_argument("--officers", type=int, default=200)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    on_each_database(lambda url: asyncio.run(one_database(url, args.visits, args.officers)), args.only)


if __name__ == "__main__":
    main()
