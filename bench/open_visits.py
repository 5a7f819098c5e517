"""``/visit`` with 10,000 open visits as fast as on an empty book, and what 10,000 open visits cost in RSS.

Latency: the project's own application (``build_application``, as ``visitbot bot`` builds it) with a
network-free Bot (:class:`CannedBotApi`, a ``telegram.request.BaseRequest`` answering canned JSON), fed
``/visit`` as an ``Update`` through ``Application.process_update`` — identify the sender, the pick-list
queries, render and send. Measured for an officer (their own book of ``BOOK`` borrowers) and for an
admin (everyone's), on two databases holding the same book (the officer's ``BOOK`` borrowers, 10,000 of
other officers): in one no visit is open, in the other each of the 10,000 has an open visit (rows copied
from one visit started through the desk) and ``OWN_OPEN`` of the officer's too. The ``/visit`` calls
alternate between the two, so both see the same load on a noisy machine. Printed: median and p90 µs
per ``/visit``, the median CPU µs of this process (on SQLite the database's work too), SQL statements per
``/visit``, the ratio open ÷ empty of the wall and of the CPU medians (goal ≤ ~1.1×), on SQLite and on
two scratch PostgreSQL databases. The flood limiter is off (``per_bot=0``): back to back, every call
would otherwise wait its 1/30 s turn.

RSS: a subprocess builds the application on a fresh SQLite file, reads its VmRSS, then starts
``--visits`` visits through the desk (``VisitDesk.begin``) and answers the first question of each
through the application (``process_update`` of a button press), and reads VmRSS again (after a
``gc.collect``). Printed: MB gained per 10,000 open visits (goal ≤ 20 MB).

``python -m bench.open_visits [--db sqlite|postgresql] [--open N] [--repeat N] [--skip-rss] [--visits N]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from datetime import time as day_time
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import Application

from bench.chat_double import TOKEN, CannedBotApi
from bench.postgres import scratch_database
from bot.app import Services, make_services
from bot.desk.visits import Actor
from bot.settings import Settings
from bot.telegram.app import build_application
from bot.telegram.delivery import ChatPacedLimiter
from storage.migrate import upgrade
from storage.models import Borrower, Loan, User, Visit

__all__ = ["main"]

OFFICER_TG = 910_000_001
ADMIN_TG = 910_000_002
BOOK = 60
"""Borrowers of the bench officer (the pick list shows 20 of them)."""
OWN_OPEN = 10
"""Of them, with an open visit in the 10k phase."""
OTHERS = 100
"""Other officers sharing the open visits."""
BATCH = 500
TIERS = ("high", "medium", "low")


def settings_for(url: str) -> Settings:
    """The bot's settings for a bench run (contact window off: any hour)."""
    return Settings(
        database_url=url, telegram_token=TOKEN, locale="zh-CN", digest=False,
        contact_window_start=day_time(0, 0), contact_window_end=day_time(0, 0),
    )  # fmt: skip


def network_free(svc: Services) -> tuple[Application, CannedBotApi]:  # type: ignore[type-arg]
    """The real application, its Bot answered by :class:`CannedBotApi`, the flood limiter off (``per_bot=0``:
    back to back, every ``/visit`` would otherwise wait its 1/30 s turn for the overall token)."""
    app = build_application(svc)
    api = CannedBotApi()
    app.bot._request = (api, api)  # no public way to hand build_application a request
    app.bot._rate_limiter = ChatPacedLimiter(per_bot=0)
    return app, api


