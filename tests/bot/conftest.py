"""Fixtures of the data-care tests: the staff of two teams stored (sessions: tests/conftest.py)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import User
from tests.bot import planted


@pytest.fixture
async def staff(sessions: async_sessionmaker[AsyncSession]) -> dict[str, User]:
    """:data:`planted.STAFF`, stored and committed."""
    async with sessions() as session, session.begin():
        return await planted.staff(session)
