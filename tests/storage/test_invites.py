"""Invites work once and expire; consent and tasks are kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import repositories as repo
from storage.db import make_engine, make_sessionmaker
from storage.demo import load_demo
from storage.models import Invite, utcnow
from storage.self_service import add_task, create_invite, hash_token, open_tasks, redeem_invite


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url)
    maker = make_sessionmaker(engine)
    async with maker() as session, session.begin():
        await load_demo(session)
    yield maker
    await engine.dispose()


async def test_an_invite_works_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        borrower = await repo.borrower_by_code(session, "B001")
        assert borrower is not None
        token = await create_invite(session, borrower, script_id="self_checkin", created_by=None)
        stored = await session.get(Invite, 1)
        assert stored is not None and stored.token_hash == hash_token(token) and token not in stored.token_hash
    async with sessions() as session, session.begin():
        first = await redeem_invite(session, token, telegram_id=5001)
        assert first.problem is None and first.invite is not None
        assert first.invite.borrower.telegram_id == 5001
    async with sessions() as session, session.begin():
        again = await redeem_invite(session, token, telegram_id=5002)
        assert again.problem == "used"
        unknown = await redeem_invite(session, "nope", telegram_id=5002)
        assert unknown.problem == "unknown"


async def test_an_expired_invite_is_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        borrower = await repo.borrower_by_code(session, "B002")
        assert borrower is not None
        token = await create_invite(
            session, borrower, script_id="self_checkin", created_by=None, valid_for=timedelta(minutes=5)
        )
    async with sessions() as session, session.begin():
        late = await redeem_invite(session, token, telegram_id=5003, now=utcnow() + timedelta(minutes=6))
        assert late.problem == "expired"


async def test_tasks_soonest_first(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        later = await add_task(
            session, kind="callback", borrower_id=1, officer_id=1, visit_id=None, note="b",
            due_at=utcnow() + timedelta(days=2),
        )  # fmt: skip
        sooner = await add_task(
            session, kind="callback", borrower_id=2, officer_id=1, visit_id=None, note="a",
            due_at=utcnow() + timedelta(days=1),
        )  # fmt: skip
        undated = await add_task(session, kind="callback", borrower_id=3, officer_id=1, visit_id=None, note="c")
    async with sessions() as session:
        ids = [t.id for t in await open_tasks(session, officer_id=1)]
    assert ids == [sooner.id, later.id, undated.id]
