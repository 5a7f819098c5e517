"""How much a recorded answer costs: the engine alone vs the durable desk on SQLite (and PostgreSQL).

Prints per-answer medians and ratios against the in-memory engine measured in the same run
(the machine is noisy: trust the ratios). Run with ``make bench``; set
``VISITBOT_BENCH_POSTGRES_URL`` to include PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import tracemalloc
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.desk import Actor, VisitDesk
from bot.settings import Settings
from dialogs.answers import Reply
from dialogs.catalog import ScriptCatalog
from dialogs.compiler import sample_facts
from dialogs.engine import Submit
from storage.db import make_engine, make_sessionmaker
from storage.demo import load_demo
from storage.migrate import upgrade

ANSWERS = ["1", "1", "差", "1", "压力很大", "有", "5万", "民间借贷", "否", "按约定用途使用"]
NOW = datetime(2026, 11, 23, 10, tzinfo=ZoneInfo("Asia/Shanghai"))


def engine_only(rounds: int) -> float:
    """Seconds per answer for the pure engine (no storage)."""
    engine = ScriptCatalog().latest("officer_phone_visit")
    facts = sample_facts()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        turn = engine.start(facts, "zh-CN")
        for text in ANSWERS:
            turn = engine.handle(turn.state, facts, Submit(Reply(text=text)), now=NOW)
        samples.append((time.perf_counter() - start) / len(ANSWERS))
    return statistics.median(samples)


async def desk_run(url: str, rounds: int) -> float:
    """Seconds per answer through the desk: load, lock, run, store, commit."""
    db = make_engine(url)
    sessions = make_sessionmaker(db)
    async with sessions() as session, session.begin():
        await load_demo(session, borrowers=max(rounds, 8))
    desk = VisitDesk(sessions, ScriptCatalog(), Settings(database_url=url))
    actor = Actor("officer", 1)
    samples = []
    for index in range(rounds):
        code = f"B{index + 1:03d}"
        start = time.perf_counter()
        reply = await desk.begin(code, actor=actor, officer_id=None)
        for text in ANSWERS:
            await desk.act(reply.visit_id, Submit(Reply(text=text)), actor=actor, said=text)
        samples.append((time.perf_counter() - start) / (len(ANSWERS) + 1))
    await db.dispose()
    return statistics.median(samples)


def main() -> None:
    """Print the figures."""
    rounds = int(os.environ.get("VISITBOT_BENCH_ROUNDS", "30"))
    tracemalloc.start()
    base = engine_only(rounds * 10)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"engine only          {base * 1e6:9.1f} µs/answer   1.0×   (peak {peak / 1e6:.1f} MB traced)")
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        sqlite = asyncio.run(desk_run(url, rounds))
    print(f"desk on SQLite       {sqlite * 1e6:9.1f} µs/answer {sqlite / base:6.1f}×")
    pg = os.environ.get("VISITBOT_BENCH_POSTGRES_URL")
    if pg:
        upgrade(pg)
        postgres = asyncio.run(desk_run(pg, rounds))
        print(f"desk on PostgreSQL   {postgres * 1e6:9.1f} µs/answer {postgres / base:6.1f}×")


if __name__ == "__main__":
    main()
