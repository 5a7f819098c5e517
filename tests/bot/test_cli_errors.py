"""Every expected CLI failure is one clear line on stderr, in the user's language, and a non-zero exit."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from bot.cli import app
from storage.db import make_engine
from tests.conftest import _admin, drop_postgres_database

SCRIPT = str(Path("scripts") / "visit_refusal.yaml")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"VISITBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}", "VISITBOT_LOCALE": "zh-CN"}


def one_line(result: Result, code: int, *needles: str) -> str:
    """The command failed with ``code`` and said one line (no traceback) holding every needle."""
    assert result.exit_code == code, result.output
    said = result.stderr.strip()
    assert "Traceback" not in result.output and len(said.splitlines()) == 1, result.output
    for needle in needles:
        assert needle in said, said
    return said


@pytest.mark.parametrize(
    ("url", "code", "needle"),
    [
        ("garbage", 2, "不是数据库地址"),
        ("postgresql+nodriver://x/y", 2, "postgresql+nodriver"),
        ("sqlite:///x.db", 2, "sqlite+aiosqlite://"),
        ("postgresql://u:s3cret@127.0.0.1/x", 2, "postgresql+asyncpg://"),
        (
            "postgresql+asyncpg://postgres:s3cret@127.0.0.1:1/test",
            1,
            "连不上数据库 postgresql+asyncpg://postgres:***@127.0.0.1:1/test",
        ),
        ("postgresql+asyncpg://postgres@host.invalid/test", 1, "连不上数据库"),
        ("sqlite+aiosqlite:////nonexistent/folder/x.db", 1, "/nonexistent/folder/x.db"),
    ],
)
@pytest.mark.parametrize("command", [["borrowers", "list"], ["db", "upgrade"]])
def test_a_wrong_database_url_is_one_line(
    runner: CliRunner, url: str, code: int, needle: str, command: list[str]
) -> None:
    result = runner.invoke(app, command, env={"VISITBOT_DATABASE_URL": url, "VISITBOT_LOCALE": "zh-CN"})
    said = one_line(result, code, needle)
    assert "s3cret" not in said


def test_messages_follow_visitbot_locale(runner: CliRunner) -> None:
    env = {"VISITBOT_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/test", "VISITBOT_LOCALE": "en"}
    one_line(runner.invoke(app, ["visits", "list"], env=env), 1, "Cannot reach the database")


def test_db_upgrade_creates_a_missing_postgres_database(runner: CliRunner, postgres_server: str) -> None:
    name = f"visitbot_t_{uuid.uuid4().hex[:12]}"
    url = make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    env = {"VISITBOT_DATABASE_URL": url, "VISITBOT_LOCALE": "zh-CN"}
    try:
        missing = runner.invoke(app, ["borrowers", "list"], env=env)
        one_line(missing, 1, f"数据库 {make_url(url).render_as_string()} 不存在", "visitbot db upgrade", "createdb")
        result = runner.invoke(app, ["db", "upgrade"], env=env)
        assert result.exit_code == 0, result.output
        assert "已创建数据库" in result.output and "数据库已升级到 head" in result.output
        assert runner.invoke(app, ["borrowers", "list"], env=env).exit_code == 0
    finally:
        drop_postgres_database(name)


def test_db_upgrade_says_how_to_create_a_database_it_may_not(runner: CliRunner, postgres_server: str) -> None:
    role = "visitbot_t_nocreatedb"
    asyncio.run(
        _admin(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') "
            f"THEN CREATE ROLE {role} LOGIN; END IF; END $$"
        )
    )
    server = make_url(postgres_server)
    name = f"visitbot_t_{uuid.uuid4().hex[:12]}"
    url = server.set(username=role, password=None, database=name).render_as_string(hide_password=False)
    result = runner.invoke(app, ["db", "upgrade"], env={"VISITBOT_DATABASE_URL": url, "VISITBOT_LOCALE": "en"})
    host, port = server.host or "127.0.0.1", server.port or 5432
    one_line(result, 1, "could not be created", f"createdb -h {host} -p {port} -U {role} {name}")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--since", "2026-02-30"], "--since 的日期“2026-02-30”不存在"),
        (["--until", "yesterday"], "--until 的日期“yesterday”不存在"),
        (["--since", "2026-03-02", "--until", "2026-03-01"], "早于"),
    ],
)
def test_export_with_an_impossible_day(
    runner: CliRunner, env: dict[str, str], tmp_path: Path, args: list[str], needle: str
) -> None:
    result = runner.invoke(app, ["export", "-o", str(tmp_path / "x.csv"), *args], env=env)
    one_line(result, 2, needle)
    assert not (tmp_path / "x.csv").exists()


def test_export_into_a_missing_folder(runner: CliRunner, env: dict[str, str]) -> None:
    one_line(runner.invoke(app, ["export", "-o", "/nonexistent/x.csv"], env=env), 1, "文件夹 /nonexistent 不存在")


def test_export_to_a_folder(runner: CliRunner, env: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "looks.csv"
    folder.mkdir()
    one_line(runner.invoke(app, ["export", "-o", str(folder)], env=env), 1, str(folder), "文件夹")


def test_scripts_draw_into_a_missing_folder(runner: CliRunner, env: dict[str, str]) -> None:
    result = runner.invoke(app, ["scripts", "draw", SCRIPT, "-f", "mermaid", "-o", "/nonexistent/x.mmd"], env=env)
    one_line(result, 1, "/nonexistent/x.mmd", "/nonexistent")


def test_scripts_try_with_a_missing_answers_file(runner: CliRunner, env: dict[str, str]) -> None:
    result = runner.invoke(app, ["scripts", "try", SCRIPT, "--answers", "/nonexistent/answers.txt"], env=env)
    one_line(result, 1, "/nonexistent/answers.txt：文件或文件夹不存在")


def test_scripts_try_with_a_missing_script_file(runner: CliRunner, env: dict[str, str]) -> None:
    env = {**env, "VISITBOT_LOCALE": "en"}
    one_line(
        runner.invoke(app, ["scripts", "try", "/nonexistent/s.yaml"], env=env), 1, "/nonexistent/s.yaml: no such file"
    )


def gbk_copy(tmp_path: Path) -> Path:
    """The shipped refusal script saved as GBK, as a Windows editor might."""
    target = tmp_path / "gbk_script.yaml"
    target.write_bytes(Path(SCRIPT).read_text(encoding="utf-8").encode("gbk"))
    return target


def test_scripts_check_on_a_gbk_file_names_it(runner: CliRunner, env: dict[str, str], tmp_path: Path) -> None:
    script = gbk_copy(tmp_path)
    result = runner.invoke(app, ["scripts", "check", str(script), SCRIPT], env=env)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    problem = [line for line in result.output.splitlines() if str(script) in line]
    assert len(problem) == 1 and "不是 UTF-8" in problem[0] and "[encoding]" in problem[0]
    assert "已检查 2 个文件：1 个错误" in result.output  # the good file is still checked


def test_scripts_try_on_gbk_files(runner: CliRunner, env: dict[str, str], tmp_path: Path) -> None:
    script = gbk_copy(tmp_path)
    one_line(runner.invoke(app, ["scripts", "try", str(script)], env=env), 1, str(script), "不是 UTF-8")
    answers = tmp_path / "answers.txt"
    answers.write_bytes("是的\n".encode("gbk"))
    result = runner.invoke(app, ["scripts", "try", SCRIPT, "--answers", str(answers)], env=env)
    one_line(result, 1, f"{answers} 不是 UTF-8 编码（第 1 行")


def test_an_unexpected_error_is_masked_and_ends_in_one_line(
    runner: CliRunner, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage import repositories

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("borrower 13812345678 has ID 11010119900307425X")

    monkeypatch.setattr(repositories, "list_borrowers", broken)
    result = runner.invoke(app, ["borrowers", "list"], env=env)
    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("意外错误：RuntimeError: borrower 138****5678") and "回答都已保存" in last
    assert "13812345678" not in result.output and "11010119900307425X" not in result.output


MARKUP_NAME = "[/bold]杨[red]某[/]"
MARKUP_ANSWER = "[/red]希望[bold]利率低[/]"


async def _rename(url: str, code: str, name: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE borrowers SET name = :name WHERE code = :code"), {"name": name, "code": code})
    await engine.dispose()


def test_markup_in_names_and_answers_is_shown_as_typed(runner: CliRunner, env: dict[str, str]) -> None:
    assert runner.invoke(app, ["demo", "load"], env=env).exit_code == 0
    asyncio.run(_rename(env["VISITBOT_DATABASE_URL"], "B001", MARKUP_NAME))
    answers = ["1", "1", "好", "没有", "否", "按约定用途使用", "/skip", MARKUP_ANSWER, "/quit"]
    visit = runner.invoke(app, ["console", "-b", "B001"], env=env, input="\n".join(answers) + "\n")
    assert visit.exit_code == 0, visit.output
    for command in (["visits", "show", "1"], ["visits", "list"], ["borrowers", "list"]):
        result = runner.invoke(app, command, env={**env, "COLUMNS": "250"})
        assert result.exit_code == 0, (command, result.output)
        assert MARKUP_NAME in result.output, result.output
    shown = runner.invoke(app, ["visits", "show", "1"], env={**env, "COLUMNS": "250"}).output
    assert MARKUP_ANSWER in shown


def test_a_database_without_tables_says_run_db_upgrade(runner: CliRunner, postgres_server: str) -> None:
    name = f"visitbot_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    try:
        result = runner.invoke(app, ["visits", "list"], env={"VISITBOT_DATABASE_URL": url, "VISITBOT_LOCALE": "en"})
        one_line(result, 1, "lacks its current schema", "run visitbot db upgrade")
    finally:
        drop_postgres_database(name)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["users", "add", "--telegram-id", "1", "--role", "boss", "--name", "x"], "--role must be officer"),
        (["scripts", "draw", SCRIPT, "-f", "gif"], "--format must be one of"),
        (["bot"], "Set VISITBOT_TELEGRAM_TOKEN"),
    ],
)
def test_wrong_options_are_one_line_in_english_too(
    runner: CliRunner, env: dict[str, str], args: list[str], needle: str
) -> None:
    one_line(runner.invoke(app, args, env={**env, "VISITBOT_LOCALE": "en"}), 2, needle)


def test_a_console_without_borrowers_says_what_to_do(runner: CliRunner, env: dict[str, str]) -> None:
    one_line(runner.invoke(app, ["console"], env=env, input=""), 1, "visitbot demo load")
