"""``visitbot briefing``: the monthly work briefing (回访工作简报) at the command line.

The core (:mod:`bot.desk.briefing`) computes it for a scope; this command resolves ``--team`` (a
supervisor's name or Telegram id) and ``--as`` (whose eyes: their visibility), prints rich tables in
VISITBOT_LOCALE and, with ``--xlsx``, writes the workbook the core makes. Bad input is exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from bot.app import Services
from bot.cli_base import CommandError, cli_locale, h, out, run, writable
from bot.desk import NotFound
from bot.desk.briefing import Briefing, briefing_scope, make_briefing
from bot.desk.briefing_xlsx import action_detail, action_label, briefing_xlsx, scope_label, step_label
from bot.desk.labels import flag_label, label, outcome_label, severity_label
from bot.desk.planning import PLAN_REASONS, PlanInputError
from bot.desk.tasks import find_officer
from bot.desk.timefmt import shown
from dialogs.i18n import message, register
from storage import repositories as repo
from storage.models import User

__all__ = ["briefing"]

register(
    {
        "briefing_col_total": {"zh-CN": "合计", "en": "total"},
        "briefing_help": {
            "zh-CN": "某月的回访工作简报：计划与完成、回访结果、风险预警及借款人、情况变差的借款人、采取的措施。",
            "en": "A month's visit briefing: plan vs done, outcomes, risk flags and their borrowers, borrowers "
            "worse than at their last visit, actions taken.",
        },
        "briefing_help_month": {"zh-CN": "月份，YYYY-MM（例如 2026-11）。", "en": "The month, YYYY-MM (like 2026-11)."},
        "briefing_help_team": {
            "zh-CN": "只看这位主管的团队（主管姓名或 Telegram id）；不填为全机构。",
            "en": "Only this supervisor's team (their name or Telegram id); the institution when left out.",
        },
        "briefing_help_xlsx": {
            "zh-CN": "同时把简报写入这个 XLSX 文件。",
            "en": "Also write the briefing to this XLSX file.",
        },
        "briefing_help_as": {
            "zh-CN": "以这位员工（Telegram id）的权限查看：主管只能看自己团队，信贷员只能看自己。",
            "en": "See it as this staff member (Telegram id): a supervisor their team only, an officer their own.",
        },
        "briefing_no_user": {
            "zh-CN": "没有 Telegram id 为 {id} 的员工。",
            "en": "No staff member has the Telegram id {id}.",
        },
        "briefing_heading": {
            "zh-CN": "计划 {planned} 项，已完成 {done} 项；本月结束回访 {visits} 次；"
            "风险预警 {flags} 条（{borrowers} 位借款人）；与上次回访比较 {compared} 位，情况变差 {worsened} 位。",
            "en": "{planned} planned, {done} done; {visits} visits ended this month; {flags} risk flag(s) on "
            "{borrowers} borrower(s); {compared} borrower(s) compared with their last visit, {worsened} worse.",
        },
        "briefing_t_officers": {"zh-CN": "分类汇总：信贷员", "en": "Per officer"},
        "briefing_t_reasons": {"zh-CN": "计划完成情况（按原因，完成/计划）", "en": "Plan by reason (done / planned)"},
        "briefing_t_flags": {"zh-CN": "风险预警（按规则）", "en": "Risk flags by rule"},
        "briefing_t_quality": {"zh-CN": "形式化检查（按规则）", "en": "Quality flags (形式化) by rule"},
        "briefing_t_worsened": {"zh-CN": "比上次回访变差的借款人", "en": "Borrowers worse than at their last visit"},
        "briefing_t_actions": {"zh-CN": "采取的措施", "en": "Actions taken"},
        "briefing_none": {"zh-CN": "（无）", "en": "(none)"},
        "briefing_written": {
            "zh-CN": "简报已写入 {path}（{sheets} 个工作表）。",
            "en": "Briefing written to {path} ({sheets} sheets).",
        },
    }
)


async def _resolve(svc: Services, locale: str, as_user: int | None, team: str | None) -> tuple[User | None, int | None]:
    """Who looks (``--as``), and the supervisor whose team is asked for (``--team``), as user ids."""
    viewer: User | None = None
    if as_user is not None:
        async with svc.sessions() as session:
            viewer = await repo.user_by_telegram_id(session, as_user)
        if viewer is None:
            raise CommandError(message("briefing_no_user", locale, id=as_user), code=2)
    if team is None:
        return viewer, None
    try:
        supervisor = await find_officer(svc.sessions, team, locale=locale)
    except NotFound as exc:
        raise CommandError(exc.text, code=2) from exc
    return viewer, supervisor.id


def _officers(b: Briefing, locale: str) -> Table:
    codes = [code for code, n in b.outcomes.items() if n or code == "completed"]
    cols = ("officer", "planned", "done", "rate", "visits")
    table = Table(*(message(f"briefing_col_{c}", locale) for c in cols), title=message("briefing_t_officers", locale))
    for code in codes:
        table.add_column(outcome_label(code, locale), justify="right")
    table.add_column(message("briefing_col_flags", locale), justify="right")
    table.add_column(message("briefing_col_high", locale), justify="right")
    for o in b.officers:
        rate = f"{100 * o.planned_done // o.planned}%" if o.planned else "-"
        cells = [o.officer_name, o.planned, o.planned_done, rate, o.visits, *(o.outcomes.get(c, 0) for c in codes)]
        table.add_row(*(Text(str(cell)) for cell in (*cells, o.flags, o.high_flags)))
    rate = f"{100 * b.planned_done // b.planned}%" if b.planned else "-"
    total = [message("briefing_col_total", locale), b.planned, b.planned_done, rate, b.visits]
    total += [b.outcomes.get(c, 0) for c in codes]
    high = sum(kind.by_severity["high"] for kind in b.flags)
    table.add_row(*(Text(str(cell), style="bold") for cell in (*total, b.flag_count, high)))
    return table


def _reasons(b: Briefing, locale: str) -> Table:
    """Done / planned per officer and reason (an entry with two reasons counts in both), as ``visitbot progress``."""
    heads = [message("briefing_col_officer", locale), *(label("plan_reason", c, locale) for c in PLAN_REASONS)]
    table = Table(*heads, title=message("briefing_t_reasons", locale))
    cells = {(row.officer_id, row.reason): row for row in b.progress}
    for o in b.officers:
        shown_cells = []
        for code in PLAN_REASONS:
            row = cells.get((o.officer_id, code))
            shown_cells.append(f"{row.done}/{row.planned}" if row is not None and row.planned else "-")
        table.add_row(Text(o.officer_name), *(Text(cell) for cell in shown_cells))
    return table


def _flags(b: Briefing, locale: str) -> Table:
    cols = ("flag", "severity", "count", "borrowers", "name")
    table = Table(*(message(f"briefing_col_{c}", locale) for c in cols), title=message("briefing_t_flags", locale))
    sep = "、" if locale.startswith("zh") else ", "
    for kind in b.flags:
        severity = sep.join(f"{severity_label(s, locale)} {n}" for s, n in kind.by_severity.items() if n)
        who = sep.join(dict.fromkeys(f"{hit.borrower_code} {hit.borrower_name}" for hit in kind.hits))
        cells = (flag_label(kind.code, locale), severity, kind.count, kind.borrowers, who)
        table.add_row(*(Text(str(cell)) for cell in cells))
    return table


def _quality(b: Briefing, locale: str) -> Table:
    """Quality flags (形式化) by rule: raised on the month's visits, and how many a reviewer explained."""
    cols = ("flag", "raised", "explained")
    table = Table(*(message(f"briefing_col_{c}", locale) for c in cols), title=message("briefing_t_quality", locale))
    for q in b.quality:
        table.add_row(Text(flag_label(q.code, locale)), Text(str(q.raised)), Text(str(q.explained)))
    return table


