"""SQLAlchemy's aiosqlite adapter, one thread hop per statement instead of three or four.

aiosqlite runs each sqlite3 call in the connection's own thread and hands the result back to the event
loop: a queue put, a thread wake-up, a ``call_soon_threadsafe`` and a loop wake-up for every call.
SQLAlchemy's adapter makes three or four such calls per statement (open a cursor, execute, fetch the
rows, close the cursor). Here one function does all of it in the connection's thread and hands back the
rows with the cursor's description, row count and last row id; the adapter's cursor then serves them
from memory, as it already did for the fetched rows. What a statement does, its errors included, is
sqlite3's, unchanged; only the number of round trips between the threads falls (measured in
``docs/PERFORMANCE.md``). Server-side cursors (``stream``) are not affected.

Once a transaction has written (sqlite3's ``in_transaction``: its first INSERT, UPDATE or DELETE took the
database's write lock), its further statements run in the event loop's own thread, with no hop at all:
they can no longer wait for another writer, only work on pages in memory (a cache spill writes to the
WAL, no sync). A commit or rollback with no transaction open (a session that only read) costs no hop
either: sqlite3 would do nothing. Only in WAL mode: in a rollback journal, a spill needs the exclusive lock and may wait
for readers. Whatever may wait stays in the connection's thread: a transaction's first write (it may
wait up to ``busy_timeout`` for another process's lock), reads outside a write, and the commit (the
sync to disk). The connection is opened with ``check_same_thread=False`` for this; it is still used by
one statement at a time (the adapter's mutex), and sqlite3 is built thread-safe.

It relies on ``aiosqlite.Connection._execute`` (queue a function for the connection's thread) and
``_conn`` (its sqlite3 connection), stable from aiosqlite 0.17 to 0.22; pyproject.toml bounds the
version and ``tests/storage/test_sqlite_driver.py`` fails should they change.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

__all__ = ["OneHopDbapi", "allow_inline_writes", "one_hop_dbapi"]


class _Done:
    """What a statement left on its cursor, read in the connection's thread (the cursor is closed)."""

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, cursor: sqlite3.Cursor | None = None) -> None:
        self.description: Any = cursor.description if cursor is not None else None
        self.rowcount: int = cursor.rowcount if cursor is not None else -1
        self.lastrowid: int | None = cursor.lastrowid if cursor is not None else None
        self.arraysize: int = 1

    def close(self) -> None:
        """Nothing to close: the sqlite3 cursor was closed in its thread."""


_NOTHING_YET = _Done()


def _run(connection: aiosqlite.Connection, operation: str, parameters: Any, many: bool) -> tuple[list[Any], _Done]:
    """In the connection's thread: execute, fetch every row, note the cursor's figures, close it."""
    cursor = connection._conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return rows, _Done(cursor)
    finally:
        cursor.close()


class _OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statement and rows come back in one hop from the connection's thread."""

    __slots__ = ()
    _awaitable_cursor_close = False  # the sqlite3 cursor is closed in its thread; close() has nothing to await

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:  # no hop to open a cursor
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = _NOTHING_YET  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        return await self._hop(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        return await self._hop(operation, seq_of_parameters, many=True)

    async def _hop(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        inline = getattr(self._adapt_connection, "inline_after_write", False)
        async with self._adapt_connection._execute_mutex:
            if inline and connection._conn.in_transaction:  # the write lock is held (WAL): nothing to wait for
                rows, done = _run(connection, operation, parameters, many)
            else:
                _count_hop(self._adapt_connection)
                rows, done = await connection._execute(_run, connection, operation, parameters, many)  # type: ignore[no-untyped-call]
        self._cursor = done  # type: ignore[assignment]
        self._rows = collections.deque(rows)

    def setinputsizes(self, *inputsizes: Any) -> None:
        """sqlite3 ignores input sizes."""

    def nextset(self) -> None:
        """sqlite3 has one result set per statement."""


class _OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("inline_after_write",)
    _cursor_cls = _OneHopCursor
    inline_after_write: bool
    """Run a write transaction's later statements in the event loop's thread: set once the connection is
    known to be in WAL mode (:func:`allow_inline_writes`); in a rollback journal a write can still wait."""

    def _idle(self) -> bool:
        """No transaction open: sqlite3's commit and rollback would do nothing at all."""
        connection: sqlite3.Connection | None = self._connection._connection
        try:
            return connection is not None and not connection.in_transaction
        except sqlite3.ProgrammingError:  # opened with check_same_thread (a caller's connect_args): ask there
            return False

    def rollback(self) -> None:
        """Roll back; no hop when nothing was written (a session that only read, as the pool resets it)."""
        if not self._idle():
            _count_hop(self)
            super().rollback()

    def commit(self) -> None:
        """Commit; no hop when nothing was written."""
        if not self._idle():
            _count_hop(self)
            super().commit()


def _count_hop(adapt_connection: Any) -> None:
    dbapi = adapt_connection.dbapi
    if isinstance(dbapi, OneHopDbapi):
        dbapi.hops += 1


class OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
    """The aiosqlite DBAPI adapter whose connections make :class:`_OneHopCursor` cursors."""

    hops = 0
    """Statements, commits and rollbacks handed to a connection's thread so far, all connections of this
    engine together (benchmarks read it: ``bench.telegram_path``)."""

    def connect(self, *arg: Any, **kw: Any) -> _OneHopConnection:
        adapted = super().connect(*arg, **kw)
        connection = _OneHopConnection(self, adapted._connection)
        connection.inline_after_write = False
        return connection


def allow_inline_writes(dbapi_connection: Any, journal_mode: str) -> None:
    """Note the journal mode a connection got: in WAL, a write transaction's statements after its first
    write run without a hop (see the module's docstring)."""
    if isinstance(dbapi_connection, _OneHopConnection):
        dbapi_connection.inline_after_write = journal_mode.lower() == "wal"


def one_hop_dbapi() -> OneHopDbapi:
    """The module to hand ``create_async_engine(..., module=...)`` for a ``sqlite+aiosqlite`` URL."""
    return OneHopDbapi(aiosqlite, sqlite3)
