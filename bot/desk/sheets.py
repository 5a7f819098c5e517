"""Reading a CSV or XLSX sheet: its header, its rows streamed, and each cell checked into a value.

A bad cell raises :class:`CellError` with a message key; :class:`SheetRow` collects one
:class:`RowProblem` per bad cell of a row, so a user sees every problem of a file in one run.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from dialogs.errors import InvalidAnswer
from dialogs.parsing import MAX_MONEY, fold, parse_money

__all__ = [
    "CellError",
    "ImportFileError",
    "RowProblem",
    "Sheet",
    "SheetRow",
    "cell_choice",
    "cell_coordinate",
    "cell_date",
    "cell_locale",
    "cell_money",
    "cell_text",
    "cell_zone",
    "read_sheet",
    "template_text",
]

_DATE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ t]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
)
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_ZONES: set[str] = set()


class ImportFileError(Exception):
    """The file as a whole cannot be imported (format, header, encoding): ``key`` and ``params`` say why."""

    def __init__(self, key: str, **params: object) -> None:
        """Name the problem by its message key."""
        self.key = key
        self.params = params
        super().__init__(f"{key} {params}")


@dataclass(frozen=True)
class RowProblem:
    """One bad cell: the sheet row (the header is row 1), the column, and the reason as a message key."""

    row: int
    column: str
    key: str
    params: Mapping[str, object] = field(default_factory=dict)


@dataclass
class Sheet:
    """A file's header and a stream of (row number, cells); ``total`` estimates the data rows."""

    header: list[str]
    rows: Iterator[tuple[int, list[Any]]]
    total: int