class Updates:
    """Telegram updates from one person in their private chat."""

    def __init__(self, telegram_id: int) -> None:
        self.telegram_id = telegram_id
        self._ids = itertools.count(1)

    def _from(self) -> dict[str, Any]:
        return {"id": self.telegram_id, "is_bot": False, "first_name": "信贷员", "language_code": "zh-hans"}

    def _chat(self) -> dict[str, Any]:
        return {"id": self.telegram_id, "type": "private", "first_name": "信贷员"}

    def command(self, text: str) -> dict[str, Any]:
        """A typed command."""
        n = next(self._ids)
        message = {
            "message_id": n, "date": int(time.time()), "chat": self._chat(), "from": self._from(), "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        }  # fmt: skip
        return {"update_id": n, "message": message}

    def press(self, shown: dict[str, Any], data: str) -> dict[str, Any]:
        """A press on a button of the message ``shown``."""
        n = next(self._ids)
        query = {"id": f"q{self.telegram_id}-{n}", "from": self._from(), "chat_instance": "1", "data": data,
                 "message": shown}  # fmt: skip
        return {"update_id": n, "callback_query": query}


async def seed_people(svc: Services, others: int, per_other: int) -> tuple[int, list[str], list[int]]:
    """The bench officer with ``BOOK`` borrowers, an admin, and ``others`` officers with ``per_other``
    borrowers each; every borrower with a current loan. Returns the officer's id, their borrowers'
    codes and the other borrowers' ids."""
    async with svc.sessions() as session, session.begin():
        people = [
            {"telegram_id": OFFICER_TG, "name": "测试信贷员", "role": "officer"},
            {"telegram_id": ADMIN_TG, "name": "测试管理员", "role": "admin"},
        ] + [{"telegram_id": None, "name": f"信贷员{n}", "role": "officer"} for n in range(others)]
        await session.execute(insert(User), people)
        ids = list((await session.scalars(select(User.id).order_by(User.id))).all())
        officer, rest = ids[0], ids[2:]
        rows = [{"code": f"OV{n:05d}", "name": f"客户{n}", "officer_id": officer, "risk_tier": TIERS[n % 3]}
                for n in range(BOOK)]  # fmt: skip
        rows += [
            {"code": f"OX{n:06d}", "name": f"他人客户{n}", "officer_id": rest[n % others], "risk_tier": TIERS[n % 3]}
            for n in range(others * per_other)
        ]
        for chunk in _chunks(rows, BATCH):
            await session.execute(insert(Borrower), chunk)
        found = (await session.execute(select(Borrower.id, Borrower.code).order_by(Borrower.id))).all()
        for chunk in _chunks(list(found), BATCH):
            loans = [
                {"borrower_id": b, "contract_no": f"CT{code}", "product": "个人经营贷", "amount": Decimal(80_000),
                 "disbursed_on": date(2026, 6, 1), "purpose": "进货备货", "overdue_days": 0, "status": "active"}
                for b, code in chunk
            ]  # fmt: skip
            await session.execute(insert(Loan), loans)
    own = [code for _, code in found if code.startswith("OV")]
    other_ids = [b for b, code in found if code.startswith("OX")]
    return officer, own, other_ids


async def open_visits(svc: Services, officer: int, own: list[str], others: list[int], count: int) -> None:
    """``OWN_OPEN`` of the officer's borrowers and ``count`` others get an open visit: the first through the
    desk, the rest copies of its row (same script, state and step)."""
    first = await svc.desk.begin(own[0], actor=Actor("officer", officer), officer_id=officer)
    async with svc.sessions() as session:
        template = await session.get(Visit, first.visit_id)
        assert template is not None
        columns = {c.key: getattr(template, c.key) for c in Visit.__table__.columns if c.key != "id"}
        own_ids = (await session.scalars(select(Borrower.id).where(Borrower.code.in_(own[1:OWN_OPEN])))).all()
        officer_of = {b: o for b, o in (await session.execute(select(Borrower.id, Borrower.officer_id))).all()}
    rows = [columns | {"borrower_id": b, "officer_id": officer_of[b]} for b in [*own_ids, *others[:count]]]
    async with svc.sessions() as session, session.begin():
        for chunk in _chunks(rows, BATCH):
            await session.execute(insert(Visit), chunk)


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class Statements:
    """SQL statements the engine ran."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.count = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: Any) -> None:
        self.count += 1


class Book:
    """One database and the application on it: the people seeded, the statements counted."""

    def __init__(self, url: str, per_other: int) -> None:
        self.per_other = per_other
        self.svc = make_services(settings_for(url))
        self.app, self.api = network_free(self.svc)
        self.sql = Statements(self.svc.engine)

    async def __aenter__(self) -> Book:
        self.officer, self.own, self.others = await seed_people(self.svc, OTHERS, self.per_other)
        await self.app.initialize()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.app.shutdown()
        await self.svc.engine.dispose()

    async def visit(self, updates: Updates) -> tuple[float, float, int]:
        """One ``/visit``: seconds, this process's CPU seconds, statements."""
        update = Update.de_json(updates.command("/visit"), self.app.bot)
        before = self.sql.count
        started, cpu = time.perf_counter(), time.process_time()
        await self.app.process_update(update)
        took, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert self.api.last is not None and "reply_markup" in self.api.last, "the pick list was not sent"
        return took, cpu, self.sql.count - before


async def latency(empty_url: str, full_url: str, count: int, repeat: int) -> dict[str, dict[str, dict[str, float]]]:
    """``/visit`` of the officer and of the admin on a book without open visits and on the same book with
    ``count`` open visits, the two called in turn (so both see the same load on a noisy machine)."""
    results: dict[str, dict[str, dict[str, float]]] = {"officer": {}, "admin": {}}
    per_other = -(-count // OTHERS)
    async with Book(empty_url, per_other) as empty, Book(full_url, per_other) as full:
        await open_visits(full.svc, full.officer, full.own, full.others, count)
        for who, telegram in (("officer", OFFICER_TG), ("admin", ADMIN_TG)):
            updates = Updates(telegram)
            samples: dict[str, list[tuple[float, float, int]]] = {"empty": [], "open": []}
            for n in range(repeat + 5):  # the first five warm up
                for phase, book in (("empty", empty), ("open", full)) if n % 2 else (("open", full), ("empty", empty)):
                    took = await book.visit(updates)
                    if n >= 5:
                        samples[phase].append(took)
            for phase, taken in samples.items():
                times = sorted(t for t, _, _ in taken)
                results[who][phase] = {
                    "median_us": statistics.median(times) * 1e6,
                    "p90_us": times[int(0.9 * (len(times) - 1))] * 1e6,
                    "cpu_us": statistics.median(c for _, c, _ in taken) * 1e6,
                    "sql": sum(n for _, _, n in taken) / len(taken),
                }
    return results


def print_latency(kind: str, results: dict[str, dict[str, dict[str, float]]], count: int) -> None:
    """One line per sender: empty vs ``count`` open visits and the ratio (of the median wall times), and the
    median CPU µs of this process and their ratio (on SQLite the database's work too; a steadier figure than
    the wall time on a busy machine; on PostgreSQL the server's work is not in it)."""
    print(f"\n/visit through Application.process_update, {kind}: no open visit vs {count:,} open")
    print(
        f"  {'sender':<8} {'empty µs':>9} {'p90':>7} {'cpu':>6} {'sql':>4}  {'open µs':>9} {'p90':>7} {'cpu':>6}"
        f" {'sql':>4}  {'ratio':>6} {'cpu':>6}"
    )
    for who, phases in results.items():
        empty, full = phases["empty"], phases["open"]
        ratio = full["median_us"] / empty["median_us"]
        cpu_ratio = full["cpu_us"] / empty["cpu_us"]
        verdict = "met" if ratio <= 1.1 else "UNMET"
        print(f"  {who:<8} {_cells(empty)}  {_cells(full)}  {ratio:>5.2f}× {cpu_ratio:>5.2f}×  {verdict} (≤ 1.1×)")


def _cells(phase: dict[str, float]) -> str:
    return f"{phase['median_us']:>9.0f} {phase['p90_us']:>7.0f} {phase['cpu_us']:>6.0f} {phase['sql']:>4.0f}"


# -- RSS ------------------------------------------------------------------------------------------------


def rss_mb() -> float:
    """This process's resident set, MB (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


async def grow(url: str, visits: int) -> dict[str, float]:
    """In this process: build the app, read RSS, start ``visits`` visits and answer each one's first
    question through the app, read RSS again."""
    svc = make_services(settings_for(url))
    app, api = network_free(svc)
    try:
        _, _, others = await seed_people(svc, OTHERS, -(-visits // OTHERS))
        async with svc.sessions() as session:
            codes = {b: c for b, c in (await session.execute(select(Borrower.id, Borrower.code))).all()}
        await app.initialize()
        updates = Updates(ADMIN_TG)
        await _start_and_answer(app, api, updates, [codes[b] for b in others[:50]])  # warm-up
        gc.collect()
        before = rss_mb()
        started = time.perf_counter()
        answered = await _start_and_answer(app, api, updates, [codes[b] for b in others[50:visits]])
        seconds = time.perf_counter() - started
        gc.collect()
        after = rss_mb()
        async with svc.sessions() as session:
            still_open = await session.scalar(select(func.count()).select_from(Visit).where(Visit.status == "open"))
    finally:
        await app.shutdown()
        await svc.engine.dispose()
    return {
        "visits": visits, "answered": answered, "open": still_open or 0, "before_mb": before, "after_mb": after,
        "seconds": seconds,
    }  # fmt: skip


async def _start_and_answer(app: Application, api: CannedBotApi, updates: Updates, codes: list[str]) -> int:  # type: ignore[type-arg]
    """Each borrower's visit started through the app (``/visit <code>`` from the admin, who may visit any
    borrower), its first question answered by a press on its first option; the visits answered."""
    answered = 0
    for code in codes:
        api.last = None
        await app.process_update(Update.de_json(updates.command(f"/visit {code}"), app.bot))
        shown = api.last
        if shown is None:
            continue
        rows = shown.get("reply_markup", {}).get("inline_keyboard", [])
        pressed = (str(b.get("callback_data", "")) for row in rows for b in row)
        data = next((d for d in pressed if d.startswith("a:")), None)
        if data is not None:
            await app.process_update(Update.de_json(updates.press(shown, data), app.bot))
            answered += 1
    return answered


def rss_child(visits: int) -> None:
    """The subprocess: a fresh SQLite file, one growth measurement printed as JSON."""
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'rss.db'}"
        upgrade(url)
        print(json.dumps(asyncio.run(grow(url, visits + 50))))


def measure_rss(visits: int) -> dict[str, float]:
    """Run :func:`rss_child` in a fresh interpreter and read its figures."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.open_visits", "--rss-child", str(visits)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def print_rss(figures: dict[str, float]) -> None:
    """MB gained, scaled to 10,000 open visits."""
    visits = figures["visits"] - 50
    gained = figures["after_mb"] - figures["before_mb"]
    per_10k = gained * 10_000 / visits
    verdict = "met" if per_10k <= 20 else "UNMET"
    print(
        f"\nRSS of the bot process (SQLite), {visits:,.0f} visits started through the app"
        f" ({figures['answered']:,.0f} answered once, {figures['open']:,.0f} open at the end)"
    )
    print(
        f"  before {figures['before_mb']:.1f} MB, after {figures['after_mb']:.1f} MB: +{gained:.1f} MB"
        f" = {per_10k:.1f} MB per 10,000 open visits  {verdict} (≤ 20 MB); {figures['seconds']:.0f} s"
    )


def main(argv: list[str] | None = None) -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), help="only this database (latency)")
    parser.add_argument("--open", type=int, default=10_000, help="open visits in the full phase")
    parser.add_argument("--repeat", type=int, default=200, help="/visit calls timed per phase")
    parser.add_argument("--visits", type=int, default=10_000, help="visits started for the RSS figure")
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child is not None:
        rss_child(args.rss_child)
        return
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not args.skip_latency:
        if args.db != "postgresql":
            with tempfile.TemporaryDirectory() as tmp:
                urls = [f"sqlite+aiosqlite:///{Path(tmp) / name}" for name in ("empty.db", "full.db")]
                for url in urls:
                    upgrade(url)
                print_latency("SQLite", asyncio.run(latency(urls[0], urls[1], args.open, args.repeat)), args.open)
        if args.db != "sqlite":
            try:
                with scratch_database() as empty_url, scratch_database() as full_url:
                    figures = asyncio.run(latency(empty_url, full_url, args.open, args.repeat))
                    print_latency("PostgreSQL", figures, args.open)
            except OSError as exc:
                print(f"postgresql: skipped ({exc})")
    if not args.skip_rss:
        print_rss(measure_rss(args.visits))


_: Callable[..., None] = main

if __name__ == "__main__":
    main()
