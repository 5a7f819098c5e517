"""``visitbot promises [list] [--status] [--json]`` and ``visitbot promises check``: promises to pay.

``check`` runs what the bot runs periodically (:func:`bot.desk.promises.check_promises`): promises the
imported repayments show kept or broken are decided (a broken one flags its visit and alerts the
supervisors through the outbox), and those due today get their follow-up inside the borrower's
contact window. ``visitbot import repayments`` runs it too, after the file is in.
"""

from __future__ import annotations

from typing import Annotated

import typer

from bot.app import Services
from bot.cli_base import CommandError, cli_locale, emit_json, out, print_table, run
from bot.desk.promises import STATUSES, Checked, PromiseView, check_promises, promise_views
from bot.desk.timefmt import shown
from dialogs.i18n import message, register
from dialogs.parsing import money_text

__all__ = ["checked_lines", "promises_app"]


def h(key: str) -> str:
    """A help text in the user's language."""
    return message(key, cli_locale())


register(
    {
        "promises_help": {
            "zh-CN": "还款承诺：列出承诺及其结果（已履行、未履行、待定），或按还款记录判定并跟进。",
            "en": "Promises to pay: list them and their outcome (kept, broken, pending), or decide and follow them up.",
        },
        "promises_help_list": {"zh-CN": "列出还款承诺，最近的在前。", "en": "List promises to pay, latest first."},
        "promises_help_check": {
            "zh-CN": "按已导入的还款记录判定承诺（未履行的标记风险并提醒主管），并跟进今天到期的承诺。",
            "en": "Decide promises from the imported repayments (a broken one is flagged and its supervisors "
            "alerted) and follow up those due today.",
        },
        "promises_help_status": {"zh-CN": "只看这种状态：pending、kept、broken。", "en": "Only this status."},
        "promises_help_json": {"zh-CN": "输出机器可读的 JSON。", "en": "Machine-readable output."},
        "promises_bad_status": {
            "zh-CN": "没有“{status}”这种状态：可用 pending、kept、broken。",
            "en": "No status '{status}': use pending, kept or broken.",
        },
        "promises_none": {"zh-CN": "没有符合条件的还款承诺。", "en": "No promises to pay match."},
        "promises_col_borrower": {"zh-CN": "借款人", "en": "borrower"},
        "promises_col_date": {"zh-CN": "承诺日期", "en": "promised for"},
        "promises_col_amount": {"zh-CN": "承诺金额", "en": "amount"},
        "promises_col_status": {"zh-CN": "结果", "en": "outcome"},
        "promises_col_paid": {"zh-CN": "期间已还", "en": "paid"},
        "promises_col_visit": {"zh-CN": "回访", "en": "visit"},
        "promises_col_follow_up": {"zh-CN": "跟进（{zone}）", "en": "followed up ({zone})"},
        "promises_checked": {
            "zh-CN": "还款承诺：已履行 {kept} 笔，未履行 {broken} 笔；"
            "今日跟进：自助回访 {invited} 个，信贷员任务 {tasked} 个。",
            "en": "Promises to pay: {kept} kept, {broken} broken; followed up today: {invited} check-in(s), "
            "{tasked} officer task(s).",
        },
    }
)

promises_app = typer.Typer(help=h("promises_help"), invoke_without_command=True)

StatusOption = Annotated[str | None, typer.Option("--status", help=h("promises_help_status"))]
JsonOption = Annotated[bool, typer.Option("--json", help=h("promises_help_json"))]


def checked_lines(checked: Checked, locale: str) -> str:
    """What a check did, in one line."""
    return message(
        "promises_checked", locale, kept=len(checked.kept), broken=len(checked.broken),
        invited=len(checked.invited), tasked=len(checked.tasked),
    )  # fmt: skip


def _status(value: PromiseView, locale: str) -> str:
    said = message(f"promise_status_{value.status}", locale)
    if value.claim != "unverified":
        return said
    claim = message("promise_claimed_unverified", locale)
    return f"{said}（{claim}）" if locale.startswith("zh") else f"{said} ({claim})"


def _show(status: str | None, as_json: bool) -> None:
    locale = cli_locale()
    if status is not None and status not in STATUSES:
        raise CommandError(message("promises_bad_status", locale, status=status), code=2)

    async def job(svc: Services) -> tuple[list[PromiseView], str]:
        return await promise_views(svc.sessions, status=status), svc.settings.timezone

    views, zone = run(job)
    if as_json:
        emit_json([view.as_json() for view in views])
        return
    columns = ("borrower", "date", "amount", "status", "paid", "visit")
    headers = ["id", *(message(f"promises_col_{c}", locale) for c in columns)]
    headers.append(message("promises_col_follow_up", locale, zone=zone))
    rows = [
        (
            v.id,
            f"{v.borrower_code} {v.borrower_name}",
            v.promised_on.isoformat(),
            money_text(v.amount, locale),
            _status(v, locale),
            "-" if v.paid_amount is None else money_text(v.paid_amount, locale),
            f"#{v.visit_id}" if v.visit_id else "-",
            shown(v.followed_up_at, zone, named=False) if v.followed_up_at else "-",
        )
        for v in views
    ]
    print_table(headers, rows, empty=message("promises_none", locale))


@promises_app.callback()
def promises(ctx: typer.Context, status: StatusOption = None, as_json: JsonOption = False) -> None:
    """Promises to pay; without a command, the list."""
    if ctx.invoked_subcommand is None:
        _show(status, as_json)


@promises_app.command("list", help=h("promises_help_list"))
def promises_list(status: StatusOption = None, as_json: JsonOption = False) -> None:
    """List promises to pay, latest first."""
    _show(status, as_json)


@promises_app.command("check", help=h("promises_help_check"))
def promises_check(as_json: JsonOption = False) -> None:
    """Decide promises from the repayments and follow up those due."""
    locale = cli_locale()

    async def job(svc: Services) -> Checked:
        return await check_promises(svc.sessions, svc.settings, clock=svc.clock)

    checked = run(job)
    if as_json:
        emit_json(
            {"kept": checked.kept, "broken": checked.broken, "invited": checked.invited, "tasked": checked.tasked}
        )
        return
    out.print(checked_lines(checked, locale), markup=False)
