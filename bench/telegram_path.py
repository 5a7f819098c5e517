"""One answer through the real Telegram path: the project's own PTB application, a network-free Bot.

``build_application(make_services(settings))`` as ``visitbot bot`` builds it, started as in production
(``initialize``, its ``post_init``, ``start``: the jobs run, ChatOrderedProcessor takes the updates),
fed ``Update`` objects (made with ``Update.de_json``, as the updater makes them) through its
``update_queue``. Its Bot talks to :class:`bench.chat_double.CannedBotApi`, a ``telegram.request.BaseRequest`` answering
every Bot API method with canned valid JSON (a Message with a fresh ``message_id`` …) and counting the
calls per method. Each conversation is one officer chat running one phone visit of the default script:
``/visit <code>`` (not timed), then the answers — the button of the question the chat was last shown
(its callback data read from the canned sendMessage/editMessageText) or a typed text answer.

Measured on SQLite (a temp file, configured as the app configures it) and on a scratch PostgreSQL
(:mod:`bench.postgres`), each twice: with the app's ChatPacedLimiter as shipped (30 calls/s per bot)
and with ``per_bot=0`` (limiter off: the raw cost). Printed per run: µs per answer sequentially (one
conversation at a time), answers/s and p50/p99 reply latency (update in → the call showing the next
question made) with 200 and 1,000 conversations at once, SQL statements, transactions begun, commits,
rollbacks, connection checkouts and pool resets per answer (engine and pool events; an executemany
counts as one statement; pool_pre_ping's pings are no cursor executes and are not counted), Bot API
calls per answer and those carrying a chat_id (the ones Telegram's 30/s applies to), and this process's
CPU µs per answer (its wall time on a busy 2-core machine is noisy; the load average is printed).
As shipped, the limiter caps throughput: those concurrent runs answer only ``--shipped-answers``
questions per conversation (else one run lasts minutes).

``python -m bench.telegram_path [--quick] [--db sqlite|postgresql] [--json PATH]`` writes
``artefacts/bench/telegram_path.json``; if ``artefacts/bench/anchors.json`` (``bench.anchors``) exists,
the side-by-side table with the ratios of issue 13's goals follows.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from datetime import time as day_time
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import Application

from bench.chat_double import TOKEN, CannedBotApi, Conversation, Shown, Waiting, buttons_of
from bench.postgres import on_each_database
from bot.app import Services, make_services
from bot.settings import Settings
from bot.telegram.app import build_application
from bot.telegram.delivery import ChatPacedLimiter
from storage.models import Borrower, Loan, User
from storage.sqlite_driver import OneHopDbapi

FIRST_OFFICER = 900_000_000
"""The first officer's Telegram id (and private chat id)."""
BATCH = 500
PRESSES = {
    "identity": "self",
    "introduction": "remembers",
    "business_status": "good",
    "other_borrowing": "yes",
    "other_borrowing_lender": "bank",
    "changes": "no",
    "loan_use": "as_stated",
    "renewal": "yes",
    "referral": "no",
    "rapport": "no",
}
"""The button pressed at each step (a step not named: its first option)."""
TYPED = {"other_borrowing_amount": "5万", "products": "经营贷和信用贷", "needs": "想要续贷"}
"""What is typed at a question without option buttons (a step not named: ``DEFAULT_TEXT``)."""
DEFAULT_TEXT = "好的"
SHOWN_WAIT = 600.0
"""Seconds a conversation waits for its next question before it counts as stuck."""
UPDATE_IDS = itertools.count(1)
"""Update ids, unique in the process as Telegram's are (the bot keeps them as idempotency keys)."""


