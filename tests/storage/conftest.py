"""Fixtures the storage tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import make_engine


@pytest.fixture
async def engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a migrated SQLite file, configured as the app configures it; disposed after."""
    made = make_engine(sqlite_url)
    try:
        yield made
    finally:
        await made.dispose()
