"""The ``visitbot`` command line (typer + rich)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from bot import cli_admin, cli_bot, cli_contact, cli_share
from bot.app import Services
from bot.cli_base import CommandError, VisitbotGroup, cli_locale, emit_json, out, run, settings_or_exit
from bot.cli_import import import_command
from bot.cli_scripts import scripts_app
from bot.console import ConsoleVisit, stdin_reader
from bot.desk import Actor, NotFound
from bot.desk.records import view_record, visit_summary
from dialogs.i18n import message, register
from storage import repositories as repo
from storage.db import DatabaseUnavailable, create_database, is_sqlite
from storage.demo import link_demo_user, load_demo
from storage.migrate import upgrade

__all__ = ["app"]

app = typer.Typer(
    help="贷后回访助手 — Loan Visit Assistant",
    no_args_is_help=True,
    add_completion=False,
    cls=VisitbotGroup,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
borrowers_app = typer.Typer(help="Borrowers and their loans.", no_args_is_help=True)
visits_app = typer.Typer(help="Recorded visits.", no_args_is_help=True)
users_app = typer.Typer(help="Officers, supervisors and admins.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(borrowers_app, name="borrowers")
app.add_typer(visits_app, name="visits")
app.add_typer(users_app, name="users")
app.add_typer(scripts_app, name="scripts")
app.add_typer(cli_contact.disputes_app, name="disputes")  # the rules of contact (bot/cli_contact.py)
app.command("refusals", help=cli_contact.h("contact_help_refusals"))(cli_contact.refusals)

register(
    {
        "db_created": {"zh-CN": "已创建数据库 {target}。", "en": "Created the database {target}."},
        "db_cannot_create": {
            "zh-CN": "数据库 {target} 不存在，也无法自动创建（{detail}）。"
            "请运行：{hint}，然后再运行 visitbot db upgrade。",
            "en": "The database {target} does not exist and could not be created ({detail}). "
            "Run: {hint}, then visitbot db upgrade again.",
        },
        "db_at": {"zh-CN": "数据库已升级到 {revision}。", "en": "Database at {revision}."},
        "cli_no_borrowers": {
            "zh-CN": "还没有借款人：先运行 visitbot demo load（演示数据）。",
            "en": "No borrowers yet: run visitbot demo load (demo data) first.",
        },
        "cli_bad_role": {
            "zh-CN": "--role 须是 officer、supervisor 或 admin，不是“{role}”。",
            "en": "--role must be officer, supervisor or admin, not '{role}'.",
        },
    }
)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Create or migrate the database schema (Alembic)."""
    settings = settings_or_exit()
    url = settings.database_url
    try:
        upgrade(url, revision)
    except DatabaseUnavailable as exc:
        if exc.kind != "missing" or is_sqlite(url):
            raise
        _create(url, exc)
        upgrade(url, revision)
    out.print(message("db_at", settings.locale, revision=revision), style="green", markup=False)


def _create(url: str, missing: DatabaseUnavailable) -> None:
    """Create the missing PostgreSQL database, or exit saying the exact ``createdb`` command."""
    locale = cli_locale()
    try:
        asyncio.run(create_database(url))
    except DatabaseUnavailable as exc:
        text = message("db_cannot_create", locale, target=exc.target, detail=exc.detail, hint=exc.hint)
        raise CommandError(text) from exc
    out.print(message("db_created", locale, target=missing.target), style="green", markup=False)


@demo_app.command("load")
def demo_load(
    officer_telegram_id: Annotated[
        int | None, typer.Option(help="Your Telegram id: become the demo officer 王磊 (owns B001, B003, ...).")
    ] = None,
    supervisor_telegram_id: Annotated[
        int | None, typer.Option(help="A Telegram id to become the demo supervisor 刘主管.")
    ] = None,
) -> None:
    """Load demo officers, borrowers and loans if the database has no borrowers yet."""

    async def job(svc: Services) -> bool:
        async with svc.sessions() as session, session.begin():
            loaded = await load_demo(session)
            for telegram_id, role in ((officer_telegram_id, "officer"), (supervisor_telegram_id, "supervisor")):
                if telegram_id is not None:
                    await link_demo_user(session, telegram_id, role)
            return loaded

    loaded = run(job)
    out.print("[green]Demo data loaded.[/green]" if loaded else "Borrowers exist already; nothing loaded.")
    for telegram_id, name in ((officer_telegram_id, "王磊"), (supervisor_telegram_id, "刘主管")):
        if telegram_id is not None:
            out.print(f"Telegram user {telegram_id} is now the demo user {name}.", markup=False)


