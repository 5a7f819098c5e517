"""The monthly briefing as a workbook: sheets summary, officers, flags, worsened and actions.

Headers and labels are in the reader's language; counts are numbers, times real date-times in the
deployment's zone (named in the summary), visit ids numbers. Text cells are made inert as in
:mod:`bot.desk.export` (a borrower's answer like ``=HYPERLINK(...)`` stays text).
"""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from bot.desk.briefing import ActionItem, Briefing, Change
from bot.desk.briefing_scope import BriefingScope
from bot.desk.briefing_text import MESSAGES
from bot.desk.export import ILLEGAL_CHARACTERS_RE, inert
from bot.desk.labels import flag_label, label, outcome_label, relief_label, severity_label
from bot.desk.planning import PLAN_REASONS
from dialogs.i18n import has_message, message, register

__all__ = ["SHEETS", "action_detail", "action_label", "briefing_xlsx", "scope_label", "sheet_rows", "step_label"]

register(MESSAGES)

SHEETS = ("summary", "officers", "flags", "worsened", "actions")
"""The workbook's sheets, in order (each titled in the reader's language: ``briefing_sheet_<name>``)."""
TIME_FORMAT = "yyyy-mm-dd hh:mm"


def scope_label(scope: BriefingScope, locale: str) -> str:
    """Whose briefing it is, in words."""
    if scope.kind == "team":
        return message("briefing_scope_team", locale, team=scope.team or "-", supervisor=scope.supervisor_name or "-")
    if scope.kind == "officer":
        return message("briefing_scope_officer", locale, officer=scope.officer_name or "-")
    return message("briefing_scope_institution", locale)


def step_label(step: str, locale: str) -> str:
    """A compared step in words (its id when it has no label)."""
    key = f"briefing_step_{step}"
    return message(key, locale) if has_message(key) else step


def action_label(kind: str, locale: str) -> str:
    """An action kind (``review_returned`` …) in words."""
    return message(f"briefing_action_{kind}", locale)


def action_detail(item: ActionItem, locale: str) -> str:
    """An action's detail in words: a relief request's kind in ``locale`` (展期：6个月), other text as it is."""
    return relief_label(item.detail, locale) if item.kind == "relief_requested" else item.detail


def _answer(change: Change, value: Any, text: str) -> Any:
    """A compared answer's cell: the parsed figure of a number step (a real number), else the text shown."""
    if change.kind in ("less", "more") and not isinstance(value, bool):
        try:
            return Decimal(str(value))
        except (InvalidOperation, ValueError):
            return text
    return text


def _heads(locale: str, *names: str) -> list[str]:
    return [message(f"briefing_col_{n}", locale) for n in names]


def _quality(b: Briefing, locale: str) -> list[list[Any]]:
    """The summary's lines of quality flags (形式化): all raised and explained, then by rule."""
    lines: list[list[Any]] = [
        [message("briefing_quality", locale), sum(q.raised for q in b.quality)],
        [message("briefing_quality_explained", locale), sum(q.explained for q in b.quality)],
    ]
    for q in b.quality:
        rule = flag_label(q.code, locale)
        lines.append([message("briefing_quality_rule", locale, rule=rule), q.raised])
        lines.append([message("briefing_quality_rule_explained", locale, rule=rule), q.explained])
    return lines


