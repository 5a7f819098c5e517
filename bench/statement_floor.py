"""What one statement costs at each layer between the bot and its database, measured in one run.

An answer through the Telegram path costs about twice aiogram-dialog's on Redis (issue 13), and most of
it is no SQL: SQLite runs the answer's hottest read in about 20 µs, the process spends 25 times that on
it. This prints where it goes, layer by layer, for two statements: ``select 1`` and the read every answer
starts with (:func:`storage.repositories.sender_and_chat`: the staff member, the chat's row and its open
visit with the visit's borrower, loan and officer; seven entities, 100 columns), on a SQLite file
configured as the app configures it and on a scratch PostgreSQL (:mod:`bench.postgres`):

- ``driver``: the database's own driver called directly (sqlite3 in this thread; asyncpg's connection);
- ``one hop`` (SQLite): the driver run in aiosqlite's thread and its rows handed back, one hop per
  statement as :mod:`storage.sqlite_driver` does it;
- ``driver sql, held connection``: SQLAlchemy's ``exec_driver_sql`` on an ``AsyncConnection`` held
  throughout (no compiling, no checkout: SQLAlchemy's execution and result layers, the adapter);
- ``text, connection``: the statement as SQLAlchemy text (no column types) on a pooled
  ``AsyncConnection`` (checked out and returned each time);
- ``text, session``: the same through an ``AsyncSession`` (made, executed, closed), as the bot's reads are;
- ``core, session``: the read as a Core select of the same tables' columns, their types processed (the
  ORM's work but the entities);
- ``core + entities, session``: as the bot read it on 2026-12-06 (the Core row, through ``session.execute``,
  made into detached entities by the bot's own code);
- ``direct, session``: the Core select run by the driver on the session's connection, its types processed
  (:mod:`storage.direct`), no entities;
- ``direct + entities, session``: as the bot read it on the evening of 2026-12-06;
- ``direct + entities, connection``: as the bot reads it since the night of 2026-12-06, on a pooled
  ``AsyncConnection`` and no session (:func:`storage.repositories.sender_and_chat`);
- ``orm, session``: the same read as the ORM makes it (its entities and joined loads), as the bot read it before;
- ``session alone``: an ``AsyncSession`` made, given its connection and closed, no statement;
- ``connection alone``: an ``AsyncConnection`` checked out and returned, no statement.

Per statement: CPU µs of this process (both threads; one statement at a time, so the event loop does
nothing else; every layer called from a coroutine), the median of five rounds taken in turn, and the
multiple of ``driver``. ``python -m bench.statement_floor [--db sqlite|postgresql]
[--n N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import time as day_time
from typing import Any

import aiosqlite
import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import and_, bindparam, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import defaultload

from bench.postgres import on_each_database
from bench.telegram_path import FIRST_OFFICER, seed
from bot.app import make_services
from bot.desk import Actor
from bot.settings import Settings
from storage import direct
from storage import repositories as repo
from storage.chats import set_chat, set_shown
from storage.db import make_engine
from storage.models import Borrower, ChatSession, User, Visit, visit_status_is
from storage.sqlite_driver import _run

Step = Callable[[], Awaitable[Any]]


async def _prepare(url: str) -> tuple[int, dict[str, int]]:
    """One officer with an open visit their chat is on (what an answer finds); the read's parameters."""
    (conversation,) = await seed(url, FIRST_OFFICER, 1)
    off = day_time(0, 0)  # the contact window off, as in bench.telegram_path: the visit starts at any hour
    svc = make_services(Settings(database_url=url, contact_window_start=off, contact_window_end=off))
    try:
        async with svc.sessions() as session:
            staff = await repo.user_by_telegram_id(session, conversation.officer_id)
        assert staff is not None
        started = await svc.desk.begin(conversation.code, actor=Actor("officer", staff.id), officer_id=staff.id)
        async with svc.sessions() as session, session.begin():
            await set_chat(session, conversation.officer_id, visit_id=started.visit_id)
            await set_shown(session, conversation.officer_id, visit_id=started.visit_id, step="identity", message_id=1)
    finally:
        await svc.engine.dispose()
    return conversation.officer_id, {"b_telegram": conversation.officer_id, "b_chat": conversation.officer_id}


