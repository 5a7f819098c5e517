"""Shared fixtures: database URLs for SQLite and the local PostgreSQL (never skipped in CI)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy.engine import make_url

from bot.logs import install_masking
from storage.migrate import upgrade

install_masking()
"""Every log record of the test run is masked as in production: no raw phone or ID number in its logs."""

os.environ.setdefault("VISITBOT_CONTACT_WINDOW_START", "00:00")
os.environ.setdefault("VISITBOT_CONTACT_WINDOW_END", "00:00")
"""The suite runs at any hour: the contact window is off (start == end) unless a test sets it, as
tests/bot/test_contact_rules.py and the contact e2e tests do, with a frozen clock or a chosen zone."""

os.environ.setdefault("VISITBOT_QUALITY_MIN_ANSWER_SECONDS", "0")
os.environ.setdefault("VISITBOT_QUALITY_MIN_VISIT_SECONDS", "0")
"""The suite answers visits in milliseconds (or on a clock that stands still): the too-fast check is off
unless a test sets its floors, as tests/bot/test_quality.py does with a clock it moves between answers."""

os.environ.setdefault("VISITBOT_DIGEST", "false")
"""No morning digest in a bot the suite starts (started after 08:30 it would send one at once, into
another test's chat): the digest tests turn it on."""

settings.register_profile("suite", max_examples=60, deadline=None)
settings.register_profile("thorough", max_examples=3000, deadline=None)
settings.load_profile(os.environ.get("VISITBOT_HYPOTHESIS", "suite"))
"""Property tests run 60 examples each in the suite; ``VISITBOT_HYPOTHESIS=thorough`` searches longer."""

PG_URL = os.environ.get("VISITBOT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


async def _admin(sql: str) -> None:
    import asyncpg

    url = make_url(PG_URL)
    conn = await asyncpg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        database=url.database or "postgres",
        timeout=10,
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL server URL; unreachable is a failure, not a skip."""
    try:
        asyncio.run(_admin("SELECT 1"))
    except (OSError, Exception) as exc:
        pytest.fail(f"PostgreSQL at {PG_URL} is unreachable ({exc}); start it or set VISITBOT_TEST_POSTGRES_URL")
    return PG_URL


def new_postgres_database(server: str) -> tuple[str, str]:
    """Create an empty database on the server; returns (name, async URL)."""
    name = f"visitbot_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    return name, make_url(server).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(name: str) -> None:
    """Drop a database made by :func:`new_postgres_database`."""
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A migrated SQLite database in a temporary folder."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'visits.db'}"
    upgrade(url)
    return url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A migrated, empty PostgreSQL database dropped after the test."""
    name, url = new_postgres_database(postgres_server)
    upgrade(url)
    try:
        yield url
    finally:
        drop_postgres_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each storage test runs against SQLite and PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))
