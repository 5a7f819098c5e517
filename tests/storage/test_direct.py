"""Statements the driver runs itself (storage.direct) send what ``session.execute`` would, in the session's
transaction, and fail as SQLAlchemy fails: the answer path's writes skip SQLAlchemy's execution layers and
nothing else changes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import chats, direct
from storage import repositories as repo
from storage.db import make_engine, make_sessionmaker, table_of
from storage.direct import Direct
from storage.models import ChatSession, TranscriptMessage, Visit, utcnow
from tests.desks import officer_on_a_visit

TELEGRAM_ID = 7_100_003


class World:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], visit_id: int, revision: int) -> None:
        self.sessions = sessions
        self.visit_id = visit_id
        self.revision = revision


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    """The demo data, one visit begun, the officer's chat pointed at it."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        visit_id = await officer_on_a_visit(sessions, database_url, TELEGRAM_ID)
        async with sessions() as session:
            revision = await session.scalar(select(Visit.revision).where(Visit.id == visit_id))
        yield World(sessions, visit_id, revision or 0)
    finally:
        await engine.dispose()


def _cases(world: World, dialect: str) -> list[tuple[str, Direct, dict[str, Any], int]]:
    """The answer path's statements, each with the parameters it is given there and the rows it changes."""
    now = utcnow()
    answer = {
        "visit_id": world.visit_id, "step_id": "identity", "question": "是本人吗？", "raw": "是", "value": {"a": [1]},
        "display": "是", "skipped": False, "answered_by": "officer", "answered_by_user_id": None,
        "answered_at": now, "shown_in": "12", "update_key": "u:1",
    }  # fmt: skip
    visit = {
        "b_visit": world.visit_id, "b_revision": world.revision, "b_state": {"step": "x", "answers": {"a": "中文"}},
        "b_step": "x", "b_respondent": None, "b_next": world.revision + 1, "b_at": now,
    }  # fmt: skip
    chat = {"b_chat": TELEGRAM_ID, "b_visit": world.visit_id, "b_at": now}
    shown = {"b_visit": world.visit_id, "b_step": "identity", "b_shown_in": "tg:1:8", "b_shown_step": "identity"}
    pressed = {**visit, "b_shown_in": "tg:1:7", "b_shown_step": "x"}
    return [
        ("keyed answer", repo._ADD_KEYED_ANSWER[dialect], answer, 1),
        ("answer", repo._ADD_ANSWER, {**answer, "update_key": None}, 1),
        ("visit", repo._SAVE_VISIT[False], visit, 1),
        ("visit changed meanwhile", repo._SAVE_VISIT[False], {**visit, "b_revision": world.revision - 1}, 0),
        ("visit and where it shows", repo._SAVE_VISIT[True], pressed, 1),
        ("point", chats._POINT, chat, 1),
        ("leave", chats._LEAVE, chat, 1),
        ("delivered", chats._SHOWN, shown, 1),
        ("delivered, the visit moved on", chats._SHOWN, {**shown, "b_step": "x"}, 0),
        ("moved", chats._MOVE_SHOWN, {**shown, "b_was": "tg:1:8", "b_shown_in": None}, 0),
    ]


