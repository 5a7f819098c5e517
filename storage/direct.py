"""The answer path's writes run by the driver itself, on the connection of the session's transaction.

An answer writes four or five rows with statements built once (``storage.repositories``,
``storage.chats``). Through ``session.execute`` each one goes through SQLAlchemy's execution layers
(the session's bookkeeping and autoflush, the compiled cache's lookup, an execution context, a result
object: 140–300 µs of CPU a statement, measured in ``bench.statement_floor``) for work the database
does in a few microseconds. A :class:`Direct` statement is compiled once per dialect and set of
parameter names, to the driver's SQL, the positional order of its parameters and their types' bind
processors (a datetime made SQLite's text, a dict made JSON: what SQLAlchemy itself would send), and
:func:`execute` hands it to the driver's cursor on the session's connection, in its transaction:

- the same SQL and parameters as ``session.execute`` would send, committed or rolled back with the
  session (the connection is the one the session's transaction holds);
- errors as SQLAlchemy raises them (``IntegrityError`` …, through the connection's own handler, which
  also invalidates a connection that was lost);
- ``before_cursor_execute`` listeners are told of every statement (benchmarks and tests count them);
- no autoflush: a unit of work that keeps rows through the ORM as well flushes them itself
  (``repositories.flush_changes``), as the answer path does before it returns.

Only statements whose every value is given by the caller: one whose compiled form would compute a
column's default or ``onupdate`` in Python, or expand a list of values at run time, is refused when
compiled (:class:`ValueError`), never sent without them. SQLite statements go through
``storage.sqlite_driver`` (one thread hop, none once the transaction holds the write lock); PostgreSQL
statements through SQLAlchemy's asyncpg adapter's own cursor (its prepared-statement cache, its
transaction begun on first use, its translation of asyncpg's errors).

It relies on a few of SQLAlchemy's private names, stable through 2.0 and 2.1: the compiler's
``_bind_processors`` and ``_result_columns``, the connection's ``_handle_dbapi_exception``, and the async
adapters' cursor coroutines (``_execute_async``, ``_prepare_and_execute`` …);
``tests/storage/test_direct.py`` compares every statement of the answer path with ``session.execute``'s,
so a change in any of them fails there first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine
from sqlalchemy.util.concurrency import greenlet_spawn

__all__ = ["Direct", "execute", "execute_many", "first", "rows"]


@dataclass(slots=True)
class _Plan:
    """A statement as the driver takes it: its SQL and, per position, the parameter's name and processor."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    fixed: Mapping[str, Any]
    """Values that are part of the statement itself (``values(picked=None)``), sent as they are."""
    types: tuple[TypeEngine[Any], ...]
    """A select's columns' types, in order."""
    results: tuple[Callable[[Any], Any] | None, ...] | None = None
    """Their result processors (SQLite's text made a datetime, JSON parsed …), made at the first read: some
    depend on the type the database says it sent (PostgreSQL's numeric types)."""

    def processed(self, row: Sequence[Any], description: Sequence[Sequence[Any]], dialect: Dialect) -> tuple[Any, ...]:
        """A row's values as SQLAlchemy's result would give them."""
        results = self.results
        if results is None:
            results = self.results = tuple(
                kind._cached_result_processor(dialect, column[1])
                for kind, column in zip(self.types, description, strict=True)
            )
        return tuple(value if process is None else process(value) for value, process in zip(row, results, strict=True))

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        if self.fixed:
            params = {**self.fixed, **params}
        return [
            value if process is None else process(value)
            for value, process in zip([params[name] for name in self.names], self.processors, strict=True)
        ]


class Direct:
    """A Core statement the driver runs itself (see the module's docstring); build it once, at import."""

    __slots__ = ("_plans", "statement")

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._plans: dict[tuple[str, tuple[str, ...]], _Plan] = {}

    def plan(self, dialect: Dialect, keys: Sequence[str]) -> _Plan:
        """The statement compiled for ``dialect`` with the parameters ``keys`` (kept for the next call)."""
        key = (dialect.name, tuple(keys))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _compile(self.statement, dialect, sorted(keys))
        return plan


def _compile(statement: ClauseElement, dialect: Dialect, keys: list[str]) -> _Plan:
    compiled = statement.compile(dialect=dialect, column_keys=keys)
    if not isinstance(compiled, SQLCompiler) or compiled.positiontup is None:
        raise ValueError(f"not a statement with positional parameters on {dialect.name}: {statement}")
    computed = [*compiled.insert_prefetch, *compiled.update_prefetch]
    if computed:  # SQLAlchemy's execution context would compute these; here nobody would
        columns = ", ".join(sorted(column.key for column in computed))
        raise ValueError(f"give every column a value: {columns} would be computed in Python ({statement})")
    if compiled.post_compile_params or compiled.literal_execute_params:
        raise ValueError(f"parameters expanded at run time are not supported: {statement}")
    processors = compiled._bind_processors
    names = tuple(compiled.positiontup)
    for name in names:
        bind = compiled.binds[name]
        if name not in keys and (bind.required or bind.callable is not None):
            raise ValueError(f"no value for {name!r} in {statement}")
    fixed = {name: compiled.binds[name].value for name in names if name not in keys}
    types = tuple(column.type for column in compiled._result_columns)
    return _Plan(compiled.string, names, tuple(processors.get(name) for name in names), fixed, types)  # type: ignore[misc]


