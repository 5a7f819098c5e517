"""``visitbot flags [--visit ID] [--kind KIND] [--open] [--json] [--as]`` and
``visitbot flags explain FLAG_ID --reason ... --as TELEGRAM_ID``.

Risk flags at the command line, every kind (形式化 quality, cross-visit history, promise, answer), with the
lines of their evidence. The core (:mod:`bot.desk.flag_review`) decides who sees and who may explain:
without ``--as`` the list is an admin's (everyone's); an explanation is made as the staff member ``--as``
names, who must be the visit's team's supervisor or an admin. A refusal says why and exits 2, nothing changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli_base import CommandError, cli_locale, emit_json, out, print_table, run
from dialogs.i18n import message, register

if TYPE_CHECKING:
    from bot.app import Services
    from bot.desk.flag_review import ReviewedFlag
    from storage.models import User

__all__ = ["flags_app"]


def h(key: str) -> str:
    """A help text in the user's language."""
    return message(key, cli_locale())


register(
    {
        "flags_help": {
            "zh-CN": "风险预警（含形式化检查、跨次回访、还款承诺）：列出并查看依据，或以主管身份说明（须写原因）。",
            "en": "Risk flags (quality 形式化, cross-visit, promise, answer): list them with their evidence, or "
            "explain one as a supervisor (with a reason).",
        },
        "flags_help_list": {"zh-CN": "列出预警及其依据。", "en": "List flags with their evidence."},
        "flags_help_explain": {
            "zh-CN": "说明一条预警（须写原因）：不再计入审核排序，记入审计日志。",
            "en": "Explain a flag (with a reason): it no longer counts in the review queue; kept in the audit log.",
        },
        "flags_help_visit": {"zh-CN": "只看这次回访的预警。", "en": "Only this visit's flags."},
        "flags_help_kind": {
            "zh-CN": "只看这一类：quality（形式化）、history（跨次回访）、promise、answer。",
            "en": "Only this kind: quality (形式化), history (cross-visit), promise, answer.",
        },
        "flags_help_open": {"zh-CN": "只看尚未说明的。", "en": "Only those nobody explained yet."},
        "flags_help_json": {"zh-CN": "输出机器可读的 JSON。", "en": "Machine-readable output."},
        "flags_help_as": {
            "zh-CN": "以这位员工（Telegram id）的身份：说明须是该团队的主管或管理员；列表只显示其可见的预警。",
            "en": "As this staff member (Telegram id): an explanation must be by the team's supervisor or an "
            "admin; the list shows what they may see.",
        },
        "flags_help_id": {"zh-CN": "预警编号（visitbot flags 列出）。", "en": "The flag's id (see visitbot flags)."},
        "flags_help_reason": {"zh-CN": "说明原因（必填）。", "en": "Why the flag is explained (required)."},
        "flags_bad_kind": {
            "zh-CN": "没有“{kind}”这类预警：可用 quality、history、promise、answer。",
            "en": "No flag kind '{kind}': use quality, history, promise or answer.",
        },
        "flags_no_user": {
            "zh-CN": "没有 Telegram id 为 {id} 的员工。",
            "en": "No staff member has the Telegram id {id}.",
        },
        "flags_as_needed": {
            "zh-CN": "请用 --as 写明由谁说明（主管或管理员的 Telegram id）。",
            "en": "Say who explains with --as (a supervisor's or an admin's Telegram id).",
        },
        "flags_none": {"zh-CN": "没有符合条件的预警。", "en": "No flags match."},
        "flags_col_visit": {"zh-CN": "回访", "en": "visit"},
        "flags_col_borrower": {"zh-CN": "借款人", "en": "borrower"},
        "flags_col_kind": {"zh-CN": "类别", "en": "kind"},
        "flags_col_rule": {"zh-CN": "预警", "en": "flag"},
        "flags_col_severity": {"zh-CN": "风险", "en": "severity"},
        "flags_col_evidence": {"zh-CN": "依据", "en": "evidence"},
        "flags_col_explained": {"zh-CN": "说明", "en": "explained"},
    }
)

flags_app = typer.Typer(help=h("flags_help"), invoke_without_command=True)

VisitOption = Annotated[int | None, typer.Option("--visit", help=h("flags_help_visit"))]
KindOption = Annotated[str | None, typer.Option("--kind", help=h("flags_help_kind"))]
OpenOption = Annotated[bool, typer.Option("--open", help=h("flags_help_open"))]
JsonOption = Annotated[bool, typer.Option("--json", help=h("flags_help_json"))]
AsOption = Annotated[int | None, typer.Option("--as", help=h("flags_help_as"))]
IdArgument = Annotated[int, typer.Argument(help=h("flags_help_id"), show_default=False)]
ReasonOption = Annotated[str, typer.Option("--reason", help=h("flags_help_reason"), show_default=False)]


