"""The visits export as XLSX at size: 20,000 typed rows through :func:`bot.desk.export.export_xlsx`,
against openpyxl writing the same values bare (no number formats) in the same run.

Run with ``make bench`` or ``python -m bench.export_xlsx [--rows N]``.
"""

from __future__ import annotations

import argparse
import io
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bot.desk.export import Cell, export_xlsx

HEADER = ["visit_id", "officer", "started_at", "overdue_amount", "outcome"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    start = datetime(2026, 11, 1, tzinfo=UTC)
    rows = [
        [n, "王磊", Cell(start + timedelta(minutes=n), "", "time"), Cell(Decimal(n) / 4, "", "money"), "completed"]
        for n in range(args.rows)
    ]
    began = time.perf_counter()
    export_xlsx(HEADER, rows, [], zone="Asia/Shanghai")
    ours = time.perf_counter() - began

    from openpyxl import Workbook

    began = time.perf_counter()
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append([c.value.replace(tzinfo=None) if isinstance(c, Cell) and c.kind == "time" else
                      c.value if isinstance(c, Cell) else c for c in row])  # fmt: skip
    book.save(io.BytesIO())
    bare = time.perf_counter() - began
    print(f"export_xlsx: {args.rows:,} rows in {ours:.2f} s ({args.rows / ours:,.0f} rows/s); "
          f"openpyxl bare {bare:.2f} s; ratio {ours / bare:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