async def _connection(session: AsyncSession) -> Connection:
    """The connection of the session's transaction (begun here if need be), reused within it."""
    transaction = session.sync_session.get_transaction()
    held = session.info.get(_HELD)
    if held is not None and transaction is not None and held[0] is transaction and not held[1].closed:
        kept: Connection = held[1]
        return kept
    connection = (await session.connection()).sync_connection
    if connection is None:  # pragma: no cover - a connection just handed out is never closed
        raise RuntimeError("the session's connection is closed")
    session.info[_HELD] = (session.sync_session.get_transaction(), connection)
    return connection


_HELD = "storage.direct.connection"


def _held(connection: AsyncConnection) -> Connection:
    """The connection an ``AsyncConnection`` holds (it was started: ``async with engine.connect()``)."""
    held = connection.sync_connection
    if held is None:
        raise RuntimeError("the connection is not started or closed")
    return held


async def execute(session: AsyncSession, statement: Direct, params: Mapping[str, Any]) -> int:
    """Run ``statement`` with ``params`` in the session's transaction; the rows it changed."""
    connection = await _connection(session)
    plan = statement.plan(connection.dialect, tuple(params))
    cursor = await _run(connection, plan, plan.arguments(params), many=False)
    rowcount: int = cursor.rowcount
    return rowcount


async def first(
    on: AsyncSession | AsyncConnection, statement: Direct, params: Mapping[str, Any]
) -> tuple[Any, ...] | None:
    """The first row ``statement`` selects, its values processed as SQLAlchemy's result would (None: no row):
    in the session's transaction, or on a connection of its own (no session, no transaction begun: a read
    of one statement, which needs no snapshot but its own)."""
    connection = await _connection(on) if isinstance(on, AsyncSession) else _held(on)
    plan = statement.plan(connection.dialect, tuple(params))
    cursor = await _run(connection, plan, plan.arguments(params), many=False)
    row = cursor.fetchone()
    return None if row is None else plan.processed(row, cursor.description, connection.dialect)


async def rows(
    on: AsyncSession | AsyncConnection, statement: Direct, params: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """Every row ``statement`` selects, processed as :func:`first` processes one (in the session's transaction,
    or on a connection of its own)."""
    connection = await _connection(on) if isinstance(on, AsyncSession) else _held(on)
    plan = statement.plan(connection.dialect, tuple(params))
    cursor = await _run(connection, plan, plan.arguments(params), many=False)
    description, dialect = cursor.description, connection.dialect
    return [plan.processed(row, description, dialect) for row in cursor.fetchall()]


async def execute_many(session: AsyncSession, statement: Direct, rows: Sequence[Mapping[str, Any]]) -> None:
    """Run ``statement`` once per row (one executemany: one statement for SQLite's and asyncpg's counts)."""
    if not rows:
        return
    connection = await _connection(session)
    plan = statement.plan(connection.dialect, tuple(rows[0]))
    await _run(connection, plan, [plan.arguments(row) for row in rows], many=True)


async def _run(connection: Connection, plan: _Plan, arguments: Any, *, many: bool) -> Any:
    """Hand the statement to the driver's cursor; the cursor, its rows fetched (a client-side cursor)."""
    sql = plan.sql
    if connection._has_events or connection.engine._has_events:
        for listener in connection.dispatch.before_cursor_execute:
            sql, arguments = listener(connection, None, sql, arguments, None, many)
    if connection._echo:
        connection._log_info(sql)
    adapted: Any = connection.connection.dbapi_connection
    cursor = adapted.cursor()
    try:
        if connection.dialect.name == "postgresql":
            if many:
                await cursor._executemany(sql, arguments)
            else:
                await cursor._prepare_and_execute(sql, arguments)
        elif many:
            await cursor._executemany_async(sql, arguments)
        else:
            await cursor._execute_async(sql, arguments)
    except Exception as error:  # as SQLAlchemy raises it (and a lost connection invalidated), in its greenlet
        await _raise_as_sqlalchemy(connection, error, sql, arguments, cursor)
    return cursor


async def _raise_as_sqlalchemy(connection: Connection, error: Exception, sql: str, arguments: Any, cursor: Any) -> None:
    def handle() -> None:
        connection._handle_dbapi_exception(error, sql, arguments, cursor, None)

    await greenlet_spawn(handle)