class Bench:
    """A running application fed updates; the engine's statements and transactions counted."""

    def __init__(self, app: Application, api: CannedBotApi, engine: AsyncEngine) -> None:  # type: ignore[type-arg]
        self.app = app
        self.api = api
        self.db: Counter[str] = Counter()
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._statement)  # an executemany counts once
        for name in ("begin", "commit", "rollback"):
            event.listen(sync, name, self._transaction(name))
        event.listen(sync, "checkout", self._counter("checkout"))  # a session's connection taken from the pool
        event.listen(sync, "reset", self._counter("reset"))  # … and reset (rolled back) as it goes back
        self.dbapi = sync.dialect.dbapi
        self._hops_at_reset = self.hops()

    def _statement(self, *args: Any) -> None:
        self.db["sql"] += 1

    def _transaction(self, name: str) -> Callable[..., None]:
        """Count a transaction's begin, commit or rollback; a connection in autocommit (the read of who
        sent an update, on PostgreSQL) has none: its 'transaction' is counted apart, as ``autocommit``."""

        def count(conn: Any, *args: Any) -> None:
            if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
                self.db["autocommit"] += name == "begin"
            else:
                self.db[name] += 1

        return count

    def _counter(self, name: str) -> Callable[..., None]:
        def count(*args: Any) -> None:
            self.db[name] += 1

        return count

    def hops(self) -> int | None:
        """Calls handed to SQLite connections' threads so far (storage.sqlite_driver); None on PostgreSQL."""
        return self.dbapi.hops if isinstance(self.dbapi, OneHopDbapi) else None

    def counts(self) -> Counter[str]:
        """The engine's counts since the last reset, SQLite's thread hops (``hops``) among them."""
        counts = Counter(self.db)
        hops, before = self.hops(), self._hops_at_reset
        if hops is not None and before is not None:
            counts["hops"] = hops - before
        return counts

    def reset(self) -> None:
        """Forget the counts."""
        self.db.clear()
        self.api.reset()
        self._hops_at_reset = self.hops()

    async def feed(self, conversation: Conversation, payload: Callable[[int], dict[str, Any]]) -> float:
        """Put one update into the application's queue, as the updater does; when it went in."""
        started = time.perf_counter()
        update = Update.de_json(payload(next(UPDATE_IDS)), self.app.bot)
        await self.app.update_queue.put(update)
        return started

    async def ask(
        self, conversation: Conversation, payload: Callable[[int], dict[str, Any]], answered: str | None
    ) -> None:
        """Feed an update and wait for the question after ``answered`` (the latency: in → that call made)."""
        future: asyncio.Future[Shown] = asyncio.get_running_loop().create_future()
        self.api.waiting[conversation.officer_id] = Waiting(answered, future)
        started = await self.feed(conversation, payload)
        try:
            shown = await asyncio.wait_for(future, SHOWN_WAIT)
        except TimeoutError:
            self.api.waiting.pop(conversation.officer_id, None)
            conversation.stuck = True
            return
        conversation.latencies.append(shown.at - started)
        conversation.shown = shown
        conversation.finished = shown.finished
        conversation.failed = shown.failed

    async def open(self, conversation: Conversation) -> None:
        """``/visit <code>``: the visit starts and its first question is shown."""
        await self.ask(conversation, lambda n: conversation.typed(n, f"/visit {conversation.code}"), None)
        conversation.latencies.clear()

    async def answer(self, conversation: Conversation, limit: int | None = None) -> None:
        """Answer the question shown until the visit ends (or ``limit`` answers were given)."""
        while not (conversation.finished or conversation.failed or conversation.stuck):
            if limit is not None and conversation.answers >= limit:
                return
            shown = conversation.shown
            assert shown is not None
            step = shown.step
            options = buttons_of(shown)
            payload: Callable[[int], dict[str, Any]]
            if options and options[0].startswith("m:"):  # multiple choice: tick the first, then done
                await self.feed(conversation, partial(conversation.press, data=options[0]))
                payload = partial(conversation.press, data=options[0].rsplit(":", 1)[0] + ":=")
            elif options:
                wanted = PRESSES.get(step or "")
                pressed = next((o for o in options if o.endswith(f":{wanted}")), options[0])
                payload = partial(conversation.press, data=pressed)
            else:
                payload = partial(conversation.typed, text=TYPED.get(step or "", DEFAULT_TEXT))
            conversation.answers += 1
            await self.ask(conversation, payload, step)

    async def idle(self) -> None:
        """Wait until every update fed has been handled."""
        processor = self.app.update_processor
        quiet = 0
        while quiet < 3:
            busy = self.app.update_queue.qsize() or processor.current_concurrent_updates
            quiet = 0 if busy else quiet + 1
            await asyncio.sleep(0.002)


