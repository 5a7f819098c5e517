"""Printing a visit record for people (``visits show``), in their language and zone, the zone named.

User text is never read as rich markup. Times are the viewer's (``zone``); an agreed call-back is
also shown in the borrower's own zone, since that is the time the borrower was promised.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.desk.labels import answered_by_label, channel_label, flag_label, label, outcome_label, severity_label
from bot.desk.timefmt import shown
from dialogs.i18n import message, register

__all__ = ["print_record"]

SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "dim"}

register(
    {
        "show_visit": {"zh-CN": "回访 #{id}", "en": "Visit #{id}"},
        "show_header": {
            "zh-CN": "  {borrower}  客户经理 {officer}  话术 {script} v{version}  渠道 {channel}",
            "en": "  {borrower}  officer {officer}  script {script} v{version}  channel {channel}",
        },
        "show_status": {"zh-CN": "状态 {status}  结果 ", "en": "status {status}  outcome "},
        "show_times": {"zh-CN": "  开始 {started}  结束 {finished}", "en": "  started {started}  finished {finished}"},
        "show_callback": {"zh-CN": "  约定回访 {at}", "en": "  call back {at}"},
        "show_callback_local": {"zh-CN": "（借款人当地 {at}）", "en": " (the borrower's {at})"},
        "show_review": {"zh-CN": "审核：{status}", "en": "review: {status}"},
        "show_remark": {"zh-CN": "备注：{text}", "en": "remark: {text}"},
        "show_answers": {"zh-CN": "回答", "en": "Answers"},
        "show_col_step": {"zh-CN": "步骤", "en": "step"},
        "show_col_question": {"zh-CN": "问题", "en": "question"},
        "show_col_raw": {"zh-CN": "原话", "en": "raw"},
        "show_col_parsed": {"zh-CN": "解析", "en": "parsed"},
        "show_col_by": {"zh-CN": "回答人", "en": "by"},
        "show_col_at": {"zh-CN": "时间（{zone}）", "en": "at ({zone})"},
        "show_skipped": {"zh-CN": "（已跳过）", "en": "(skipped)"},
        "show_flags": {"zh-CN": "风险标记", "en": "Risk flags"},
        "show_flags_none": {"zh-CN": "风险标记：无", "en": "Risk flags: none"},
        "show_col_flag": {"zh-CN": "标记", "en": "flag"},
        "show_col_severity": {"zh-CN": "严重程度", "en": "severity"},
        "show_col_note": {"zh-CN": "说明", "en": "note"},
        "show_transcript": {"zh-CN": "对话记录（{zone}）", "en": "Transcript ({zone})"},
        "show_review_pending": {"zh-CN": "待审核", "en": "pending"},
        "show_review_approved": {"zh-CN": "已通过", "en": "approved"},
        "show_review_returned": {"zh-CN": "已退回", "en": "returned"},
        "show_review_answered": {"zh-CN": "已答复", "en": "answered"},
        "show_status_open": {"zh-CN": "进行中", "en": "open"},
        "show_status_finished": {"zh-CN": "已结束", "en": "finished"},
    }
)


def _line(*parts: tuple[str, str] | str) -> Text:
    """A line of plain pieces and ``(text, style)`` pieces, none of them parsed as markup."""
    line = Text()
    for part in parts:
        if isinstance(part, tuple):
            line.append(*part)
        else:
            line.append(part)
    return line


def _answers(record: dict[str, Any], locale: str, zone: str) -> Table:
    """The answers table: step, question, raw and parsed answer, who answered and when."""
    columns = ("step", "question", "raw", "parsed", "by")
    headers = [message(f"show_col_{c}", locale) for c in columns] + [message("show_col_at", locale, zone=zone)]
    table = Table(*headers, title=message("show_answers", locale))
    for a in record["answers"]:
        parsed = message("show_skipped", locale) if a["skipped"] else f"{a['display']}  [{a['value']!r}]"
        at = shown(a.get("answered_at"), zone, fmt="%m-%d %H:%M", named=False)
        by = answered_by_label(a["answered_by"], locale)
        table.add_row(*(Text(str(cell)) for cell in (a["step"], a["question"], a["raw"], parsed, by, at)))
    return table


def _flags(record: dict[str, Any], locale: str) -> Table:
    """The risk flags table, severities coloured."""
    columns = ("flag", "severity", "step", "note")
    table = Table(*(message(f"show_col_{c}", locale) for c in columns), title=message("show_flags", locale))
    for f in record["flags"]:
        severity = Text(severity_label(f["severity"], locale), style=SEVERITY_STYLE.get(f["severity"], ""))
        table.add_row(Text(flag_label(f["code"], locale)), severity, Text(f["step"] or ""), Text(f["note"] or ""))
    return table


def _callback(record: dict[str, Any], locale: str, zone: str, borrower_zone: str | None) -> str:
    """The agreed call-back in the viewer's zone, and in the borrower's when that differs."""
    at = record.get("callback_at")
    if not at:
        return ""
    text = message("show_callback", locale, at=shown(at, zone))
    if borrower_zone and borrower_zone != zone:
        text += message("show_callback_local", locale, at=shown(at, borrower_zone))
    return text


def print_record(
    out: Console, record: dict[str, Any], *, locale: str = "zh-CN", zone: str, borrower_zone: str | None = None
) -> None:
    """Print a visit record: header, answers, flags, transcript; every time in ``zone``, named."""
    officer = (record.get("officer") or {}).get("name", "-")
    borrower, script = record["borrower"], record["script"]
    header = message(
        "show_header",
        locale,
        borrower=f"{borrower['code']} {borrower['name']}",
        officer=officer,
        script=script["id"],
        version=script["version"],
        channel=channel_label(record.get("channel"), locale),
    )
    out.print(_line((message("show_visit", locale, id=record["id"]), "bold"), header))
    outcome = outcome_label(record["outcome"], locale) if record["outcome"] else "-"
    times = message(
        "show_times", locale, started=shown(record["started_at"], zone), finished=shown(record["finished_at"], zone)
    )
    out.print(
        _line(
            message("show_status", locale, status=label("show_status", record["status"], locale)),
            (outcome, "bold"),
            times,
            _callback(record, locale, zone, borrower_zone),
        )
    )
    if record.get("review_status"):
        out.print(_line(message("show_review", locale, status=label("show_review", record["review_status"], locale))))
    if record.get("remark"):
        out.print(_line(message("show_remark", locale, text=record["remark"])))
    out.print(_answers(record, locale, zone))
    if record["flags"]:
        out.print(_flags(record, locale))
    else:
        out.print(message("show_flags_none", locale), markup=False)
    out.print(_line((message("show_transcript", locale, zone=zone), "bold")))
    for m in record["transcript"]:
        arrow = {"in": "<", "out": ">", "note": "#"}.get(m["direction"], "?")
        out.print(_line(f"  {shown(m['at'], zone, fmt='%H:%M:%S', named=False)} {arrow} {m['text']}"))
