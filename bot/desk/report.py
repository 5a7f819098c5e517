"""Risk reports (撰写风险报告): a short Markdown report per finished visit, from a Jinja2 template.

The template is ``reports/<script_id>.md.j2`` when it exists, else ``reports/default.md.j2``,
looked up in the scripts folder first and then among the shipped templates; script templates
usually extend the default and fill its ``key_answers`` block. Templates render in the shared sandboxed environment of
:mod:`dialogs.templating` (StrictUndefined, ``money``/``date`` filters), given a loader.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import FileSystemLoader
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot.desk.labels import answered_by_label, channel_label, flag_label, outcome_label, severity_label
from bot.desk.timefmt import shown
from dialogs.catalog import default_scripts_dir
from dialogs.i18n import message, register
from dialogs.templating import environment

__all__ = ["REPORTS_DIR", "render_report", "report_template"]

REPORTS_DIR = "reports"
DEFAULT_TEMPLATE = "default.md.j2"

register({"report_outcome_none": {"zh-CN": "未结束", "en": "not finished"}})
"""A report's outcome while the visit goes on (an ended one's is its outcome label, as everywhere)."""


def _search_path(folder: Path | None) -> list[Path]:
    """Where templates are looked up: the scripts folder's ``reports/``, then the shipped one."""
    shipped = default_scripts_dir() / REPORTS_DIR
    own = (folder / REPORTS_DIR) if folder is not None else shipped
    return [own] if own == shipped else [own, shipped]


@lru_cache(maxsize=8)
def _environment(folders: tuple[str, ...]) -> ImmutableSandboxedEnvironment:
    """The shared environment with a loader for some report folders (made once per search path)."""
    overlay = environment().overlay(
        loader=FileSystemLoader(list(folders)), auto_reload=True, trim_blocks=True, lstrip_blocks=True
    )
    assert isinstance(overlay, ImmutableSandboxedEnvironment)
    return overlay


def _names(script_id: str) -> list[str]:
    """Template names to try, most specific first."""
    return [f"{script_id}.md.j2", DEFAULT_TEMPLATE]


def report_template(script_id: str, folder: Path | None = None) -> Path:
    """The template file a script's reports use (its own, else the default; the folder's, else shipped)."""
    for name in _names(script_id):
        for reports in _search_path(folder):
            if (reports / name).is_file():
                return reports / name
    return default_scripts_dir() / REPORTS_DIR / DEFAULT_TEMPLATE


def _local(value: str | None, zone: ZoneInfo) -> datetime | None:
    """An ISO timestamp in the report's time zone."""
    return datetime.fromisoformat(value).astimezone(zone) if value else None


def _context(record: dict[str, Any], locale: str, zone: ZoneInfo) -> dict[str, Any]:
    """What a report template sees (documented in ``reports/default.md.j2``)."""
    answers = {a["step"]: a for a in record.get("answers", [])}
    outcome = record.get("outcome")
    flags = [
        {
            **f,
            "severity_label": severity_label(f["severity"], locale),
            "label": flag_label(f["code"], locale),
        }
        for f in record.get("flags", [])
    ]
    order = {"high": 0, "medium": 1, "low": 2}
    flags.sort(key=lambda f: order.get(f["severity"], 3))
    return {
        "visit": record,
        "locale": locale,
        "zh": locale == "zh-CN",
        "answers": answers,
        "answer_list": list(record.get("answers", [])),
        "flags": flags,
        "high_flags": [f for f in flags if f["severity"] == "high"],
        "outcome_label": outcome_label(outcome, locale) if outcome else message("report_outcome_none", locale),
        "started": _local(record.get("started_at"), zone),
        "finished": _local(record.get("finished_at"), zone),
        "callback": _local(record.get("callback_at"), zone),
        "remark": record.get("remark") or "",
        "channel_label": channel_label(record.get("channel"), locale),
        "answered_by": {a["step"]: answered_by_label(a.get("answered_by"), locale) for a in record.get("answers", [])},
        **_alerts(record, zone),
    }


def _alerts(record: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """What became of the visit's risk alerts (from the outbox): whom they reached and when, or not yet."""
    alerts = record.get("alerts") or []
    first_sent: dict[str, str] = {}  # one line per person: when their first alert reached them
    for a in sorted((a for a in alerts if a.get("status") == "sent"), key=lambda a: str(a["sent_at"])):
        first_sent.setdefault(a["recipient"], a["sent_at"])
    failed = [a["recipient"] for a in alerts if a.get("status") == "failed" and a["recipient"] not in first_sent]
    return {
        "alerts_sent": [{"recipient": who, "at": shown(at, zone.key)} for who, at in first_sent.items()],
        "alerts_pending": sum(a.get("status") == "pending" for a in alerts),
        "alerts_failed": list(dict.fromkeys(failed)),
    }


def render_report(
    record: dict[str, Any], locale: str, *, folder: Path | None = None, timezone: str = "Asia/Shanghai"
) -> str:
    """The risk report of a visit record (from :func:`bot.desk.records.visit_record`) in ``locale``."""
    env = _environment(tuple(str(p) for p in _search_path(folder)))
    template = env.select_template(_names(record["script"]["id"]))
    text = template.render(_context(record, locale, ZoneInfo(timezone)))
    lines: list[str] = []
    for line in (raw.rstrip() for raw in text.strip().splitlines()):
        if line or (lines and lines[-1]):
            lines.append(line)  # at most one blank line in a row
    return "\n".join(lines) + "\n"
