"""Printing a visit record for people (``visits show``)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["print_record"]

SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "dim"}


def print_record(out: Console, record: dict[str, Any]) -> None:
    """Print a visit record: header, answers, flags, transcript."""
    officer = (record.get("officer") or {}).get("name", "-")
    out.print(
        f"[bold]Visit #{record['id']}[/bold]  {record['borrower']['code']} {record['borrower']['name']}  "
        f"officer {officer}  script {record['script']['id']} v{record['script']['version']}"
    )
    out.print(
        f"status {record['status']}  outcome [bold]{record['outcome'] or '-'}[/bold]  "
        f"started {record['started_at']}  finished {record['finished_at'] or '-'}"
        + (f"  call back {record['callback_at']}" if record.get("callback_at") else "")
    )
    if record.get("remark"):
        out.print(f"remark: {record['remark']}", markup=False)
    answers = Table("step", "question", "raw", "parsed", "by", title="Answers")
    for a in record["answers"]:
        parsed = "(skipped)" if a["skipped"] else f"{a['display']}  [{a['value']!r}]"
        answers.add_row(a["step"], a["question"], a["raw"], parsed, a["answered_by"])
    out.print(answers)
    if record["flags"]:
        flags = Table("flag", "severity", "step", "note", title="Risk flags")
        for f in record["flags"]:
            flags.add_row(
                f["code"],
                f"[{SEVERITY_STYLE.get(f['severity'], '')}]{f['severity']}[/]",
                f["step"] or "",
                f["note"],
            )
        out.print(flags)
    else:
        out.print("Risk flags: none")
    out.print("[bold]Transcript[/bold]")
    for m in record["transcript"]:
        arrow = {"in": "<", "out": ">", "note": "#"}.get(m["direction"], "?")
        out.print(f"  {m['at'][11:19]} {arrow} {m['text']}", markup=False)
