"""Alembic migrations go up and down on both databases, and match the models."""

from __future__ import annotations

import asyncio
import warnings

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from storage.db import make_engine
from storage.migrate import alembic_config
from storage.models import Base

EXPRESSION_INDEXES = {"ix_borrowers_pick", "ix_borrowers_officer_pick", "ix_borrowers_code_upper"}
"""Indexes on expressions (the ``/visit`` pick list's order, a code in any case), which autogenerate cannot
compare: SQLite's are not reflected at all, PostgreSQL's CASE reads back pretty-printed over several lines.
Checked by name instead."""


def _include(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    return not (type_ == "index" and name in EXPRESSION_INDEXES)


def _index_names(sync: Connection) -> set[str]:
    if sync.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'borrowers'"
    else:
        query = "SELECT indexname FROM pg_indexes WHERE tablename = 'borrowers'"
    return {str(name) for (name,) in sync.exec_driver_sql(query)}


def _diff(url: str) -> list[object]:
    async def run() -> list[object]:
        engine = make_engine(url)
        async with engine.connect() as conn:

            def compare(sync: Connection) -> list[object]:
                with warnings.catch_warnings():  # SQLAlchemy's and alembic's word that SQLite's are not compared
                    warnings.filterwarnings("ignore", message=".*expression-based index '?ix_borrowers_")
                    context = MigrationContext.configure(sync, opts={"include_object": _include})
                    found = list(compare_metadata(context, Base.metadata))
                return found + [("missing_index", n) for n in sorted(EXPRESSION_INDEXES - _index_names(sync))]

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


def test_upgrading_keeps_recorded_visits(sqlite_url: str) -> None:
    """A visit recorded on the first schema keeps its answers through later migrations (SQLite rebuilds tables)."""
    config = alembic_config(sqlite_url)
    command.downgrade(config, "0001")

    async def fill_and_count(fill: bool) -> int:
        engine = make_engine(sqlite_url)
        async with engine.begin() as conn:
            if fill:
                await conn.exec_driver_sql(
                    "INSERT INTO borrowers (id, code, name, risk_tier, timezone, locale, created_at) "
                    "VALUES (1, 'B1', '张三', 'low', 'Asia/Shanghai', 'zh-CN', '2026-11-01 00:00:00')"
                )
                await conn.exec_driver_sql(
                    "INSERT INTO visits (id, borrower_id, script_id, script_version, channel, locale, state, status,"
                    " started_at, updated_at, revision) VALUES (1, 1, 's', 1, 'phone', 'zh-CN', '{}', 'open',"
                    " '2026-11-01 00:00:00', '2026-11-01 00:00:00', 1)"
                )
                await conn.exec_driver_sql(
                    "INSERT INTO answers (visit_id, step_id, question, raw, value, display, skipped, answered_by,"
                    " answered_at) VALUES (1, 'q', '问题', '1', '\"a\"', 'A', 0, 'officer', '2026-11-01 00:00:00')"
                )
            count = (await conn.exec_driver_sql("SELECT count(*) FROM answers")).scalar_one()
        await engine.dispose()
        return int(count)

    assert asyncio.run(fill_and_count(True)) == 1
    command.upgrade(config, "head")
    assert asyncio.run(fill_and_count(False)) == 1


def test_a_chat_showing_its_visits_question_keeps_showing_it_through_0015(database_url: str) -> None:
    """0015 moves where a visit's question shows from the chat's row to the visit's: a chat that showed its
    visit's current question still does (and back again on a downgrade); one pointed at another step does not."""
    config = alembic_config(database_url)
    command.downgrade(config, "0014")

    async def run(sql: str) -> list[tuple[object, ...]]:
        engine = make_engine(database_url)
        async with engine.begin() as conn:
            rows = [tuple(row) for row in (await conn.exec_driver_sql(sql)).all()] if sql.startswith("SELECT") else []
            if not sql.startswith("SELECT"):
                await conn.exec_driver_sql(sql)
        await engine.dispose()
        return rows

    asyncio.run(
        run(
            "INSERT INTO borrowers (id, code, name, risk_tier, timezone, locale, created_at) VALUES"
            " (1, 'B1', '张三', 'low', 'Asia/Shanghai', 'zh-CN', '2026-11-01 00:00:00'),"
            " (2, 'B2', '李四', 'low', 'Asia/Shanghai', 'zh-CN', '2026-11-01 00:00:00')"
        )
    )
    for visit in (1, 2):
        asyncio.run(
            run(
                "INSERT INTO visits (id, borrower_id, script_id, script_version, channel, locale, state, step, status,"
                f" started_at, updated_at, revision) VALUES ({visit}, {visit}, 's', 1, 'phone', 'zh-CN', '{{}}',"
                " 'identity', 'open', '2026-11-01 00:00:00', '2026-11-01 00:00:00', 3)"
            )
        )
    asyncio.run(
        run(
            "INSERT INTO chat_sessions (chat_id, visit_id, message_id, step, updated_at) VALUES"
            " (7001, 1, 41, 'identity', '2026-11-01 00:00:00'), (7002, 2, 42, 'intro', '2026-11-01 00:00:00')"
        )
    )
    command.upgrade(config, "head")
    shown = asyncio.run(run("SELECT id, shown_in, shown_step, revision FROM visits ORDER BY id"))
    assert shown == [(1, "tg:7001:41", "identity", 3), (2, None, None, 3)]
    command.downgrade(config, "0014")
    chats = asyncio.run(run("SELECT chat_id, visit_id, message_id, step FROM chat_sessions ORDER BY chat_id"))
    assert chats == [(7001, 1, 41, "identity"), (7002, 2, None, "identity")]
    command.upgrade(config, "head")
