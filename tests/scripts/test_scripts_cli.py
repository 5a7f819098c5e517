"""``visitbot scripts check|draw|try`` as an author runs them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli import app
from storage.db import make_engine, make_sessionmaker
from storage.demo import load_demo
from storage.models import Visit

FIXTURES = Path(__file__).parent / "fixtures" / "lint"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Settings pointing at a database file that must never be created by these commands."""
    return {"VISITBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'never.db'}", "VISITBOT_LOCALE": "zh-CN"}


def test_check_passes_on_the_shipped_scripts(runner: CliRunner, env: dict[str, str]) -> None:
    result = runner.invoke(app, ["scripts", "check"], env=env)
    assert result.exit_code == 0, result.output
    assert "已检查 6 个文件：0 个错误，0 个警告" in result.output


def test_check_fails_on_errors_and_names_file_and_line(runner: CliRunner, env: dict[str, str]) -> None:
    result = runner.invoke(app, ["scripts", "check", str(FIXTURES / "unreachable.yaml")], env=env)
    assert result.exit_code == 1
    assert f"{FIXTURES / 'unreachable.yaml'}:22: error [unreachable] step 'orphan'" in result.output.replace("\n", "")


def test_check_passes_with_only_warnings(runner: CliRunner, env: dict[str, str]) -> None:
    result = runner.invoke(app, ["scripts", "check", str(FIXTURES / "unknown_flag.yaml")], env=env)
    assert result.exit_code == 0 and "1 个警告" in result.output


def test_draw_mermaid_to_stdout(runner: CliRunner, env: dict[str, str]) -> None:
    result = runner.invoke(app, ["scripts", "draw", "visit_refusal", "--format", "mermaid"], env=env)
    assert result.exit_code == 0, result.output
    assert "stateDiagram-v2" in result.stdout and "policy_high" in result.stdout


def test_draw_svg_to_a_file(runner: CliRunner, env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "refusal.svg"
    script = str(Path("scripts") / "visit_refusal.yaml")
    result = runner.invoke(app, ["scripts", "draw", script, "-f", "svg", "-o", str(target)], env=env)
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(b"<?xml") and b"<title>policy_low</title>" in target.read_bytes()


def test_draw_refuses_unknown_scripts_and_formats(runner: CliRunner, env: dict[str, str]) -> None:
    assert runner.invoke(app, ["scripts", "draw", "no_such_script"], env=env).exit_code == 1
    assert runner.invoke(app, ["scripts", "draw", "visit_refusal", "-f", "gif"], env=env).exit_code == 2


def test_try_runs_a_script_without_writing_anything(runner: CliRunner, env: dict[str, str], tmp_path: Path) -> None:
    answers = tmp_path / "answers.txt"
    answers.write_text("# a promise to pay\n1\n2\n1\n2099-11-28\n4500\n", encoding="utf-8")
    result = runner.invoke(app, ["scripts", "try", "overdue_reminder", "--answers", str(answers)], env=env)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "试运行：overdue_reminder v4" in out and "不保存任何记录" in out
    assert "逾期5天" in out and "约定2099年11月28日之前还款4,500元" in out
    assert "试运行结束：已完成" in out and "未保存任何记录" in out
    assert not (tmp_path / "never.db").exists()


def test_try_uses_a_borrower_from_the_database(runner: CliRunner, sqlite_url: str, tmp_path: Path) -> None:
    async def seed() -> str:
        engine = make_engine(sqlite_url)
        async with make_sessionmaker(engine)() as session, session.begin():
            await load_demo(session)
            from storage import repositories as repo

            borrower = await repo.borrower_by_code(session, "B001")
            assert borrower is not None
            name = borrower.name
        await engine.dispose()
        return name

    async def visits() -> int:
        engine = make_engine(sqlite_url)
        async with make_sessionmaker(engine)() as session:
            count = await session.scalar(select(func.count()).select_from(Visit))
        await engine.dispose()
        return int(count or 0)

    name = asyncio.run(seed())
    answers = tmp_path / "answers.txt"
    answers.write_text("2\n", encoding="utf-8")
    env = {"VISITBOT_DATABASE_URL": sqlite_url, "VISITBOT_LOCALE": "en"}
    result = runner.invoke(app, ["scripts", "try", "officer_phone_visit", "-b", "B001", "-a", str(answers)], env=env)
    assert result.exit_code == 0, result.output
    assert f"Am I speaking with {name}?" in result.output and "Dry run ended: wrong party" in result.output
    assert asyncio.run(visits()) == 0
