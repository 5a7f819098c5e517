"""Printing a visit record for people (``visits show``). User text is never read as rich markup."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["print_record"]

SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "dim"}


def _line(*parts: tuple[str, str] | str) -> Text:
    """A line of plain pieces and ``(text, style)`` pieces, none of them parsed as markup."""
    line = Text()
    for part in parts:
        if isinstance(part, tuple):
            line.append(*part)
        else:
            line.append(part)
    return line


def _answers(record: dict[str, Any]) -> Table:
    """The answers table: step, question, raw and parsed answer, who answered."""
    table = Table("step", "question", "raw", "parsed", "by", title="Answers")
    for a in record["answers"]:
        parsed = "(skipped)" if a["skipped"] else f"{a['display']}  [{a['value']!r}]"
        table.add_row(*(Text(str(cell)) for cell in (a["step"], a["question"], a["raw"], parsed, a["answered_by"])))
    return table


def _flags(record: dict[str, Any]) -> Table:
    """The risk flags table, severities coloured."""
    table = Table("flag", "severity", "step", "note", title="Risk flags")
    for f in record["flags"]:
        severity = Text(f["severity"], style=SEVERITY_STYLE.get(f["severity"], ""))
        table.add_row(Text(f["code"]), severity, Text(f["step"] or ""), Text(f["note"]))
    return table


def print_record(out: Console, record: dict[str, Any]) -> None:
    """Print a visit record: header, answers, flags, transcript."""
    officer = (record.get("officer") or {}).get("name", "-")
    borrower, script = record["borrower"], record["script"]
    out.print(
        _line(
            (f"Visit #{record['id']}", "bold"),
            f"  {borrower['code']} {borrower['name']}  officer {officer}  script {script['id']} v{script['version']}",
        )
    )
    out.print(
        _line(
            f"status {record['status']}  outcome ",
            (record["outcome"] or "-", "bold"),
            f"  started {record['started_at']}  finished {record['finished_at'] or '-'}",
            f"  call back {record['callback_at']}" if record.get("callback_at") else "",
        )
    )
    if record.get("remark"):
        out.print(_line(f"remark: {record['remark']}"))
    out.print(_answers(record))
    if record["flags"]:
        out.print(_flags(record))
    else:
        out.print("Risk flags: none")
    out.print(_line(("Transcript", "bold")))
    for m in record["transcript"]:
        arrow = {"in": "<", "out": ">", "note": "#"}.get(m["direction"], "?")
        out.print(_line(f"  {m['at'][11:19]} {arrow} {m['text']}"))
