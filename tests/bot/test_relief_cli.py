"""``visitbot relief``: the list (everyone's, or as a supervisor), approve / decline as a supervisor with a
reason; a missing --as, an officer, an empty reason and a second decision exit 2 and change nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.desk import Actor, FixedClock, VisitDesk
from bot.settings import Settings
from dialogs.answers import Reply
from dialogs.catalog import ScriptCatalog
from dialogs.engine import Submit
from storage.db import make_engine, make_sessionmaker
from storage.models import ReliefRequest, User

OFFICER_TG, SUPERVISOR_TG = 7301, 7302
HARDSHIP = ["1", "4", "生病住院", "2", "分12期"]


async def plant(url: str) -> int:
    """王磊's overdue call to B007 asking for instalments; the request's id."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as session:
            wang = await session.scalar(select(User).where(User.telegram_id == OFFICER_TG))
            assert wang is not None
        desk = VisitDesk(sessions, ScriptCatalog(), Settings(database_url=url), FixedClock("2026-12-01T10:30:00+08:00"))
        actor = Actor("officer", wang.id)
        visit = await desk.begin("B007", actor=actor, officer_id=wang.id, script_id="overdue_reminder")
        for text in HARDSHIP:
            await desk.act(visit.visit_id, Submit(Reply(text=text)), actor=actor, said=text)
        async with sessions() as session:
            request = await session.scalar(select(ReliefRequest))
            assert request is not None
            return request.id
    finally:
        await engine.dispose()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def env(tmp_path: Path, runner: CliRunner) -> tuple[dict[str, str], int]:
    from bot.cli import app

    environ = {"VISITBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'relief.db'}", "VISITBOT_LOCALE": "zh-CN"}
    ids = ["--officer-telegram-id", str(OFFICER_TG), "--supervisor-telegram-id", str(SUPERVISOR_TG)]
    loaded = runner.invoke(app, ["demo", "load", *ids], env=environ)
    assert loaded.exit_code == 0, loaded.output
    return environ, asyncio.run(plant(environ["VISITBOT_DATABASE_URL"]))


def relief(runner: CliRunner, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    from bot.cli import app

    result = runner.invoke(app, ["relief", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_list_decide_and_refusals(runner: CliRunner, env: tuple[dict[str, str], int]) -> None:
    environ, request_id = env
    code, output, _ = relief(runner, environ)
    assert code == 0 and "B007" in output and "分期" in output and "待审批" in output
    code, output, said = relief(runner, environ, "approve", str(request_id), "--reason", "同意")
    assert code == 2 and "--as" in said
    code, _, said = relief(runner, environ, "approve", str(request_id), "--reason", "同意", "--as", str(OFFICER_TG))
    assert code == 2 and "只有该团队的主管或管理员" in said
    code, _, said = relief(runner, environ, "decline", str(request_id), "--reason", " ", "--as", str(SUPERVISOR_TG))
    assert code == 2 and "请写明审批理由" in said

    code, output, _ = relief(
        runner, environ, "decline", str(request_id), "--reason", "收入无法覆盖分期", "--as", str(SUPERVISOR_TG)
    )
    assert code == 0 and f"申请 #{request_id} 未批准" in output and "客户无法通知（没有 Telegram）" in output
    again = ("approve", str(request_id), "--reason", "改为同意", "--as", str(SUPERVISOR_TG))
    code, _, said = relief(runner, environ, *again)
    assert code == 2 and "不能再次审批" in said

    code, output, _ = relief(runner, environ, "list", "--json", "--as", str(SUPERVISOR_TG))
    (row,) = json.loads(output)
    assert (row["id"], row["status"], row["kind"], row["terms"]) == (request_id, "declined", "instalments", "分12期")
    assert (row["decided_by"], row["reason"], row["borrower"]["code"]) == ("刘主管", "收入无法覆盖分期", "B007")
    code, output, _ = relief(runner, {**environ, "VISITBOT_LOCALE": "en"}, "--status", "pending")
    assert code == 0 and "No hardship requests match." in output
    code, _, said = relief(runner, environ, "--status", "maybe")
    assert code == 2 and "maybe" in said
