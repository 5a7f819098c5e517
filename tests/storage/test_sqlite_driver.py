"""The SQLite engine's statements cost one thread hop each (storage.sqlite_driver) and behave as sqlite3's:
rows, row counts, inserted ids, executemany, errors, streaming, and a connection still usable after an error."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
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
async def engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    made = make_engine(sqlite_url)
    try:
        yield made
    finally:
        await made.dispose()


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