async def _viewer(svc: Services, as_user: int | None, locale: str) -> User:
    from bot.desk.access import cli_admin
    from storage import repositories as repo

    if as_user is None:
        return cli_admin()
    async with svc.sessions() as session:
        user = await repo.user_by_telegram_id(session, as_user)
    if user is None:
        raise CommandError(message("flags_no_user", locale, id=as_user), code=2)
    return user


def _as_json(f: ReviewedFlag, locale: str) -> dict[str, object]:
    from bot.desk.flag_review import evidence_text, linked_visits

    return {
        "id": f.id, "visit_id": f.visit_id, "kind": f.kind, "code": f.code, "severity": f.severity, "step": f.step,
        "note": f.note, "raised_at": f.raised_at.isoformat(), "borrower": f.borrower, "officer": f.officer,
        "evidence": f.evidence, "evidence_lines": evidence_text(f.kind, f.code, f.evidence, locale),
        "visits": linked_visits(f.evidence, own=f.visit_id),
        "explained": (
            {"at": f.explained_at.isoformat(), "by": f.explained_by, "reason": f.explanation}
            if f.explained_at is not None else None
        ),
    }  # fmt: skip


def _show(visit: int | None, kind: str | None, open_only: bool, as_json: bool, as_user: int | None) -> None:
    from bot.desk.flag_review import FLAG_KINDS, evidence_text, flags_of, kind_label
    from bot.desk.labels import flag_label, severity_label
    from bot.desk.timefmt import shown

    locale = cli_locale()
    if kind is not None and kind not in FLAG_KINDS:
        raise CommandError(message("flags_bad_kind", locale, kind=kind), code=2)

    async def job(svc: Services) -> tuple[list[ReviewedFlag], str]:
        viewer = await _viewer(svc, as_user, locale)
        found = await flags_of(svc.sessions, viewer, visit_id=visit, kind=kind, open_only=open_only)
        return found, svc.settings.timezone

    found, zone = run(job)
    if as_json:
        emit_json([_as_json(f, locale) for f in found])
        return
    columns = ("visit", "borrower", "kind", "rule", "severity", "evidence", "explained")
    headers = ["id", *(message(f"flags_col_{c}", locale) for c in columns)]
    rows = [
        (
            f.id,
            f"#{f.visit_id}",
            f.borrower,
            kind_label(f.kind, locale),
            flag_label(f.code, locale),
            severity_label(f.severity, locale),
            "\n".join(evidence_text(f.kind, f.code, f.evidence, locale)) or f.note or "-",
            f"{f.explained_by} {shown(f.explained_at, zone, named=False)}: {f.explanation}" if f.explained_at else "-",
        )
        for f in found
    ]
    print_table(headers, rows, empty=message("flags_none", locale))


@flags_app.callback()
def flags(
    ctx: typer.Context,
    visit: VisitOption = None,
    kind: KindOption = None,
    open_only: OpenOption = False,
    as_json: JsonOption = False,
    as_user: AsOption = None,
) -> None:
    """Risk flags with their evidence; without a command, the list."""
    if ctx.invoked_subcommand is None:
        _show(visit, kind, open_only, as_json, as_user)


@flags_app.command("list", help=h("flags_help_list"))
def flags_list(
    visit: VisitOption = None,
    kind: KindOption = None,
    open_only: OpenOption = False,
    as_json: JsonOption = False,
    as_user: AsOption = None,
) -> None:
    """List risk flags with their evidence."""
    _show(visit, kind, open_only, as_json, as_user)


@flags_app.command("explain", help=h("flags_help_explain"))
def flags_explain(
    flag_id: IdArgument, reason: ReasonOption, as_user: AsOption = None, as_json: JsonOption = False
) -> None:
    """Explain a flag with a reason, as a supervisor or an admin."""
    from bot.desk.flag_review import FlagRefused, explain_flag

    locale = cli_locale()
    if as_user is None:
        raise CommandError(message("flags_as_needed", locale), code=2)

    async def job(svc: Services) -> ReviewedFlag:
        user = await _viewer(svc, as_user, locale)
        try:
            return await explain_flag(
                svc.sessions, user, flag_id, reason, now=svc.clock.now(), locale=locale, zone=svc.settings.timezone
            )
        except FlagRefused as refusal:
            raise CommandError(refusal.text, code=2) from refusal

    done = run(job)
    if as_json:
        emit_json(_as_json(done, locale))
        return
    from bot.desk.flag_review import explained_text

    out.print(explained_text(done, locale), markup=False)