@dataclass
class Phase:
    """One timed phase: how many conversations at once, answers given, seconds, latencies, counts."""

    at_once: int
    answers: int
    seconds: float
    latencies: list[float]
    db: Counter[str]
    calls: Counter[str]
    limited: int
    finished: int
    failed: int
    stuck: int
    cpu_seconds: float = 0.0
    """This process's CPU time (all its threads: aiosqlite's too; not the PostgreSQL server's)."""

    def per_answer(self, value: float) -> float:
        return value / self.answers if self.answers else float("nan")

    def percentile(self, share: float) -> float:
        """A latency percentile in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] * 1000


async def run_phase(bench: Bench, conversations: list[Conversation], *, sequential: bool, limit: int | None) -> Phase:
    """Open every conversation's visit (not timed), then answer: one conversation at a time or all at once."""
    gate = asyncio.Semaphore(64)

    async def opened(conversation: Conversation) -> None:
        async with gate:
            await bench.open(conversation)

    await asyncio.gather(*(opened(c) for c in conversations))
    await bench.idle()
    bench.reset()
    started = time.perf_counter()
    cpu = time.process_time()
    if sequential:
        for conversation in conversations:
            await bench.answer(conversation, limit)
    else:
        await asyncio.gather(*(bench.answer(c, limit) for c in conversations))
    await bench.idle()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    return Phase(
        at_once=1 if sequential else len(conversations),
        answers=sum(c.answers for c in conversations),
        seconds=seconds,
        cpu_seconds=cpu,
        latencies=[x for c in conversations for x in c.latencies],
        db=bench.counts(),
        calls=Counter(bench.api.calls),
        limited=bench.api.limited,
        finished=sum(c.finished for c in conversations),
        failed=sum(c.failed for c in conversations),
        stuck=sum(c.stuck for c in conversations),
    )


async def seed(url: str, first: int, count: int) -> list[Conversation]:
    """``count`` officers with Telegram ids from ``first``, each with one borrower and a current loan."""
    settings = Settings(database_url=url)
    svc = make_services(settings)
    try:
        ids = list(range(first, first + count))
        async with svc.sessions() as session, session.begin():
            for start in range(0, count, BATCH):
                chunk = ids[start : start + BATCH]
                people = [{"telegram_id": t, "name": f"信贷员{t - FIRST_OFFICER}", "role": "officer"} for t in chunk]
                await session.execute(insert(User), people)
            rows = await session.execute(select(User.id, User.telegram_id).where(User.telegram_id.in_(ids)))
            officer_of = {telegram: user for user, telegram in rows.all()}
            for start in range(0, count, BATCH):
                chunk = ids[start : start + BATCH]
                borrowers = [
                    {"code": code_of(t), "name": f"客户{t - FIRST_OFFICER}", "officer_id": officer_of[t]} for t in chunk
                ]
                await session.execute(insert(Borrower), borrowers)
            codes = [code_of(t) for t in ids]
            found = await session.execute(select(Borrower.id, Borrower.code).where(Borrower.code.in_(codes)))
            for pairs in _chunks(list(found.all()), BATCH):
                loans = [
                    {"borrower_id": b, "contract_no": f"TPDK{code}", "product": "个人经营贷", "amount": Decimal(80_000)}
                    | {"disbursed_on": date(2026, 6, 1), "purpose": "进货备货", "overdue_days": 0, "status": "active"}
                    for b, code in pairs
                ]
                await session.execute(insert(Loan), loans)
    finally:
        await svc.engine.dispose()
    return [Conversation(t, code_of(t)) for t in ids]


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def code_of(telegram_id: int) -> str:
    """The borrower code of an officer's one borrower."""
    return f"TP{telegram_id - FIRST_OFFICER:06d}"


@dataclass
class Plan:
    """What one run measures: sequential visits, conversations at once, answers per conversation as shipped."""

    sequential: int
    at_once: tuple[int, ...]
    shipped_answers: int


