"""The rules of contact at the command line: the console refuses as the core does; disputes and refusals."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from typer.testing import CliRunner

from bot.cli import app
from bot.desk import Actor
from bot.settings import Settings
from tests.desks import walk

OFFICER_TG = 7101
SUPERVISOR_TG = 7102
CHEN = Actor("officer", 2)  # 陈静, another officer than B001's own (王磊)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def env(tmp_path: Path, runner: CliRunner) -> dict[str, str]:
    environ = {"VISITBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}", "VISITBOT_LOCALE": "zh-CN"}
    loaded = runner.invoke(
        app,
        ["demo", "load", "--officer-telegram-id", str(OFFICER_TG), "--supervisor-telegram-id", str(SUPERVISOR_TG)],
        env=environ,
    )
    assert loaded.exit_code == 0, loaded.output
    return environ


def core(env: dict[str, str], code: str, script: str | None, answers: list[str], actor: Actor = CHEN) -> None:
    """A visit through the core (as Telegram would run it), by another officer."""
    asyncio.run(walk(Settings(database_url=env["VISITBOT_DATABASE_URL"]), code, script, answers, actor))


def console(runner: CliRunner, env: dict[str, str], code: str, *lines: str) -> tuple[int, str]:
    result = runner.invoke(app, ["console", "-b", code], env=env, input="\n".join(lines) + "\n")
    return result.exit_code, result.output


def test_the_fourth_connected_call_of_the_day_is_refused_on_the_console(runner: CliRunner, env: dict[str, str]) -> None:
    """Two on the console by 王磊, one through the core by 陈静: the console's next start is refused.
    At noon in Shanghai (the clock ticking on), so the four calls fall on one day whenever the suite runs."""
    noon = datetime.now(ZoneInfo("Asia/Shanghai")).replace(hour=12, minute=0)
    with time_machine.travel(noon, tick=True):
        assert console(runner, env, "B001", "/cancel refused")[0] == 0
        core(env, "B001", None, ["/cancel refused"])
        assert console(runner, env, "B001", "/cancel refused")[0] == 0
        code, output = console(runner, env, "B001", "/cancel refused")
    assert code == 1
    tomorrow = (noon + timedelta(days=1)).date()
    assert "每日上限 3 次" in output and f"下次可联系：{tomorrow} 00:00 Asia/Shanghai" in output  # (window off here)
    listed = runner.invoke(app, ["refusals", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [(r["borrower"], r["rule"], r["who"], r["channel"]) for r in rows] == [
        ("B001", "daily_cap", "王磊", "phone")
    ]


def test_an_opted_out_borrower_is_refused_on_the_console_and_offered_self_service(
    runner: CliRunner, env: dict[str, str]
) -> None:
    core(env, "B005", "visit_refusal", ["1", "2", "1"])  # 不想回访: busy, prefers self-service
    code, output = console(runner, env, "B005", "/cancel refused")
    assert code == 1
    assert "不想回访" in output and "visitbot invite B005" in output and "/invite B005" in output


def test_disputes_are_listed_and_resolved_by_a_supervisor_not_an_officer(
    runner: CliRunner, env: dict[str, str]
) -> None:
    core(env, "B008", "overdue_reminder", ["1", "3", "金额不对，已还2000元"])
    listed = runner.invoke(app, ["disputes", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert [(d["borrower"], d["note"]) for d in json.loads(listed.stdout)] == [("B008", "金额不对，已还2000元")]
    refused = runner.invoke(app, ["disputes", "resolve", "B008", "--note", "查过了", "--as", str(OFFICER_TG)], env=env)
    assert refused.exit_code == 1 and "只有主管和管理员" in refused.output
    done = runner.invoke(
        app, ["disputes", "resolve", "B008", "--note", "已核实：2000元已入账", "--as", str(SUPERVISOR_TG)], env=env
    )
    assert done.exit_code == 0, done.output
    assert "B008" in done.output and "已核实" in done.output
    assert runner.invoke(app, ["disputes", "list"], env=env).output.strip() == "没有符合条件的异议。"
    everything = json.loads(runner.invoke(app, ["disputes", "list", "--all", "--json"], env=env).stdout)
    assert everything[0]["resolution"] == "已核实：2000元已入账" and everything[0]["resolved_by"] == 3
    again = runner.invoke(app, ["disputes", "resolve", "B008", "--note", "x"], env=env)
    assert again.exit_code == 1 and "没有未解决的异议" in again.output


def test_refusals_are_for_supervisors_and_admins(runner: CliRunner, env: dict[str, str]) -> None:
    core(env, "B001", "visit_refusal", ["1", "2", "1"], Actor("officer", 1))
    assert console(runner, env, "B001", "/cancel refused")[0] == 1
    officer = runner.invoke(app, ["refusals", "--as", str(OFFICER_TG)], env=env)
    assert officer.exit_code == 1 and "只有主管和管理员" in officer.output
    supervisor = runner.invoke(app, ["refusals", "--as", str(SUPERVISOR_TG)], env={**env, "COLUMNS": "200"})
    assert supervisor.exit_code == 0, supervisor.output
    assert "B001" in supervisor.output and "借款人不想回访" in supervisor.output
    english = runner.invoke(app, ["refusals", "-b", "B001"], env={**env, "VISITBOT_LOCALE": "en", "COLUMNS": "200"})
    assert english.exit_code == 0 and "borrower opted out" in english.output
