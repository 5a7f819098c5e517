"""A throwaway PostgreSQL database for a benchmark: made on the server of ``VISITBOT_BENCH_POSTGRES_URL``
(default the local one), migrated, and dropped afterwards whatever happens."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.db import create_database, make_engine
from storage.migrate import upgrade

__all__ = ["PG_SERVER", "on_each_database", "scratch_database"]

PG_SERVER = os.environ.get("VISITBOT_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")


async def _admin(sql: str) -> None:
    engine = make_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@contextmanager
def scratch_database() -> Iterator[str]:
    """The URL of a new, migrated database (call outside a running event loop); dropped on the way out."""
    name = f"visitbot_bench_{uuid.uuid4().hex[:8]}"
    url = make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
    try:
        asyncio.run(create_database(url))
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def on_each_database(run: Callable[[str], None], only: str | None = None) -> None:
    """``run(url)`` on a fresh SQLite file, then on a scratch PostgreSQL database (``only``: one of them);
    PostgreSQL unreachable: said and skipped."""
    if only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            upgrade(url)
            run(url)
    if only != "sqlite":
        try:
            with scratch_database() as url:
                run(url)
        except OSError as exc:
            print(f"postgresql: skipped ({exc})")