async def measure(url: str, *, limited: bool, first: int, plan: Plan) -> list[Phase]:
    """One application (limiter as shipped, or ``per_bot=0``) through a warm-up, the sequential phase and
    each concurrency; fresh officers for every phase."""
    needed = 1 + plan.sequential + sum(plan.at_once)
    conversations = await seed(url, first, needed)
    settings = Settings(
        database_url=url, telegram_token=TOKEN, locale="zh-CN",
        contact_window_start=day_time(0, 0), contact_window_end=day_time(0, 0),  # the window off: any hour
        quality_min_answer_seconds=0, quality_min_visit_seconds=0,  # answered in ms, no visit is 'too fast'
        digest=False,  # no morning digest to 2,000 officers in the middle of a run
    )  # fmt: skip
    svc: Services = make_services(settings)
    app = build_application(svc)
    api = CannedBotApi()
    app.bot._request = (api, api)  # no public way to hand build_application a request
    if not limited:
        app.bot._rate_limiter = ChatPacedLimiter(per_bot=0)  # the raw cost: limiter off
    bench = Bench(app, api, svc.engine)
    phases = []
    try:
        await app.initialize()
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        if app.job_queue is not None:  # the timed polls are not part of an answer: the outbox's first poll
            for name in ("outbox", "promises"):  # (0.2 s after start) claims in a commit of its own, which on a
                for job in app.job_queue.get_jobs_by_name(name):  # slow machine fell in the sequential phase;
                    job.schedule_removal()  # what an answer queues is still delivered (a commit kicks the outbox)
        await run_phase(bench, conversations[:1], sequential=True, limit=None)  # warm-up
        rest = conversations[1:]
        seq, rest = rest[: plan.sequential], rest[plan.sequential :]
        phases.append(await run_phase(bench, seq, sequential=True, limit=None))
        limit = None if not limited else plan.shipped_answers
        for at_once in plan.at_once:
            group, rest = rest[:at_once], rest[at_once:]
            phases.append(await run_phase(bench, group, sequential=False, limit=limit))
            done = phases[-1]
            print(f"  … {at_once} at once: {done.answers} answers in {done.seconds:.1f} s", file=sys.stderr, flush=True)
    finally:
        if app.running:
            await app.stop()
        await app.shutdown()
        unhook = app.bot_data.get("outbox_unhook")  # the outbox's commit hook, else it outlives this loop
        if callable(unhook):
            unhook()
        await svc.engine.dispose()
    return phases


def summary(name: str, phases: list[Phase], plan: Plan) -> dict[str, Any]:
    """The JSON object of one run (the counts from its sequential phase)."""
    seq = phases[0]
    row: dict[str, Any] = {
        "name": name,
        "us_per_answer": seq.seconds / seq.answers * 1e6 if seq.answers else None,
        "cpu_us_per_answer": seq.per_answer(seq.cpu_seconds * 1e6),
        "sql_per_answer": seq.per_answer(seq.db["sql"]),
        "tx_per_answer": seq.per_answer(seq.db["begin"]),
        "commits_per_answer": seq.per_answer(seq.db["commit"]),
        "rollbacks_per_answer": seq.per_answer(seq.db["rollback"]),
        "checkouts_per_answer": seq.per_answer(seq.db["checkout"]),
        "pool_resets_per_answer": seq.per_answer(seq.db["reset"]),
        "sqlite_hops_per_answer": seq.per_answer(seq.db["hops"]) if "hops" in seq.db else None,
        "api_calls_per_answer": seq.per_answer(sum(seq.calls.values())),
        "limited_calls_per_answer": seq.per_answer(seq.limited),
        "calls_per_answer": {k: round(seq.per_answer(v), 3) for k, v in sorted(seq.calls.items())},
    }
    for phase, at_once in zip(phases[1:], plan.at_once, strict=True):
        row[f"rps_{at_once}"] = phase.answers / phase.seconds if phase.seconds else None
        row[f"p50_ms_{at_once}"] = phase.percentile(0.50)
        row[f"p99_ms_{at_once}"] = phase.percentile(0.99)
        row[f"cpu_us_per_answer_{at_once}"] = phase.per_answer(phase.cpu_seconds * 1e6)
    problems = sum(p.failed + p.stuck for p in phases)
    row["failed_or_stuck"] = problems
    row["load_average"] = load()
    return row


