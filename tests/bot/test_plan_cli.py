"""``visitbot plan``, ``progress`` and ``flag`` as a user runs them (frozen on Wednesday 2 December 2026)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from typer.testing import CliRunner

from bot.cli import app

NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    environ = {"VISITBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'plan.db'}", "VISITBOT_LOCALE": "en"}
    environ["COLUMNS"] = "250"
    assert CliRunner().invoke(app, ["demo", "load"], env=environ).exit_code == 0
    return environ


def rows_of(output: str, code: str) -> list[str]:
    return [line for line in output.splitlines() if f" {code} " in line]


def test_the_plan_from_the_command_line(env: dict[str, str]) -> None:
    """Flag, plan, plan again, progress: the summary, one table per officer (due first), the reasons in words."""
    runner = CliRunner()
    with time_machine.travel(NOW, tick=False):
        flagged = runner.invoke(app, ["flag", "b003", "business getting worse", "--officer", "王磊"], env=env)
        assert flagged.exit_code == 0, flagged.output
        assert "Flagged B003: business getting worse" in flagged.output
        made = runner.invoke(app, ["plan", "2026-12", "--seed", "3"], env=env)
        assert made.exit_code == 0, made.output
        assert "The plan of 2026-12: 8 entries; 8 added" in made.output
        assert "Overdue reminder 1" in made.output and "Flagged by the officer 1" in made.output
        assert "--seed 3" in made.output
        assert "王磊: the plan of 2026-12" in made.output and "陈静: the plan of 2026-12" in made.output
        [b003] = rows_of(made.output, "B003")
        assert "Required by policy (tier), Flagged by the officer" in b003 and "Call" in b003
        [b008] = rows_of(made.output, "B008")  # five days overdue (since 27 November): due within 7 days
        assert "Overdue reminder" in b008 and "2026-12-02" in b008 and "2026-12-04" in b008
        chen = made.output.split("陈静: the plan of")[1].split("王磊: the plan of")[0]
        assert chen.index(" B008 ") < chen.index(" B002 ")  # due first
        again = runner.invoke(
            app, ["plan", "2026-12", "--seed", "3", "--no-show"], env={**env, "VISITBOT_LOCALE": "zh-CN"}
        )
        assert again.exit_code == 0, again.output
        assert "2026-12 的回访计划：共 8 项；新增 0" in again.output and "B003" not in again.output
        progress = runner.invoke(app, ["progress", "2026-12", "--officer", "陈静"], env=env)
        assert progress.exit_code == 0, progress.output
        [chen_row] = [line for line in progress.output.splitlines() if "陈静" in line]
        assert "0/1 (0%)" in chen_row and "0/4 (0%)" in chen_row and "王磊" not in progress.output


BAD = [
    (["plan", "2026-13"], "'2026-13' is not a month: use YYYY-MM"),
    (["plan", "2026-11"], "2026-11 is over"),
    (["plan", "2026-12", "--officer", "nobody"], "nobody"),
    (["progress", "Dec"], "is not a month"),
    (["flag", "B003", "  "], "Say why"),
    (["flag", "B404", "why"], "There is no borrower B404"),
    (["flag", "B002", "why", "--officer", "王磊"], "not one of yours"),  # 陈静's borrower
    (["flag", "B002", "why", "--as", "424242"], "424242"),
]


def test_bad_input_is_one_clear_message_and_exit_2(env: dict[str, str]) -> None:
    """A bad month, officer, reason or borrower: one message in the CLI's language, exit code 2."""
    runner = CliRunner()
    with time_machine.travel(NOW, tick=False):
        for args, said in BAD:
            result = runner.invoke(app, args, env=env)
            assert result.exit_code == 2 and said in result.output, (args, result.output)
        chinese = runner.invoke(app, ["plan", "2026-13"], env={**env, "VISITBOT_LOCALE": "zh-CN"})
    assert chinese.exit_code == 2 and "不是月份" in chinese.output
