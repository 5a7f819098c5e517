"""The web desk at scale: a review-queue page and a transcript page with 1,000,000 visits in PostgreSQL.

A throwaway database (:mod:`bench.postgres`) gets 200 officers in 20 teams (a supervisor each), 20,000
borrowers with loans and 1,000,000 finished visits over two years, written by the server itself
(``INSERT … SELECT generate_series``): a fifth of them with risk flags, a third reviewed, the newest
20,000 with ten answers each. Then the pages are requested through the web desk's ASGI app (login
link, cookie, templates: what a browser gets, without the network) as a supervisor and as an admin:
the first queue page, a page three cursors deep, a filtered page (officer, risk) and a transcript.
Printed: milliseconds per page (median and p95 of ``--repeat`` requests, server side) against a
baseline measured in the same run: the same pages on a database of 10,000 visits. Target: every page
under 100 ms at 1,000,000.

Run with ``make bench`` or ``python -m bench.web_desk [--visits N] [--repeat K]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import text

from bench.postgres import scratch_database
from bot.app import services
from bot.settings import Settings
from bot.web import build_app
from storage.db import make_engine

__all__ = ["fill", "main"]

OFFICERS, TEAMS, BORROWERS = 200, 20, 20_000
ANSWERED = 20_000
"""The newest visits that get ten answers each (a transcript to show)."""

FILL = [
    """INSERT INTO users (name, role, team, telegram_id, locale, timezone, active, created_at)
       SELECT '主管' || t, 'supervisor', 'team' || t, 900000 + t, 'zh-CN', 'Asia/Shanghai', true, now()
       FROM generate_series(1, :teams) t""",
    """INSERT INTO users (name, role, team, telegram_id, locale, timezone, active, created_at)
       VALUES ('管理员', 'admin', NULL, 899999, 'zh-CN', 'Asia/Shanghai', true, now())""",
    """INSERT INTO users (name, role, team, telegram_id, locale, timezone, active, created_at)
       SELECT '信贷员' || o, 'officer', 'team' || (1 + o % :teams), 800000 + o, 'zh-CN', 'Asia/Shanghai', true, now()
       FROM generate_series(1, :officers) o""",
    """INSERT INTO borrowers (code, name, phone, business, address, officer_id, risk_tier, timezone, locale, created_at)
       SELECT 'B' || lpad(b::text, 6, '0'), '借款人' || b, '+86138' || lpad(b::text, 8, '0'), '餐饮',
              '上海市浦东新区' || b || '号', (SELECT id FROM users WHERE telegram_id = 800000 + 1 + b % :officers),
              (ARRAY['low','medium','high'])[1 + b % 3], 'Asia/Shanghai', 'zh-CN', now()
       FROM generate_series(1, :borrowers) b""",
    """INSERT INTO loans (borrower_id, contract_no, product, amount, disbursed_on, due_on, purpose, status,
                          overdue_amount, overdue_days)
       SELECT id, 'DK' || id, '个人经营贷', 50000, DATE '2025-01-01', DATE '2027-01-01', '进货', 'active', 0, 0
       FROM borrowers""",
    """INSERT INTO visits (borrower_id, loan_id, officer_id, script_id, script_version, channel, locale, state,
                           step, status, outcome, started_at, updated_at, finished_at, review_status, revision)
       SELECT b.id, b.id, b.officer_id,
              (ARRAY['post_loan_phone','overdue_reminder','onsite_visit'])[1 + v % 3], 1, 'phone', 'zh-CN',
              '{}'::json, NULL, 'finished',
              (ARRAY['completed','completed','completed','unreachable','callback'])[1 + v % 5],
              TIMESTAMPTZ '2024-12-01 00:00+00' + v * interval '63 seconds',
              TIMESTAMPTZ '2024-12-01 00:10+00' + v * interval '63 seconds',
              TIMESTAMPTZ '2024-12-01 00:10+00' + v * interval '63 seconds',
              CASE WHEN v % 3 = 0 THEN 'approved' WHEN v % 17 = 0 THEN 'returned' ELSE NULL END, 1
       FROM generate_series(1, :visits) v
       JOIN borrowers b ON b.id = (SELECT min(id) FROM borrowers) + v % :borrowers""",
    """INSERT INTO risk_flags (visit_id, code, severity, step_id, note, raised_at)
       SELECT id, (ARRAY['repay_pressure','business_down','purpose_misuse'])[1 + id % 3],
              (ARRAY['low','medium','high'])[1 + id % 3], 'repayment', '还款压力大', finished_at
       FROM visits WHERE id % 5 = 0""",
    """INSERT INTO answers (visit_id, step_id, question, raw, value, display, skipped, answered_by, answered_at)
       SELECT v.id, 'q' || q, '第' || q || '题：近期经营情况如何？', '正常', '"normal"'::json, '正常', false,
              'officer', v.finished_at
       FROM (SELECT id, finished_at FROM visits ORDER BY id DESC LIMIT :answered) v, generate_series(1, 10) q""",
    """UPDATE visits SET review_rank =
           (3 - COALESCE((SELECT MAX(CASE severity WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 END)
                          FROM risk_flags f WHERE f.visit_id = visits.id AND f.cleared_at IS NULL), 0)) * 1000
           + (999 - (SELECT COUNT(*) FROM risk_flags f
                     WHERE f.visit_id = visits.id AND f.cleared_at IS NULL AND f.severity = 'high'))""",
    "ANALYZE",
]
"""The loan book and its history (the review rank as the migration computes it for existing visits)."""


async def fill(url: str, visits: int) -> float:
    """Write the users, borrowers, loans, visits, flags and answers; returns the seconds it took."""
    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    params = {
        "teams": TEAMS,
        "officers": OFFICERS,
        "borrowers": BORROWERS,
        "visits": visits,
        "answered": min(ANSWERED, visits),
    }
    start = time.perf_counter()
    try:
        async with engine.connect() as conn:
            for sql in FILL:
                statement = text(sql)
                await conn.execute(statement, {k: v for k, v in params.items() if f":{k}" in sql})
    finally:
        await engine.dispose()
    return time.perf_counter() - start


async def timed(call: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, float]:
    """Median and p95 milliseconds of ``repeat`` calls (after one warm-up call)."""
    await call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await call()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


NEXT_PAGE = 'id="next-page" href="'


async def pages(url: str, repeat: int) -> dict[str, tuple[float, float]]:
    """Each page's median and p95 ms through the desk's ASGI app, signed in as a supervisor or the admin."""
    settings = Settings(database_url=url, timezone="Asia/Shanghai", web_url="http://desk")
    found: dict[str, tuple[float, float]] = {}
    async with services(settings) as svc:
        app = build_app(svc)
        transport = httpx.ASGITransport(app=app)
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                officer = (await conn.execute(text("SELECT id FROM users WHERE telegram_id = 800002"))).scalar_one()
                newest = (await conn.execute(text("SELECT max(id) FROM visits"))).scalar_one()
        finally:
            await engine.dispose()
        from bot.desk.weblogin import WebLogins

        logins = WebLogins(svc.sessions, settings, svc.clock)
        for who, telegram_id in (("supervisor", 900003), ("admin", 899999)):
            async with httpx.AsyncClient(transport=transport, base_url="http://desk") as client:
                link = await logins.link_for_telegram_id(telegram_id)
                signed = await client.get(link.removeprefix("http://desk"))
                assert signed.status_code in (302, 303), signed.text[:200]

                async def get(path: str, client: httpx.AsyncClient = client) -> str:
                    response = await client.get(path)
                    assert response.status_code == 200, f"{path}: {response.status_code}"
                    return response.text

                deep = "/queue"
                for _ in range(3):  # three pages down, by the cursors the pages give
                    body = await get(deep)
                    if NEXT_PAGE not in body:
                        break
                    deep = body.split(NEXT_PAGE, 1)[1].split('"', 1)[0].replace("&amp;", "&")
                team_officer = officer if who == "admin" else await _team_officer(url, telegram_id)
                shown = await _visible_visit(url, telegram_id, newest)
                for name, path in (
                    ("queue, first page", "/queue"),
                    ("queue, fourth page", deep),
                    ("queue, officer + high risk", f"/queue?officer={team_officer}&risk=high&review=all"),
                    ("queue, returned", "/queue?review=returned"),
                    ("transcript", f"/visits/{shown}"),
                ):
                    found[f"{who}: {name}"] = await timed(lambda path=path: get(path), repeat)
    return found


async def _team_officer(url: str, telegram_id: int) -> int:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            sql = """SELECT o.id FROM users o JOIN users s ON s.team = o.team
                     WHERE s.telegram_id = :t AND o.role = 'officer' ORDER BY o.id LIMIT 1"""
            return int((await conn.execute(text(sql), {"t": telegram_id})).scalar_one())
    finally:
        await engine.dispose()


async def _visible_visit(url: str, telegram_id: int, newest: int) -> int:
    """The newest visit with answers this person may see (their team's, or any for the admin)."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            sql = """SELECT max(v.id) FROM visits v JOIN users o ON o.id = v.officer_id, users s
                     WHERE s.telegram_id = :t AND (s.role = 'admin' OR o.team = s.team) AND v.id <= :newest"""
            return int((await conn.execute(text(sql), {"t": telegram_id, "newest": newest})).scalar_one())
    finally:
        await engine.dispose()


def measure(visits: int, repeat: int) -> tuple[float, dict[str, tuple[float, float]]]:
    """Fill a scratch database with ``visits`` and time the pages on it."""
    with scratch_database() as url:
        seconds = asyncio.run(fill(url, visits))
        return seconds, asyncio.run(pages(url, repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--baseline", type=int, default=10_000, help="visits of the baseline database")
    args = parser.parse_args()
    print(f"web desk pages, server side (ASGI app, no network), {args.repeat} requests each; PostgreSQL")
    small_fill, small = measure(args.baseline, args.repeat)
    big_fill, big = measure(args.visits, args.repeat)
    print(f"filled {args.baseline:,} visits in {small_fill:.1f} s, {args.visits:,} in {big_fill:.1f} s")
    head = f"{args.baseline:,} visits"
    print(f"{'page':<40} {head:>16} {args.visits:>10,} visits {'ratio':>7}  target < 100 ms")
    print(f"{'':<40} {'p50 / p95 ms':>16} {'p50 / p95 ms':>17}")
    worst = 0.0
    for name, (p50, p95) in big.items():
        b50, b95 = small[name]
        worst = max(worst, p95)
        print(f"{name:<40} {b50:>7.1f} / {b95:>6.1f} {p50:>8.1f} / {p95:>6.1f} {p50 / b50:>7.2f}")
    print(f"slowest p95 at {args.visits:,}: {worst:.1f} ms: {'OK' if worst < 100 else 'SLOW'}")


if __name__ == "__main__":
    main()