def load() -> str:
    """The machine's load average (1, 5, 15 minutes)."""
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def print_phases(name: str, phases: list[Phase]) -> None:
    """One line per phase."""
    print(f"\n{name}")
    head = f"  {'at once':>7} {'answers':>7} {'s':>7} {'answers/s':>9} {'µs/answer':>10} {'p50 ms':>8} {'p99 ms':>8}"
    print(
        head
        + f" {'sql':>5} {'tx':>5} {'commit':>6} {'rollbk':>6} {'chkout':>6} {'calls':>5} {'limitd':>6}  end/fail/stuck"
    )
    for p in phases:
        rate = p.answers / p.seconds if p.seconds else 0.0
        us = p.seconds / p.answers * 1e6 if p.answers else 0.0
        print(
            f"  {p.at_once:>7} {p.answers:>7} {p.seconds:>7.2f} {rate:>9.1f} {us:>10.0f} {p.percentile(0.5):>8.1f}"
            f" {p.percentile(0.99):>8.1f} {p.per_answer(p.db['sql']):>5.1f} {p.per_answer(p.db['begin']):>5.1f}"
            f" {p.per_answer(p.db['commit']):>6.1f} {p.per_answer(p.db['rollback']):>6.1f}"
            f" {p.per_answer(p.db['checkout']):>6.1f} {p.per_answer(sum(p.calls.values())):>5.1f}"
            f" {p.per_answer(p.limited):>6.1f}  {p.finished}/{p.failed}/{p.stuck}"
        )
    calls = ", ".join(f"{k} {v / phases[0].answers:.2f}" for k, v in sorted(phases[0].calls.items()))
    resets = phases[0].per_answer(phases[0].db["reset"])
    print(f"  Bot API calls per answer (sequential): {calls}; pool resets per answer {resets:.1f}")
    if "hops" in phases[0].db:  # SQLite: calls handed to the connection's thread (storage.sqlite_driver)
        hops = ", ".join(f"{p.at_once} at once {p.per_answer(p.db['hops']):.2f}" for p in phases)
        print(f"  SQLite thread hops per answer: {hops}")
    cpu = ", ".join(f"{p.at_once} at once {p.per_answer(p.cpu_seconds * 1e6):.0f}" for p in phases)
    print(f"  this process's CPU µs per answer (the wall times of a busy machine are noisy): {cpu}; load {load()}")


