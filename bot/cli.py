"""The ``visitbot`` command line (typer + rich), in VISITBOT_LOCALE; times in the viewer's zone, named."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from bot import cli_admin, cli_bot, cli_briefing, cli_contact, cli_corrections, cli_plan, cli_share, cli_web
from bot.app import Services
from bot.cli_base import CommandError, VisitbotGroup, cli_locale, emit_json, h, out, run, settings_or_exit
from bot.cli_flags import flags_app
from bot.cli_import import import_command
from bot.cli_promises import promises_app
from bot.cli_relief import relief_app
from bot.cli_scripts import scripts_app
from bot.cli_tasks import tasks as tasks_command
from bot.console import ConsoleVisit, known_locale, stdin_reader
from bot.desk import Actor, NotFound
from bot.desk.labels import channel_label, flag_label, label, outcome_label, reason_label, severity_label
from bot.desk.records import view_record, visit_summary
from bot.desk.timefmt import BadZone, day_start, known_zone, person_zone, shown
from dialogs.i18n import message, register
from storage import repositories as repo
from storage.db import DatabaseUnavailable, create_database, is_sqlite
from storage.demo import link_demo_user, load_demo
from storage.migrate import upgrade

__all__ = ["app"]

app = typer.Typer(
    help=h("cli_help_app"),
    no_args_is_help=True,
    add_completion=False,
    cls=VisitbotGroup,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help=h("cli_help_db"), no_args_is_help=True)
demo_app = typer.Typer(help=h("cli_help_demo"), no_args_is_help=True)
borrowers_app = typer.Typer(help=h("cli_help_borrowers"), no_args_is_help=True)
visits_app = typer.Typer(help=h("cli_help_visits"), no_args_is_help=True)
users_app = typer.Typer(help=h("cli_help_users"), no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(borrowers_app, name="borrowers")
app.add_typer(visits_app, name="visits")
visits_app.command("correct", help=h("cli_help_visits_correct"))(cli_corrections.correct)  # bot/cli_corrections.py
app.add_typer(users_app, name="users")
app.add_typer(scripts_app, name="scripts")
app.add_typer(cli_contact.disputes_app, name="disputes")  # the rules of contact (bot/cli_contact.py)
app.command("refusals", help=cli_contact.h("contact_help_refusals"))(cli_contact.refusals)
app.add_typer(promises_app, name="promises")  # promises to pay (bot/cli_promises.py)
app.add_typer(relief_app, name="relief")  # hardship requests (bot/cli_relief.py)
app.add_typer(flags_app, name="flags")  # flags with their evidence, explained by reviewers (bot/cli_flags.py)

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
        "cli_bad_day": {
            "zh-CN": "{option} 的日期“{value}”不存在，请用 YYYY-MM-DD（例如 2026-02-28）。",
            "en": "{option}: '{value}' is not a date; use YYYY-MM-DD (like 2026-02-28).",
        },
        "cli_days_reversed": {
            "zh-CN": "--until（{until}）早于 --since（{since}）。",
            "en": "--until ({until}) is before --since ({since}).",
        },
    }
)

JSON = Annotated[bool, typer.Option("--json", help=h("cli_help_json"))]


@db_app.command("upgrade", help=h("cli_help_db_upgrade"))
def db_upgrade(revision: Annotated[str, typer.Argument(help=h("cli_help_revision"))] = "head") -> None:
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


@demo_app.command("load", help=h("cli_help_demo_load"))
def demo_load(
    officer_telegram_id: Annotated[int | None, typer.Option(help=h("cli_help_demo_officer"))] = None,
    supervisor_telegram_id: Annotated[int | None, typer.Option(help=h("cli_help_demo_supervisor"))] = None,
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
    locale = cli_locale()
    out.print(message("cli_demo_loaded" if loaded else "cli_demo_exists", locale), style="green", markup=False)
    for telegram_id, name in ((officer_telegram_id, "王磊"), (supervisor_telegram_id, "刘主管")):
        if telegram_id is not None:
            out.print(message("cli_demo_linked", locale, telegram_id=telegram_id, name=name), markup=False)


@borrowers_app.command("list", help=h("cli_help_borrowers_list"))
def borrowers_list(as_json: JSON = False) -> None:
    """Show borrowers: code, name, loan and officer; opted-out ones with their reason and preferred channel."""

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
                        "timezone": b.timezone,
                        "loan": {
                            "contract_no": loan.contract_no,
                            "amount": str(loan.amount),
                            "disbursed_on": loan.disbursed_on.isoformat(),
                            "status": loan.status,
                        }
                        if loan
                        else None,
                        "officer": b.officer.name if b.officer else None,
                        "opted_out_at": b.opted_out_at.isoformat() if b.opted_out_at else None,
                        "opt_out_reason": b.opt_out_reason,
                        "preferred_channel": b.preferred_channel,
                    }
                )
            return rows

    rows = run(job)
    if as_json:
        emit_json(rows)
        return
    locale = cli_locale()
    columns = ("code", "name", "business", "loan", "disbursed", "loan_status", "officer", "risk", "zone", "contact")
    table = Table(*(message(f"cli_col_{c}", locale) for c in columns))
    for r in rows:
        loan = r["loan"] or {}
        table.add_row(
            *_plain(
                r["code"],
                r["name"],
                r["business"] or "",
                loan.get("amount", ""),
                loan.get("disbursed_on", ""),
                label("cli_loan", loan.get("status"), locale) if loan else "",
                r["officer"] or "",
                severity_label(r["risk_tier"], locale),
                r["timezone"],
            ),
            Text(message("cli_opted_out_mark", locale) if r["opted_out_at"] else "", style="yellow"),
        )
    out.print(table)
    for r in rows:  # the reason and channel in full, below the table, so no cell cuts them off
        if r["opted_out_at"]:
            reason, channel = reason_label(r["opt_out_reason"], locale), channel_label(r["preferred_channel"], locale)
            said = message("cli_opted_out", locale, code=r["code"], name=r["name"], reason=reason, channel=channel)
            out.print(Text(said, style="yellow"), soft_wrap=True)


def _plain(*cells: object) -> list[Text]:
    """Table cells shown exactly as stored: user text is never read as rich markup."""
    return [Text(str(cell)) for cell in cells]


@app.command("console", help=h("cli_help_console"))
def console(
    borrower: Annotated[str | None, typer.Option("--borrower", "-b", help=h("cli_help_borrower_code"))] = None,
    script: Annotated[str | None, typer.Option("--script", "-s", help=h("cli_help_script_id"))] = None,
    locale: Annotated[str | None, typer.Option("--locale", help=h("cli_help_locale"))] = None,
) -> None:
    """Run (or resume) a visit in the terminal; works with piped stdin."""
    if locale is not None:
        known_locale(locale)
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
        zone = person_zone(found.officer if found else None, svc.settings.timezone)
        visit = ConsoleVisit(
            svc.desk, code=code, locale=lang, out=out, zone=zone, borrower_zone=found.timezone if found else None
        )
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
        visit.started(resumed=reply.resumed)
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
    out.print(message("cli_pick_borrower", locale), markup=False)
    while True:
        line = read()
        if line is None:
            return None
        text = line.strip()
        if text.isdigit() and 1 <= int(text) <= len(borrowers):
            return borrowers[int(text) - 1].code
        if any(b.code.upper() == text.upper() for b in borrowers):
            return text.upper()
        out.print(message("cli_pick_again", locale), markup=False)


def _day(option: str, value: str | None, locale: str) -> date | None:
    """A ``YYYY-MM-DD`` option as a date; a clear error (exit 2) for one that does not exist."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(message("cli_bad_day", locale, option=option, value=value), code=2) from exc