async def _timed(step: Step, n: int) -> float:
    """CPU µs per call of ``step``, over ``n`` calls."""
    start = time.process_time()
    for _ in range(n):
        await step()
    return 1e6 * (time.process_time() - start) / n


def _driver_sql(sql: str, dialect: str) -> str:
    """The read's SQL with the driver's own placeholders."""
    if dialect == "sqlite":
        return sql.replace(":b_chat", "?1").replace(":b_telegram", "?2")
    return sql.replace(":b_chat", "$1").replace(":b_telegram", "$2")


_ORM_READ = (
    select(User, ChatSession, Visit)
    .select_from(User)
    .outerjoin(ChatSession, ChatSession.chat_id == bindparam("b_chat"))
    .outerjoin(Visit, and_(Visit.id == ChatSession.visit_id, visit_status_is("open")))
    .where(User.telegram_id == bindparam("b_telegram"), User.active.is_(True))
    .options(defaultload(Visit.borrower).raiseload(Borrower.loans))
)
"""The sender's read as the ORM makes it (the visit's joined loads: borrower and the borrower's officer, loan,
officer), as the bot ran it until 2026-12-06: the joins of ``storage.repositories._STAFF_AND_CHAT`` (which
leaves a visit not open out after the read, not in the join)."""


async def measure(url: str, n: int, rounds: int = 5) -> dict[str, dict[str, float]]:
    """CPU µs per statement at each layer, for ``select 1`` and the sender's read: each layer timed in
    ``rounds`` rounds of ``n // rounds`` statements taken in turn with the others (a machine whose speed
    drifts drifts for all of them), the median round kept."""
    telegram_id, params = await _prepare(url)
    svc = make_services(Settings(database_url=url))
    read_sql = str(repo._STAFF_AND_CHAT.statement.compile(svc.engine.sync_engine))  # the dialect's own SQL
    named_sql = str(repo._STAFF_AND_CHAT.statement)
    is_sqlite = svc.engine.dialect.name == "sqlite"
    async with svc.reading.connect() as connection:  # the read finds what an answer's: staff, chat, visit
        found = await repo.sender_and_chat(connection, telegram_id, telegram_id)
    assert found.staff is not None and found.chat is not None and found.visit is not None
    one, read = text("select 1"), text(named_sql)
    core: Any = repo._STAFF_AND_CHAT.statement
    positional = (telegram_id, telegram_id)  # b_chat, b_telegram: the same id (a private chat)
    steps: dict[tuple[str, str], Step] = {}
    closing: list[Callable[[], Awaitable[Any]]] = []
    try:
        if is_sqlite:
            plain = sqlite3.connect(make_url(url).database or "")
            driver_read = _driver_sql(named_sql, "sqlite")

            async def driver_one() -> Any:
                return plain.execute("select 1").fetchall()

            async def driver_read_rows() -> Any:
                return plain.execute(driver_read, positional).fetchall()

            hopping = aiosqlite.connect(make_url(url).database or "")
            await hopping
            closing.append(hopping.close)
            hop: Any = hopping._execute  # queue a function for the connection's thread (storage.sqlite_driver)
            steps["select 1", "driver"] = driver_one
            steps["sender's read", "driver"] = driver_read_rows
            steps["select 1", "one hop"] = lambda: hop(_run, hopping, "select 1", None, False)
            steps["sender's read", "one hop"] = lambda: hop(_run, hopping, driver_read, positional, False)
        else:
            raw = await asyncpg.connect(
                make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
            )
            closing.append(raw.close)
            driver_read = _driver_sql(named_sql, "postgresql")
            steps["select 1", "driver"] = lambda: raw.fetch("select 1")
            steps["sender's read", "driver"] = lambda: raw.fetch(driver_read, *positional)
        holding = make_engine(url)  # an engine of its own: the app's SQLite pool has one connection
        closing.append(holding.dispose)
        held = await holding.connect()
        closing.append(held.close)
        steps["select 1", "driver sql, held connection"] = lambda: held.exec_driver_sql("select 1")
        steps["sender's read", "driver sql, held connection"] = lambda: held.exec_driver_sql(read_sql, positional)

        async def on_connection(statement: Any) -> None:
            async with svc.engine.connect() as connection:
                (await connection.execute(statement, params)).first()

        async def in_session(statement: Any) -> None:
            async with svc.reads() as session:
                (await session.execute(statement, params)).first()

        async def core_and_entities() -> None:  # the bot's read from the morning of 2026-12-06
            async with svc.reads() as session:
                row = (await session.execute(core, params)).first()
                assert row is not None
                repo._sender_entities(row)

        async def by_the_driver() -> None:
            async with svc.reads() as session:
                await direct.first(session, repo._STAFF_AND_CHAT, params)

        async def entities_in_a_session() -> None:  # the bot's read from the evening of 2026-12-06
            async with svc.reads() as session:
                row = await direct.first(session, repo._STAFF_AND_CHAT, params)
                assert row is not None
                repo._sender_entities(row)

        async def as_the_bot_reads() -> None:
            async with svc.reading.connect() as connection:
                await repo.sender_and_chat(connection, telegram_id, telegram_id)

        async def connection_alone() -> None:
            async with svc.reading.connect() as connection:
                assert connection.sync_connection is not None

        async def session_alone() -> None:
            async with svc.reads() as session:
                await session.connection()

        steps["select 1", "text, connection"] = lambda: on_connection(one)
        steps["sender's read", "text, connection"] = lambda: on_connection(read)
        steps["select 1", "text, session"] = lambda: in_session(one)
        steps["sender's read", "text, session"] = lambda: in_session(read)
        steps["sender's read", "core, session"] = lambda: in_session(core)
        steps["sender's read", "core + entities, session"] = core_and_entities
        steps["sender's read", "direct, session"] = by_the_driver
        steps["sender's read", "direct + entities, session"] = entities_in_a_session
        steps["sender's read", "direct + entities, connection"] = as_the_bot_reads
        steps["sender's read", "orm, session"] = lambda: in_session(_ORM_READ)
        steps["select 1", "session alone"] = session_alone
        steps["select 1", "connection alone"] = connection_alone
        per_round = max(1, n // rounds)
        for step in steps.values():  # warm: statements compiled and cached, connections made
            await _timed(step, min(200, per_round))
        taken: dict[tuple[str, str], list[float]] = {key: [] for key in steps}
        for _ in range(rounds):
            for key, step in steps.items():
                taken[key].append(await _timed(step, per_round))
    finally:
        for close in reversed(closing):
            await close()
        await svc.engine.dispose()
    figures: dict[str, dict[str, float]] = {"select 1": {}, "sender's read": {}}
    for (statement, layer), values in taken.items():
        figures[statement][layer] = statistics.median(values)
    return figures


def report(name: str, figures: dict[str, dict[str, float]]) -> None:
    print(f"{name}: CPU µs per statement (× the driver alone)")
    for statement, layers in figures.items():
        floor = layers["driver"]
        shown = "  ".join(f"{layer} {value:,.0f} ({value / floor:.1f}×)" for layer, value in layers.items())
        print(f"  {statement:14s} {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], help="only this database")
    parser.add_argument("--n", type=int, default=3000, help="statements per figure")
    args = parser.parse_args()

    def run(url: str) -> None:
        name = "sqlite" if url.startswith("sqlite") else "postgresql"
        report(name, asyncio.run(measure(url, args.n)))

    on_each_database(run, args.db)


if __name__ == "__main__":
    main()
