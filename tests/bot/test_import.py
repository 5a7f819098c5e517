"""The loan book in: good, bad and duplicate rows (CSV and XLSX), one transaction per file, overdue from repayments."""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli import app
from bot.desk import FixedClock
from bot.desk.importing import COLUMNS, ImportFileError, ImportResult, import_sheet, read_sheet, refresh_overdue
from dialogs.i18n import message
from storage import importing as store
from storage.db import make_engine, make_sessionmaker
from storage.demo import load_demo
from storage.models import Borrower, Loan, Repayment

CLOCK = FixedClock("2026-12-01T10:00:00+08:00")


def write(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    """A CSV or XLSX file (by ``path``'s suffix) with ``header`` and ``rows``; XLSX keeps numbers and dates typed."""
    if path.suffix == ".xlsx":
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(list(header))
        for row in rows:
            sheet.append(list(row) if any(cell not in (None, "") for cell in row) else [None] * len(header))
        book.save(path)
        return path
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(header)
        for row in rows:
            out.writerow(
                ["" if cell is None else (c.isoformat() if isinstance(c := cell, date) else c) for cell in row]
            )
    return path


async def demo(url: str) -> None:
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session, session.begin():
        await load_demo(session)
    await engine.dispose()


async def imported(url: str, kind: str, path: Path, *, clock: FixedClock = CLOCK, **options: Any) -> ImportResult:
    engine = make_engine(url)
    try:
        sheet = read_sheet(path)
        return await import_sheet(
            make_sessionmaker(engine), kind, sheet, clock=clock, timezone="Asia/Shanghai", **options
        )
    finally:
        await engine.dispose()


async def rows_of(url: str, *columns: Any) -> list[tuple[Any, ...]]:
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session:
        found = [tuple(r) for r in (await session.execute(select(*columns).order_by(*columns))).all()]
    await engine.dispose()
    return found


def stored_codes(database: Path) -> set[str]:
    with sqlite3.connect(database) as db:
        return {code for (code,) in db.execute("SELECT code FROM borrowers")}


def problems(result: ImportResult) -> list[tuple[int, str, str]]:
    return [(p.row, p.column, p.key) for p in result.problems]


# -- borrowers and loans: good, bad and duplicate rows, in both formats --------------------------------------
BORROWERS = [
    ["B101", "张三", "138 0013 8000", "餐饮", "上海", "王磊", "medium", "", ""],
    ["B102", "李四", "12345", "超市", "", "", "urgent", "", ""],  # two bad cells, one bad row
    ["B101", "张三丰", "", "", "", "", "low", "", ""],  # the code of row 2 again
    [None] * 9,  # blank: skipped, not counted
    ["B103", "王五", "", "", "", "不存在的人", "low", "", ""],
    ["B104", "赵六", "13800138001", "物流", "", "陈静", "高", "Europe/Berlin", "en"],
    ["", "无名", "", "", "", "", "low", "", ""],
]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
async def test_borrowers_good_bad_and_duplicate_rows(sqlite_url: str, tmp_path: Path, suffix: str) -> None:
    await demo(sqlite_url)
    result = await imported(sqlite_url, "borrowers", write(tmp_path / f"b{suffix}", COLUMNS["borrowers"], BORROWERS))
    assert (result.rows, result.good, result.bad_rows, result.duplicates) == (6, 2, 4, 1)
    assert result.written == store.Written(new=2)
    assert problems(result) == [
        (3, "phone", "import_bad_phone"),
        (3, "risk_tier", "import_bad_tier"),
        (4, "code", "import_duplicate"),
        (6, "officer", "import_unknown_officer"),
        (8, "code", "import_missing"),
    ]
    stored = await rows_of(sqlite_url, Borrower.code, Borrower.phone, Borrower.risk_tier, Borrower.timezone)
    assert ("B101", "+8613800138000", "medium", "Asia/Shanghai") in stored
    assert ("B104", "+8613800138001", "high", "Europe/Berlin") in stored
    assert not {"B102", "B103"} & {row[0] for row in stored}


LOANS = [
    ["L1", "B001", "个人经营贷", "50,000", "2026/11/01", "2027-10-31", "进货", ""],
    ["L2", "B999", "个人经营贷", "10000", "2026-11-01", "", "", ""],
    ["L3", "B001", "个人经营贷", "abc", "2026-13-01", "", "", ""],
    ["L1", "B002", "个人经营贷", "60000", "2026-11-02", "", "", ""],
    ["L4", "B002", "商户信用贷", "5万", "2026年11月3日", "", "备货", "逾期"],
]
TYPED_LOANS = [  # what Excel holds: numbers and dates, not text
    ["L1", "B001", "个人经营贷", 50000, datetime(2026, 11, 1), datetime(2027, 10, 31), "进货", None],
    ["L2", "B999", "个人经营贷", 10000, datetime(2026, 11, 1), None, None, None],
    ["L3", "B001", "个人经营贷", "abc", "2026-13-01", None, None, None],
    ["L1", "B002", "个人经营贷", 60000, datetime(2026, 11, 2), None, None, None],
    ["L4", "B002", "商户信用贷", "5万", datetime(2026, 11, 3), None, "备货", "逾期"],
]


@pytest.mark.parametrize(("suffix", "rows"), [(".csv", LOANS), (".xlsx", TYPED_LOANS)])
async def test_loans_good_bad_and_duplicate_rows(
    sqlite_url: str, tmp_path: Path, suffix: str, rows: list[list[Any]]
) -> None:
    await demo(sqlite_url)
    result = await imported(sqlite_url, "loans", write(tmp_path / f"l{suffix}", COLUMNS["loans"], rows))
    assert (result.rows, result.good, result.bad_rows, result.duplicates) == (5, 2, 3, 1)
    assert problems(result) == [
        (3, "borrower_code", "import_unknown_borrower"),
        (4, "amount", "import_bad_money"),
        (4, "disbursed_on", "import_bad_date"),
        (5, "contract_no", "import_duplicate"),
    ]
    stored = await rows_of(sqlite_url, Loan.contract_no, Loan.amount, Loan.disbursed_on, Loan.due_on, Loan.status)
    assert ("L1", Decimal(50000), date(2026, 11, 1), date(2027, 10, 31), "active") in stored
    assert ("L4", Decimal(50000), date(2026, 11, 3), None, "overdue") in stored


def test_the_cli_names_every_bad_row_in_the_users_language(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"VISITBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}", "VISITBOT_LOCALE": "zh-CN"}
    assert runner.invoke(app, ["demo", "load"], env=env).exit_code == 0
    path = write(tmp_path / "b.csv", COLUMNS["borrowers"], BORROWERS)
    said = runner.invoke(app, ["import", "borrowers", str(path)], env=env)
    assert said.exit_code == 1, said.output  # some rows were bad; the good ones are in
    assert "第 3 行，phone 列：不是有效的电话号码（11 位手机号或带区号的座机）" in said.stdout
    assert "第 4 行，code 列：“B101”与第 2 行重复（只导入第一行）" in said.stdout
    assert "第 6 行，officer 列：没有 Telegram 账号或姓名为“不存在的人”的员工" in said.stdout
    assert "读取 6 行，导入 2 行（新增 2，更新 0，未变 0），有问题 4 行（其中重复 1 行）。" in said.stdout
    again = runner.invoke(app, ["import", "borrowers", str(path)], env={**env, "VISITBOT_LOCALE": "en"})
    assert again.exit_code == 1
    assert "Row 3, column risk_tier: 'urgent' is not a risk tier: use low, medium or high" in again.stdout
    assert "6 row(s) read, 2 imported (0 new, 0 updated, 2 unchanged), 4 bad (1 of them duplicates)." in again.stdout


def test_a_file_that_cannot_be_read_imports_nothing_and_says_why(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"VISITBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}", "VISITBOT_LOCALE": "zh-CN"}
    no_amount = write(
        tmp_path / "l.csv", [c for c in COLUMNS["loans"] if c != "amount"], [["L1", "B001", "贷", "2026-11-01"]]
    )
    said = runner.invoke(app, ["import", "loans", str(no_amount)], env=env)
    assert said.exit_code == 2
    assert "loans 文件缺少必需的列：amount（模板：visitbot import --template loans）" in said.stderr
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(",".join(COLUMNS["borrowers"]).encode() + "\nB1,张三,,,,,low,,\n".encode("gbk"))
    said = runner.invoke(app, ["import", "borrowers", str(gbk)], env=env)
    assert said.exit_code == 2 and "不是 UTF-8 编码（第 2 行" in said.stderr
    assert stored_codes(tmp_path / "cli.db") == set()


# -- one transaction per file ------------------------------------------------------------------------------
async def test_re_importing_changes_nothing_and_a_changed_row_is_updated(database_url: str, tmp_path: Path) -> None:
    await demo(database_url)
    path = write(tmp_path / "l.csv", COLUMNS["loans"], LOANS)
    first = await imported(database_url, "loans", path)
    before = await rows_of(database_url, *Loan.__table__.c)
    second = await imported(database_url, "loans", path)
    assert (first.written, second.written) == (store.Written(new=2), store.Written(unchanged=2))
    assert await rows_of(database_url, *Loan.__table__.c) == before
    changed = write(tmp_path / "l2.csv", COLUMNS["loans"], [[*LOANS[0][:3], "55,000", *LOANS[0][4:]], LOANS[4]])
    third = await imported(database_url, "loans", changed)
    assert third.written == store.Written(updated=1, unchanged=1)
    assert ("L1", Decimal(55000)) in await rows_of(database_url, Loan.contract_no, Loan.amount)


async def test_a_failure_at_row_5000_leaves_the_database_as_it_was(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await demo(database_url)
    existing = (await rows_of(database_url, Loan.contract_no, Loan.amount))[0]
    rows = [[existing[0], "B001", "个人经营贷", "1", "2026-01-01", "", "", ""]]  # an update the failure must undo
    rows += [[f"X{n:05d}", f"B00{n % 8 + 1}", "个人经营贷", "10000", "2026-11-01", "", "", ""] for n in range(6000)]
    path = write(tmp_path / "big.csv", COLUMNS["loans"], rows)
    before = await rows_of(database_url, *Loan.__table__.c)
    real, calls = store.upsert_loans, []

    async def disk_full_at_row_5000(session: Any, batch: Any) -> store.Written:
        calls.append(len(batch))
        if sum(calls) >= 4999:  # row 5,000 of the sheet is the 4,999th data row
            raise OSError(28, "No space left on device")
        return await real(session, batch)

    monkeypatch.setattr(store, "upsert_loans", disk_full_at_row_5000)
    with pytest.raises(OSError, match="No space"):
        await imported(database_url, "loans", path)
    assert calls == [1000] * 5
    assert await rows_of(database_url, *Loan.__table__.c) == before


async def test_a_dry_run_reports_and_writes_nothing(sqlite_url: str, tmp_path: Path) -> None:
    await demo(sqlite_url)
    before = await rows_of(sqlite_url, *Loan.__table__.c)
    result = await imported(sqlite_url, "loans", write(tmp_path / "l.csv", COLUMNS["loans"], LOANS), dry_run=True)
    assert (result.good, result.bad_rows, result.written, result.dry_run) == (2, 3, store.Written(new=2), True)
    assert await rows_of(sqlite_url, *Loan.__table__.c) == before


def test_the_cli_dry_run_and_the_templates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    env = {"VISITBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}", "VISITBOT_LOCALE": "en"}
    assert runner.invoke(app, ["demo", "load"], env=env).exit_code == 0
    for kind in ("borrowers", "loans", "repayments"):
        made = runner.invoke(app, ["import", "--template", kind], env=env)
        assert made.exit_code == 0 and (tmp_path / f"{kind}.csv").exists(), made.output
    assert runner.invoke(app, ["import", "--template", "loans"], env=env).exit_code == 1  # never overwritten
    dry = runner.invoke(app, ["import", "borrowers", "borrowers.csv", "--dry-run"], env=env)
    assert dry.exit_code == 0 and "1 imported (1 new" in dry.stdout and "Dry run: nothing was written" in dry.stdout
    assert "B101" not in stored_codes(tmp_path / "cli.db")
    for kind in ("borrowers", "loans", "repayments"):
        done = runner.invoke(app, ["import", kind, f"{kind}.csv"], env=env)
        assert done.exit_code == 0 and "0 bad" in done.stdout, done.output
    assert "B101" in stored_codes(tmp_path / "cli.db")


# -- repayments: each loan's overdue days and amount, as of the clock's day ---------------------------------
async def test_repayments_set_each_loans_overdue_days_and_amount(database_url: str, tmp_path: Path) -> None:
    await demo(database_url)
    write(tmp_path / "l.csv", COLUMNS["loans"], [["R1", "B001", "个人经营贷", "54000", "2026-06-01", "", "", ""]])
    await imported(database_url, "loans", tmp_path / "l.csv")
    schedule = [
        ["R1", "2026-07-01", "4500", "4500", "2026-07-01"],  # paid
        ["R1", "2026-08-01", "4500", "1000", "2026-08-03"],  # 3,500 still owed since 1 August
        ["R1", "2026-09-01", "4500", "", ""],  # unpaid
        ["R1", "2026-09-10", "4500", "", ""],  # due today in Shanghai: not overdue yet
        ["R9", "2026-09-01", "4500", "", ""],  # no such loan
    ]
    path = write(tmp_path / "r.csv", COLUMNS["repayments"], schedule)
    shanghai_morning = FixedClock("2026-09-09T17:00:00+00:00")  # 10 September, 01:00 in Shanghai
    result = await imported(database_url, "repayments", path, clock=shanghai_morning)
    assert (result.good, result.loans_refreshed, problems(result)) == (
        4,
        1,
        [(6, "contract_no", "import_unknown_loan")],
    )
    overdue = (Loan.contract_no, Loan.overdue_days, Loan.overdue_amount)
    assert ("R1", 40, Decimal(8000)) in await rows_of(database_url, *overdue)
    paid = [*schedule[:1], ["R1", "2026-08-01", "4500", "4500", ""], ["R1", "2026-09-01", "4500", "4500", ""]]
    paid_path = write(tmp_path / "r2.csv", COLUMNS["repayments"], paid)
    again = await imported(database_url, "repayments", paid_path, clock=shanghai_morning)
    assert again.written == store.Written(updated=2, unchanged=1)
    assert ("R1", 0, Decimal(0)) in await rows_of(database_url, *overdue)
    assert len(await rows_of(database_url, Repayment.id)) == 4
    engine = make_engine(database_url)
    a_week_later = FixedClock("2026-09-17T09:00:00+08:00")
    assert await refresh_overdue(make_sessionmaker(engine), clock=a_week_later, timezone="Asia/Shanghai") == 1
    await engine.dispose()
    assert ("R1", 7, Decimal(4500)) in await rows_of(database_url, *overdue)  # the 10 September instalment


async def test_unknown_kind_and_format_are_file_errors(sqlite_url: str, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError) as bad:
        read_sheet(write(tmp_path / "x.txt", ["a"], []))
    assert message(bad.value.key, "en", **bad.value.params).endswith(
        "only .csv (UTF-8) and .xlsx files can be imported."
    )
    with pytest.raises(ImportFileError):
        await imported(sqlite_url, "payments", write(tmp_path / "x.csv", ["a"], []))
    assert await rows_of(sqlite_url, func.count(Borrower.id)) == [(0,)]


# -- the address on file as coordinates (on-site visits are checked against them, bot.desk.quality) --------------
LOCATED = [
    ["B101", "张三", "", "", "", "", "low", "", "", "31.2304", "121.4737"],
    ["B102", "李四", "", "", "", "", "low", "", "", "９１", "121.4"],  # beyond the pole (full-width digits read)
    ["B103", "王五", "", "", "", "", "low", "", "", "31.2", ""],  # latitude without longitude
    ["B104", "赵六", "", "", "", "", "low", "", "", "", "东经121度"],
    ["B105", "钱七", "", "", "", "", "low", "", "", "", ""],  # neither: no coordinates on file
    ["B106", "孙八", "", "", "", "", "low", "", "", "-33.8688°", "151.2093"],
]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
async def test_borrower_coordinates_from_the_loan_book(database_url: str, tmp_path: Path, suffix: str) -> None:
    await demo(database_url)
    path = write(tmp_path / f"located{suffix}", COLUMNS["borrowers"], LOCATED)
    result = await imported(database_url, "borrowers", path)
    assert problems(result) == [
        (3, "latitude", "import_bad_latitude"),
        (4, "longitude", "import_coordinates_pair"),
        (5, "longitude", "import_bad_longitude"),
    ]
    zh = [message(p.key, "zh-CN", **p.params) for p in result.problems]
    assert zh == [
        "“９１”不是纬度（-90 到 90 之间的小数度数，例如 31.2304）",
        "纬度和经度要么都填，要么都不填",
        "“东经121度”不是经度（-180 到 180 之间的小数度数，例如 121.4737）",
    ]
    located = (Borrower.code, Borrower.latitude, Borrower.longitude)
    stored = {row[0]: row[1:] for row in await rows_of(database_url, *located)}
    assert stored["B101"] == (31.2304, 121.4737) and stored["B106"] == (-33.8688, 151.2093)
    assert stored["B105"] == (None, None) and not {"B102", "B103", "B104"} & set(stored)
    # a file without the columns keeps the coordinates on file; one with them blank clears them
    plain = [c for c in COLUMNS["borrowers"] if c not in ("latitude", "longitude")]
    again = await imported(database_url, "borrowers", write(tmp_path / f"plain{suffix}", plain, [LOCATED[0][:9]]))
    assert again.written == store.Written(unchanged=1)
    assert {r[0]: r[1:] for r in await rows_of(database_url, *located)}["B101"] == (31.2304, 121.4737)
    blank = write(tmp_path / f"blank{suffix}", COLUMNS["borrowers"], [[*LOCATED[0][:9], "", ""]])
    assert (await imported(database_url, "borrowers", blank)).written == store.Written(updated=1)
    assert {r[0]: r[1:] for r in await rows_of(database_url, *located)}["B101"] == (None, None)
