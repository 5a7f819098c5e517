"""Retention: purge removes exactly what is past retention, reports counts, in one audited transaction."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from bot.cli import app
from bot.desk import audit, retention
from bot.desk.files import LocalFileStore
from bot.desk.retention import Age, BadAge, cutoff, parse_age, purge
from storage.db import make_engine, make_sessionmaker
from storage.models import Answer, Attachment, AuditEntry, RiskFlag, TranscriptMessage, Visit
from tests.bot import planted

NOW = datetime(2031, 11, 20, 4, 0, tzinfo=UTC)
FIVE_YEARS_AGO = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)


def test_ages_in_years_or_days() -> None:
    assert parse_age("5y") == Age(years=5) and parse_age(" 5Y ") == Age(years=5)
    assert parse_age("1825d") == Age(days=1825) == parse_age("1825")
    for bad in ("0d", "5m", "", "-1d", "y", "5 years"):
        with pytest.raises(BadAge):
            parse_age(bad)
    assert cutoff(NOW, Age(years=5)) == FIVE_YEARS_AGO
    assert cutoff(NOW, Age(days=1825)) == NOW - timedelta(days=1825)
    assert cutoff(datetime(2028, 2, 29, tzinfo=UTC), Age(years=5)) == datetime(2023, 2, 28, tzinfo=UTC)


async def _rows(session: AsyncSession, visit_id: int) -> dict[str, int]:
    counts = {}
    for name, table in (("answers", Answer), ("transcript", TranscriptMessage), ("flags", RiskFlag),
                        ("attachments", Attachment)):  # fmt: skip
        counts[name] = int(await session.scalar(select(func.count()).where(table.visit_id == visit_id)) or 0)
    return counts


FULL = {"answers": 2, "transcript": 3, "flags": 1, "attachments": 1}
EMPTY = dict.fromkeys(FULL, 0)


async def _plant(sessions: async_sessionmaker[AsyncSession], now: datetime) -> dict[str, int]:
    """Visits around the five-year cutoff: past it, one day inside it, exactly at it, and one still open."""
    async with sessions() as session, session.begin():
        officer = await planted.user(session, "信贷员", "officer", "东")
        borrower = await planted.borrower(session, "P1", officer)
        five = cutoff(now, Age(years=5))
        shared = "cd/" + "1" * 64 + ".jpg"  # one photo kept by an old and a recent visit
        ids = {
            "past": await planted.visit(session, borrower, officer, finished_at=five - timedelta(days=1),
                                        key="ab/" + "2" * 64 + ".jpg"),
            "past_shared": await planted.visit(session, borrower, officer, finished_at=five - timedelta(seconds=1),
                                               key=shared),
            "at_cutoff": await planted.visit(session, borrower, officer, finished_at=five, key=shared),
            "inside": await planted.visit(session, borrower, officer, finished_at=five + timedelta(days=1)),
        }  # fmt: skip
        other = await planted.borrower(session, "P2", officer)
        ids["open"] = await planted.visit(session, other, officer, finished_at=None)
        ids["open"].started_at = five - timedelta(days=400)
        return {name: v.id for name, v in ids.items()}


async def test_purge_removes_exactly_what_is_past_retention(sessions: async_sessionmaker[AsyncSession]) -> None:
    ids = await _plant(sessions, NOW)
    async with sessions() as session, session.begin():  # review comments in the log, old and recent
        for name in ("past", "inside"):
            await audit.record(session, "review_returned", now=NOW, actor="supervisor", visit_id=ids[name],
                               text=f"请核实 {planted.PHONE}", to="returned")  # fmt: skip
    async with sessions() as session, session.begin():
        dry = await purge(session, Age(years=5), now=NOW, dry_run=True)
        await session.rollback()
    expected = {"visits": 2, "answers": 4, "transcript": 6, "flags": 2, "attachments": 2}
    assert dry.dry_run and dry.removed.counts() == expected and dry.cutoff == FIVE_YEARS_AGO
    assert dry.removed.files == ["ab/" + "2" * 64 + ".jpg"]  # the shared photo is still used
    async with sessions() as session:
        assert await _rows(session, ids["past"]) == FULL  # a dry run changes nothing
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 2

    async with sessions() as session, session.begin():
        done = await purge(session, Age(years=5), now=NOW, actor="cli")
    assert done.removed.counts() == expected and done.removed.files == dry.removed.files
    async with sessions() as session:
        for name in ("past", "past_shared"):
            assert await _rows(session, ids[name]) == EMPTY, name
            visit = await session.get(Visit, ids[name])
            assert visit is not None and visit.remark is None and visit.state["answers"] == {}
            assert visit.outcome == "completed" and visit.finished_at is not None  # the visit itself stays
        for name in ("at_cutoff", "inside", "open"):
            assert await _rows(session, ids[name]) == FULL, name
            kept = await session.get(Visit, ids[name])
            assert kept is not None and kept.remark and kept.state["answers"]
        reviews = {e.visit_id: e.detail for e in await session.scalars(select(AuditEntry).where(
            AuditEntry.action == "review_returned"))}  # fmt: skip
        assert reviews == {ids["past"]: {"to": "returned"},
                           ids["inside"]: {"to": "returned", "text": f"请核实 {planted.PHONE}"}}  # fmt: skip
        entry = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "purge"))).one()
        assert (entry.action, entry.actor, entry.visit_id) == ("purge", "cli", None)
        assert entry.detail == {**expected, "cutoff": FIVE_YEARS_AGO.isoformat(), "older_than": "5y"}

    async with sessions() as session, session.begin():  # nothing left to remove: zeros, not the same again
        again = await purge(session, Age(years=5), now=NOW)
    assert again.removed.counts() == dict.fromkeys(expected, 0)


async def test_a_purge_that_fails_midway_removes_nothing(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the audit log is unavailable")

    try:
        ids = await _plant(sessions, NOW)
        monkeypatch.setattr(retention.audit, "record", broken)
        with pytest.raises(RuntimeError):
            async with sessions() as session, session.begin():
                await purge(session, Age(years=5), now=NOW)
        async with sessions() as session:
            assert await _rows(session, ids["past"]) == FULL
            visit = await session.get(Visit, ids["past"])
            assert visit is not None and visit.state["answers"]
    finally:
        await engine.dispose()


def test_cli_purge_reports_counts_and_deletes_unused_files(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"
    files = tmp_path / "files"
    env = {"VISITBOT_DATABASE_URL": url, "VISITBOT_LOCALE": "en", "VISITBOT_FILES_DIR": str(files)}
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    store = LocalFileStore(files)
    old_key = store.put(b"old photo", "a.jpg")
    new_key = store.put(b"new photo", "b.jpg")

    async def plant() -> None:
        async with planted.transaction(url) as session:
            officer = await planted.user(session, "信贷员", "officer", "东")
            borrower = await planted.borrower(session, "P1", officer)
            now = datetime.now(UTC)
            await planted.visit(session, borrower, officer, finished_at=now - timedelta(days=1828), key=old_key)
            await planted.visit(session, borrower, officer, finished_at=now - timedelta(days=1825), key=new_key)

    asyncio.run(plant())
    dry = runner.invoke(app, ["purge", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "Dry run" in dry.stdout and "1 visit(s)" in dry.stdout and store.exists(old_key)
    done = runner.invoke(app, ["purge"], env=env)  # default: VISITBOT_RETENTION_DAYS (1827, five calendar years)
    assert done.exit_code == 0, done.output
    assert "Purged 1 visit(s)" in done.stdout and "2 answer(s), 3 transcript message(s)" in done.stdout
    assert "1 attachment(s) (1 file(s))" in done.stdout
    assert not store.exists(old_key) and store.exists(new_key)
    bad = runner.invoke(app, ["purge", "--older-than", "5 months"], env=env)
    assert bad.exit_code == 2 and "--older-than" in bad.stderr
    zh = runner.invoke(app, ["purge", "--older-than", "5y"], env={**env, "VISITBOT_LOCALE": "zh-CN"})
    assert zh.exit_code == 0 and "之前结束的 0 条回访" in zh.stdout
