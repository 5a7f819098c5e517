"""How fast a month's plan is made: 100,000 loans, 200 officers, on SQLite (and PostgreSQL).

The loan book is generated with Core bulk inserts (users, borrowers, loans, one instalment a loan,
completed visits, watch flags, opt-outs, disputes). Then, on the clock of Wednesday 2 December 2026:
``make_plan`` for December (overdue days refreshed from 100,000 instalments first), the same plan made
again (everything kept, nothing added), and as a baseline a bare INSERT of as many rows as the plan
wrote, into a scratch table shaped like ``plan_entries``. The target: a plan in under 10 s. Run with
``make bench`` or ``python -m bench.plan [--loans N] [--officers N] [--only sqlite|postgresql]``;
PostgreSQL is the server of ``VISITBOT_BENCH_POSTGRES_URL`` (a fresh database is made and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Date, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.postgres import on_each_database
from bot.desk import FixedClock
from bot.desk.planning import make_plan
from bot.settings import Settings
from storage.db import make_engine, make_sessionmaker
from storage.models import Base, PlanEntry

NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
TIERS = ("low", "medium", "high")
BATCH = 1000

scratch = MetaData()
baseline_table = Table(
    "bench_plan_baseline", scratch,
    Column("id", Integer, primary_key=True), Column("month", String(7)), Column("borrower_id", Integer),
    Column("officer_id", Integer), Column("script_id", String(40)), Column("reasons", JSON), Column("detail", JSON),
    Column("action", String(16)), Column("note", String(200)), Column("planned_on", Date), Column("due_on", Date),
)  # fmt: skip


async def _bulk(engine: AsyncEngine, name: str, rows: list[dict[str, Any]]) -> None:
    table = Base.metadata.tables[name]
    async with engine.begin() as conn:
        for start in range(0, len(rows), BATCH):
            await conn.execute(insert(table), rows[start : start + BATCH])


async def generate(engine: AsyncEngine, loans: int, officers: int) -> dict[str, int]:
    """The loan book: one borrower per two loans, round-robin over the officers."""
    borrowers = max(loans // 2, 1)
    at = NOW - timedelta(days=40)
    users = [{"id": n + 1, "name": f"信贷员{n:03d}", "role": "officer", "team": f"支行{n % 20:02d}",
              "telegram_id": 500_000 + n, "active": True, "created_at": at} for n in range(officers)]  # fmt: skip
    await _bulk(engine, "users", users)
    people = [
        {"id": n + 1, "code": f"C{n:07d}", "name": f"借款人{n}", "officer_id": n % officers + 1,
         "risk_tier": TIERS[n % 3], "timezone": "Asia/Shanghai", "locale": "zh-CN", "created_at": at,
         "telegram_id": 9_000_000 + n if n % 100 == 0 else None,
         "opted_out_at": at if n % 37 == 0 else None, "opt_out_reason": "busy" if n % 37 == 0 else None}
        for n in range(borrowers)
    ]  # fmt: skip
    await _bulk(engine, "borrowers", people)
    del people
    start = date(2025, 1, 1)
    book = [
        {"id": n + 1, "borrower_id": n % borrowers + 1, "contract_no": f"DK{n:09d}", "product": "个人经营贷",
         "amount": Decimal(50_000), "disbursed_on": start + timedelta(days=n % 700), "purpose": "进货备货",
         "status": "active", "overdue_amount": Decimal(0), "overdue_days": 0}
        for n in range(loans)
    ]  # fmt: skip
    await _bulk(engine, "loans", book)
    del book
    due = date(2026, 11, 25)
    paid = [
        {"loan_id": n + 1, "due_on": due, "amount_due": Decimal(3000),
         "amount_paid": Decimal(0) if n % 20 == 0 else Decimal(3000), "paid_on": None if n % 20 == 0 else due}
        for n in range(loans)
    ]  # fmt: skip
    await _bulk(engine, "repayments", paid)
    del paid
    visited = [
        {"borrower_id": n + 1, "officer_id": n % officers + 1, "script_id": "officer_phone_visit",
         "script_version": 1, "channel": "phone", "locale": "zh-CN", "state": {}, "status": "finished",
         "outcome": "completed", "started_at": (v := datetime(2026, 5, 1, 3, tzinfo=UTC) + timedelta(days=n % 210)),
         "updated_at": v, "finished_at": v, "revision": 1}
        for n in range(borrowers) if n % 5
    ]  # fmt: skip
    await _bulk(engine, "visits", visited)
    flags = [{"borrower_id": n + 1, "user_id": n % officers + 1, "reason": "生意变差", "flagged_at": at}
             for n in range(0, borrowers, 50)]  # fmt: skip
    await _bulk(engine, "watch_flags", flags)
    disputes = [{"borrower_id": n + 1, "note": "金额不对", "raised_at": at} for n in range(0, borrowers, 400)]
    await _bulk(engine, "disputes", disputes)
    return {"borrowers": borrowers, "visits": len(visited), "flags": len(flags)}


async def baseline(engine: AsyncEngine, rows: int) -> float:
    """Seconds for a bare INSERT of ``rows`` plan-shaped rows (executemany, one transaction)."""
    async with engine.begin() as conn:
        await conn.run_sync(scratch.create_all)
    data = [
        {"month": "2026-12", "borrower_id": n, "officer_id": n % 200 + 1, "script_id": "officer_phone_visit",
         "reasons": ["policy"], "detail": {"policy": {"tier": "low", "every": 6, "last_visit": None}, "notes": []},
         "action": "call", "note": "", "planned_on": date(2026, 12, 2), "due_on": date(2026, 12, 31)}
        for n in range(rows)
    ]  # fmt: skip
    begun = time.perf_counter()
    async with engine.begin() as conn:
        for start in range(0, len(data), BATCH):
            await conn.execute(insert(baseline_table), data[start : start + BATCH])
    return time.perf_counter() - begun


async def one_database(url: str, loans: int, officers: int) -> None:
    engine = make_engine(url)
    try:
        begun = time.perf_counter()
        made = await generate(engine, loans, officers)
        built = time.perf_counter() - begun
        sessions = make_sessionmaker(engine)
        settings = Settings(database_url=url, timezone="Asia/Shanghai")
        clock = FixedClock(NOW)
        begun = time.perf_counter()
        first = await make_plan(sessions, settings, clock, "2026-12", seed=1)
        planned = time.perf_counter() - begun
        begun = time.perf_counter()
        again = await make_plan(sessions, settings, clock, "2026-12", seed=1)
        replanned = time.perf_counter() - begun
        async with sessions() as session:
            stored = await session.scalar(select(func.count()).select_from(PlanEntry))
        bare = await baseline(engine, first.added)
    finally:
        await engine.dispose()
    backend = make_url(url).get_backend_name()
    print(f"{backend}: {loans:,} loans, {made['borrowers']:,} borrowers, {officers} officers, "
          f"{made['visits']:,} completed visits, {made['flags']:,} flags (generated in {built:.1f} s)")  # fmt: skip
    reasons = ", ".join(f"{code} {count:,}" for code, count in first.by_reason.items())
    print(f"  plan 2026-12: {first.entries:,} entries ({reasons}), {first.invites_queued} invites")
    print(f"  {'step':<34} {'seconds':>8} {'loans/s':>9} {'entries/s':>10} {'× bare insert':>14}")
    for step, seconds in (("make_plan (first)", planned), ("make_plan again (nothing new)", replanned)):
        print(f"  {step:<34} {seconds:>8.2f} {loans / seconds:>9,.0f} {first.entries / seconds:>10,.0f} "
              f"{seconds / bare:>14.1f}")  # fmt: skip
    print(f"  {'bare INSERT of ' + format(first.added, ',') + ' rows':<34} {bare:>8.2f} {'':>9} "
          f"{first.added / bare:>10,.0f} {1.0:>14.1f}")  # fmt: skip
    verdict = "OK" if planned < 10 else "SLOW"
    print(f"  target < 10 s: {verdict}; re-plan added {again.added}, kept {again.kept_done} done; stored {stored:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--officers", type=int, default=200)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    on_each_database(lambda url: asyncio.run(one_database(url, args.loans, args.officers)), args.only)


if __name__ == "__main__":
    main()
