"""The audit log after a transcript view and an export; who may read it; ``visitbot audit``."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from bot.cli import app
from bot.desk import audit
from bot.desk.access import cli_admin
from bot.desk.export import export_visits
from bot.desk.records import view_record
from storage import repositories as repo
from storage.models import AuditEntry, User
from tests.bot import planted

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
FINISHED = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


async def test_a_view_and_an_export_are_in_the_log_and_only_staff_above_officers_read_it(
    sessions: async_sessionmaker[AsyncSession], staff: dict[str, User]
) -> None:
    east, west, officer, west_officer = (staff[k] for k in ("supervisor", "west_supervisor", "officer", "stranger"))
    async with sessions() as session, session.begin():
        mine = await planted.visit(session, await planted.borrower(session, "E1", officer), officer,
                                   finished_at=FINISHED)  # fmt: skip
        theirs = await planted.visit(session, await planted.borrower(session, "W1", west_officer), west_officer,
                                     finished_at=FINISHED)  # fmt: skip
        ids = {"east": east.id, "west": west.id, "officer": officer.id, "mine": mine.id, "theirs": theirs.id}

    async with sessions() as session:
        viewer = await session.get(User, ids["east"])
        assert viewer is not None
        assert await view_record(session, viewer, ids["mine"], now=NOW) is not None
        assert await view_record(session, viewer, ids["theirs"], now=NOW) is None  # not theirs: not logged
    async with sessions() as session:
        assert await view_record(session, cli_admin(), ids["theirs"], now=NOW, actor="cli") is not None
    async with sessions() as session, session.begin():
        viewer = await session.get(User, ids["east"])
        assert viewer is not None
        file = await export_visits(
            session, viewer, repo.VisitFilter(risk="low", limit=100_000), kind="xlsx", now=NOW,
            zone="Asia/Shanghai",
        )  # fmt: skip
    assert (file.rows, file.flags) == (1, 1)  # only the team's visit, whatever the filter asked
    rows = list(load_workbook(io.BytesIO(file.data))["visits"].iter_rows(values_only=True))
    assert [r[1] for r in rows[1:]] == ["E1"]

    async with sessions() as session:
        entries = list((await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all())
    assert [(e.action, e.user_id, e.actor, e.visit_id) for e in entries] == [
        ("transcript_viewed", ids["east"], "supervisor", ids["mine"]),
        ("transcript_viewed", None, "cli", ids["theirs"]),
        ("export", ids["east"], "supervisor", None),
    ]
    assert entries[0].detail == {"masked": False} and entries[0].at == NOW
    assert entries[2].detail == {"format": "xlsx", "filters": {"team": "东", "risk": "low"}, "rows": 1, "flags": 1}

    async with sessions() as session:
        admin_sees = await audit.entries(session, cli_admin())
        east_user, west_user, officer_user = [await session.get(User, ids[k]) for k in ("east", "west", "officer")]
        assert east_user is not None and west_user is not None and officer_user is not None
        east_sees = await audit.entries(session, east_user)
        west_sees = await audit.entries(session, west_user)
        by_visit = await audit.entries(session, cli_admin(), audit.AuditFilter(visit_id=ids["theirs"]))
        with pytest.raises(audit.AuditRefused):
            await audit.entries(session, officer_user)
    assert [e.action for e in admin_sees] == ["export", "transcript_viewed", "transcript_viewed"]  # newest first
    assert {(e.action, e.visit_id) for e in east_sees} == {("export", None), ("transcript_viewed", ids["mine"])}
    assert [(e.action, e.visit_id, e.user_name) for e in west_sees] == [("transcript_viewed", ids["theirs"], None)]
    assert [e.actor for e in by_visit] == ["cli"]


async def test_numbers_quoted_in_the_log_are_masked(sqlite_url: str) -> None:
    async with planted.transaction(sqlite_url) as session:
        await audit.record(session, "review_returned", now=NOW, actor="supervisor", text=f"打 {planted.PHONE} 核实")
        [line] = await audit.entries(session, cli_admin())
    assert line.detail == {"text": "打 +86138****5678 核实"}


def test_describe_flattens_filters() -> None:
    detail = {"format": "csv", "filters": {"risk": "high", "since": "2026-11-01"}, "rows": 3}
    assert audit.describe(detail) == "format=csv, filters.risk=high, filters.since=2026-11-01, rows=3"


def test_visitbot_audit_after_visits_show_and_export(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    env = {"VISITBOT_DATABASE_URL": url, "VISITBOT_LOCALE": "en", "VISITBOT_TIMEZONE": "Asia/Shanghai"}
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0

    async def plant() -> None:
        async with planted.transaction(url) as session:
            officer = await planted.user(session, "信贷员甲", "officer", "东", telegram_id=1001)
            await planted.visit(session, await planted.borrower(session, "B1", officer), officer, finished_at=FINISHED)

    asyncio.run(plant())
    assert runner.invoke(app, ["visits", "show", "1"], env=env).exit_code == 0
    assert runner.invoke(app, ["visits", "show", "1", "--json", "--as", "1001"], env=env).exit_code == 0
    csv_file = tmp_path / "v.csv"
    exported = runner.invoke(app, ["export", "-o", str(csv_file), "--risk", "low", "--since", "2026-11-01"], env=env)
    assert exported.exit_code == 0, exported.output

    table = runner.invoke(app, ["audit"], env=env)
    assert table.exit_code == 0, table.output
    assert "at (Asia/Shanghai)" in table.stdout and "transcript_viewed" in table.stdout and "export" in table.stdout
    assert "信贷员甲 (officer)" in table.stdout and "rows=1" in table.stdout and "filters.risk=low" in table.stdout
    logged = json.loads(runner.invoke(app, ["audit", "--json", "--action", "export"], env=env).stdout)
    assert len(logged) == 1 and logged[0]["actor"] == "cli" and logged[0]["detail"]["rows"] == 1
    assert logged[0]["detail"]["filters"] == {"since": "2026-11-01T00:00:00+08:00", "risk": "low"}
    views = json.loads(runner.invoke(app, ["audit", "--json", "--visit", "1"], env=env).stdout)
    assert [(v["actor"], v["detail"]["masked"]) for v in views] == [("officer", False), ("cli", False)]
    by_name = json.loads(runner.invoke(app, ["audit", "--json", "--user", "信贷员甲"], env=env).stdout)
    assert [v["user_name"] for v in by_name] == ["信贷员甲"]
    later = runner.invoke(app, ["audit", "--since", "2099-01-01"], env=env)
    assert later.exit_code == 0 and "No audit entries match" in later.stdout
    bad = runner.invoke(app, ["audit", "--since", "2026-02-30"], env=env)
    assert bad.exit_code == 2 and "2026-02-30" in bad.stderr
