"""Engine and session factories, made at start-up (never at import); database problems as one error type."""

from __future__ import annotations

import asyncio
import json
import shlex
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Table, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool

from storage.sqlite_driver import allow_inline_writes, one_hop_dbapi

__all__ = [
    "ASYNC_DRIVERS",
    "IDLE_PING",
    "SQLITE_SYNCHRONOUS",
    "DatabaseUnavailable",
    "StorageError",
    "check_connection",
    "check_url",
    "create_database",
    "createdb_command",
    "database_problem",
    "is_sqlite",
    "json_dumps",
    "json_loads",
    "make_engine",
    "make_read_engine",
    "make_read_sessionmaker",
    "make_sessionmaker",
    "sqlite_file_problem",
    "sync_url",
    "table_of",
]

ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}
"""The async driver to suggest for a backend named in a URL."""


class StorageError(Exception):
    """Root of every error raised by :mod:`storage`."""


class DatabaseUnavailable(StorageError):
    """The database cannot be used: ``kind`` says why, ``target`` is the URL without its password.

    Kinds: ``bad_url`` (not a URL), ``driver`` (unknown or missing driver), ``sync_driver`` (not an
    async driver; ``hint`` is the one to use), ``unreachable``, ``auth``, ``missing`` (no such
    database; ``hint`` is the ``createdb`` command), ``file`` (an SQLite file that cannot be opened),
    ``unmigrated`` (the schema is missing or old: run ``visitbot db upgrade``).
    """

    def __init__(self, kind: str, target: str, detail: str = "", hint: str = "") -> None:
        """Say what is wrong with which database."""
        self.kind = kind
        self.target = target
        self.detail = detail
        self.hint = hint
        super().__init__(
            f"database {target}: {kind}" + (f" ({detail})" if detail else "") + (f"; {hint}" if hint else "")
        )


def is_sqlite(url: str) -> bool:
    """True for SQLite URLs."""
    return make_url(url).get_backend_name() == "sqlite"


def sync_url(url: str) -> str:
    """The URL with its async driver (for messages and tools that want a plain URL)."""
    return make_url(url).render_as_string(hide_password=True)


def _shown(url: str | URL) -> str:
    """A URL fit to show: its password hidden; text that is no URL is not shown at all."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "VISITBOT_DATABASE_URL"


@lru_cache(maxsize=32)
def check_url(url: str) -> None:
    """Raise :class:`DatabaseUnavailable` unless ``url`` names a database through an installed async driver."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseUnavailable("bad_url", _shown(url)) from exc
    backend = parsed.get_backend_name()
    try:
        create_async_engine(parsed).sync_engine.dispose()
    except InvalidRequestError as exc:
        hint = ASYNC_DRIVERS.get(backend, "")
        raise DatabaseUnavailable("sync_driver", _shown(parsed), parsed.drivername, hint) from exc
    except (ArgumentError, ImportError) as exc:
        raise DatabaseUnavailable("driver", _shown(parsed), parsed.drivername, ASYNC_DRIVERS.get(backend, "")) from exc


SQLITE_SYNCHRONOUS = "FULL"
"""SQLite syncs the write-ahead log at every commit: an answer the bot acknowledged survives a power
loss (``NORMAL`` in WAL mode syncs only at checkpoints, so the last commits can vanish)."""


def table_of(model: type[Any]) -> Table:
    """A mapped class's table, for Core statements on the hot paths (no ORM bookkeeping per row)."""
    table: Table = model.__table__
    return table