def sheet_rows(briefing: Briefing, locale: str) -> dict[str, list[list[Any]]]:
    """Each sheet's rows (header first) with typed cells: ints, aware datetimes, text."""
    b = briefing
    m = message
    summary: list[list[Any]] = [
        [m("briefing_item", locale), m("briefing_value", locale)],
        [m("briefing_month", locale), b.scope.month],
        [m("briefing_scope", locale), scope_label(b.scope, locale)],
        [m("briefing_planned", locale), b.planned],
        [m("briefing_planned_done", locale), b.planned_done],
        [m("briefing_visits", locale), b.visits],
        *([m("briefing_outcome", locale, outcome=outcome_label(code, locale)), n] for code, n in b.outcomes.items()),
        [m("briefing_flags", locale), b.flag_count],
        [m("briefing_flagged_borrowers", locale), b.flagged_borrowers],
        [m("briefing_compared", locale), b.compared],
        [m("briefing_worsened", locale), len(b.worsened)],
        *([m("briefing_action", locale, action=action_label(k, locale)), n] for k, n in b.action_counts.items()),
        *_quality(b, locale),
        [m("briefing_zone", locale, zone=b.scope.zone), ""],
    ]
    outcome_codes = list(b.outcomes)
    by_reason = {(row.officer_id, row.reason): row for row in b.progress if row.reason != "total"}
    reason_heads = [
        m(f"briefing_reason_{part}", locale, reason=label("plan_reason", code, locale))
        for code in PLAN_REASONS
        for part in ("planned", "done")
    ]
    officers: list[list[Any]] = [
        [*_heads(locale, "officer", "planned", "done", "visits"), *(outcome_label(c, locale) for c in outcome_codes),
         *_heads(locale, "flags", "high"), *reason_heads],
        *(
            [o.officer_name, o.planned, o.planned_done, o.visits, *(o.outcomes.get(c, 0) for c in outcome_codes),
             o.flags, o.high_flags,
             *(getattr(by_reason[(o.officer_id, code)], part) if (o.officer_id, code) in by_reason else 0
               for code in PLAN_REASONS for part in ("planned", "done"))]
            for o in b.officers
        ),
    ]  # fmt: skip
    flags: list[list[Any]] = [
        _heads(locale, "flag", "rule", "severity", "code", "name", "officer", "visit", "finished", "step", "note")
    ]
    for kind in b.flags:
        for hit in kind.hits:
            flags.append(
                [flag_label(kind.code, locale), kind.code, severity_label(hit.severity, locale), hit.borrower_code,
                 hit.borrower_name, hit.officer_name, hit.visit_id, hit.finished_at, hit.step_id or "", hit.note]
            )  # fmt: skip
    worsened: list[list[Any]] = [
        _heads(locale, "code", "name", "officer", "visit", "finished", "previous_visit", "previous_finished", "step",
               "kind", "before", "after")
    ]  # fmt: skip
    for w in b.worsened:
        for change in w.changes:
            worsened.append(
                [w.borrower_code, w.borrower_name, w.officer_name, w.visit_id, w.finished_at, w.previous_visit_id,
                 w.previous_finished_at, step_label(change.step_id, locale),
                 m(f"briefing_worse_{change.kind}", locale), _answer(change, change.before, change.before_text),
                 _answer(change, change.after, change.after_text)]
            )  # fmt: skip
    actions: list[list[Any]] = [_heads(locale, "action", "at", "code", "name", "officer", "visit", "by", "detail")]
    actions += [
        [action_label(a.kind, locale), a.at, a.borrower_code, a.borrower_name, a.officer_name,
         a.visit_id if a.visit_id is not None else "", a.by_name, action_detail(a, locale)]
        for a in b.actions
    ]  # fmt: skip
    return {"summary": summary, "officers": officers, "flags": flags, "worsened": worsened, "actions": actions}


def _cell(value: Any, zone: ZoneInfo) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(zone).replace(tzinfo=None)
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", inert(value))
    return value


def briefing_xlsx(briefing: Briefing, locale: str) -> bytes:
    """The briefing as an XLSX workbook in ``locale`` (sheets :data:`SHEETS`), times in the scope's zone.

    Written in openpyxl's write-only mode (rows streamed out, no cell objects kept): a month of an
    institution's 16,000 visits is a few seconds, not minutes.
    """
    from openpyxl import Workbook  # loaded when a workbook is written: it is slow to import
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    zone = ZoneInfo(briefing.scope.zone)
    book = Workbook(write_only=True)
    bold = Font(bold=True)
    rows = sheet_rows(briefing, locale)
    for name in SHEETS:
        sheet = book.create_sheet(message(f"briefing_sheet_{name}", locale))
        sheet.freeze_panes = "A2"
        for number, row in enumerate(rows[name]):
            cells = []
            for value in row:
                cell = WriteOnlyCell(sheet, value=_cell(value, zone))
                if number == 0:
                    cell.font = bold
                elif isinstance(value, datetime):
                    cell.number_format = TIME_FORMAT
                cells.append(cell)
            sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
