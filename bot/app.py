"""Start-up wiring: settings, database engine, sessions, script catalog and the visit desk."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.desk import Clock, SystemClock, VisitDesk
from bot.settings import Settings
from dialogs.catalog import ScriptCatalog
from storage.db import make_engine, make_read_engine, make_read_sessionmaker, make_sessionmaker
from storage.group_commit import POSTGRES_WRITERS

__all__ = ["Services", "make_services", "services"]


@dataclass
class Services:
    """Everything a command or front-end needs, made once at start-up."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    catalog: ScriptCatalog
    desk: VisitDesk
    clock: Clock
    reads: async_sessionmaker[AsyncSession]
    """Sessions for one-statement reads outside any transaction (:func:`storage.db.make_read_sessionmaker`)."""
    reading: AsyncEngine
    """The engine of those reads, for one with no session at all (:func:`storage.db.make_read_engine`: who
    sent an answer, read on a connection straight from the pool)."""


JOBS_CONNECTIONS = 4
"""Connections a bot process's other work may hold besides its updates and its batches (the outbox, the
reminders, a command's read)."""


def connections_for(settings: Settings) -> int:
    """The PostgreSQL connections a bot process keeps open: one for each update worker (its read of who
    sent the update), one for each group-commit batch in flight, and the jobs' (:data:`JOBS_CONNECTIONS`)."""
    return settings.update_workers + POSTGRES_WRITERS + JOBS_CONNECTIONS


def make_services(settings: Settings, clock: Clock | None = None) -> Services:
    """Build the services for ``settings`` (dispose of ``engine`` when done)."""
    engine = make_engine(settings.database_url, connections=connections_for(settings))
    sessions = make_sessionmaker(engine)
    catalog = ScriptCatalog(Path(settings.scripts_dir) if settings.scripts_dir else None)
    clock = clock or SystemClock()
    desk = VisitDesk(sessions, catalog, settings, clock)
    reads, reading = make_read_sessionmaker(engine), make_read_engine(engine)
    return Services(settings, engine, sessions, catalog, desk, clock, reads, reading)


@asynccontextmanager
async def services(settings: Settings, clock: Clock | None = None) -> AsyncIterator[Services]:
    """Build the services for ``settings`` and dispose of the engine afterwards."""
    svc = make_services(settings, clock)
    try:
        yield svc
    finally:
        await svc.engine.dispose()


COLLECT_EVERY = 10_000
"""Container objects allocated (net) between two young-generation collections in the bot's process. Python's
default, 700, made 1,339 collections (0.79 s) in a run of ``bench.telegram_path --quick`` (3,640 answers);
10,000 made 586, most of them before the bot started (0.33 s), and an answer at 200 at once cost 6 % less
CPU. ``gc.freeze`` on top measured nothing more."""


def settle_heap() -> None:
    """For the bot's process once it is set up (it then serves for hours): collect young objects less often."""
    gc.set_threshold(COLLECT_EVERY, *gc.get_threshold()[1:])
