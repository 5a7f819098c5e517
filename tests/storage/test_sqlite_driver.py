"""The SQLite engine's statements cost one thread hop each (storage.sqlite_driver) and behave as sqlite3's:
rows, row counts, inserted ids, executemany, errors, streaming, and a connection still usable after an error."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import make_engine
from storage.models import ProcessedUpdate, utcnow
from storage.sqlite_driver import OneHopDbapi


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each function aiosqlite hands its connection's thread, by name, from now on."""
    handed: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        handed.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return handed


async def test_a_statement_costs_one_hop_to_the_connections_thread(engine: AsyncEngine, hops: list[str]) -> None:
    assert isinstance(engine.dialect.dbapi, OneHopDbapi)
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))  # the connection made and its transaction begun
        hops.clear()
        rows = (await conn.execute(text("SELECT value FROM json_each('[1,2,3]')"))).scalars().all()
        assert rows == [1, 2, 3]
        assert len(hops) == 1, hops  # stock adapter: open a cursor, execute, fetch, close (4)
        hops.clear()
        await conn.execute(insert(ProcessedUpdate).values(key="a", at=utcnow()))
        assert len(hops) == 1, hops


async def test_rows_counts_ids_and_executemany_are_sqlite3s(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        many = await conn.execute(insert(ProcessedUpdate), [{"key": f"k{n}", "at": utcnow()} for n in range(250)])
        assert many.rowcount == 250
        updated = await conn.execute(text("UPDATE processed_updates SET at = at WHERE key LIKE 'k1%'"))
        assert updated.rowcount == 111  # k1, k10–k19, k100–k199
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        first = await conn.execute(text("INSERT INTO t (v) VALUES ('x')"))
        second = await conn.execute(text("INSERT INTO t (v) VALUES ('y')"))
        assert (first.lastrowid, second.lastrowid) == (1, 2)
        keys = (await conn.execute(select(ProcessedUpdate.key).order_by(ProcessedUpdate.key).limit(3))).scalars()
        assert list(keys) == ["k0", "k1", "k10"]
        result = await conn.execute(select(ProcessedUpdate.key).order_by(ProcessedUpdate.key))
        assert result.fetchone() == ("k0",) and len(result.fetchmany(10)) == 10 and len(result.fetchall()) == 239
        streamed = [row async for row in await conn.stream(select(ProcessedUpdate.key))]  # a server-side cursor
        assert len(streamed) == 250


async def test_errors_are_sqlite3s_and_leave_the_connection_usable(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(ProcessedUpdate).values(key="same", at=utcnow()))
    async with engine.connect() as conn:
        with pytest.raises(IntegrityError):
            await conn.execute(insert(ProcessedUpdate).values(key="same", at=utcnow()))
        await conn.rollback()
        with pytest.raises(OperationalError, match="no such table"):
            await conn.execute(text("SELECT * FROM no_such_table"))
        await conn.rollback()
        assert await conn.scalar(select(func.count()).select_from(ProcessedUpdate)) == 1


async def test_after_a_transactions_first_write_its_statements_need_no_hop(
    engine: AsyncEngine, hops: list[str]
) -> None:
    """The first write may wait for another writer and goes to the connection's thread, as do reads outside
    a write and the commit; once the write lock is held, the transaction's other statements run at once."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        hops.clear()
        await conn.execute(select(func.count()).select_from(ProcessedUpdate))  # a read: no write lock held
        await conn.execute(insert(ProcessedUpdate).values(key="first", at=utcnow()))  # takes the write lock
        assert len(hops) == 2, hops
        await conn.execute(insert(ProcessedUpdate), [{"key": f"k{n}", "at": utcnow()} for n in range(3)])
        updated = await conn.execute(text("UPDATE processed_updates SET at = at WHERE key LIKE 'k%'"))
        counted = await conn.scalar(select(func.count()).select_from(ProcessedUpdate))
        assert len(hops) == 2, hops  # three statements, no hop
        assert updated.rowcount == 3 and counted == 4
        await conn.commit()
        assert len(hops) == 3, hops  # the commit (the sync to disk) in the connection's thread
    async with engine.connect() as other:  # committed: another connection sees all of it
        assert await other.scalar(select(func.count()).select_from(ProcessedUpdate)) == 4


async def test_a_first_write_waiting_for_another_writer_does_not_stop_the_event_loop(sqlite_url: str) -> None:
    """Another process holds the write lock: the first write waits (busy_timeout) in its thread while the
    bot goes on; once the lock is free it goes through."""
    engine = make_engine(sqlite_url, connect_args={"timeout": 5})
    holder = make_engine(sqlite_url)
    try:
        async with engine.begin() as conn:  # tables made, connection open
            await conn.execute(select(func.count()).select_from(ProcessedUpdate))
        async with holder.connect() as held:
            await held.execute(insert(ProcessedUpdate).values(key="held", at=utcnow()))  # holds the lock

            async def write() -> None:
                async with engine.begin() as conn:
                    await conn.execute(insert(ProcessedUpdate).values(key="waited", at=utcnow()))
                    await conn.execute(insert(ProcessedUpdate).values(key="then", at=utcnow()))

            waiting = asyncio.create_task(write())
            loop = asyncio.get_running_loop()
            started = loop.time()
            for _ in range(20):  # the loop keeps running while the write waits for the lock
                await asyncio.sleep(0.01)
            assert loop.time() - started < 2 and not waiting.done()
            await held.commit()
        await asyncio.wait_for(waiting, 10)
        async with engine.connect() as conn:
            keys = set((await conn.execute(select(ProcessedUpdate.key))).scalars())
        assert keys == {"held", "waited", "then"}
    finally:
        await engine.dispose()
        await holder.dispose()


async def test_ending_a_transaction_that_wrote_nothing_costs_no_hop(engine: AsyncEngine, hops: list[str]) -> None:
    """A session that only read (who sent an update) is rolled back as the pool takes its connection back:
    sqlite3 would do nothing, so there is no hop for it. A rollback after a write still undoes it."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        hops.clear()
        await conn.execute(select(func.count()).select_from(ProcessedUpdate))
        await conn.rollback()
        await conn.commit()
        assert len(hops) == 1, hops  # the read alone
        await conn.execute(insert(ProcessedUpdate).values(key="undone", at=utcnow()))
        await conn.rollback()
        assert len(hops) == 3, hops  # the write and its rollback
        assert await conn.scalar(select(func.count()).select_from(ProcessedUpdate)) == 0
    hops.clear()
    async with engine.connect() as conn:  # checked out and returned (reset) with nothing done: no hop
        pass
    assert hops == [], hops
