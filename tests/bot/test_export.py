"""Exports: one row per visit, one column per question, a sheet of risk flags; CLI writes files."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

from openpyxl import load_workbook

VISITBOT = [sys.executable, "-m", "bot"]


def run(args: list[str], env: dict[str, str], stdin: str = "") -> str:
    result = subprocess.run(
        [*VISITBOT, *args], input=stdin, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_export_xlsx_and_csv(tmp_path: Path) -> None:
    env = dict(os.environ, VISITBOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
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
