"""A visit desk over a database with the demo data, as the storage and desk tests use it; a visit's stored row;
a visit walked through the core as another front-end would run it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import services
from bot.desk import Actor, Clock, VisitDesk
from bot.settings import Settings
from dialogs.answers import Reply
from dialogs.catalog import ScriptCatalog
from dialogs.engine import Cancel, Submit
from dialogs.schema import Outcome
from storage.chats import point_chat_at, set_shown
from storage.db import make_engine, make_sessionmaker
from storage.demo import link_demo_user, load_demo
from storage.models import Visit


@asynccontextmanager
async def demo_desk(database_url: str, *, clock: Clock | None = None, **settings: Any) -> AsyncIterator[VisitDesk]:
    """A desk on ``database_url`` after the demo officers, borrowers and loans are loaded; disposed after."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        await load_demo(session)
    try:
        yield VisitDesk(sessions, ScriptCatalog(), Settings(database_url=database_url, **settings), clock)
    finally:
        await engine.dispose()


async def visit_row(desk: VisitDesk, visit_id: int) -> Visit:
    """The visit as stored now (its columns; read in a session of its own)."""
    async with desk.sessions() as session:
        visit = await session.get(Visit, visit_id)
        assert visit is not None
        return visit


async def walk(settings: Settings, code: str, script: str | None, answers: list[str], actor: Actor) -> None:
    """A visit through the core, as another front-end would run it; ``/cancel refused`` ends it refused."""
    async with services(settings) as svc:
        visit = await svc.desk.begin(code, actor=actor, officer_id=actor.user_id, script_id=script)
        for text in answers:
            event = Cancel(Outcome.REFUSED) if text == "/cancel refused" else Submit(Reply(text=text))
            reply = await svc.desk.act(visit.visit_id, event, actor=actor, said=text)
            assert reply.turn.error is None, reply.turn.error
        assert reply.turn.finished


RISKY = [
    "是本人",
    "记得",
    "差",
    "销量下滑",
    "压力很大",
    "否",
    "否",
    "按约定用途使用",
    "/skip",
    "/skip",
    "否",
    "否",
    "否",
]
"""Answers to the default phone visit whose repayment pressure raises a high-risk flag."""
CALM = ["是本人", "记得", "好", "否", "否", "按约定用途使用", "/skip", "/skip", "否", "否", "否"]
"""Answers to the phone visit without a flag."""


async def officer_on_a_visit(
    sessions: async_sessionmaker[AsyncSession], database_url: str, telegram_id: int, *, message_id: int | None = None
) -> int:
    """The demo data, an officer linked to ``telegram_id`` with a visit of B001 begun and their chat on its
    first question (shown in ``message_id``); the visit's id."""
    async with sessions() as session, session.begin():
        await load_demo(session)
        officer = await link_demo_user(session, telegram_id, "officer")
    desk = VisitDesk(sessions, ScriptCatalog(), Settings(database_url=database_url))
    started = await desk.begin("B001", actor=Actor("officer", officer.id), officer_id=officer.id)
    async with sessions() as session, session.begin():
        await point_chat_at(session, telegram_id, visit_id=started.visit_id)
        if message_id is not None:
            await set_shown(session, telegram_id, visit_id=started.visit_id, step="identity", message_id=message_id)
    return started.visit_id


@contextmanager
def statements_seen(sessions: async_sessionmaker[AsyncSession]) -> Iterator[list[str]]:
    """The SQL of every statement the sessions' engine runs inside the block (an executemany counts once)."""
    statements: list[str] = []
    engine = sessions.kw["bind"].sync_engine

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)
