"""``visitbot plan``, ``visitbot progress`` and ``visitbot flag``: the monthly visit plan at the command line.

The core (:mod:`bot.desk.planning`) decides who is in the plan and why; these commands parse the
options, ask it, and lay the answer out as rich tables in VISITBOT_LOCALE. Bad input (a month like
``2026-13``, an officer nobody is) is one clear message and exit code 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from bot.app import Services
from bot.cli_base import CommandError, cli_locale, h, out, run
from bot.desk import NotFound, planning
from bot.desk.labels import label
from bot.desk.planning import PLAN_REASONS, PlanInputError, PlanLine, PlanSummary, ProgressRow, note_text
from bot.desk.tasks import find_officer
from dialogs.i18n import message, register
from storage import repositories as repo
from storage.models import User

__all__ = ["flag", "plan", "progress"]

register(
    {
        "plan_help": {
            "zh-CN": "制定或更新某月的回访计划（上月新放款、按风险等级、客户经理标记、随机抽查、逾期提醒）。",
            "en": "Make or update a month's visit plan (new loans, policy by tier, flagged, random sample, overdue).",
        },
        "plan_help_month": {"zh-CN": "月份，YYYY-MM（例如 2026-12）。", "en": "The month, YYYY-MM (like 2026-12)."},
        "plan_help_officer": {
            "zh-CN": "只做/只看这位员工的（Telegram id 或姓名，可重复）。",
            "en": "Only this staff member's (Telegram id or name; repeatable).",
        },
        "plan_help_seed": {
            "zh-CN": "随机抽查的种子：同一个种子抽到同样的借款人。",
            "en": "The random sample's seed: the same seed draws the same borrowers.",
        },
        "plan_help_show": {"zh-CN": "列出计划的每一项。", "en": "List every entry of the plan."},
        "plan_help_progress": {
            "zh-CN": "某月计划的完成情况：每位信贷员、每个原因的计划数与完成数。",
            "en": "A month's plan against what was done: planned and done per officer and reason.",
        },
        "plan_help_flag": {
            "zh-CN": "标记借款人，下次制定计划时列入（写明原因）。",
            "en": "Flag a borrower for the next plan, saying why.",
        },
        "plan_help_code": {"zh-CN": "借款人编号（例如 B003）。", "en": "The borrower's code (like B003)."},
        "plan_help_reason": {"zh-CN": "标记原因。", "en": "Why."},
        "plan_help_as": {
            "zh-CN": "以这位员工（Telegram id）的身份标记：只能标记自己（或团队）的借款人。",
            "en": "Flag as this staff member (Telegram id): only their own (or their team's) borrowers.",
        },
        "plan_no_such_user": {
            "zh-CN": "没有 Telegram id 为 {id} 的员工。",
            "en": "No staff member has the Telegram id {id}.",
        },
        "plan_summary": {
            "zh-CN": "{month} 的回访计划：共 {entries} 项；新增 {added}，更新 {updated}，已完成的保留 {kept_done}，"
            "本月已做过的回访记为完成 {done_now}；机器人发出自助回访邀请 {invites}。",
            "en": "The plan of {month}: {entries} entries; {added} added, {updated} updated, {kept_done} done kept "
            "as they were, {done_now} marked done by visits already made this month; {invites} self-service "
            "invite(s) sent by the bot.",
        },
        "plan_by_reason": {"zh-CN": "按原因：{counts}", "en": "By reason: {counts}"},
        "plan_seed": {
            "zh-CN": "随机抽查的种子：{seed}（用 --seed {seed} 可重现同样的抽查）。",
            "en": "The random sample's seed: {seed} (--seed {seed} draws the same borrowers again).",
        },
        "plan_title": {"zh-CN": "{name} 的 {month} 回访计划", "en": "{name}: the plan of {month}"},
        "plan_empty": {"zh-CN": "{month} 的计划中没有借款人。", "en": "Nobody is in the plan of {month}."},
        "plan_col_code": {"zh-CN": "编号", "en": "code"},
        "plan_col_name": {"zh-CN": "借款人", "en": "borrower"},
        "plan_col_reasons": {"zh-CN": "原因", "en": "reasons"},
        "plan_col_action": {"zh-CN": "方式", "en": "action"},
        "plan_col_note": {"zh-CN": "说明", "en": "note"},
        "plan_col_planned": {"zh-CN": "计划日期", "en": "planned on"},
        "plan_col_due": {"zh-CN": "截止", "en": "due by"},
        "plan_col_done": {"zh-CN": "完成", "en": "done"},
        "plan_done_yes": {"zh-CN": "✓ 已完成", "en": "✓ done"},
        "plan_progress_title": {"zh-CN": "{month} 计划完成情况（完成/计划）", "en": "{month}: done / planned"},
        "plan_col_officer": {"zh-CN": "信贷员", "en": "officer"},
        "plan_col_total": {"zh-CN": "合计", "en": "total"},
        "plan_unassigned": {"zh-CN": "（未分配）", "en": "(nobody's)"},
        "plan_flagged": {
            "zh-CN": "已标记 {code}：{reason}。下次制定计划时会列入。",
            "en": "Flagged {code}: {reason}. The next plan will include them.",
        },
    }
)

OfficerOption = Annotated[list[str] | None, typer.Option("--officer", help=h("plan_help_officer"), metavar="<str>")]


async def _officers(svc: Services, names: Sequence[str] | None, locale: str) -> list[User] | None:
    """The staff ``--officer`` names, or None for everyone; nobody matching is exit 2."""
    if not names:
        return None
    try:
        return [await find_officer(svc.sessions, name, locale=locale) for name in names]
    except NotFound as exc:
        raise CommandError(exc.text, code=2) from exc


def _month(text: str, locale: str) -> str:
    try:
        return planning.parse_month(text)
    except PlanInputError as exc:
        raise CommandError(exc.text(locale), code=2) from exc


def _reasons(codes: Sequence[str], locale: str) -> str:
    return ("、" if locale == "zh-CN" else ", ").join(label("plan_reason", code, locale) for code in codes)


def _summary(summary: PlanSummary, locale: str) -> None:
    out.print(
        message(
            "plan_summary", locale, month=summary.month, entries=summary.entries, added=summary.added,
            updated=summary.updated, kept_done=summary.kept_done, done_now=summary.done_now,
            invites=summary.invites_queued,
        ),
        style="green", markup=False, soft_wrap=True,
    )  # fmt: skip
    sep = "、" if locale == "zh-CN" else ", "
    counts = sep.join(f"{label('plan_reason', code, locale)} {summary.by_reason.get(code, 0)}" for code in PLAN_REASONS)
    out.print(message("plan_by_reason", locale, counts=counts), markup=False, soft_wrap=True)
    out.print(message("plan_seed", locale, seed=summary.seed), style="cyan", markup=False)


def _tables(lines: Sequence[PlanLine], month: str, locale: str) -> None:
    """One table per officer, due first."""
    if not lines:
        out.print(message("plan_empty", locale, month=month), markup=False)
        return
    groups: dict[str, list[PlanLine]] = {}
    for line in lines:
        name = line.officer_name if line.officer_id is not None else message("plan_unassigned", locale)
        groups.setdefault(name, []).append(line)
    columns = ("code", "name", "reasons", "action", "note", "planned", "due", "done")
    for name, group in groups.items():
        table = Table(*(message(f"plan_col_{c}", locale) for c in columns), title=message(
            "plan_title", locale, name=name, month=month))  # fmt: skip
        for line in group:
            note = note_text(line.notes, locale) if line.notes else line.note
            done = message("plan_done_yes", locale) if line.done else "-"
            cells = (line.borrower_code, line.borrower_name, _reasons(line.reasons, locale),
                     label("plan_action", line.action, locale), note, line.planned_on.isoformat(),
                     line.due_on.isoformat(), done)  # fmt: skip
            table.add_row(*(Text(str(cell)) for cell in cells), style="dim" if line.done else None)
        out.print(table)


def plan(
    month: Annotated[str, typer.Argument(help=h("plan_help_month"), show_default=False)],
    officer: OfficerOption = None,
    seed: Annotated[int | None, typer.Option("--seed", help=h("plan_help_seed"))] = None,
    show: Annotated[bool, typer.Option("--show/--no-show", help=h("plan_help_show"))] = True,
) -> None:
    """Make or update a month's visit plan and show it, each officer's entries due first."""
    locale = cli_locale()
    month = _month(month, locale)

    async def job(svc: Services) -> tuple[PlanSummary, list[PlanLine]]:
        staff = await _officers(svc, officer, locale)
        ids = None if staff is None else [user.id for user in staff]
        try:
            summary = await planning.make_plan(svc.sessions, svc.settings, svc.clock, month, officer_ids=ids, seed=seed)
        except PlanInputError as exc:
            raise CommandError(exc.text(locale), code=2) from exc
        lines = await planning.plan_lines(svc.sessions, month) if show else []
        return summary, [line for line in lines if ids is None or line.officer_id in ids]

    summary, lines = run(job)
    _summary(summary, locale)
    if show:
        _tables(lines, month, locale)


def _cell(row: ProgressRow | None) -> str:
    if row is None or not row.planned:
        return "-"
    return f"{row.done}/{row.planned} ({100 * row.done // row.planned}%)"


def progress(
    month: Annotated[str, typer.Argument(help=h("plan_help_month"), show_default=False)],
    officer: OfficerOption = None,
) -> None:
    """Plan vs done of a month: per officer and reason (an entry with two reasons counts in both), and the total."""
    locale = cli_locale()
    month = _month(month, locale)

    async def job(svc: Services) -> tuple[list[ProgressRow], set[int] | None]:
        staff = await _officers(svc, officer, locale)
        return await planning.progress(svc.sessions, month), None if staff is None else {u.id for u in staff}

    rows, only = run(job)
    cells: dict[int | None, dict[str, ProgressRow]] = {}
    names: dict[int | None, str] = {}
    for row in rows:
        if row.officer_id is None and row.reason == "total":
            continue
        if only is None or row.officer_id in only:
            cells.setdefault(row.officer_id, {})[row.reason] = row
            names[row.officer_id] = (
                row.officer_name if row.officer_id is not None else message("plan_unassigned", locale)
            )
    if not cells:
        out.print(message("plan_empty", locale, month=month), markup=False)
        return
    heads = [message("plan_col_officer", locale), *(label("plan_reason", c, locale) for c in PLAN_REASONS)]
    table = Table(*heads, message("plan_col_total", locale), title=message("plan_progress_title", locale, month=month))
    for officer_id, by_reason in cells.items():
        table.add_row(Text(names[officer_id]), *(Text(_cell(by_reason.get(c))) for c in (*PLAN_REASONS, "total")))
    if only is None:
        total = next(row for row in rows if row.officer_id is None and row.reason == "total")
        sums = {c: [0, 0] for c in PLAN_REASONS}
        for by_reason in cells.values():
            for code in PLAN_REASONS:
                if code in by_reason:
                    sums[code][0] += by_reason[code].planned
                    sums[code][1] += by_reason[code].done
        totals = [ProgressRow(None, "", c, p, d) for c, (p, d) in sums.items()]
        table.add_row(
            Text(message("plan_col_total", locale), style="bold"), *(Text(_cell(r)) for r in (*totals, total))
        )
    out.print(table)


def flag(
    code: Annotated[str, typer.Argument(help=h("plan_help_code"), show_default=False)],
    reason: Annotated[str, typer.Argument(help=h("plan_help_reason"), show_default=False)],
    as_user: Annotated[int | None, typer.Option("--as", help=h("plan_help_as"))] = None,
    officer: Annotated[str | None, typer.Option("--officer", help=h("plan_help_officer"))] = None,
) -> None:
    """Flag a borrower for the next plan (客户经理标记), with the reason."""
    locale = cli_locale()

    async def job(svc: Services) -> str:
        user: User | None = None
        if as_user is not None:
            async with svc.sessions() as session:
                user = await repo.user_by_telegram_id(session, as_user)
            if user is None:
                raise CommandError(message("plan_no_such_user", locale, id=as_user), code=2)
        elif officer is not None:
            found = await _officers(svc, [officer], locale)
            user = found[0] if found else None
        try:
            kept = await planning.flag_borrower(
                svc.sessions, svc.clock, user=user, code=code, reason=reason, locale=locale
            )
        except PlanInputError as exc:
            raise CommandError(exc.text(locale), code=2) from exc
        except NotFound as exc:
            raise CommandError(exc.text, code=2) from exc
        return kept.reason

    kept = run(job)
    out.print(message("plan_flagged", locale, code=code.strip().upper(), reason=kept), style="green", markup=False)
