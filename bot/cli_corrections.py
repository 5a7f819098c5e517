"""``visitbot visits correct``: a finished visit's answer changed after the fact, with a reason.

A translator: who may, the parsing, the history, the flags and the audit entry are
:mod:`bot.desk.corrections`'s."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.app import Services
from bot.cli_admin import viewer_for
from bot.cli_base import CommandError, cli_locale, h, out, run
from dialogs.i18n import register

__all__ = ["correct"]

register(
    {
        "cli_help_visits_correct": {
            "zh-CN": "更正已结束回访的一个回答（须写明原因；旧值、新值、更正人和原因都会保留）。",
            "en": "Correct one answer of a finished visit (with a reason; the old and new value, who and why "
            "are kept).",
        },
        "cli_help_correct_step": {
            "zh-CN": "要更正的问题（步骤编号，见 visits show --json 的 answers[].step）",
            "en": "The question to correct (its step id: answers[].step in visits show --json)",
        },
        "cli_help_correct_value": {
            "zh-CN": "新的回答，按回访时的写法（选项文字或序号、5万、2026-12-01 …）",
            "en": "The new answer, typed as during the visit (an option's label or number, 5万, 2026-12-01, …)",
        },
        "cli_help_correct_reason": {"zh-CN": "更正原因（必填）", "en": "Why it is corrected (required)"},
        "cli_help_correct_as": {
            "zh-CN": "以这个 Telegram 编号的员工身份更正（默认：命令行管理员）",
            "en": "Correct as the staff member with this Telegram id (default: the command-line admin)",
        },
    }
)


def correct(
    visit_id: Annotated[int, typer.Argument(help=h("cli_help_visit_id"))],
    step: Annotated[str, typer.Argument(help=h("cli_help_correct_step"))],
    value: Annotated[str, typer.Argument(help=h("cli_help_correct_value"))],
    reason: Annotated[str, typer.Option("--reason", help=h("cli_help_correct_reason"))],
    as_user: Annotated[int | None, typer.Option("--as", help=h("cli_help_correct_as"))] = None,
) -> None:
    """Correct a finished visit's answer; refused (exit 1, nothing changed) with the reason why."""
    locale = cli_locale()

    async def job(svc: Services) -> list[str]:
        from bot.desk.corrections import CorrectionDesk, CorrectionRefused

        user, actor = await viewer_for(svc, as_user)
        try:
            done = await CorrectionDesk(svc.desk).correct(
                visit_id, step, value, reason=reason, user=user, actor=actor, locale=locale
            )
        except CorrectionRefused as refused:
            raise CommandError(refused.text) from refused
        return done.lines(locale)

    for line in run(job):
        out.print(line, markup=False)