def _seen(sessions: async_sessionmaker[AsyncSession]) -> tuple[list[tuple[str, list[Any]]], Callable[[], None]]:
    """The statements and parameters the engine's listeners are told of, and how to stop listening."""
    seen: list[tuple[str, list[Any]]] = []
    engine = sessions.kw["bind"].sync_engine

    def listen(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        seen.append((statement, list(parameters)))

    event.listen(engine, "before_cursor_execute", listen)
    return seen, lambda: event.remove(engine, "before_cursor_execute", listen)


async def test_each_statement_sends_what_sqlalchemy_would_and_changes_the_same_rows(world: World) -> None:
    dialect = world.sessions.kw["bind"].dialect.name
    for name, statement, params, changed in _cases(world, dialect):
        seen, stop = _seen(world.sessions)
        try:
            async with world.sessions() as session, session.begin():
                theirs: Any = await session.execute(statement.statement, params)
                await session.rollback()
            async with world.sessions() as session, session.begin():
                ours = await direct.execute(session, statement, params)
                await session.rollback()
        finally:
            stop()
        assert len(seen) == 2, (name, seen)
        assert seen[0] == seen[1], name  # the same SQL, the same values as the driver gets them
        assert ours == theirs.rowcount == changed, name


async def test_the_writes_commit_and_roll_back_with_the_session(world: World) -> None:
    lines = [("in", "是的", "officer"), ("out", "下一个问题", "bot")]
    async with world.sessions() as session, session.begin():
        await repo.add_transcripts(session, world.visit_id, lines)
        await session.rollback()
    async with world.sessions() as session:
        before = await session.scalar(select(func.count()).select_from(TranscriptMessage))
    async with world.sessions() as session, session.begin():
        await repo.add_transcripts(session, world.visit_id, lines)
        await chats.set_shown(session, TELEGRAM_ID, visit_id=world.visit_id, step="identity", message_id=41)
        await chats.leave_visit(session, TELEGRAM_ID, world.visit_id)
    async with world.sessions() as session:
        kept = (await session.scalars(select(TranscriptMessage).order_by(TranscriptMessage.id))).all()
        visit = await session.get(Visit, world.visit_id)
        row = await session.get(ChatSession, TELEGRAM_ID)
    assert len(kept) == (before or 0) + 2
    assert [(m.direction, m.text, m.actor) for m in kept[-2:]] == lines
    assert visit is not None and (visit.shown_in, visit.shown_step) == (f"tg:{TELEGRAM_ID}:41", "identity")
    assert visit.revision == world.revision  # where its question shows is no change of the visit
    assert row is not None and row.visit_id is None
    assert row.updated_at is not None and abs(row.updated_at.replace(tzinfo=None) - datetime.now()) < timedelta(
        days=1
    )  # the statement says when it changed the row, as the model's onupdate did


async def test_a_refused_row_raises_sqlalchemys_error_and_the_session_goes_on(world: World) -> None:
    dialect = world.sessions.kw["bind"].dialect.name
    statement = repo._ADD_KEYED_ANSWER[dialect]
    _, _, good, _ = _cases(world, dialect)[0]
    async with world.sessions() as session:
        with pytest.raises(IntegrityError):  # no such visit
            await direct.execute(session, statement, {**good, "visit_id": 999_999})
        await session.rollback()
        async with session.begin():
            assert await direct.execute(session, statement, good) == 1
            assert await direct.execute(session, statement, good) == 0  # a redelivery: nothing written


def test_a_statement_that_leaves_a_column_to_python_is_refused() -> None:
    table = table_of(ChatSession)
    forgetful = Direct(update(table).where(table.c.chat_id == bindparam("b_chat")).values(picked=bindparam("b_step")))
    engine = make_engine("sqlite+aiosqlite:///:memory:")
    with pytest.raises(ValueError, match="updated_at"):  # the model's onupdate would be skipped silently
        forgetful.plan(engine.sync_engine.dialect, ("b_chat", "b_step"))


async def test_a_read_gives_the_row_sqlalchemys_result_gives(world: World) -> None:
    """The sender's read (a hundred columns: datetimes, JSON, booleans, decimals) processed as SQLAlchemy's
    result processes them; no row, None."""
    params = {"b_telegram": TELEGRAM_ID, "b_chat": TELEGRAM_ID}
    async with world.sessions() as session:
        theirs = (await session.execute(repo._STAFF_AND_CHAT.statement, params)).first()
        ours = await direct.first(session, repo._STAFF_AND_CHAT, params)
        nobody = await direct.first(session, repo._STAFF_AND_CHAT, {**params, "b_telegram": 1})
    assert theirs is not None and ours is not None
    assert ours == tuple(theirs)
    assert [type(value) for value in ours] == [type(value) for value in theirs]
    assert any(isinstance(value, datetime) for value in ours) and any(isinstance(value, dict) for value in ours)
    assert nobody is None