def json_dumps(value: Any) -> str:
    """A JSON column's text: orjson's (a visit's state is written on every answer; orjson takes a tenth of
    the standard library's time), the standard library's for what orjson refuses (an integer beyond 64 bits,
    a key neither a string nor a number) so that what was stored before still is. Unlike ``json.dumps``,
    CJK text is kept as it is (not ``\\u`` escapes) and a float NaN is written ``null`` (PostgreSQL refuses
    ``NaN`` in JSON anyway)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value)


def json_loads(text: str | bytes) -> Any:
    """A JSON column's value: orjson's parse, the standard library's for what only it reads (``NaN``, which
    ``json.dumps`` wrote before :func:`json_dumps`)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def make_engine(url: str, *, connections: int | None = None, **kwargs: Any) -> AsyncEngine:
    """An async engine that never puts statement parameters (personal data) in errors or logs.

    SQLite gets WAL with ``synchronous=FULL`` (:data:`SQLITE_SYNCHRONOUS`), a busy timeout, foreign keys
    and one connection. PostgreSQL connections are pinged before use only after a rest (:data:`IDLE_PING`);
    ``connections``: how many the pool keeps open (SQLAlchemy's default, 5, when not given), for a process
    that uses that many at once. Beyond what the pool keeps, a connection is made for the moment and closed
    when given back: a bot of 16 update workers on the default pool connected afresh every fourth answer
    (633 connections for 2,730 answers in ``bench.telegram_path``, each a login and SQLAlchemy's setup).
    JSON columns are written and read with orjson (:func:`json_dumps`, :func:`json_loads`).
    """
    kwargs.setdefault("hide_parameters", True)
    kwargs.setdefault("json_serializer", json_dumps)
    kwargs.setdefault("json_deserializer", json_loads)
    if is_sqlite(url):
        parsed = make_url(url)
        if parsed.database in (None, "", ":memory:"):
            kwargs.setdefault("poolclass", StaticPool)
        else:
            kwargs.setdefault("pool_size", 1)
            kwargs.setdefault("max_overflow", 0)
            kwargs.setdefault("pool_timeout", 60)
        kwargs.setdefault("connect_args", {"timeout": 30})
        if parsed.get_driver_name() == "aiosqlite":
            kwargs.setdefault("module", one_hop_dbapi())  # one thread hop per statement (storage.sqlite_driver)
            # a write transaction's later statements run in the event loop's thread (storage.sqlite_driver)
            kwargs["connect_args"] = {"check_same_thread": False, **kwargs["connect_args"]}
        engine = create_async_engine(url, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            allow_inline_writes(dbapi_conn, str(cursor.fetchone()[0]))  # WAL (a file): see storage.sqlite_driver
            cursor.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    if connections is not None:
        kwargs.setdefault("pool_size", connections)
    engine = create_async_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    return engine


IDLE_PING = 5.0
"""Seconds a pooled PostgreSQL connection may rest before its next checkout pings it first."""


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection at checkout only when it rested more than :data:`IDLE_PING` seconds.

    A connection that died while resting (PostgreSQL restarted, a proxy dropped it) is replaced before
    anyone uses it, as ``pool_pre_ping`` would; but a busy bot (every answer checks connections out two
    or three times) does not pay a round trip per checkout. A server lost mid-load fails the statements
    then in flight once each; the pool then starts over with fresh connections.
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _rested_from(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info["checked_in"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping_if_rested(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        rested = record.info.get("checked_in")
        if rested is None or time.monotonic() - rested <= IDLE_PING:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # any failure to ping: the pool drops it and connects afresh
            raise DisconnectionError("the pooled connection did not answer a ping") from exc


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def make_read_engine(engine: AsyncEngine) -> AsyncEngine:
    """The engine for a read of a statement or two that needs no snapshot of its own (who sent an update):
    on PostgreSQL in autocommit, so the read costs no ``BEGIN`` and no ``ROLLBACK`` round trip; on SQLite
    the engine itself (sqlite3 begins no transaction for a read anyway, and switching would cost calls).
    The same pool either way."""
    if engine.dialect.name != "postgresql":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def make_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on :func:`make_read_engine` (a read that needs the ORM: who sent a command)."""
    return async_sessionmaker(make_read_engine(engine), expire_on_commit=False)


def createdb_command(url: str | URL) -> str:
    """The ``createdb`` command that makes the database a PostgreSQL URL names."""
    parsed = make_url(url)
    words = ["createdb"]
    for flag, value in (("-h", parsed.host), ("-p", parsed.port), ("-U", parsed.username)):
        if value:
            words += [flag, str(value)]
    return shlex.join([*words, parsed.database or ""])


def database_problem(exc: BaseException, url: str) -> DatabaseUnavailable | None:
    """What ``exc`` (raised while connecting to ``url``) says about the database, or None if it is something else."""
    if isinstance(exc, DatabaseUnavailable):
        return exc
    if isinstance(exc, ArgumentError | InvalidRequestError | ImportError):
        try:
            check_url(url)
        except DatabaseUnavailable as problem:
            return problem
        return None
    shown = _shown(url)
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        state = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
        detail = str(orig).strip().splitlines()[0] if orig is not None else ""
        if state == "3D000":
            return DatabaseUnavailable("missing", shown, detail, createdb_command(url))
        if state.startswith("28"):
            return DatabaseUnavailable("auth", shown, detail)
        if state.startswith(("08", "57P")) or exc.connection_invalidated:
            return DatabaseUnavailable("unreachable", shown, detail)
        if is_sqlite(url) and "unable to open database file" in detail:
            return DatabaseUnavailable("file", shown, make_url(url).database or "")
        if state in ("42P01", "42703") or detail.startswith(("no such table", "no such column")):
            return DatabaseUnavailable("unmigrated", shown, detail)
        return None
    if isinstance(exc, TimeoutError):
        return DatabaseUnavailable("unreachable", shown, "timed out")
    if isinstance(exc, OSError) and exc.filename is None:
        return DatabaseUnavailable("unreachable", shown, exc.strerror or str(exc))
    return None


def sqlite_file_problem(url: str) -> DatabaseUnavailable | None:
    """For an SQLite file in a folder that does not exist, the problem (found before any driver thread starts)."""
    if not is_sqlite(url):
        return None
    database = make_url(url).database
    if database in (None, "", ":memory:") or database.startswith("file:"):
        return None
    return None if Path(database).parent.is_dir() else DatabaseUnavailable("file", _shown(url), database)


async def check_connection(engine: AsyncEngine, url: str, *, within: float = 15.0) -> None:
    """Connect once; raise :class:`DatabaseUnavailable` (with the reason) when the database cannot be used."""
    if (problem := sqlite_file_problem(url)) is not None:
        raise problem
    try:
        async with asyncio.timeout(within), engine.connect():
            pass
    except Exception as exc:
        problem = database_problem(exc, url)
        if problem is None:
            raise
        raise problem from exc


async def create_database(url: str) -> None:
    """Create the PostgreSQL database ``url`` names, connected to the server's ``postgres`` database.

    Raises :class:`DatabaseUnavailable` (kind ``missing``, the ``createdb`` command as hint) when that fails.
    """
    parsed = make_url(url)
    name = parsed.database or ""
    engine = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    try:
        async with asyncio.timeout(30):
            conn = await engine.connect()
            try:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                quoted = '"' + name.replace('"', '""') + '"'
                await conn.execute(text(f"CREATE DATABASE {quoted}"))
            finally:
                await conn.close()
    except (DBAPIError, OSError, TimeoutError) as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise DatabaseUnavailable("missing", _shown(url), detail, createdb_command(url)) from exc
    finally:
        await engine.dispose()
