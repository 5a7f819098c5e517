"""Shared fixtures: database URLs for SQLite and the local PostgreSQL (never skipped in CI)."""

from __future__ import annotations

import asyncio
import os
import queue
import shutil
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import dialogs.catalog as catalog_module
from bot.logs import install_masking
from dialogs.catalog import default_scripts_dir
from dialogs.compiler import CompiledScript
from dialogs.fragments import FRAGMENTS_DIR
from storage.db import make_engine, make_sessionmaker
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


def _script_inputs(path: Path) -> tuple[str, bytes, tuple[tuple[str, bytes], ...]]:
    """Everything a script file compiles from: its name and text, and every fragment file its includes may read
    (its own folder's ``fragments/``, then the shipped ones)."""
    folders = {path.parent / FRAGMENTS_DIR, default_scripts_dir() / FRAGMENTS_DIR}
    fragments = tuple(
        (str(file), file.read_bytes())
        for folder in sorted(folders)
        if folder.is_dir()
        for file in sorted(folder.rglob("*"))
        if file.is_file()
    )
    return str(path), path.read_bytes(), fragments


_COMPILED: dict[tuple[str, bytes, tuple[tuple[str, bytes], ...]], CompiledScript] = {}
_load_and_compile = catalog_module.load_and_compile


def _compiled_once(path: Path) -> CompiledScript:
    """:func:`dialogs.loader.load_and_compile`, done once per test process for the same inputs, byte for byte.

    Each ScriptCatalog (every desk, every ``services()``) compiled the shipped scripts again, ~0.35 s of CPU a
    time, most of the in-process time of a desk test. The catalog stays new for every test (its pins and
    checks against the test's database start empty); only the compiled scripts, which a VisitEngine never
    changes, are shared. A file that fails to load is never kept: it raises its ScriptError every time."""
    try:
        key = _script_inputs(path)
    except OSError:
        return _load_and_compile(path)
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = _COMPILED[key] = _load_and_compile(path)
    return compiled


catalog_module.load_and_compile = _compiled_once  # type: ignore[assignment]


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


def copy_sqlite(template: Path, target: Path) -> None:
    """Copy a closed SQLite database (its write-ahead log, if one is left, with it)."""
    shutil.copyfile(template, target)
    for suffix in ("-wal", "-shm"):
        if (extra := template.with_name(template.name + suffix)).exists():
            shutil.copyfile(extra, target.with_name(target.name + suffix))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite database migrated to head once per test process (per xdist worker); tests get copies."""
    path = tmp_path_factory.mktemp("sqlite-template") / "migrated.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated SQLite database in a temporary folder (a copy of :func:`sqlite_template`, the same schema)."""
    target = tmp_path / "visits.db"
    copy_sqlite(sqlite_template, target)
    return f"sqlite+aiosqlite:///{target}"


class _Dropper:
    """Drops the tests' PostgreSQL databases on a thread of its own, so no test waits for a drop (a checkpoint)."""

    def __init__(self) -> None:
        self._names: queue.Queue[str | None] = queue.Queue()
        self._failures: list[str] = []
        self._thread = threading.Thread(target=self._run, name="drop-databases", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (name := self._names.get()) is not None:
            try:
                drop_postgres_database(name)
            except Exception as exc:
                self._failures.append(f"{name}: {exc}")

    def drop(self, name: str) -> None:
        """Drop ``name`` soon (after the databases handed over before it)."""
        self._names.put(name)

    def finish(self) -> list[str]:
        """Wait until every database handed over is dropped; the drops that failed."""
        self._names.put(None)
        self._thread.join(timeout=300)
        return self._failures


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> Iterator[str]:
    """A PostgreSQL database migrated to head once per test process (per xdist worker), never connected to
    afterwards: each test's database is made from it with ``CREATE DATABASE ... TEMPLATE`` (a copy of its files)."""
    name, url = new_postgres_database(postgres_server)
    upgrade(url)  # the migration's engine is disposed: no session is left on the template
    try:
        yield name
    finally:
        drop_postgres_database(name)


@pytest.fixture(scope="session")
def _postgres_dropper() -> Iterator[_Dropper]:
    dropper = _Dropper()
    yield dropper
    failures = dropper.finish()
    assert not failures, failures


@pytest.fixture
def postgres_url(postgres_server: str, postgres_template: str, _postgres_dropper: _Dropper) -> Iterator[str]:
    """A migrated, empty PostgreSQL database (a copy of :func:`postgres_template`), dropped after the test."""
    name = f"visitbot_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"'))
    try:
        yield make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    finally:
        _postgres_dropper.drop(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each storage test runs against SQLite and PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the test's database (SQLite and PostgreSQL); the engine is disposed after."""
    engine = make_engine(database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()