def _worsened(b: Briefing, locale: str) -> Table:
    cols = ("code", "name", "officer", "step", "before", "after", "finished")
    table = Table(*(message(f"briefing_col_{c}", locale) for c in cols), title=message("briefing_t_worsened", locale))
    for w in b.worsened:
        for index, change in enumerate(w.changes):
            head = (w.borrower_code, w.borrower_name, w.officer_name) if index == 0 else ("", "", "")
            ended = shown(w.finished_at, b.scope.zone, named=False) if index == 0 else ""
            cells = (*head, step_label(change.step_id, locale), change.before_text, change.after_text, ended)
            table.add_row(*(Text(str(cell)) for cell in cells))
    return table


def _actions(b: Briefing, locale: str) -> Table:
    cols = ("action", "at", "code", "name", "by", "detail")
    table = Table(*(message(f"briefing_col_{c}", locale) for c in cols), title=message("briefing_t_actions", locale))
    for a in b.actions:
        cells = (action_label(a.kind, locale), shown(a.at, b.scope.zone, named=False), a.borrower_code,
                 a.borrower_name, a.by_name, action_detail(a, locale))  # fmt: skip
        table.add_row(*(Text(str(cell)) for cell in cells))
    return table


def briefing(
    month: Annotated[str, typer.Argument(help=h("briefing_help_month"), show_default=False)],
    team: Annotated[str | None, typer.Option("--team", help=h("briefing_help_team"), metavar="<str>")] = None,
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help=h("briefing_help_xlsx"), metavar="FILE")] = None,
    as_user: Annotated[int | None, typer.Option("--as", help=h("briefing_help_as"))] = None,
) -> None:
    """The monthly visit briefing (回访工作简报) of the institution or a team, as tables (and XLSX)."""
    locale = cli_locale()
    target = writable(xlsx) if xlsx is not None else None

    async def job(svc: Services) -> Briefing:
        viewer, team_of = await _resolve(svc, locale, as_user, team)
        try:
            scope = await briefing_scope(
                svc.sessions, month, zone=svc.settings.timezone, viewer=viewer, team_of=team_of, locale=locale
            )
        except PlanInputError as exc:
            raise CommandError(exc.text(locale), code=2) from exc
        except NotFound as exc:
            raise CommandError(exc.text, code=2) from exc
        return await make_briefing(svc.sessions, scope)

    b = run(job)
    out.print(message("briefing_title", locale, month=b.scope.month, scope=scope_label(b.scope, locale)), style="bold")
    out.print(
        message(
            "briefing_heading", locale, planned=b.planned, done=b.planned_done, visits=b.visits, flags=b.flag_count,
            borrowers=b.flagged_borrowers, compared=b.compared, worsened=len(b.worsened),
        ),
        markup=False, soft_wrap=True,
    )  # fmt: skip
    sep = "、" if locale.startswith("zh") else ", "
    out.print(sep.join(f"{outcome_label(c, locale)} {n}" for c, n in b.outcomes.items()), markup=False)
    out.print(message("briefing_zone", locale, zone=b.scope.zone), style="dim", markup=False)
    none = message("briefing_none", locale)
    for title, table, rows in (
        ("briefing_t_officers", _officers, b.officers),
        ("briefing_t_reasons", _reasons, b.progress[:-1]),
        ("briefing_t_flags", _flags, b.flags),
        ("briefing_t_quality", _quality, b.quality),
        ("briefing_t_worsened", _worsened, b.worsened),
        ("briefing_t_actions", _actions, b.actions),
    ):
        if rows:
            out.print(table(b, locale))
        else:
            out.print(f"{message(title, locale)}: {none}", markup=False)
    if target is not None:
        target.write_bytes(briefing_xlsx(b, locale))
        out.print(message("briefing_written", locale, path=target, sheets=5), style="green", markup=False)
