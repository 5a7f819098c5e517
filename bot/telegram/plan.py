"""The month's plan on Telegram: an officer's /plan (due first) and /flag, a supervisor's /progress.

The core (:mod:`bot.desk.planning`) decides who is in the plan, who sees what and what counts as
done; this module only asks it and lays the answer out as a monospace table.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Sequence
from datetime import date
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.app import Services
from bot.desk import NotFound, planning
from bot.desk.choices import script_for_word
from bot.desk.labels import label
from bot.desk.planning import PlanInputError, PlanLine, ProgressRow
from bot.desk.timefmt import person_zone
from bot.telegram.common import Sender, send, services_of, t
from bot.telegram.render import MAX_CALLBACK_BYTES
from dialogs.catalog import ScriptCatalog
from dialogs.i18n import message, register

__all__ = ["flag", "plan", "plan_text", "progress", "progress_text"]

SHOWN = 200
"""Plan rows /plan shows at most (the console's ``visitbot plan`` shows every one)."""
STARTERS = 5
"""Open calls of the plan offered as "start the visit" buttons under it."""
NAME_WIDTH = 8
"""Display columns a borrower's or officer's name gets in a table (a Chinese character takes two)."""

register(
    {
        "cmd_plan": {"zh-CN": "本月回访计划（可加月份）", "en": "This month's visit plan (or a month)"},
        "cmd_flag": {"zh-CN": "标记客户下月回访（编号 原因）", "en": "Flag a borrower for next month (code why)"},
        "cmd_progress": {"zh-CN": "回访计划完成情况", "en": "Plan progress per officer"},
        "plan_tg_header": {
            "zh-CN": "{month} 回访计划：共 {planned} 条，已完成 {done}，未完成 {open}（按截止日期排序）",
            "en": "Visit plan {month}: {planned} planned, {done} done, {open} open (due first)",
        },
        "plan_tg_columns": {
            "zh-CN": "编号|姓名|计划|截止|方式|完成|原因",
            "en": "Code|Name|On|Due|Action|Done|Reasons",
        },
        "plan_tg_more": {
            "zh-CN": "还有 {count} 条未显示；控制台 visitbot plan {month} 显示全部。",
            "en": "{count} more not shown; visitbot plan {month} in the console shows them all.",
        },
        "plan_tg_none": {
            "zh-CN": "{month} 还没有您的回访计划。计划由管理员在控制台生成：visitbot plan {month}",
            "en": "There is no visit plan of yours for {month} yet. An admin makes it in the console: "
            "visitbot plan {month}",
        },
        "plan_tg_start": {"zh-CN": "开始回访 {code}", "en": "Start visit {code}"},
        "plan_tg_progress_header": {
            "zh-CN": "{month} 回访计划完成情况（计划 / 完成 / 完成率）：",
            "en": "Plan progress {month} (planned / done / %):",
        },
        "plan_tg_progress_columns": {
            "zh-CN": "信贷员|原因|计划|完成|完成率",
            "en": "Officer|Reason|Planned|Done|%",
        },
        "plan_tg_total": {"zh-CN": "合计", "en": "Total"},
        "plan_tg_no_officer": {"zh-CN": "（未分配）", "en": "(unassigned)"},
        "plan_tg_no_progress": {
            "zh-CN": "{month} 您能查看的范围内没有回访计划。计划由管理员在控制台生成：visitbot plan {month}",
            "en": "No visit plan for {month} among the officers you oversee. An admin makes it in the console: "
            "visitbot plan {month}",
        },
        "plan_tg_flag_usage": {
            "zh-CN": "用法：/flag 借款人编号 原因，例如：/flag B003 生意变差",
            "en": "Usage: /flag <borrower code> <why>, e.g. /flag B003 business is getting worse",
        },
        "plan_tg_flagged": {
            "zh-CN": "已标记 {code}：{reason}，下月计划会包含该客户",
            "en": "Flagged {code}: {reason}. Next month's plan will include them.",
        },
    }
)


async def plan(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/plan [YYYY-MM]: the officer's month, due first (an admin's: every officer's), with start buttons."""
    assert sender.user is not None
    svc = services_of(context)
    own = None if sender.role == "admin" else sender.user.id
    try:
        month = _month(context.args or [], sender, svc)
        lines = await planning.plan_lines(svc.sessions, month, officer_id=own, viewer=sender.user)
    except PlanInputError as exc:
        await send(context, sender.chat_id, html.escape(exc.text(sender.locale)))
        return
    if not lines:
        await send(context, sender.chat_id, html.escape(t("plan_tg_none", sender, month=month)))
        return
    await send(
        context, sender.chat_id, plan_text(lines, month, sender.locale), _starters(lines, sender, svc.desk.catalog)
    )


async def progress(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/progress [YYYY-MM]: plan vs done per officer and reason (a supervisor: their team's)."""
    assert sender.user is not None
    svc = services_of(context)
    try:
        month = _month(context.args or [], sender, svc)
        rows = await planning.progress(svc.sessions, month, viewer=sender.user)
    except PlanInputError as exc:
        await send(context, sender.chat_id, html.escape(exc.text(sender.locale)))
        return
    if not any(row.planned for row in rows):
        await send(context, sender.chat_id, html.escape(t("plan_tg_no_progress", sender, month=month)))
        return
    await send(context, sender.chat_id, progress_text(rows, month, sender.locale))


async def flag(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/flag <code> <why…>: put a borrower in next month's plan, with the officer's reason."""
    assert sender.user is not None
    args = context.args or []
    if not args:
        await send(context, sender.chat_id, html.escape(t("plan_tg_flag_usage", sender)))
        return
    code, reason = args[0].upper(), " ".join(args[1:]).strip()
    svc = services_of(context)
    try:
        flagged = await planning.flag_borrower(svc.sessions, svc.clock, user=sender.user, code=code, reason=reason)
    except NotFound as exc:
        await send(context, sender.chat_id, html.escape(exc.text))
        return
    except PlanInputError as exc:
        await send(context, sender.chat_id, html.escape(exc.text(sender.locale)))
        return
    text = t("plan_tg_flagged", sender, code=code, reason=flagged.reason)  # as kept: spaces folded, cut at 500
    await send(context, sender.chat_id, html.escape(text))


def plan_text(lines: Sequence[PlanLine], month: str, locale: str) -> str:
    """The plan as HTML: a header with the counts, then a monospace table (notes under their rows)."""
    done = sum(1 for line in lines if line.done)
    header = message("plan_tg_header", locale, month=month, planned=len(lines), done=done, open=len(lines) - done)
    officers = len({line.officer_id for line in lines}) > 1
    if officers:  # an admin's view: each officer's entries together, still due first within
        lines = sorted(lines, key=lambda line: (line.officer_name, line.officer_id or 0))
    rows: list[list[str]] = []
    notes: dict[int, str] = {}
    heads: dict[int, str] = {}
    last_officer: object = object()  # no officer seen yet
    for line in lines[:SHOWN]:
        if officers and line.officer_id != last_officer:
            heads[len(rows)] = f"— {line.officer_name or message('plan_tg_no_officer', locale)} —"
            last_officer = line.officer_id
        reasons = _join(locale, [label("plan_reason", code, locale) for code in line.reasons])
        rows.append(
            [
                line.borrower_code,
                _clip(line.borrower_name),
                _day(line.planned_on),
                _day(line.due_on),
                label("plan_action", line.action, locale),
                "✓" if line.done else "",
                reasons,
            ]
        )
        note = planning.note_text(line.notes, locale) if line.notes else line.note
        if note:
            notes[len(rows) - 1] = f"  ↳ {note}"
    table = _table(message("plan_tg_columns", locale).split("|"), rows, heads=heads, notes=notes)
    text = f"{html.escape(header)}\n<pre>{html.escape(table)}</pre>"
    if len(lines) > SHOWN:
        text += "\n" + html.escape(message("plan_tg_more", locale, count=len(lines) - SHOWN, month=month))
    return text


def progress_text(rows: Sequence[ProgressRow], month: str, locale: str) -> str:
    """Plan vs done as HTML: per officer one row a reason (then the officer's total if the core gives
    one), and the total of everything the viewer may see."""
    total = message("plan_tg_total", locale)
    order = {code: index for index, code in enumerate((*planning.PLAN_REASONS, "total"))}
    grand = [row for row in rows if row.officer_id is None and row.reason == "total"]
    by_officer: dict[int | None, list[ProgressRow]] = {}
    for row in rows:
        if row not in grand:
            by_officer.setdefault(row.officer_id, []).append(row)
    table: list[list[str]] = []
    for group in sorted(by_officer.values(), key=lambda g: (g[0].officer_name, g[0].officer_id or 0)):
        name = _clip(group[0].officer_name or message("plan_tg_no_officer", locale))
        for index, row in enumerate(sorted(group, key=lambda r: order.get(r.reason, len(order)))):
            reason = total if row.reason == "total" else label("plan_reason", row.reason, locale)
            table.append([name if index == 0 else "", reason, *_counts(row)])
    for row in grand:
        table.append([total, "", *_counts(row)])
    columns = message("plan_tg_progress_columns", locale).split("|")
    header = message("plan_tg_progress_header", locale, month=month)
    body = _table(columns, table, right=(2, 3, 4))
    return f"{html.escape(header)}\n<pre>{html.escape(body)}</pre>"


def _counts(row: ProgressRow) -> list[str]:
    share = f"{round(100 * row.done / row.planned)}%" if row.planned else "-"
    return [str(row.planned), str(row.done), share]


def _month(args: Sequence[str], sender: Sender, svc: Services) -> str:
    """The month asked for, else the current month in the sender's zone (a bad one: PlanInputError)."""
    if args:
        return planning.parse_month(args[0])
    zone = ZoneInfo(person_zone(sender.user, svc.settings.timezone))
    return svc.clock.now().astimezone(zone).strftime("%Y-%m")


def _starters(lines: Sequence[PlanLine], sender: Sender, catalog: ScriptCatalog) -> InlineKeyboardMarkup | None:
    """ "Start visit B003" for the first open calls of the plan: the pick list's ``v:<code>:<script>``
    buttons with the entry's script (an overdue reminder for an overdue loan), else ``v:<code>``."""
    buttons: list[list[InlineKeyboardButton]] = []
    for line in lines:
        if line.done or line.action != "call" or len(buttons) >= STARTERS:
            continue
        data = f"v:{line.borrower_code}:{line.script_id}"
        if script_for_word(catalog, line.script_id) is None or len(data.encode()) > MAX_CALLBACK_BYTES:
            data = f"v:{line.borrower_code}"
        text = t("plan_tg_start", sender, code=line.borrower_code)
        buttons.append([InlineKeyboardButton(text, callback_data=data)])
    return InlineKeyboardMarkup(buttons) if buttons else None


def _table(
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Sequence[int] = (),
    heads: dict[int, str] | None = None,
    notes: dict[int, str] | None = None,
) -> str:
    """Rows padded to the widest cell of each column (by display width); the last column is not padded."""
    widths = [max(_width(cell) for cell in column) for column in zip(columns, *rows, strict=True)]

    def laid(cells: Sequence[str]) -> str:
        out = []
        for index, cell in enumerate(cells):
            pad = " " * (widths[index] - _width(cell))
            last = index == len(cells) - 1
            out.append(pad + cell if index in right else cell + ("" if last else pad))
        return " ".join(out).rstrip()

    text = [laid(columns)]
    for index, row in enumerate(rows):
        if heads and index in heads:
            text.append(heads[index])
        text.append(laid(row))
        if notes and index in notes:
            text.append(notes[index])
    return "\n".join(text)


def _width(text: str) -> int:
    """Columns ``text`` takes in a monospace font: wide (Chinese) characters two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _clip(name: str) -> str:
    """A name cut to :data:`NAME_WIDTH` columns (with an ellipsis when cut)."""
    if _width(name) <= NAME_WIDTH:
        return name
    cut = ""
    for char in name:
        if _width(cut + char) > NAME_WIDTH - 1:
            break
        cut += char
    return cut + "…"


def _day(day: date) -> str:
    return f"{day:%m-%d}"


def _join(locale: str, parts: Sequence[str]) -> str:
    return ("、" if locale.startswith("zh") else ", ").join(parts)
