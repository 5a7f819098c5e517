"""A published script version is pinned with its content hash: a changed file must bump ``version``."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.desk import Actor, NotFound, VisitDesk
from bot.settings import Settings
from dialogs.answers import Reply
from dialogs.catalog import ScriptCatalog
from dialogs.engine import Submit
from storage.db import make_engine, make_sessionmaker
from storage.demo import load_demo
from storage.models import ScriptVersion
from tests.scripts.test_script_versions import V1

OFFICER = Actor("officer", None)
EDITED = V1.replace("第二问：说说情况（v1）", "第二问：改过的问题").replace("结束（v1）", "结束（改过）")


def desk_for(url: str, folder: Path) -> VisitDesk:
    """A desk on a fresh catalog of ``folder`` (as after a restart)."""
    settings = Settings(database_url=url, scripts_dir=str(folder), default_script="pinned_demo")
    return VisitDesk(make_sessionmaker(make_engine(url)), ScriptCatalog(folder), settings)


def test_an_edited_script_that_keeps_its_version_is_refused_and_open_visits_keep_their_text(
    tmp_path: Path, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "scripts"
    folder.mkdir()
    (folder / "pinned_demo.yaml").write_text(V1, encoding="utf-8")

    async def start() -> int:
        desk = desk_for(sqlite_url, folder)
        async with desk.sessions() as session, session.begin():
            await load_demo(session)
        reply = await desk.begin("B001", actor=OFFICER, officer_id=None)
        reply = await desk.act(reply.visit_id, Submit(Reply(text="是")), actor=OFFICER, said="是")
        return reply.visit_id

    visit_id = asyncio.run(start())
    (folder / "pinned_demo.yaml").write_text(EDITED, encoding="utf-8")  # edited, version still 1

    async def after_edit() -> tuple[str, str, str]:
        desk = desk_for(sqlite_url, folder)
        resumed = await desk.current(visit_id)
        assert resumed.turn.prompt is not None
        done = await desk.act(visit_id, Submit(Reply(text="生意不错")), actor=OFFICER, said="生意不错")
        with pytest.raises(NotFound) as refused:
            await desk.begin("B002", actor=OFFICER, officer_id=None, locale="zh-CN")
        return resumed.turn.prompt.text, done.turn.said[-1], refused.value.text

    with caplog.at_level(logging.ERROR, logger="bot.desk"):
        question, goodbye, refusal = asyncio.run(after_edit())
    assert question == "第二问：说说情况（v1）" and goodbye == "结束（v1）"
    assert "pinned_demo" in refusal and "version 改为 2" in refusal
    assert any("pinned_demo v1" in r.getMessage() and "bump" in r.getMessage() for r in caplog.records)

    env = {"VISITBOT_DATABASE_URL": sqlite_url, "VISITBOT_SCRIPTS_DIR": str(folder), "VISITBOT_LOCALE": "en"}
    result = CliRunner().invoke(
        app, ["console", "--borrower", "B003", "--script", "pinned_demo", "--locale", "en"], input="", env=env
    )
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "bump 'version' to 2" in lines[0], result.output


def test_a_version_pinned_before_hashes_gets_its_hash_and_is_still_checked(tmp_path: Path, sqlite_url: str) -> None:
    folder = tmp_path / "scripts"
    folder.mkdir()
    (folder / "pinned_demo.yaml").write_text(V1, encoding="utf-8")

    async def run() -> tuple[str | None, str]:
        desk = desk_for(sqlite_url, folder)
        async with desk.sessions() as session, session.begin():
            await load_demo(session)
            session.add(ScriptVersion(script_id="pinned_demo", version=1, source=V1, content_hash=None))
        await desk.begin("B001", actor=OFFICER, officer_id=None)
        async with desk.sessions() as session:
            row = await session.scalar(select(ScriptVersion))
            assert row is not None
            filled = row.content_hash
        async with desk.sessions() as session, session.begin():
            old = await session.scalar(select(ScriptVersion))
            assert old is not None
            old.source, old.content_hash = EDITED, None  # pinned long ago with other text
        with pytest.raises(NotFound) as refused:
            await desk.begin("B002", actor=OFFICER, officer_id=None, locale="en")
        return filled, refused.value.text

    filled, refusal = asyncio.run(run())
    assert filled == hashlib.sha256(V1.encode()).hexdigest()
    assert "bump 'version' to 2" in refusal


def test_a_pinned_text_accepted_before_stricter_checks_still_runs(tmp_path: Path) -> None:
    old = V1.replace("第一问（v1）", "第一问{{ '（v1）' | center(4) }}")  # 'center' is no longer offered to scripts
    (tmp_path / "pinned_demo.yaml").write_text(old, encoding="utf-8")
    catalog = ScriptCatalog(tmp_path)
    assert catalog.ids == [] and "filter 'center' is not available" in str(catalog.errors[0])
    engine = catalog.get("pinned_demo", 1, pinned_source=old)  # a visit in progress on that text
    turn = engine.start({}, "zh-CN")
    assert turn.prompt is not None and turn.prompt.text == "第一问（v1）"
