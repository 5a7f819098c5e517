"""``visitbot relief [list] [--status] [--json] [--as]`` and ``visitbot relief approve|decline ID --reason --as``.

Hardship requests (展期 / 分期) at the command line. The core (:mod:`bot.desk.relief`) decides who may
see and decide which: without ``--as`` the list is an admin's (everyone's); a decision is made as the
staff member ``--as`` names (their Telegram id), who must be a supervisor of the team or an admin.
A refusal (decided already, no reason, not theirs) says why and exits 2, nothing changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli_base import CommandError, cli_locale, emit_json, out, print_table, run
from dialogs.i18n import message, register

if TYPE_CHECKING:
    from bot.app import Services
    from bot.desk.relief import ReliefDecided, ReliefView
    from storage.models import User

__all__ = ["relief_app"]


def h(key: str) -> str:
    """A help text in the user's language."""
    return message(key, cli_locale())


register(
    {
        "relief_help": {
            "zh-CN": "展期/分期申请：列出待审批和已处理的申请，或以主管身份批准、不批准（须写理由）。",
            "en": "Hardship requests (extension, instalments): list those waiting and decided, or approve or "
            "decline one as a supervisor (with a reason).",
        },
        "relief_help_list": {"zh-CN": "列出申请：待审批的在前。", "en": "List requests, waiting ones first."},
        "relief_help_approve": {"zh-CN": "批准一项申请（须写理由）。", "en": "Approve a request (with a reason)."},
        "relief_help_decline": {"zh-CN": "不批准一项申请（须写理由）。", "en": "Decline a request (with a reason)."},
        "relief_help_id": {
            "zh-CN": "申请编号（visitbot relief 列出）。",
            "en": "The request's id (see visitbot relief).",
        },
        "relief_help_reason": {"zh-CN": "审批理由（必填）。", "en": "The reason for the decision (required)."},
        "relief_help_as": {
            "zh-CN": "以这位员工（Telegram id）的身份：审批须是该团队的主管或管理员；列表只显示其可见的申请。",
            "en": "As this staff member (Telegram id): a decision must be by a supervisor of the team or an admin; "
            "the list shows what they may see.",
        },
        "relief_help_status": {"zh-CN": "只看这种状态：pending、approved、declined。", "en": "Only this status."},
        "relief_help_json": {"zh-CN": "输出机器可读的 JSON。", "en": "Machine-readable output."},
        "relief_bad_status": {
            "zh-CN": "没有“{status}”这种状态：可用 pending、approved、declined。",
            "en": "No status '{status}': use pending, approved or declined.",
        },
        "relief_no_user": {
            "zh-CN": "没有 Telegram id 为 {id} 的员工。",
            "en": "No staff member has the Telegram id {id}.",
        },
        "relief_as_needed": {
            "zh-CN": "请用 --as 写明审批人（主管或管理员的 Telegram id）。",
            "en": "Say who decides with --as (a supervisor's or an admin's Telegram id).",
        },
        "relief_none": {"zh-CN": "没有符合条件的展期/分期申请。", "en": "No hardship requests match."},
        "relief_col_borrower": {"zh-CN": "借款人", "en": "borrower"},
        "relief_col_kind": {"zh-CN": "申请", "en": "asks for"},
        "relief_col_officer": {"zh-CN": "信贷员", "en": "officer"},
        "relief_col_visit": {"zh-CN": "回访", "en": "visit"},
        "relief_col_asked": {"zh-CN": "申请时间（{zone}）", "en": "asked ({zone})"},
        "relief_col_status": {"zh-CN": "状态", "en": "status"},
        "relief_col_decision": {"zh-CN": "审批", "en": "decision"},
        "relief_cli_done": {
            "zh-CN": "申请 #{id} {status}；信贷员{officer}，客户{borrower}。",
            "en": "Request #{id} {status}; the officer {officer}, the borrower {borrower}.",
        },
        "relief_cli_told": {"zh-CN": "会收到通知", "en": "is told"},
        "relief_cli_not_told": {"zh-CN": "无法通知（没有 Telegram）", "en": "cannot be told (no Telegram)"},
    }
)

STATUSES = ("pending", "approved", "declined")

relief_app = typer.Typer(help=h("relief_help"), invoke_without_command=True)

StatusOption = Annotated[str | None, typer.Option("--status", help=h("relief_help_status"))]
JsonOption = Annotated[bool, typer.Option("--json", help=h("relief_help_json"))]
AsOption = Annotated[int | None, typer.Option("--as", help=h("relief_help_as"))]
IdArgument = Annotated[int, typer.Argument(help=h("relief_help_id"), show_default=False)]
ReasonOption = Annotated[str, typer.Option("--reason", help=h("relief_help_reason"), show_default=False)]