def print_anchors(rows: list[dict[str, Any]], anchors_path: Path) -> None:
    """The side-by-side table with the peers of ``bench.anchors`` and issue 13's goals, met or not."""
    if not anchors_path.exists():
        print(f"\n(no {anchors_path}: run bench.anchors for the side-by-side table)")
        return
    anchors = {a["name"]: a for a in json.loads(anchors_path.read_text())}
    print(f"\nside by side (peers from {anchors_path})")
    print(
        f"  {'name':<28} {'µs/answer':>10} {'CPU µs':>8} {'rps_200':>8} {'rps_1000':>8} {'p50@200':>8} {'p99@200':>8}"
    )

    def cell(value: object, spec: str) -> str:
        width = int(spec.split(".")[0] or 0)
        return format(value, spec) if isinstance(value, int | float) else "-".rjust(width)

    for row in [*anchors.values(), *rows]:
        print(
            f"  {row['name']:<28} {cell(row.get('us_per_answer'), '10.0f')}"
            f" {cell(row.get('cpu_us_per_answer'), '8.0f')} {cell(row.get('rps_200'), '8.0f')}"
            f" {cell(row.get('rps_1000'), '8.0f')} {cell(row.get('p50_ms_200'), '8.1f')}"
            f" {cell(row.get('p99_ms_200'), '8.1f')}"
        )
    redis = anchors.get("aiogram_dialog_redis", {}).get("us_per_answer")
    memory = anchors.get("aiogram_dialog_memory", {}).get("rps_200")
    print("\n  goals (issue 13)")
    for row in rows:
        postgres = "postgres" in row["name"]
        checks: list[tuple[str, float | None, bool | None]] = []
        us = row.get("us_per_answer")
        ratio = us / redis if us and redis else None
        checks.append(("µs ÷ aiogram_dialog_redis µs ≤ 1.0", ratio, None if ratio is None else ratio <= 1.0))
        cpu, peer = row.get("cpu_us_per_answer"), anchors.get("aiogram_dialog_redis", {}).get("cpu_us_per_answer")
        ratio = cpu / peer if cpu and peer else None  # the same goal in CPU time: steadier on a busy machine
        checks.append(("CPU µs ÷ aiogram_dialog_redis CPU µs ≤ 1.0", ratio, None if ratio is None else ratio <= 1.0))
        rps = row.get("rps_200")
        need = 0.6 if postgres else 1.0
        ratio = rps / memory if rps and memory else None
        checks.append((f"rps_200 ÷ aiogram_dialog_memory ≥ {need}", ratio, None if ratio is None else ratio >= need))
        big = row.get("rps_1000")
        ratio = big / rps if big and rps else None
        checks.append(("rps_1000 ÷ rps_200 ≥ 1.0", ratio, None if ratio is None else ratio >= 1.0))
        p99 = row.get("p99_ms_200")
        checks.append(("p99 at 200 < 250 ms", p99, None if p99 is None else p99 < 250))
        sql = row.get("sql_per_answer")  # one at a time: the most an answer costs, shared by none
        checks.append(("SQL statements per answer ≤ 5", sql, None if sql is None else sql <= 5))
        commits = row.get("commits_per_answer")  # transactions that write (a read's is apart: see the table)
        checks.append(("commits per answer ≤ 1.0", commits, None if commits is None else commits <= 1.0))
        for label, value, met in checks:
            verdict = "?" if met is None else ("met" if met else "UNMET")
            print(f"  {row['name']:<28} {label:<42} {cell(value, '8.2f')}  {verdict}")


def main() -> None:
    """Measure on each database, print the tables, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run: few conversations")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), help="only this database")
    parser.add_argument(
        "--json", type=Path, default=None, help="where to write (default artefacts/bench/telegram_path.json)"
    )
    parser.add_argument("--anchors", type=Path, default=Path("artefacts/bench/anchors.json"))
    parser.add_argument("--sequential", type=int, default=None, help="visits answered one after the other")
    parser.add_argument("--shipped-answers", type=int, default=None, help="answers per conversation, limiter on")
    parser.add_argument("--at-once", help="conversations at once, comma-separated (default 200,1000)")
    parser.add_argument("--limiter", choices=("both", "on", "off"), default="both")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    plan = Plan(sequential=3, at_once=(20, 50), shipped_answers=1) if args.quick else Plan(20, (200, 1000), 1)
    if args.sequential is not None:
        plan.sequential = args.sequential
    if args.at_once:
        plan.at_once = tuple(int(n) for n in args.at_once.split(","))
    if args.shipped_answers is not None:
        plan.shipped_answers = args.shipped_answers
    rows: list[dict[str, Any]] = []
    target = args.json or (None if args.quick else Path("artefacts/bench/telegram_path.json"))

    def write() -> None:  # after every run: a run stopped half-way keeps what it measured
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")

    def run(url: str) -> None:
        kind = "postgres" if url.startswith("postgresql") else "sqlite"
        first = FIRST_OFFICER
        for limited in (False, True):
            if args.limiter == ("off" if limited else "on"):
                continue
            name = f"visitbot_{kind}" + ("" if limited else "_nolimit")
            label = "ChatPacedLimiter as shipped (30/s per bot)" if limited else "limiter off (per_bot=0): raw cost"
            if limited:
                label += f"; at once: {plan.shipped_answers} answer(s) per conversation"
            phases = asyncio.run(measure(url, limited=limited, first=first, plan=plan))
            first += 1 + plan.sequential + sum(plan.at_once)
            print_phases(f"{name}: {label}", phases)
            rows.append(summary(name, phases, plan))
            write()

    on_each_database(run, args.db)
    print_anchors(rows, args.anchors)
    if target is not None:
        print(f"\nwrote {target}")


if __name__ == "__main__":
    main()