@visits_app.command("list", help=h("cli_help_visits_list"))
def visits_list(
    borrower: Annotated[str | None, typer.Option("--borrower", "-b", help=h("cli_help_borrower_code"))] = None,
    status: Annotated[str | None, typer.Option(help=h("cli_help_status"))] = None,
    outcome: Annotated[str | None, typer.Option(help=h("cli_help_outcome"))] = None,
    since: Annotated[str | None, typer.Option(help=h("cli_help_since"))] = None,
    until: Annotated[str | None, typer.Option(help=h("cli_help_until"))] = None,
    as_json: JSON = False,
) -> None:
    """List visits, newest first; ``--since``/``--until`` are days of the deployment's zone (as ``export``)."""
    locale = cli_locale()
    first, last = _day("--since", since, locale), _day("--until", until, locale)
    if first and last and last < first:
        raise CommandError(message("cli_days_reversed", locale, since=first, until=last), code=2)

    async def job(svc: Services) -> list[dict[str, Any]]:
        zone = svc.settings.timezone
        async with svc.sessions() as session:
            flt = repo.VisitFilter(
                borrower_code=borrower,
                status=status,
                outcome=outcome,
                since=day_start(first, zone) if first else None,
                until=day_start(last, zone, end=True) if last else None,
            )
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
    zone = settings_or_exit().timezone
    columns = ["id", "borrower", "officer", "script", "status", "outcome", "flags"]
    table = Table(*(message(f"cli_col_{c}", locale) for c in columns), message("cli_col_started", locale, zone=zone))
    for r in rows:
        flags = ", ".join(
            f"{flag_label(f['code'], locale)}({severity_label(f['severity'], locale)})" for f in r["flags"]
        )
        table.add_row(
            *_plain(
                r["id"],
                f"{r['borrower']['code']} {r['borrower']['name']}",
                (r["officer"] or {}).get("name", ""),
                f"{r['script']['id']} v{r['script']['version']}",
                label("cli_status", r["status"], locale),
                outcome_label(r["outcome"], locale) if r["outcome"] else "",
                flags,
                shown(r["started_at"], zone, named=False),
            )
        )
    out.print(table)


