"""SQLite prepares each statement of an answer once, however often it runs.

SQLite decides whether a query may use a partial index (``visits``: ``status = 'open'``) by the value a
bound parameter holds, and then compiles the statement again every time a value is bound to it. The
read of an answer's sender and visit (``storage.repositories.sender_and_chat``) was compiled anew on
every answer that way, about a million instructions, 7 % of an answer. A status is now written into the
SQL (``storage.models.visit_status_is``). These tests read SQLite's own counters
(``sqlite3_stmt_status(SQLITE_STMTSTATUS_REPREPARE)``) of the connection's prepared statements.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sqlite3

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.desk import Actor, VisitDesk
from bot.settings import Settings
from dialogs.answers import Reply
from dialogs.catalog import ScriptCatalog
from dialogs.engine import Submit
from storage import repositories as repo
from storage.chats import point_chat_at
from storage.db import make_sessionmaker
from storage.demo import link_demo_user, load_demo
from storage.models import Visit, visit_status_is
from tests.desks import RISKY

STMTSTATUS_REPREPARE, STMTSTATUS_RUN = 5, 6
TELEGRAM_ID = 7_100_001


def _sqlite() -> ctypes.CDLL:
    lib = ctypes.CDLL(ctypes.util.find_library("sqlite3") or "libsqlite3.so.0")
    lib.sqlite3_next_stmt.restype = ctypes.c_void_p
    lib.sqlite3_next_stmt.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.sqlite3_stmt_status.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.sqlite3_sql.restype = ctypes.c_char_p
    lib.sqlite3_sql.argtypes = [ctypes.c_void_p]
    lib.sqlite3_db_filename.restype = ctypes.c_char_p
    lib.sqlite3_db_filename.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    return lib


def prepared(raw: sqlite3.Connection, path: str) -> list[tuple[str, int, int]]:
    """(SQL, runs, times compiled again) of each statement the connection holds prepared.

    The ``sqlite3*`` handle is the first field after the object header of CPython's connection object;
    the database file it names is checked (the test fails, never skips, should that change) before
    anything else is read through it."""
    lib = _sqlite()
    handle = ctypes.c_void_p.from_address(id(raw) + 2 * ctypes.sizeof(ctypes.c_void_p)).value
    named = lib.sqlite3_db_filename(handle, b"main")
    assert named is not None and named.decode() == path, "CPython's sqlite3 connection no longer starts with its handle"
    found = []
    stmt = lib.sqlite3_next_stmt(handle, None)
    while stmt:
        sql = (lib.sqlite3_sql(stmt) or b"").decode()
        runs = lib.sqlite3_stmt_status(stmt, STMTSTATUS_RUN, 0)
        found.append((sql, runs, lib.sqlite3_stmt_status(stmt, STMTSTATUS_REPREPARE, 0)))
        stmt = lib.sqlite3_next_stmt(handle, stmt)
    return found


async def raw_connection(engine: AsyncEngine) -> sqlite3.Connection:
    """The engine's one sqlite3 connection (its pool holds one)."""
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        connection: sqlite3.Connection = raw._conn
        return connection


async def test_an_answers_statements_are_compiled_once_not_on_every_answer(
    engine: AsyncEngine, sqlite_url: str
) -> None:
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        await load_demo(session)
        officer = await link_demo_user(session, TELEGRAM_ID, "officer")
    desk = VisitDesk(sessions, ScriptCatalog(), Settings(database_url=sqlite_url))
    actor = Actor("officer", officer.id)
    reply = await desk.begin("B001", actor=actor, officer_id=officer.id)
    for text in RISKY:
        async with sessions() as session, session.begin():  # the chat on the visit
            await point_chat_at(session, TELEGRAM_ID, visit_id=reply.visit_id)
        async with engine.connect() as connection:  # as Telegram reads who sent an answer
            rows = await repo.sender_and_chat(connection, TELEGRAM_ID, TELEGRAM_ID)
        assert rows.visit is not None and rows.visit.id == reply.visit_id
        event = Submit(Reply(text=text))
        reply = await desk.act(reply.visit_id, event, actor=actor, said=text, seen=rows.visit)
        assert reply.turn.error is None, reply.turn.error
    assert reply.turn.finished
    path = sqlite_url.split("///", 1)[1]
    statements = prepared(await raw_connection(engine), path)
    ran_often = [(sql, runs, again) for sql, runs, again in statements if runs >= len(RISKY) - 1]
    assert any("FROM users LEFT OUTER JOIN chat_sessions" in sql for sql, _, _ in ran_often)  # the sender's read
    compiled_again = [(sql[:120], runs, again) for sql, runs, again in statements if again]
    assert compiled_again == []


async def test_a_status_bound_as_a_parameter_would_be_compiled_again_each_time(
    engine: AsyncEngine, sqlite_url: str
) -> None:
    """The cause, shown: the same query with the status bound is compiled again on each run; written into
    the SQL (``visit_status_is``), it is not."""
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        await load_demo(session)
    bound = select(Visit.id).where(Visit.borrower_id == 1, Visit.status == "open")
    written = select(Visit.id).where(Visit.borrower_id == 1, visit_status_is("open"))
    for _ in range(5):
        async with sessions() as session:
            await session.execute(bound)
            await session.execute(written)
    path = sqlite_url.split("///", 1)[1]
    again = {sql: n for sql, _, n in prepared(await raw_connection(engine), path) if "FROM visits" in sql}
    assert [n for sql, n in again.items() if "visits.status = ?" in sql] == [5]
    assert [n for sql, n in again.items() if "visits.status = 'open'" in sql] == [0]


def test_a_status_that_is_not_a_word_is_refused() -> None:
    with pytest.raises(ValueError, match="not a visit status"):
        visit_status_is("open' OR 1=1 --")
