"""The CLI and the console speak VISITBOT_LOCALE and show every time in the viewer's zone, the zone named."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import text
from typer.testing import CliRunner, Result

from bot.cli import app
from bot.console import ConsoleVisit
from bot.desk import Actor, FixedClock
from bot.desk.labels import channel_label, reason_label
from bot.desk.timefmt import BadZone, day_start, known_zone, person_zone, shown
from storage.db import make_engine
from tests.desks import demo_desk

VISITBOT = [sys.executable, "-m", "bot"]
INSIDE_WINDOW = "2026-12-01T09:30:00+08:00"
"""A time inside the contact window for borrowers in Beijing: the desk lets the visit start."""


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def env(sqlite_url: str) -> dict[str, str]:
    return {"VISITBOT_DATABASE_URL": sqlite_url, "VISITBOT_LOCALE": "zh-CN", "VISITBOT_TIMEZONE": "Asia/Shanghai"}


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


async def _sql(url: str, statement: str, **params: object) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text(statement), params)
    await engine.dispose()


def sql(url: str, statement: str, **params: object) -> None:
    asyncio.run(_sql(url, statement, **params))


async def _visit_at(url: str, code: str, started: datetime) -> int:
    """A visit to ``code`` (demo data loaded), moved to have started at ``started``."""
    async with demo_desk(url, clock=FixedClock(INSIDE_WINDOW)) as desk:
        reply = await desk.begin(code, actor=Actor("officer", None), officer_id=None)
    await _sql(url, "UPDATE visits SET started_at = :at WHERE id = :id", at=started, id=reply.visit_id)
    await _sql(url, "UPDATE transcript_messages SET at = :at WHERE visit_id = :id", at=started, id=reply.visit_id)
    return reply.visit_id


# -- the zone rule and local days, at the core ------------------------------------------------
class Person:
    def __init__(self, zone: str | None) -> None:
        self.timezone = zone


def test_a_person_sees_their_own_zone_else_the_deployments() -> None:
    assert person_zone(Person("Asia/Urumqi"), "Asia/Shanghai") == "Asia/Urumqi"
    assert person_zone(Person(None), "Asia/Shanghai") == "Asia/Shanghai"
    assert person_zone(None, "Europe/London") == "Europe/London"
    assert known_zone("Asia/Urumqi") == "Asia/Urumqi"
    for bad in ("Beijing", "", " Asia/Shanghai", "../etc/passwd"):
        with pytest.raises(BadZone):
            known_zone(bad)


def test_a_call_at_0248_beijing_time_lies_in_the_beijing_day() -> None:
    call = datetime(2026, 11, 30, 18, 48, tzinfo=UTC)  # 02:48 on 1 December in Beijing
    assert day_start("2026-12-01", "Asia/Shanghai") <= call < day_start("2026-12-01", "Asia/Shanghai", end=True)
    assert not call < day_start("2026-11-30", "Asia/Shanghai", end=True)
    assert shown(call, "Asia/Shanghai") == "2026-12-01 02:48 Asia/Shanghai"
    assert shown(call.isoformat(), "Asia/Urumqi", fmt="%H:%M", named=False) == "00:48"


# -- VISITBOT_LOCALE ---------------------------------------------------------------------------
def _help(locale: str) -> str:
    environ = {**os.environ, "VISITBOT_LOCALE": locale, "COLUMNS": "200"}
    result = subprocess.run(
        [*VISITBOT, "visits", "--help"], env=environ, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_help_is_in_visitbot_locale() -> None:
    english, chinese = _help("en"), _help("zh-CN")
    assert "Recorded visits." in english and "List visits, newest first" in english and "Commands" in english
    assert "已记录的回访" in chinese and "列出回访" in chinese and "命令" in chinese and "显示本帮助并退出" in chinese
    assert "Show this message and exit." in english and "Show this message and exit." not in chinese
    assert "已记录的回访" not in english and "Recorded visits." not in chinese


@pytest.mark.parametrize("command", [["--help"], ["borrowers", "list"], ["visits", "list", "--help"]])
def test_an_unknown_locale_is_refused_with_the_shipped_ones(
    runner: CliRunner, env: dict[str, str], command: list[str]
) -> None:
    result = runner.invoke(app, command, env={**env, "VISITBOT_LOCALE": "fr"})
    assert result.exit_code == 2, result.output
    said = result.stderr.strip()
    assert len(said.splitlines()) == 1 and "Traceback" not in result.output
    assert "“fr”不是已提供的语言" in said and "'fr' is not a shipped locale" in said
    assert "zh-CN" in said and "en" in said


def test_typers_own_usage_errors_follow_the_locale(runner: CliRunner, env: dict[str, str]) -> None:
    chinese = runner.invoke(app, ["users", "add", "--role", "officer"], env=env)
    assert chinese.exit_code == 2 and "缺少选项 '--telegram-id'" in chinese.output and "Missing" not in chinese.output
    typo = runner.invoke(app, ["visits", "lst"], env=env)
    assert typo.exit_code == 2 and "没有这个命令：'lst'。您是想输入 'list' 吗？" in typo.output
    english = runner.invoke(app, ["users", "add", "--role", "officer"], env={**env, "VISITBOT_LOCALE": "en"})
    assert english.exit_code == 2 and "Missing option '--telegram-id'" in english.output


def test_console_locale_option_is_checked(runner: CliRunner, env: dict[str, str]) -> None:
    result = runner.invoke(app, ["console", "-b", "B001", "--locale", "fr"], env=env)
    assert result.exit_code == 2 and "--locale 须是 zh-CN, en 之一" in result.stderr


def test_table_headers_and_cells_follow_the_locale(runner: CliRunner, env: dict[str, str]) -> None:
    ok(runner.invoke(app, ["demo", "load"], env=env))
    english = ok(runner.invoke(app, ["borrowers", "list"], env={**env, "VISITBOT_LOCALE": "en", "COLUMNS": "250"}))
    chinese = ok(runner.invoke(app, ["borrowers", "list"], env={**env, "COLUMNS": "250"}))
    assert "officer" in english and "time zone" in english and "overdue" in english
    assert "客户经理" in chinese and "时区" in chinese and "逾期" in chinese and "overdue" not in chinese
    users = ok(runner.invoke(app, ["users", "list"], env={**env, "VISITBOT_LOCALE": "en", "COLUMNS": "250"}))
    assert "role" in users and "supervisor" in users and "(deployment default)" in users


# -- users and their zones ---------------------------------------------------------------------
def test_users_add_with_a_timezone_and_users_list_shows_it(runner: CliRunner, env: dict[str, str]) -> None:
    added = ok(
        runner.invoke(
            app,
            ["users", "add", "--telegram-id", "77", "--role", "officer", "--name", "阿依", "--timezone", "Asia/Urumqi"],
            env=env,
        )
    )
    assert "时区 Asia/Urumqi" in added
    again = ok(
        runner.invoke(app, ["users", "add", "--telegram-id", "77", "--role", "officer", "--name", "阿依"], env=env)
    )
    assert "Asia/Urumqi" in again  # updating without --timezone keeps the zone
    listed = ok(runner.invoke(app, ["users", "list"], env={**env, "COLUMNS": "250"}))
    row = next(line for line in listed.splitlines() if "阿依" in line)
    assert "Asia/Urumqi" in row
    refused = runner.invoke(
        app,
        ["users", "add", "--telegram-id", "78", "--role", "officer", "--name", "x", "--timezone", "Beijing"],
        env=env,
    )
    assert refused.exit_code == 2 and "“Beijing”不是已知的时区" in refused.stderr and "Asia/Shanghai" in refused.stderr
    assert " 78 " not in ok(runner.invoke(app, ["users", "list"], env={**env, "COLUMNS": "250"}))


# -- local days and zoned times in visits list / show / export ---------------------------------
@pytest.fixture
def night_call(env: dict[str, str]) -> int:
    """Visit #1: a call at 02:48 Beijing time on 1 December (18:48 UTC on 30 November)."""
    return asyncio.run(_visit_at(env["VISITBOT_DATABASE_URL"], "B001", datetime(2026, 11, 30, 18, 48, tzinfo=UTC)))