@visits_app.command("show", help=h("cli_help_visits_show"))
def visits_show(
    visit_id: Annotated[int, typer.Argument(help=h("cli_help_visit_id"))],
    as_json: JSON = False,
    report: Annotated[bool, typer.Option("--report", help=h("cli_help_report"))] = False,
    as_user: Annotated[int | None, typer.Option("--as", help=h("admin_help_as"))] = None,
) -> None:
    """Show one visit: answers (raw and parsed), risk flags and the full transcript (times in the viewer's zone)."""

    async def job(svc: Services) -> tuple[dict[str, Any], str]:
        viewer, actor = await cli_admin.viewer_for(svc, as_user)  # masking by role, the view audited
        async with svc.sessions() as session, session.begin():
            visit = await repo.load_visit(session, visit_id)
            record = await view_record(session, viewer, visit_id, now=svc.clock.now(), actor=actor) if visit else None
            if visit is None or record is None:
                raise NotFound(message("desk_no_visit", svc.settings.locale, id=visit_id))
            return record, visit.borrower.timezone

    record, borrower_zone = run(job)
    settings = settings_or_exit()
    if report:
        from bot.desk.report import render_report

        folder = Path(settings.scripts_dir) if settings.scripts_dir else None
        out.print(render_report(record, settings.locale, folder=folder, timezone=settings.timezone), markup=False)
        return
    if as_json:
        emit_json(record)
        return
    from bot.show import print_record

    print_record(out, record, locale=settings.locale, zone=settings.timezone, borrower_zone=borrower_zone)


@users_app.command("add", help=h("cli_help_users_add"))
def users_add(
    telegram_id: Annotated[int, typer.Option("--telegram-id", help=h("cli_help_telegram_id"))],
    role: Annotated[str, typer.Option(help=h("cli_help_role"))],
    name: Annotated[str, typer.Option(help=h("cli_help_name"))],
    team: Annotated[str | None, typer.Option(help=h("cli_help_team"))] = None,
    timezone: Annotated[str | None, typer.Option("--timezone", help=h("cli_help_timezone"))] = None,
) -> None:
    """Add a staff member (or update the one with this Telegram id); ``--timezone`` is the zone they see times in."""
    locale = cli_locale()
    if role not in ("officer", "supervisor", "admin"):
        raise CommandError(message("cli_bad_role", locale, role=role), code=2)
    if timezone is not None:
        try:
            known_zone(timezone)
        except BadZone as exc:
            raise CommandError(message("cli_bad_zone", locale, option="--timezone", zone=timezone), code=2) from exc

    async def job(svc: Services) -> tuple[int, str]:
        async with svc.sessions() as session, session.begin():
            user = await repo.upsert_user(
                session, telegram_id=telegram_id, name=name, role=role, team=team, timezone=timezone
            )
            return user.id, _zone_cell(user.timezone, svc.settings.timezone, locale)

    user_id, zone = run(job)
    team_part = f", {team}" if team else ""
    said = message(
        "cli_user_saved",
        locale,
        id=user_id,
        name=name,
        role=label("cli_role", role, locale),
        team=team_part,
        telegram_id=telegram_id,
        zone=zone,
    )
    out.print(said, style="green", markup=False)


def _zone_cell(own: str | None, default: str, locale: str) -> str:
    """A staff member's zone, or the deployment's marked as the default they fall back to."""
    return own or message("cli_zone_default", locale, zone=default)


@users_app.command("list", help=h("cli_help_users_list"))
def users_list() -> None:
    """List staff, with the zone each sees times in."""
    locale = cli_locale()

    async def job(svc: Services) -> list[tuple[str, ...]]:
        async with svc.sessions() as session:
            return [
                (
                    str(u.id),
                    u.name,
                    label("cli_role", u.role, locale),
                    u.team or "",
                    str(u.telegram_id or ""),
                    _zone_cell(u.timezone, svc.settings.timezone, locale),
                    message("cli_yes" if u.active else "cli_no", locale),
                )
                for u in await repo.list_users(session)
            ]

    columns = ("id", "name", "role", "team", "telegram", "zone", "active")
    table = Table(*(message(f"cli_col_{c}", locale) for c in columns))
    for row in run(job):
        table.add_row(*_plain(*row))
    out.print(table)


app.command("invite", help=h("cli_help_invite"))(cli_share.invite)
app.command("bot", help=h("cli_help_bot"))(cli_bot.bot)
app.command("export", help=h("cli_help_export"))(cli_share.export)
app.command("purge", help=h("admin_help_purge"))(cli_admin.purge)
app.command("audit", help=h("admin_help_audit"))(cli_admin.audit)
app.command("import")(import_command)
app.command("tasks", help=h("tasks_help"))(tasks_command)  # an officer's call-backs (bot/cli_tasks.py)
app.command("plan", help=h("plan_help"))(cli_plan.plan)  # the monthly plan (bot/cli_plan.py)
app.command("progress", help=h("plan_help_progress"))(cli_plan.progress)
app.command("flag", help=h("plan_help_flag"))(cli_plan.flag)
app.command("briefing", help=h("briefing_help"))(cli_briefing.briefing)  # the monthly briefing (bot/cli_briefing.py)
app.command("web", help=h("web_help"))(cli_web.web)  # the supervisors' web desk (bot/cli_web.py, bot/web)
app.command("web-link", help=h("web_help_link"))(cli_web.web_link)
