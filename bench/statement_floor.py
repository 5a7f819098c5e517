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
- ``core, connection``: SQLAlchemy Core on a pooled ``AsyncConnection`` (checkout and return included);
- ``core, session``: the same statement through an ``AsyncSession`` (made, executed, closed);
- ``orm, session``: as the bot reads it (the ORM's entities built from the row);
- ``session alone``: an ``AsyncSession`` made, given its connection and closed, no statement.

Per statement: CPU µs of this process (both threads; one statement at a time, so the event loop does
nothing else) and the multiple of ``driver``. ``python -m bench.statement_floor [--db sqlite|postgresql]
[--n N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite
import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.postgres import on_each_database
from bench.telegram_path import FIRST_OFFICER, seed
from bot.app import make_services
from bot.desk import Actor
from bot.settings import Settings
from storage import repositories as repo
from storage.chats import set_chat
from storage.sqlite_driver import _run

Step = Callable[[], Awaitable[Any]]


async def _prepare(url: str) -> tuple[int, dict[str, int]]:
    """One officer with an open visit their chat is on (what an answer finds); the read's parameters."""
    (conversation,) = await seed(url, FIRST_OFFICER, 1)
    svc = make_services(Settings(database_url=url))
    try:
        async with svc.sessions() as session:
            staff = await repo.user_by_telegram_id(session, conversation.officer_id)
        assert staff is not None
        started = await svc.desk.begin(conversation.code, actor=Actor("officer", staff.id), officer_id=staff.id)
        async with svc.sessions() as session, session.begin():
            await set_chat(session, conversation.officer_id, visit_id=started.visit_id, message_id=1, step="identity")
    finally:
        await svc.engine.dispose()
    return conversation.officer_id, {"b_telegram": conversation.officer_id, "b_chat": conversation.officer_id}


def _cpu(fn: Callable[[], Any], n: int) -> float:
    for _ in range(min(200, n)):
        fn()
    start = time.process_time()
    for _ in range(n):
        fn()
    return 1e6 * (time.process_time() - start) / n


async def _acpu(step: Step, n: int) -> float:
    for _ in range(min(200, n)):
        await step()
    start = time.process_time()
    for _ in range(n):
        await step()
    return 1e6 * (time.process_time() - start) / n


def _driver_sql(sql: str, dialect: str) -> str:
    """The read's SQL with the driver's own placeholders."""
    if dialect == "sqlite":
        return sql.replace(":b_chat", "?1").replace(":b_telegram", "?2")
    return sql.replace(":b_chat", "$1").replace(":b_telegram", "$2")


async def measure(url: str, n: int) -> dict[str, dict[str, float]]:
    """CPU µs per statement at each layer, for ``select 1`` and the sender's read."""
    telegram_id, params = await _prepare(url)
    svc = make_services(Settings(database_url=url))
    read_sql = str(repo._STAFF_AND_CHAT.compile(svc.engine.sync_engine))  # the dialect's own SQL
    named_sql = str(repo._STAFF_AND_CHAT)
    is_sqlite = svc.engine.dialect.name == "sqlite"
    async with svc.reads() as session:  # the read finds what an answer's finds: the staff, the chat, its visit
        found = await repo.sender_and_chat(session, telegram_id, telegram_id)
    assert found.staff is not None and found.chat is not None and found.visit is not None
    figures: dict[str, dict[str, float]] = {"select 1": {}, "sender's read": {}}
    one, read = text("select 1"), text(named_sql)
    try:
        if is_sqlite:
            plain = sqlite3.connect(make_url(url).database or "")
            driver_read = _driver_sql(named_sql, "sqlite")
            figures["select 1"]["driver"] = _cpu(lambda: plain.execute("select 1").fetchall(), n)
            figures["sender's read"]["driver"] = _cpu(
                lambda: plain.execute(driver_read, (telegram_id, telegram_id)).fetchall(), n
            )
            plain.close()
        else:
            raw = await asyncpg.connect(
                make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
            )
            driver_read = _driver_sql(named_sql, "postgresql")
            figures["select 1"]["driver"] = await _acpu(lambda: raw.fetch("select 1"), n)
            figures["sender's read"]["driver"] = await _acpu(
                lambda: raw.fetch(driver_read, telegram_id, telegram_id), n
            )
            await raw.close()
        if is_sqlite:
            hopping = aiosqlite.connect(make_url(url).database or "")
            await hopping
            hop: Any = hopping._execute  # queue a function for the connection's thread (storage.sqlite_driver)
            figures["select 1"]["one hop"] = await _acpu(lambda: hop(_run, hopping, "select 1", None, False), n)
            hop_args = (hopping, driver_read, (telegram_id, telegram_id), False)
            figures["sender's read"]["one hop"] = await _acpu(lambda: hop(_run, *hop_args), n)
            await hopping.close()
        layer = "driver sql, held connection"
        positional = (telegram_id, telegram_id)  # b_chat, b_telegram: the same id (a private chat)
        async with svc.engine.connect() as held:
            figures["select 1"][layer] = await _acpu(lambda: held.exec_driver_sql("select 1"), n)
            figures["sender's read"][layer] = await _acpu(lambda: held.exec_driver_sql(read_sql, positional), n)

        async def core_connection(statement: Any) -> None:
            async with svc.engine.connect() as connection:
                (await connection.execute(statement, params)).first()

        async def core_session(statement: Any) -> None:
            async with svc.reads() as session:
                (await session.execute(statement, params)).first()

        async def orm_session() -> None:
            async with svc.reads() as session:
                await repo.sender_and_chat(session, telegram_id, telegram_id)

        async def session_alone() -> None:
            async with svc.reads() as session:
                await session.connection()

        figures["select 1"]["core, connection"] = await _acpu(lambda: core_connection(one), n)
        figures["sender's read"]["core, connection"] = await _acpu(lambda: core_connection(read), n)
        figures["select 1"]["core, session"] = await _acpu(lambda: core_session(one), n)
        figures["sender's read"]["core, session"] = await _acpu(lambda: core_session(read), n)
        figures["sender's read"]["orm, session"] = await _acpu(orm_session, n)
        figures["select 1"]["session alone"] = await _acpu(session_alone, n)
    finally:
        await svc.engine.dispose()
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