# -- reading -------------------------------------------------------------------------------------
def _csv_rows(path: Path) -> Iterator[tuple[int, list[Any]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            next(reader, None)
            yield from enumerate(reader, 2)
        except UnicodeDecodeError as exc:  # text is decoded a block at a time: find the line
            raise ImportFileError("import_not_utf8", file=path, row=_first_bad_line(path)) from exc


def _first_bad_line(path: Path) -> int:
    """The number of the first line of ``path`` that is not UTF-8."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 1


def _xlsx_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, list[Any]]], int]:
    from openpyxl import load_workbook  # imported when an XLSX file is read: it is slow to import

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (OSError, KeyError, ValueError) as exc:
        if isinstance(exc, OSError) and exc.filename is not None:
            raise
        raise ImportFileError("import_bad_xlsx", file=path) from exc
    sheet = book.worksheets[0]
    values = sheet.iter_rows(values_only=True)
    header = [("" if cell is None else str(cell)) for cell in next(values, ())]
    total = max((sheet.max_row or 1) - 1, 0)

    def rows() -> Iterator[tuple[int, list[Any]]]:
        try:
            for number, cells in enumerate(values, 2):
                yield number, list(cells)
        finally:
            book.close()

    return header, rows(), total


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def read_sheet(path: Path) -> Sheet:
    """The rows of a ``.csv`` (UTF-8) or ``.xlsx`` file (its first sheet), streamed."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        header, rows, total = _xlsx_rows(path)
        return Sheet(header, rows, total)
    if suffix != ".csv":
        raise ImportFileError("import_bad_format", file=path)
    with path.open("rb") as handle:
        first = handle.readline()
    try:
        line = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError("import_not_utf8", file=path, row=1) from exc
    header = next(csv.reader(io.StringIO(line)), [])
    return Sheet(header, _csv_rows(path), max(_count_lines(path) - 1, 0))


def template_text(kind: str) -> str:
    """The CSV template of ``kind``: its header and one example row."""
    from importlib.resources import files

    return (files("bot") / "templates" / f"{kind}.csv").read_text(encoding="utf-8")


# -- cells ---------------------------------------------------------------------------------------
class CellError(Exception):
    """A cell that is not a value of its column: ``key`` is the reason's message key."""

    def __init__(self, key: str, **params: object) -> None:
        """Name the reason."""
        self.key = key
        self.params = params


def cell_text(value: Any) -> str:
    """A cell as trimmed text (Excel's whole floats without ``.0``, its dates as ISO days)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value).strip()


def cell_date(value: Any) -> date:
    """A day: an Excel date, ``2026-11-01``, ``2026/11/01``, ``2026.11.01``, ``2026年11月1日`` or ``20261101``."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = fold(cell_text(value))
    match = _DATE.fullmatch(text) or _COMPACT_DATE.fullmatch(text)
    if match is None:
        raise CellError("import_bad_date", value=cell_text(value))
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise CellError("import_bad_date", value=cell_text(value)) from None


def cell_money(value: Any, *, positive: bool) -> Decimal:
    """A yuan amount to the fen (``50000``, ``50,000``, ``5万``, ``¥5,000.50``); more than 0 when ``positive``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = repr(value) if isinstance(value, float) else str(value)
    try:
        amount = parse_money(fold(cell_text(value)), None, MAX_MONEY)
    except InvalidAnswer as exc:
        key = {"answer_money_cents": "import_money_cents", "answer_money_too_large": "import_money_large"}
        raise CellError(
            key.get(exc.key, "import_bad_money"), value=cell_text(value), max="999,999,999,999.99"
        ) from None
    if positive and amount <= 0:
        raise CellError("import_money_zero", value=cell_text(value))
    return amount


def cell_coordinate(value: Any, limit: float, key: str) -> float:
    """A latitude (``limit`` 90) or longitude (180) in decimal degrees (``31.2304``, ``121.4737°``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        text = fold(cell_text(value)).rstrip("°").strip()
        try:
            number = float(text)
        except ValueError:
            raise CellError(key, value=cell_text(value)) from None
    if not math.isfinite(number) or abs(number) > limit:
        raise CellError(key, value=cell_text(value))
    return number


def cell_zone(text: str) -> str:
    """An IANA time zone name (``Asia/Shanghai``)."""
    if not _ZONES:
        _ZONES.update(available_timezones())
    if text not in _ZONES:
        raise CellError("import_bad_timezone", value=text)
    ZoneInfo(text)
    return text


def cell_locale(text: str) -> str:
    """A shipped locale: ``zh-CN`` (also ``zh``, ``中文``) or ``en`` (also ``en-US``)."""
    lowered = text.lower().replace("_", "-")
    if lowered in ("zh", "zh-cn", "zh-hans", "中文"):
        return "zh-CN"
    if lowered in ("en", "en-us", "en-gb", "english"):
        return "en"
    raise CellError("import_bad_locale", value=text)


def cell_choice(text: str, choices: Mapping[str, str], key: str) -> str:
    """The code ``text`` stands for in ``choices`` (any case); else :class:`CellError` with ``key``."""
    found = choices.get(text.lower()) or choices.get(text)
    if found is None:
        raise CellError(key, value=text)
    return found


class SheetRow:
    """One row's cells by column name, collecting a problem per bad cell."""

    def __init__(
        self, number: int, cells: Mapping[str, Any], required: frozenset[str], limits: Mapping[str, int]
    ) -> None:
        """A row's cells by column name; ``limits`` are the columns' longest texts."""
        self.number = number
        self.cells = cells
        self.required = required
        self.limits = limits
        self.problems: list[RowProblem] = []

    def fail(self, column: str, key: str, params: Mapping[str, object] | None = None) -> None:
        """Record a problem of this row."""
        self.problems.append(RowProblem(self.number, column, key, dict(params or {})))

    def text(self, column: str, default: str | None = None) -> str | None:
        """The column's text (``default`` when blank, or when too long: a problem)."""
        value = cell_text(self.cells.get(column))
        if not value:
            if column in self.required:
                self.fail(column, "import_missing")
            return default
        limit = self.limits.get(column)
        if limit and len(value) > limit:
            self.fail(column, "import_too_long", {"max": limit})
            return default
        return value

    def parsed(self, column: str, parse: Callable[[Any], Any], default: Any = None) -> Any:
        """The column read by ``parse`` (``default`` when blank, or when ``parse`` refuses it: a problem)."""
        raw = self.cells.get(column)
        if raw is None or (not isinstance(raw, date | int | float) and not cell_text(raw)):
            if column in self.required:
                self.fail(column, "import_missing")
            return default
        try:
            return parse(raw)
        except CellError as bad:
            self.fail(column, bad.key, bad.params)
            return default
