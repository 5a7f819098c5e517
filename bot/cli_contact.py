"""``visitbot disputes list|resolve`` and ``visitbot refusals``: the rules of contact at the command line.

The CLI acts as an admin; ``--as <Telegram id>`` acts as that staff member instead (a supervisor sees
their team's, and is named as who resolved a dispute). Officers are refused, as on Telegram.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from bot.app import Services
from bot.cli_admin import viewer_for
from bot.cli_base import cli_locale, emit_json, out, print_table, run
from bot.desk import contact_record as contact
from bot.desk.timefmt import person_zone, shown
from dialogs.i18n import message, register

__all__ = ["disputes_app", "refusals"]


def h(key: str) -> str:
    """A help text in the user's language."""
    return message(key, cli_locale())


register(
    {
        "contact_help_disputes": {
            "zh-CN": "欠款异议：异议未解决前暂停催收联系。",
            "en": "Debt disputes: no collection contact until one is resolved.",
        },
        "contact_help_disputes_list": {
            "zh-CN": "列出未解决的异议（--all 含已解决的）。",
            "en": "List open disputes (--all: resolved ones too).",
        },
        "contact_help_resolve": {
            "zh-CN": "核实后解除借款人的异议（记录谁、何时、为什么），催收联系恢复。",
            "en": "Resolve a borrower's dispute once checked (who, when and why are kept); collection may resume.",
        },
        "contact_help_refusals": {
            "zh-CN": "被联系规则拒绝的联系（时段、次数、不想回访、异议），最新在前。",
            "en": "Contacts the rules refused (hours, limits, opt-out, disputes), newest first.",
        },
        "contact_help_borrower": {"zh-CN": "借款人编号。", "en": "Borrower code."},
        "contact_help_note": {"zh-CN": "核实结果（必填）。", "en": "What was found (required)."},
        "contact_help_all": {"zh-CN": "包括已解决的异议。", "en": "Resolved disputes too."},
        "contact_help_as": {
            "zh-CN": "以这位员工（Telegram id）的身份操作（默认以管理员身份）。",
            "en": "Act as this staff member (Telegram id); default: as an admin.",
        },
        "contact_help_json": {"zh-CN": "输出机器可读的 JSON。", "en": "Machine-readable output."},
        "contact_help_limit": {"zh-CN": "最多显示几条。", "en": "Show at most this many."},
        "contact_cli_resolved": {
            "zh-CN": "已解除借款人 {code} 的 {count} 条异议（{at}）：{note}",
            "en": "Resolved {count} dispute(s) of borrower {code} ({at}): {note}",
        },
        "contact_no_disputes": {"zh-CN": "没有符合条件的异议。", "en": "No disputes match."},
        "contact_no_refusals": {"zh-CN": "没有被拒绝的联系。", "en": "No refused contacts."},
        "contact_col_at": {"zh-CN": "时间（{zone}）", "en": "at ({zone})"},
        "contact_col_borrower": {"zh-CN": "借款人", "en": "borrower"},
        "contact_col_who": {"zh-CN": "信贷员", "en": "officer"},
        "contact_col_rule": {"zh-CN": "规则", "en": "rule"},
        "contact_col_next": {"zh-CN": "下次可联系", "en": "next allowed"},
        "contact_col_note": {"zh-CN": "借款人的说法", "en": "the borrower's words"},
        "contact_col_resolved": {"zh-CN": "解除", "en": "resolved"},
    }
)

disputes_app = typer.Typer(help=h("contact_help_disputes"), no_args_is_help=True)

AsOption = Annotated[int | None, typer.Option("--as", help=h("contact_help_as"))]
JsonOption = Annotated[bool, typer.Option("--json", help=h("contact_help_json"))]


