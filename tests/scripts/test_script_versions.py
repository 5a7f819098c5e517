"""A visit is pinned to the script version it started with: publishing v2 never changes it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from bot.desk import Actor, VisitDesk
from bot.settings import Settings
from dialogs.answers import Reply
from dialogs.catalog import ScriptCatalog
from dialogs.engine import Submit
from storage.db import make_engine, make_sessionmaker
from storage.demo import load_demo

V1 = """
id: pinned_demo
version: 1
title: {zh-CN: 版本测试, en: Version test}
steps:
  - id: first
    say: {zh-CN: "第一问（v1）", en: "First (v1)"}
    ask: {kind: yesno}
  - id: second_v1
    say: {zh-CN: "第二问：说说情况（v1）", en: "Second: tell me (v1)"}
    ask: {kind: text}
  - id: done
    say: {zh-CN: "结束（v1）", en: "Done (v1)"}
    outcome: completed
"""
V2 = (
    V1.replace("version: 1", "version: 2")
    .replace("second_v1", "second_v2")
    .replace("第二问：说说情况（v1）", "第二问：几个人（v2）")
    .replace("Second: tell me (v1)", "Second: how many (v2)")
    .replace("ask: {kind: text}", "ask: {kind: integer}")
    .replace("结束（v1）", "结束（v2）")
    .replace("Done (v1)", "Done (v2)")
)
OFFICER = Actor("officer", None)


def desk_for(url: str, folder: Path) -> tuple[VisitDesk, object]:
    engine = make_engine(url)
    settings = Settings(database_url=url, scripts_dir=str(folder), default_script="pinned_demo")
    return VisitDesk(make_sessionmaker(engine), ScriptCatalog(folder), settings), engine


def test_an_open_visit_finishes_on_its_version_after_a_bump(tmp_path: Path, sqlite_url: str) -> None:
    folder = tmp_path / "scripts"
    folder.mkdir()
    (folder / "pinned_demo.yaml").write_text(V1, encoding="utf-8")

    async def start() -> int:
        desk, engine = desk_for(sqlite_url, folder)
        async with desk.sessions() as session, session.begin():
            await load_demo(session)
        reply = await desk.begin("B001", actor=OFFICER, officer_id=None)
        reply = await desk.act(reply.visit_id, Submit(Reply(text="是")), actor=OFFICER, said="是")
        assert reply.turn.prompt is not None and reply.turn.prompt.step == "second_v1"
        await engine.dispose()  # type: ignore[attr-defined]
        return reply.visit_id

    visit_id = asyncio.run(start())
    (folder / "pinned_demo.yaml").write_text(V2, encoding="utf-8")  # v2 published; v1 is gone from disk

    async def finish() -> tuple[str, str, int, str]:
        desk, engine = desk_for(sqlite_url, folder)
        assert not desk.catalog.has("pinned_demo", 1) and desk.catalog.has("pinned_demo", 2)
        resumed = await desk.current(visit_id)
        assert resumed.turn.prompt is not None
        question = resumed.turn.prompt.text
        done = await desk.act(visit_id, Submit(Reply(text="生意不错")), actor=OFFICER, said="生意不错")
        assert done.turn.error is None and done.turn.finished
        fresh = await desk.begin("B002", actor=OFFICER, officer_id=None)
        fresh = await desk.act(fresh.visit_id, Submit(Reply(text="是")), actor=OFFICER, said="是")
        assert fresh.turn.prompt is not None
        await engine.dispose()  # type: ignore[attr-defined]
        return question, done.turn.said[-1], fresh.turn.state.script_version, fresh.turn.prompt.text

    question, goodbye, new_version, new_question = asyncio.run(finish())
    assert question == "第二问：说说情况（v1）" and goodbye == "结束（v1）"
    assert new_version == 2 and new_question == "第二问：几个人（v2）"

    env = {"VISITBOT_DATABASE_URL": sqlite_url, "VISITBOT_SCRIPTS_DIR": str(folder), "VISITBOT_LOCALE": "zh-CN"}
    runner = CliRunner()
    shown = runner.invoke(app, ["visits", "show", str(visit_id)], env=env)
    assert shown.exit_code == 0, shown.output
    assert "pinned_demo v1" in shown.output
    record = json.loads(runner.invoke(app, ["visits", "show", str(visit_id), "--json"], env=env).stdout)
    assert record["script"] == {"id": "pinned_demo", "version": 1} and record["outcome"] == "completed"
    assert [a["step"] for a in record["answers"]] == ["first", "second_v1"]
    report = runner.invoke(app, ["visits", "show", str(visit_id), "--report"], env=env)
    assert report.exit_code == 0, report.output
    assert "pinned_demo v1" in report.output and "**已完成**" in report.output and "生意不错" in report.output
