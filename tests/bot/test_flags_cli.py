"""``visitbot flags`` and ``visitbot flags explain`` at the command line (SQLite): the list with the evidence,
an explanation as a supervisor, refusals exit 2 with nothing changed; ``visitbot briefing`` counts them."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from dialogs.engine import FlagRaised
from dialogs.schema import Severity
from storage import repositories as repo
from tests.bot import planted

FINISHED = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
TELEGRAM = {"supervisor": 9102, "officer": 9103, "west_supervisor": 9106}


@pytest.fixture
def cli_env(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    return {"VISITBOT_DATABASE_URL": sqlite_url, "VISITBOT_LOCALE": "en", "VISITBOT_TIMEZONE": "Asia/Shanghai",
            "COLUMNS": "220"}  # fmt: skip


async def _plant(url: str) -> tuple[int, int, int]:
    """The visit, the earlier one its quality flag names, and the flag's id."""
    async with planted.transaction(url) as session:
        staff = await planted.staff(session)
        for key, telegram_id in TELEGRAM.items():
            staff[key].telegram_id = telegram_id
        borrower = await planted.borrower(session, "C01", staff["officer"])
        earlier = await planted.visit(
            session, borrower, staff["officer"], finished_at=datetime(2026, 10, 5, tzinfo=UTC)
        )
        visit = await planted.visit(session, borrower, staff["officer"], finished_at=FINISHED)
        flag = await repo.add_flag(
            session, visit.id, FlagRaised("copied_previous", Severity.MEDIUM, "", "回答与上次回访完全相同"),
            at=FINISHED, kind="quality",
            evidence={"answers": 8, "free_form": 3, "previous": {"visit": earlier.id, "date": "2026-10-05"}},
        )  # fmt: skip
        await session.flush()
        return visit.id, earlier.id, flag.id


def test_list_explain_and_count(cli_env: dict[str, str]) -> None:
    visit, earlier, flag = asyncio.run(_plant(cli_env["VISITBOT_DATABASE_URL"]))
    runner = CliRunner()
    listed = runner.invoke(app, ["flags", "--visit", str(visit), "--json"], env=cli_env)
    assert listed.exit_code == 0, listed.output
    rows = {row["code"]: row for row in json.loads(listed.output)}
    assert set(rows) == {"phone_changed", "copied_previous"}
    quality = rows["copied_previous"]
    assert quality["id"] == flag and quality["kind"] == "quality" and quality["visits"] == [earlier]
    assert quality["explained"] is None and f"#{earlier}" in quality["evidence_lines"][0]

    table = runner.invoke(app, ["flags", "--kind", "quality", "--open"], env=cli_env)
    assert table.exit_code == 0 and "same answers as the last visit" in table.output and "quality" in table.output

    for args, said in (
        (["flags", "explain", str(flag), "--reason", "x"], "--as"),
        (["flags", "explain", str(flag), "--reason", "x", "--as", "9103"], "Only a supervisor or an admin"),
        (["flags", "explain", str(flag), "--reason", "x", "--as", "9106"], f"There is no flag {flag}"),
        (["flags", "explain", str(flag), "--reason", " ", "--as", "9102"], "Give a reason"),
        (["flags", "explain", str(flag), "--reason", "x", "--as", "424242"], "424242"),
        (["flags", "--kind", "bogus"], "bogus"),
    ):
        refused = runner.invoke(app, args, env=cli_env)
        assert refused.exit_code == 2 and said in refused.output, (args, refused.output)

    done = runner.invoke(app, ["flags", "explain", str(flag), "--reason", "回电核实过", "--as", "9102"], env=cli_env)
    assert done.exit_code == 0 and f"Flag {flag} (same answers as the last visit) explained" in done.output, done.output
    again = runner.invoke(app, ["flags", "explain", str(flag), "--reason", "再次", "--as", "9102"], env=cli_env)
    assert again.exit_code == 2 and "already explained by 主管" in again.output
    assert runner.invoke(app, ["flags", "--kind", "quality", "--open", "--json"], env=cli_env).output.strip() == "[]"
    shown = runner.invoke(app, ["flags", "--kind", "quality"], env={**cli_env, "VISITBOT_LOCALE": "zh-CN"})
    assert "形式化检查" in shown.output and "与上次相同" in shown.output and "主管" in shown.output

    brief = runner.invoke(app, ["briefing", "2026-11"], env=cli_env)
    assert brief.exit_code == 0, brief.output
    cells = [[c.strip() for c in row.split("│") if c.strip()] for row in brief.output.splitlines()]
    assert "Quality flags (形式化) by rule" in brief.output
    assert ["same answers as the last visit", "1", "1"] in cells, "raised 1, explained 1"