@disputes_app.command("list", help=h("contact_help_disputes_list"))
def disputes_list(
    borrower: Annotated[str | None, typer.Option("--borrower", "-b", help=h("contact_help_borrower"))] = None,
    include_resolved: Annotated[bool, typer.Option("--all", help=h("contact_help_all"))] = False,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """List disputes."""
    locale = cli_locale()

    async def job(svc: Services) -> tuple[str, list[dict[str, Any]]]:
        user, _ = await viewer_for(svc, as_user)
        zone = person_zone(user, svc.settings.timezone)
        async with svc.sessions() as session:
            found = await contact.list_disputes(
                session, user, code=borrower, include_resolved=include_resolved, locale=locale
            )
            rows = [
                {
                    "id": d.id,
                    "borrower": d.borrower.code,
                    "name": d.borrower.name,
                    "visit_id": d.visit_id,
                    "note": d.note,
                    "raised_at": d.raised_at.isoformat(),
                    "resolved_at": d.resolved_at.isoformat() if d.resolved_at else None,
                    "resolved_by": d.resolved_by,
                    "resolution": d.resolution,
                }
                for d in found
            ]
        return zone, rows

    zone, rows = run(job)
    if as_json:
        emit_json(rows)
        return
    columns = ("borrower", "note", "resolved")
    headers = [
        "id",
        message("contact_col_at", locale, zone=zone),
        *(message(f"contact_col_{c}", locale) for c in columns),
    ]
    cells = [
        (
            r["id"],
            shown(r["raised_at"], zone, named=False),
            f"{r['borrower']} {r['name']}",
            r["note"],
            f"{shown(r['resolved_at'], zone, named=False)} {r['resolution']}" if r["resolved_at"] else "-",
        )
        for r in rows
    ]
    print_table(headers, cells, empty=message("contact_no_disputes", locale))


@disputes_app.command("resolve", help=h("contact_help_resolve"))
def disputes_resolve(
    borrower: Annotated[str, typer.Argument(help=h("contact_help_borrower"))],
    note: Annotated[str, typer.Option("--note", help=h("contact_help_note"))],
    as_user: AsOption = None,
) -> None:
    """Resolve a borrower's open disputes."""
    locale = cli_locale()

    async def job(svc: Services) -> tuple[int, str]:
        user, actor = await viewer_for(svc, as_user)
        now = svc.clock.now()
        async with svc.sessions() as session, session.begin():
            done = await contact.resolve_disputes(
                session, borrower, by=user, note=note, now=now, locale=locale, actor=actor
            )
        return len(done), shown(now, person_zone(user, svc.settings.timezone))

    count, at = run(job)
    text = message("contact_cli_resolved", locale, code=borrower.upper(), count=count, at=at, note=note.strip())
    out.print(text, style="green", markup=False, soft_wrap=True)


def refusals(
    borrower: Annotated[str | None, typer.Option("--borrower", "-b", help=h("contact_help_borrower"))] = None,
    limit: Annotated[int, typer.Option("--limit", help=h("contact_help_limit"))] = 50,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """List refused contacts."""
    locale = cli_locale()

    async def job(svc: Services) -> tuple[str, list[contact.RefusalView]]:
        user, _ = await viewer_for(svc, as_user)
        async with svc.sessions() as session:
            found = await contact.list_refusals(session, user, code=borrower, limit=limit, locale=locale)
        return person_zone(user, svc.settings.timezone), [contact.RefusalView.of(row, locale) for row in found]

    zone, views = run(job)
    if as_json:
        emit_json([view.as_json() for view in views])
        return
    columns = ("borrower", "who", "rule", "next")
    headers = [message("contact_col_at", locale, zone=zone), *(message(f"contact_col_{c}", locale) for c in columns)]
    cells = [
        (
            shown(v.at, zone, named=False),
            f"{v.borrower} {v.name}",
            v.who or "-",
            v.rule_label,
            shown(v.next_allowed, v.borrower_zone) if v.next_allowed else "-",
        )
        for v in views
    ]
    print_table(headers, cells, empty=message("contact_no_refusals", locale))