def test_visits_list_and_export_use_the_beijing_day(
    runner: CliRunner, env: dict[str, str], night_call: int, tmp_path: Path
) -> None:
    def listed(*days: str) -> list[int]:
        return [row["id"] for row in json.loads(ok(runner.invoke(app, ["visits", "list", "--json", *days], env=env)))]

    assert listed("--since", "2026-12-01", "--until", "2026-12-01") == [night_call]
    assert listed("--until", "2026-11-30") == []
    assert listed("--since", "2026-12-02") == []
    table = ok(runner.invoke(app, ["visits", "list"], env={**env, "COLUMNS": "250"}))
    assert "开始（Asia/Shanghai）" in table and "2026-12-01 02:48" in table and "18:48" not in table
    english = ok(runner.invoke(app, ["visits", "list"], env={**env, "VISITBOT_LOCALE": "en", "COLUMNS": "250"}))
    assert "started (Asia/Shanghai)" in english and "open" in english
    for days, count in ((["--since", "2026-12-01", "--until", "2026-12-01"], 1), (["--until", "2026-11-30"], 0)):
        out = tmp_path / "x.csv"
        said = ok(runner.invoke(app, ["export", "-o", str(out), *days], env={**env, "COLUMNS": "250"}))
        assert f"已写入 {count} 条回访" in said


