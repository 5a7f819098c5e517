"""Fixtures of the data-care tests: sessions on each test database, the staff of two teams stored."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.db import make_engine, make_sessionmaker
from storage.models import User
from tests.bot import planted


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the test's database (SQLite and PostgreSQL); the engine is disposed after."""
    engine = make_engine(database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def staff(sessions: async_sessionmaker[AsyncSession]) -> dict[str, User]:
    """:data:`planted.STAFF`, stored and committed."""
    async with sessions() as session, session.begin():
        return await planted.staff(session)