async def _viewer(svc: Services, as_user: int | None, locale: str) -> User:
    from bot.desk.access import cli_admin
    from storage import repositories as repo

    if as_user is None:
        return cli_admin()
    async with svc.sessions() as session:
        user = await repo.user_by_telegram_id(session, as_user)
    if user is None or not user.active:
        raise CommandError(message("relief_no_user", locale, id=as_user), code=2)
    return user


def _as_json(view: ReliefView) -> dict[str, object]:
    return {
        "id": view.id, "status": view.status, "kind": view.kind, "terms": view.terms,
        "borrower": {"code": view.borrower_code, "name": view.borrower_name}, "officer": view.officer_name,
        "visit_id": view.visit_id, "requested_at": view.requested_at.isoformat(),
        "decided_at": view.decided_at.isoformat() if view.decided_at else None, "decided_by": view.decided_by,
        "reason": view.reason,
    }  # fmt: skip


def _show(status: str | None, as_json: bool, as_user: int | None) -> None:
    from bot.desk.labels import label
    from bot.desk.relief import ReliefDesk
    from bot.desk.timefmt import shown

    locale = cli_locale()
    if status is not None and status not in STATUSES:
        raise CommandError(message("relief_bad_status", locale, status=status), code=2)

    async def job(svc: Services) -> tuple[list[ReliefView], str]:
        viewer = await _viewer(svc, as_user, locale)
        views = await ReliefDesk(svc.sessions, svc.settings, svc.clock).visible(viewer, status=status)
        return views, svc.settings.timezone

    views, zone = run(job)
    if as_json:
        emit_json([_as_json(view) for view in views])
        return
    columns = ("borrower", "kind", "officer", "visit")
    headers = ["id", *(message(f"relief_col_{c}", locale) for c in columns)]
    headers.append(message("relief_col_asked", locale, zone=zone))
    headers += [message(f"relief_col_{c}", locale) for c in ("status", "decision")]
    rows = [
        (
            v.id,
            f"{v.borrower_code} {v.borrower_name}",
            label("relief_kind", v.kind, locale)
            + (message("relief_terms_of", locale, terms=v.terms) if v.terms else ""),
            v.officer_name,
            f"#{v.visit_id}" if v.visit_id else "-",
            shown(v.requested_at, zone, named=False),
            message(f"relief_status_{v.status}", locale),
            f"{v.decided_by or '-'} {shown(v.decided_at, zone, named=False)}: {v.reason}" if v.decided_at else "-",
        )
        for v in views
    ]
    print_table(headers, rows, empty=message("relief_none", locale))


@relief_app.callback()
def relief(
    ctx: typer.Context, status: StatusOption = None, as_json: JsonOption = False, as_user: AsOption = None
) -> None:
    """Hardship requests; without a command, the list."""
    if ctx.invoked_subcommand is None:
        _show(status, as_json, as_user)


@relief_app.command("list", help=h("relief_help_list"))
def relief_list(status: StatusOption = None, as_json: JsonOption = False, as_user: AsOption = None) -> None:
    """List hardship requests, waiting ones first."""
    _show(status, as_json, as_user)


def _decide(decision: str, request_id: int, reason: str, as_user: int | None, as_json: bool) -> None:
    from bot.desk.relief import ReliefDesk, ReliefRefused

    locale = cli_locale()
    if as_user is None:
        raise CommandError(message("relief_as_needed", locale), code=2)

    async def job(svc: Services) -> ReliefDecided:
        user = await _viewer(svc, as_user, locale)
        try:
            return await ReliefDesk(svc.sessions, svc.settings, svc.clock).decide(
                user, request_id, decision, reason, locale=locale
            )
        except ReliefRefused as refusal:
            raise CommandError(refusal.text, code=2) from refusal

    done = run(job)
    if as_json:
        emit_json({"id": done.request_id, "status": done.status, "officer_told": done.officer_told,
                   "borrower_told": done.borrower_told})  # fmt: skip
        return

    def told(yes: bool) -> str:
        return message("relief_cli_told" if yes else "relief_cli_not_told", locale)

    out.print(
        message(
            "relief_cli_done", locale, id=done.request_id, status=message(f"relief_status_{done.status}", locale),
            officer=told(done.officer_told), borrower=told(done.borrower_told),
        ),
        markup=False,
    )  # fmt: skip


@relief_app.command("approve", help=h("relief_help_approve"))
def relief_approve(
    request_id: IdArgument, reason: ReasonOption, as_user: AsOption = None, as_json: JsonOption = False
) -> None:
    """Approve a hardship request with a reason, as a supervisor."""
    _decide("approve", request_id, reason, as_user, as_json)


@relief_app.command("decline", help=h("relief_help_decline"))
def relief_decline(
    request_id: IdArgument, reason: ReasonOption, as_user: AsOption = None, as_json: JsonOption = False
) -> None:
    """Decline a hardship request with a reason, as a supervisor."""
    _decide("decline", request_id, reason, as_user, as_json)
