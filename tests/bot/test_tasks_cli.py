"""``visitbot tasks``: an officer's call-backs with the rules of contact applied — one inside the
borrower's window, one outside (the next allowed time shown), one the borrower asked for (kept) —
filtered by officer (a console-only officer by name), done ones with --all; a wrong officer exits 2."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from storage.db import make_engine, make_sessionmaker
from storage.models import Borrower, Task, User

OFFICER_TG = 7201
SHANGHAI, LONDON = "Asia/Shanghai", "Europe/London"
TOMORROW = datetime.now(ZoneInfo(SHANGHAI)).date() + timedelta(days=1)
DAY_AFTER = TOMORROW + timedelta(days=1)


def at(day: date, hour: int, minute: int, zone: str) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(zone)).astimezone(UTC)


async def plant(url: str) -> None:
    """Call-backs of 王磊 (B001 inside the window, B003 in London outside it, B005 asked for) and 陈静's."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            people = {u.name: u.id for u in (await session.scalars(select(User))).all()}
            borrowers = {b.code: b for b in (await session.scalars(select(Borrower))).all()}
            borrowers["B003"].timezone = LONDON
            wang, chen = people["王磊"], people["陈静"]

            def task(code: str, officer: int, due: datetime | None, **extra: object) -> Task:
                kind = str(extra.pop("kind", "callback"))
                note = str(extra.pop("note", "callback"))
                borrower = borrowers[code].id
                return Task(kind=kind, officer_id=officer, borrower_id=borrower, due_at=due, note=note, **extra)

            session.add_all([
                task("B001", wang, at(TOMORROW, 10, 0, SHANGHAI)),
                task("B003", wang, at(TOMORROW, 22, 30, LONDON), note="wants_call"),  # 22:30 in London
                task("B005", wang, at(TOMORROW, 22, 30, SHANGHAI), borrower_asked=True),
                task("B007", wang, None, kind="relief", note="extension: 6个月"),  # before 0011: now a request
                task("B001", wang, at(TOMORROW, 9, 0, SHANGHAI), done_at=at(TOMORROW, 9, 5, SHANGHAI)),
                task("B002", chen, at(TOMORROW, 23, 0, SHANGHAI)),
            ])  # fmt: skip
    finally:
        await engine.dispose()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def env(tmp_path: Path, runner: CliRunner) -> dict[str, str]:
    from bot.cli import app

    environ = {
        "VISITBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'tasks.db'}",
        "VISITBOT_LOCALE": "zh-CN",
        "VISITBOT_TIMEZONE": SHANGHAI,
        "VISITBOT_CONTACT_WINDOW_START": "08:00",
        "VISITBOT_CONTACT_WINDOW_END": "21:00",
    }
    loaded = runner.invoke(app, ["demo", "load", "--officer-telegram-id", str(OFFICER_TG)], env=environ)
    assert loaded.exit_code == 0, loaded.output
    asyncio.run(plant(environ["VISITBOT_DATABASE_URL"]))
    return environ


def tasks(runner: CliRunner, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    from bot.cli import app

    result = runner.invoke(app, ["tasks", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def row_of(output: str, code: str) -> str:
    (line,) = [line for line in output.splitlines() if f" {code} " in line]
    return line


def test_an_officers_call_backs_show_when_the_rules_of_contact_let_them_call(
    runner: CliRunner, env: dict[str, str]
) -> None:
    code, output, _ = tasks(runner, env, "--officer", str(OFFICER_TG))
    assert code == 0, output
    assert "王磊 的待办任务" in output and "约定时间（Asia/Shanghai）" in output
    inside, outside, asked = row_of(output, "B001"), row_of(output, "B003"), row_of(output, "B005")
    assert f"{TOMORROW} 10:00" in inside and "按约定时间" in inside and "约定的回电" in inside
    # 22:30 in London is 06:30 the next day here; London's window opens at 08:00 there, 16:00 here
    assert f"{DAY_AFTER} 06:30" in outside and f"最早 {DAY_AFTER} 16:00 Asia/Shanghai" in outside
    assert "借款人希望回电" in outside
    assert f"{TOMORROW} 22:30" in asked and "借款人要求的时间，照约定" in asked
    assert "B007" not in output  # a relief task of before migration 0011 is a hardship request (visitbot relief)
    assert "B002" not in output  # 陈静's
    assert "已完成" not in output and "共 3 项。" in output
    assert "1 个回电不在借款人可联系时段（借款人当地时间 08:00–21:00）" in output


def test_a_console_only_officer_by_name_everyone_and_done_ones_with_all(runner: CliRunner, env: dict[str, str]) -> None:
    code, output, _ = tasks(runner, env, "--officer", "陈静")  # no Telegram id: found by name
    assert code == 0 and "陈静 的待办任务" in output
    assert f"最早 {DAY_AFTER} 08:00 Asia/Shanghai" in row_of(output, "B002")
    code, output, _ = tasks(runner, {**env, "VISITBOT_LOCALE": "en"}, "--all")
    assert code == 0, output
    assert "Everyone's tasks" in output and "共" not in output and "5 in all." in output
    assert "陈静" in row_of(output, "B002") and "王磊" in row_of(output, "B005")
    assert f"done {TOMORROW} 09:05" in output
    assert "the time the borrower asked for: kept" in row_of(output, "B005")
    code, output, _ = tasks(runner, env, "--officer", str(OFFICER_TG), "--json")
    rows = {row["borrower"]["code"]: row for row in json.loads(output)}
    assert code == 0 and sorted(rows) == ["B001", "B003", "B005"]
    assert rows["B003"]["outside_window"] and rows["B003"]["allowed_at"] == f"{DAY_AFTER}T08:00:00+00:00"
    assert rows["B005"]["borrower_asked"] and not rows["B005"]["outside_window"]


def test_an_unknown_officer_is_said_clearly_and_exits_2(runner: CliRunner, env: dict[str, str]) -> None:
    code, _, said = tasks(runner, env, "--officer", "9999")
    assert code == 2 and "没有 Telegram id 或姓名为“9999”的在职员工" in said
    code, _, said = tasks(runner, env, "--officer", "nobody")
    assert code == 2 and "nobody" in said and "visitbot users list" in said
