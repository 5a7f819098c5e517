"""Where a visit's question is on screen is the visit's own (``Visit.shown_in``, ``storage.chats.ChatView``):
a press's answer says so in the visit's own UPDATE and writes no chat row; anything that moves the visit
without saying where its next question shows leaves the chat showing no question of it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk import Actor, VisitDesk
from bot.settings import Settings
from dialogs.answers import Reply
from dialogs.catalog import ScriptCatalog
from dialogs.engine import Submit
from storage.chats import ChatView, chat_view, message_in, move_shown, screen_ref, set_shown
from storage.db import make_engine, make_sessionmaker
from storage.models import User, Visit
from tests.desks import officer_on_a_visit, statements_seen

CHAT = 7_100_005


class World:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], desk: VisitDesk, visit_id: int, actor: Actor):
        self.sessions, self.desk, self.visit_id, self.actor = sessions, desk, visit_id, actor

    async def chat(self) -> ChatView:
        async with self.sessions() as session:
            view = await chat_view(session, CHAT)
        assert view is not None and view.visit_id == self.visit_id
        return view

    async def revision(self) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(Visit.revision).where(Visit.id == self.visit_id)) or 0)


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    """An officer's chat on a visit begun, its first question shown in message 5."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        visit_id = await officer_on_a_visit(sessions, database_url, CHAT, message_id=5)
        async with sessions() as session:
            officer = await session.scalar(select(User).where(User.telegram_id == CHAT))
        assert officer is not None
        desk = VisitDesk(sessions, ScriptCatalog(), Settings(database_url=database_url))
        yield World(sessions, desk, visit_id, Actor("officer", officer.id))
    finally:
        await engine.dispose()


def test_a_reference_names_a_message_of_its_own_chat_only() -> None:
    assert message_in(screen_ref(CHAT, 41), CHAT) == 41
    assert message_in(screen_ref(CHAT, 41), CHAT + 1) is None
    assert message_in(screen_ref(CHAT + 10, 41), CHAT + 1) is None  # not a prefix match
    assert message_in(None, CHAT) is message_in("tg:7100005:x", CHAT) is None


async def test_a_press_says_where_the_next_question_shows_and_writes_no_chat_row(world: World) -> None:
    assert (await world.chat()).step == "identity" and (await world.chat()).message_id == 5
    with statements_seen(world.sessions) as statements:
        reply = await world.desk.act(
            world.visit_id, Submit(Reply(option="self")), actor=world.actor, said="是本人", expect_step="identity",
            shows=lambda reply: screen_ref(CHAT, 5),
        )  # fmt: skip
    assert reply.turn.prompt is not None
    after = await world.chat()
    assert (after.step, after.message_id) == (reply.turn.prompt.step, 5)  # the pressed message shows it
    writes = [s.split()[0:3] for s in statements if not s.lstrip().upper().startswith("SELECT")]
    assert not any("chat_sessions" in " ".join(w) for w in writes), writes
    assert len(writes) == 3, writes  # the answer, the visit (and where it shows), the transcript


async def test_a_visit_moved_without_saying_where_shows_no_question_in_the_chat(world: World) -> None:
    """Another front-end (the web desk, the console) or a typed answer before its next question is delivered:
    the chat's message still shows the earlier question, so a typed input must not be taken for the new one."""
    reply = await world.desk.act(
        world.visit_id, Submit(Reply(option="self")), actor=world.actor, said="是本人", expect_step="identity"
    )
    assert reply.turn.prompt is not None
    step = reply.turn.prompt.step
    moved = await world.chat()
    assert (moved.step, moved.message_id) == (step, None)
    revision = await world.revision()
    async with world.sessions() as session, session.begin():  # delivered late, for the step it was sent with
        await set_shown(session, CHAT, visit_id=world.visit_id, step="identity", message_id=6)
    assert (await world.chat()).message_id is None
    async with world.sessions() as session, session.begin():  # delivered for the visit's step
        await set_shown(session, CHAT, visit_id=world.visit_id, step=step, message_id=7)
    assert (await world.chat()).message_id == 7
    assert await world.revision() == revision  # where it shows is no change of the visit
    async with world.sessions() as session, session.begin():  # moved from another message: not this one's
        await move_shown(session, CHAT, visit_id=world.visit_id, step=step, was=6, now=8)
    assert (await world.chat()).message_id == 7
    async with world.sessions() as session, session.begin():  # the edit failed and so did the new message
        await move_shown(session, CHAT, visit_id=world.visit_id, step=step, was=7, now=None)
    assert (await world.chat()).message_id is None
