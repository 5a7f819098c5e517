"""A visit desk over a database with the demo data, as the storage and desk tests use it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.desk import Clock, VisitDesk
from bot.settings import Settings
from dialogs.catalog import ScriptCatalog
from storage.db import make_engine, make_sessionmaker
from storage.demo import load_demo


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
