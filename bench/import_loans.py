"""How fast the loan book comes in: 100,000 loans (and their borrowers) imported on SQLite and PostgreSQL
(CSV, and the loans again as XLSX).

Each database runs in its own process, so its peak memory is its own: the target is under 60 s per
100,000 loans on the 2-core CI machine, in flat memory (the peak after 10,000 rows is about the peak at
the end). Run with ``make bench`` or ``python -m bench.import_loans [--loans N]``; PostgreSQL is the
server of ``VISITBOT_BENCH_POSTGRES_URL`` (default the local one; a fresh database is made and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.postgres import scratch_database
from bot.desk import SystemClock
from bot.desk.importing import COLUMNS, import_sheet, read_sheet
from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade

TIERS = ("low", "medium", "high")


def write_files(folder: Path, loans: int) -> tuple[Path, Path]:
    """A borrowers file (one borrower per two loans) and a loans file, streamed to disk."""
    borrowers = max(loans // 2, 1)
    people = folder / "borrowers.csv"
    with people.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(COLUMNS["borrowers"])
        for n in range(borrowers):
            phone, tier = f"+86138{n:08d}", TIERS[n % 3]
            out.writerow([f"C{n:07d}", f"借款人{n}", phone, "餐饮", "上海市", "", tier, "Asia/Shanghai", "zh-CN"])
    book = folder / "loans.csv"
    start = date(2025, 1, 1)
    with book.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(COLUMNS["loans"])
        for n in range(loans):
            day = start + timedelta(days=n % 600)
            amount = "5万" if n % 7 == 0 else f"{10_000 + (n % 90) * 1_000:,}"
            row = [f"DK{n:09d}", f"C{n % borrowers:07d}", "个人经营贷", amount, day.isoformat()]
            out.writerow([*row, (day + timedelta(days=365)).strftime("%Y/%m/%d"), "进货备货", "active"])
    return people, book


def as_workbook(path: Path) -> Path:
    """The same rows as an XLSX file next to ``path`` (openpyxl's streaming writer; cells as text)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle):
            sheet.append(row)
    target = path.with_suffix(".xlsx")
    book.save(target)
    return target


def peak_mib() -> float:
    """This process's peak resident memory so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def timed_import(url: str, kind: str, path: Path) -> dict[str, Any]:
    """Import one file; seconds, rows/s, and the peak memory after 10,000 rows and at the end."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    early: list[float] = []

    def progress(done: int) -> None:
        if done >= 10_000 and not early:
            early.append(peak_mib())

    start = time.perf_counter()
    result = await import_sheet(
        sessions, kind, read_sheet(path), clock=SystemClock(), timezone="Asia/Shanghai", progress=progress
    )
    seconds = time.perf_counter() - start
    await engine.dispose()
    if result.bad_rows:
        raise SystemExit(f"{kind}: {result.bad_rows} bad rows, first {result.problems[:3]}")
    return {
        "kind": kind,
        "rows": result.rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(result.rows / seconds),
        "new": result.written.new,
        "unchanged": result.written.unchanged,
        "peak_mib_at_10k": round(early[0] if early else peak_mib(), 1),
        "peak_mib": round(peak_mib(), 1),
    }


async def one_database(url: str, people: Path, book: Path) -> list[dict[str, Any]]:
    """Borrowers, then loans, then the same loans again (nothing changes), then the loans as XLSX
    (nothing changes either: the time is reading the workbook and comparing)."""
    runs = [await timed_import(url, "borrowers", people), await timed_import(url, "loans", book)]
    again = await timed_import(url, "loans", book)
    again["kind"] = "loans again"
    workbook = await timed_import(url, "loans", book.with_suffix(".xlsx"))
    workbook["kind"] = "loans .xlsx"
    return [*runs, again, workbook]


def child(backend: str, folder: Path) -> None:
    """Run one database in this process and print its measurements as JSON."""
    people, book = folder / "borrowers.csv", folder / "loans.csv"
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        upgrade(url)
        print(json.dumps(asyncio.run(one_database(url, people, book))))
        return
    with scratch_database() as url:
        print(json.dumps(asyncio.run(one_database(url, people, book))))


def main() -> None:
    """Write the files once, import them on each database in its own process, print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--child", choices=("sqlite", "postgresql"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.folder)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _, book = write_files(folder, args.loans)
        as_workbook(book)
        people = max(args.loans // 2, 1)
        print(f"import: {args.loans:,} loans, {people:,} borrowers (CSV; loans also XLSX): target < 60 s each")
        print(f"{'database':<11} {'file':<12} {'rows':>8} {'seconds':>8} {'rows/s':>8} {'MiB@10k':>8} {'peak MiB':>8}")
        for backend in (args.only,) if args.only else ("sqlite", "postgresql"):
            command = [sys.executable, "-m", "bench.import_loans", "--child", backend, "--folder", str(folder)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(f"{backend:<11} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
                continue
            for r in json.loads(done.stdout.strip().splitlines()[-1]):
                print(
                    f"{backend:<11} {r['kind']:<12} {r['rows']:>8,} {r['seconds']:>8.1f} {r['rows_per_s']:>8,} "
                    f"{r['peak_mib_at_10k']:>8.0f} {r['peak_mib']:>8.0f}"
                )


if __name__ == "__main__":
    main()