def test_visits_show_names_the_zone_and_json_keeps_the_offset(
    runner: CliRunner, env: dict[str, str], night_call: int
) -> None:
    human = ok(runner.invoke(app, ["visits", "show", str(night_call)], env={**env, "COLUMNS": "250"}))
    assert "开始 2026-12-01 02:48 Asia/Shanghai" in human and "对话记录（Asia/Shanghai）" in human
    assert "02:48:00" in human and "18:48" not in human
    urumqi = ok(
        runner.invoke(app, ["visits", "show", str(night_call)], env={**env, "VISITBOT_TIMEZONE": "Asia/Urumqi"})
    )
    assert "2026-12-01 00:48 Asia/Urumqi" in urumqi
    record = json.loads(ok(runner.invoke(app, ["visits", "show", str(night_call), "--json"], env=env)))
    assert record["started_at"] == "2026-11-30T18:48:00+00:00"


# -- opted-out borrowers -----------------------------------------------------------------------
def test_borrowers_list_marks_opted_out_borrowers_with_labels(runner: CliRunner, env: dict[str, str]) -> None:
    ok(runner.invoke(app, ["demo", "load"], env=env))
    sql(
        env["VISITBOT_DATABASE_URL"],
        "UPDATE borrowers SET opted_out_at = :at, opt_out_reason = 'privacy,too_frequent', "
        "preferred_channel = 'self_service' WHERE code = 'B002'",
        at=datetime(2026, 11, 30, 2, 0, tzinfo=UTC),
    )
    for locale in ("zh-CN", "en"):
        out = ok(runner.invoke(app, ["borrowers", "list"], env={**env, "VISITBOT_LOCALE": locale, "COLUMNS": "300"}))
        marked = [line for line in out.splitlines() if ("不想回访" if locale == "zh-CN" else "opted out") in line]
        assert len(marked) == 2 and "B002" in marked[0] and marked[1].startswith("* B002 张荣"), out
        for reason in ("privacy", "too_frequent"):
            assert reason_label(reason, locale) in marked[1]
        assert channel_label("self_service", locale) in marked[1]
        assert "self_service" not in out and "too_frequent" not in out
    data = json.loads(ok(runner.invoke(app, ["borrowers", "list", "--json"], env=env)))
    b002 = next(b for b in data if b["code"] == "B002")
    assert b002["opted_out_at"].startswith("2026-11-30T02:00") and b002["preferred_channel"] == "self_service"
    assert reason_label("privacy,too_frequent", "zh-CN") != "privacy,too_frequent"


# -- the console: times in the officer's zone, a call-back in the borrower's -------------------
def _lines(*lines: str) -> Iterator[str]:
    yield from lines


async def _console_callback(url: str, typed: str) -> tuple[str, dict[str, object]]:
    """End a visit to B004 (moved to London) with ``/cancel callback <typed>`` at 17:30 London time."""
    clock = FixedClock("2026-12-01T17:30:00+00:00")  # 01:30 on 2 December in Beijing, the deployment's zone
    async with demo_desk(url, clock=clock, timezone="Asia/Shanghai") as desk:
        await _sql(url, "UPDATE borrowers SET timezone = 'Europe/London' WHERE code = 'B004'")
        reply = await desk.begin("B004", actor=Actor("officer", None), officer_id=None)
        buffer = io.StringIO()
        visit = ConsoleVisit(
            desk,
            code="B004",
            locale="zh-CN",
            out=Console(file=buffer, width=250, highlight=False),
            zone="Asia/Shanghai",
            borrower_zone="Europe/London",
        )
        visit.started(resumed=reply.resumed)
        lines = _lines(f"/cancel callback {typed}")
        outcome = await visit.run(reply, None, lambda: next(lines, None))
        assert outcome == "callback", buffer.getvalue()
        async with desk.sessions() as session:
            from storage import repositories as repo

            found = await repo.load_visit(session, reply.visit_id)
            assert found is not None
            return buffer.getvalue(), {"callback_at": found.callback_at}


@pytest.mark.parametrize("typed", ["明天下午3点", "2026-12-02 15:00"])
def test_a_console_call_back_is_read_in_the_borrowers_zone(sqlite_url: str, typed: str) -> None:
    said, visit = asyncio.run(_console_callback(sqlite_url, typed))
    # tomorrow in London (2 December), not tomorrow in Beijing (3 December); 15:00 London is 15:00 UTC
    assert visit["callback_at"] == datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    assert "开始时间：2026-12-02 01:30 Asia/Shanghai" in said
    assert "借款人当地时间 2026-12-02 15:00 Europe/London" in said
    assert "您的时间 2026-12-02 23:00 Asia/Shanghai" in said