@borrowers_app.command("list")
def borrowers_list(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show borrowers: code, name, loan and officer."""

    async def job(svc: Services) -> list[dict[str, Any]]:
        async with svc.sessions() as session:
            rows = []
            for b in await repo.list_borrowers(session):
                loan = b.loans[-1] if b.loans else None
                rows.append(
                    {
                        "code": b.code,
                        "name": b.name,
                        "business": b.business,
                        "risk_tier": b.risk_tier,
                        "loan": {
                            "contract_no": loan.contract_no,
                            "amount": str(loan.amount),
                            "disbursed_on": loan.disbursed_on.isoformat(),
                            "status": loan.status,
                        }
                        if loan
                        else None,
                        "officer": b.officer.name if b.officer else None,
                    }
                )
            return rows

    rows = run(job)
    if as_json:
        emit_json(rows)
        return
    table = Table("code", "name", "business", "loan", "disbursed", "status", "officer", "risk")
    for r in rows:
        loan = r["loan"] or {}
        table.add_row(
            *_plain(
                r["code"],
                r["name"],
                r["business"] or "",
                loan.get("amount", ""),
                loan.get("disbursed_on", ""),
                loan.get("status", ""),
                r["officer"] or "",
                r["risk_tier"],
            )
        )
    out.print(table)


def _plain(*cells: object) -> list[Text]:
    """Table cells shown exactly as stored: user text is never read as rich markup."""
    return [Text(str(cell)) for cell in cells]


@app.command("console")
def console(
    borrower: Annotated[str | None, typer.Option("--borrower", "-b", help="Borrower code.")] = None,
    script: Annotated[str | None, typer.Option("--script", "-s", help="Script id.")] = None,
    locale: Annotated[str | None, typer.Option("--locale", help="zh-CN or en.")] = None,
) -> None:
    """Run (or resume) a visit in the terminal; works with piped stdin."""
    piped = not sys.stdin.isatty()
    read = stdin_reader(echo=piped)

    async def job(svc: Services) -> str | None:
        lang = locale or svc.settings.locale
        code = borrower or await _pick_borrower(svc, read, lang)
        if code is None:
            return None
        async with svc.sessions() as session:
            found = await repo.borrower_by_code(session, code)
        officer_id = found.officer_id if found else None
        reply = await svc.desk.begin(
            code, actor=Actor("officer", officer_id), officer_id=officer_id, script_id=script, locale=lang
        )
        visit = ConsoleVisit(svc.desk, code=code, locale=lang, out=out)
        engine = svc.catalog.get(reply.turn.state.script_id, reply.turn.state.script_version)
        out.print(
            message(
                "console_header",
                lang,
                visit=reply.visit_id,
                borrower=code,
                script=engine.script.id,
                version=engine.script.version,
            ),
            style="cyan",
            markup=False,
        )
        if reply.resumed:
            out.print(message("console_resumed", lang), style="yellow", markup=False)
        out.print(message("console_help", lang), style="dim", markup=False)
        return await visit.run(reply, officer_id, read)

    run(job)


async def _pick_borrower(svc: Services, read: Callable[[], str | None], locale: str) -> str | None:
    async with svc.sessions() as session:
        borrowers = list(await repo.list_borrowers(session))
    if not borrowers:
        raise CommandError(message("cli_no_borrowers", locale))
    for number, b in enumerate(borrowers, 1):
        out.print(f"  {number}. {b.code} {b.name} · {b.business or ''}", markup=False)
    out.print("请选择借款人（序号或编号）：" if locale == "zh-CN" else "Pick a borrower (number or code):")
    while True:
        line = read()
        if line is None:
            return None
        text = line.strip()
        if text.isdigit() and 1 <= int(text) <= len(borrowers):
            return borrowers[int(text) - 1].code
        if any(b.code.upper() == text.upper() for b in borrowers):
            return text.upper()
        out.print("没有这个借款人，请重新输入。" if locale == "zh-CN" else "No such borrower, try again.")


@visits_app.command("list")
def visits_list(
    borrower: Annotated[str | None, typer.Option("--borrower", "-b")] = None,
    status: Annotated[str | None, typer.Option(help="open or finished")] = None,
    outcome: Annotated[str | None, typer.Option()] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List visits, newest first."""

    async def job(svc: Services) -> list[dict[str, Any]]:
        async with svc.sessions() as session:
            flt = repo.VisitFilter(borrower_code=borrower, status=status, outcome=outcome)
            result = []
            for v in await repo.list_visits(session, flt):
                row = visit_summary(v)
                row["flags"] = [{"code": f.code, "severity": f.severity} for f in await repo.visit_flags(session, v.id)]
                result.append(row)
            return result

    rows = run(job)
    if as_json:
        emit_json(rows)
        return
    table = Table("id", "borrower", "officer", "script", "status", "outcome", "flags", "started")
    for r in rows:
        flags = ", ".join(f"{f['code']}({f['severity']})" for f in r["flags"])
        table.add_row(
            *_plain(
                r["id"],
                f"{r['borrower']['code']} {r['borrower']['name']}",
                (r["officer"] or {}).get("name", ""),
                f"{r['script']['id']} v{r['script']['version']}",
                r["status"],
                r["outcome"] or "",
                flags,
                (r["started_at"] or "")[:16],
            )
        )
    out.print(table)


@visits_app.command("show")
def visits_show(
    visit_id: Annotated[int, typer.Argument(help="Visit id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    report: Annotated[bool, typer.Option("--report", help="Print the visit's risk report (Markdown).")] = False,
    as_user: Annotated[int | None, typer.Option("--as", help=cli_admin.h("admin_help_as"))] = None,
) -> None:
    """Show one visit: answers (raw and parsed), risk flags and the full transcript."""

    async def job(svc: Services) -> dict[str, Any]:
        viewer, actor = await cli_admin.viewer_for(svc, as_user)  # masking by role, the view audited
        async with svc.sessions() as session, session.begin():
            visit = await repo.load_visit(session, visit_id)
            record = await view_record(session, viewer, visit_id, now=svc.clock.now(), actor=actor) if visit else None
            if visit is None or record is None:
                raise NotFound(message("desk_no_visit", svc.settings.locale, id=visit_id))
            return record

    record = run(job)
    if report:
        from bot.desk.report import render_report

        settings = settings_or_exit()
        folder = Path(settings.scripts_dir) if settings.scripts_dir else None
        out.print(render_report(record, settings.locale, folder=folder, timezone=settings.timezone), markup=False)
        return
    if as_json:
        emit_json(record)
        return
    from bot.show import print_record

    print_record(out, record)


@users_app.command("add")
def users_add(
    telegram_id: Annotated[int, typer.Option("--telegram-id", help="The person's Telegram user id.")],
    role: Annotated[str, typer.Option(help="officer, supervisor or admin")],
    name: Annotated[str, typer.Option(help="Display name.")],
    team: Annotated[str | None, typer.Option(help="Team (supervisors see their team's visits).")] = None,
) -> None:
    """Add a staff member (or update the one with this Telegram id)."""
    if role not in ("officer", "supervisor", "admin"):
        raise CommandError(message("cli_bad_role", cli_locale(), role=role), code=2)

    async def job(svc: Services) -> int:
        async with svc.sessions() as session, session.begin():
            user = await repo.upsert_user(session, telegram_id=telegram_id, name=name, role=role, team=team)
            return user.id

    user_id = run(job)
    team_part = f", {team}" if team else ""
    out.print(f"User #{user_id}: {name} ({role}{team_part}), Telegram {telegram_id}.", style="green", markup=False)


@users_app.command("list")
def users_list() -> None:
    """List staff."""

    async def job(svc: Services) -> list[tuple[str, ...]]:
        async with svc.sessions() as session:
            return [
                (
                    str(u.id),
                    u.name,
                    u.role,
                    u.team or "",
                    str(u.telegram_id or ""),
                    "yes" if u.active else "no",
                )
                for u in await repo.list_users(session)
            ]

    table = Table("id", "name", "role", "team", "telegram id", "active")
    for row in run(job):
        table.add_row(*_plain(*row))
    out.print(table)


app.command("invite")(cli_share.invite)
app.command("bot")(cli_bot.bot)
app.command("export")(cli_share.export)
app.command("purge", help=cli_admin.h("admin_help_purge"))(cli_admin.purge)
app.command("audit", help=cli_admin.h("admin_help_audit"))(cli_admin.audit)
app.command("import")(import_command)
