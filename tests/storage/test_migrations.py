"""Alembic migrations go up and down on both databases, and match the models."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from alembic import command
from storage.db import make_engine
from storage.migrate import alembic_config
from storage.models import Base


def _diff(url: str) -> list[object]:
    async def run() -> list[object]:
        engine = make_engine(url)
        async with engine.connect() as conn:

            def compare(sync: Connection) -> list[object]:
                return list(compare_metadata(MigrationContext.configure(sync), Base.metadata))

            result = await conn.run_sync(compare)
        await engine.dispose()
        return result

    return asyncio.run(run())


def test_models_match_the_migrations(database_url: str) -> None:
    assert _diff(database_url) == []


def test_downgrade_to_base_and_up_again(database_url: str) -> None:
    config = alembic_config(database_url)
    command.downgrade(config, "base")
    command.upgrade(config, "head")
    assert _diff(database_url) == []
