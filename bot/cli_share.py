"""``visitbot invite`` and ``visitbot export``: what leaves the system (links and files)."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer

from bot.app import Services
from bot.cli_admin import viewer_for
from bot.cli_base import CommandError, cli_locale, h, out, run, writable
from bot.desk.export import day_start, export_visits
from bot.desk.timefmt import person_zone
from bot.settings import Settings
from dialogs.i18n import message, register
from storage import repositories as repo
from storage.self_service import create_invite

__all__ = ["bot_username", "deep_link", "export", "invite"]

register(
    {
        "export_bad_day": {
            "zh-CN": "{option} 的日期“{value}”不存在，请用 YYYY-MM-DD（例如 2026-02-28）。",
            "en": "{option}: '{value}' is not a date; use YYYY-MM-DD (like 2026-02-28).",
        },
        "export_days_reversed": {
            "zh-CN": "--until（{until}）早于 --since（{since}）。",
            "en": "--until ({until}) is before --since ({since}).",
        },
        "export_bad_kind": {
            "zh-CN": "--output 须以 .xlsx 或 .csv 结尾：{file}",
            "en": "--output must end in .xlsx or .csv: {file}",
        },
        "export_written": {"zh-CN": "已写入 {count} 条回访：{file}", "en": "{count} visit(s) written to {file}."},
        "invite_no_username": {
            "zh-CN": "请设置 VISITBOT_BOT_USERNAME 或 VISITBOT_TELEGRAM_TOKEN，才能生成邀请链接。",
            "en": "Set VISITBOT_BOT_USERNAME or VISITBOT_TELEGRAM_TOKEN to build invite links.",
        },
        "share_help_script": {"zh-CN": "自助回访话术。", "en": "Self-service script."},
        "share_help_days": {"zh-CN": "链接有效天数。", "en": "Days the link stays valid."},
        "share_help_output": {"zh-CN": "写入的文件（.xlsx 或 .csv）。", "en": "File to write (.xlsx or .csv)."},
        "share_help_officer": {"zh-CN": "客户经理的用户编号。", "en": "Officer's user id."},
        "share_help_risk": {
            "zh-CN": "high/medium/low（及更高），或风险标记代码。",
            "en": "high/medium/low (or worse), or a flag code.",
        },
        "share_help_team": {"zh-CN": "只导出这个团队的回访。", "en": "Only this team's visits."},
        "invite_bot_nameless": {"zh-CN": "机器人没有用户名（getMe）。", "en": "The bot has no username (getMe)."},
    }
)


async def bot_username(settings: Settings) -> str:
    """The bot's @username: from VISITBOT_BOT_USERNAME, else asked from the Bot API (getMe)."""
    if settings.bot_username:
        return settings.bot_username.lstrip("@")
    if not settings.telegram_token:
        raise CommandError(message("invite_no_username", settings.locale), code=2)
    from telegram import Bot

    bot = Bot(settings.telegram_token, base_url=settings.telegram_api_url)
    async with bot:
        me = await bot.get_me()
    if not me.username:
        raise CommandError(message("invite_bot_nameless", settings.locale))
    return me.username


def deep_link(username: str, token: str) -> str:
    """A Telegram deep link that opens the bot with ``/start <token>``."""
    return f"https://t.me/{username}?start={token}"


def invite(
    borrower: Annotated[str, typer.Argument(help=h("cli_help_borrower_code"))],
    script: Annotated[str, typer.Option(help=h("share_help_script"))] = "self_checkin",
    days: Annotated[int, typer.Option(help=h("share_help_days"))] = 7,
) -> None:
    """Print a one-time self-service link for a borrower (t.me deep link; the token is stored hashed)."""

    async def job(svc: Services) -> str:
        username = await bot_username(svc.settings)
        svc.catalog.latest(script)
        async with svc.sessions() as session, session.begin():
            found = await repo.borrower_by_code(session, borrower)
            if found is None:
                raise CommandError(message("desk_no_borrower", svc.settings.locale, code=borrower))
            token = await create_invite(
                session, found, script_id=script, created_by=None, valid_for=timedelta(days=days)
            )
        return deep_link(username, token)

    print(run(job))


def export(
    output: Annotated[Path, typer.Option("--output", "-o", help=h("share_help_output"))],
    since: Annotated[str | None, typer.Option(help=h("cli_help_since"))] = None,
    until: Annotated[str | None, typer.Option(help=h("cli_help_until"))] = None,
    officer: Annotated[int | None, typer.Option(help=h("share_help_officer"))] = None,
    outcome: Annotated[str | None, typer.Option(help=h("cli_help_outcome"))] = None,
    risk: Annotated[str | None, typer.Option(help=h("share_help_risk"))] = None,
    team: Annotated[str | None, typer.Option(help=h("share_help_team"))] = None,
    as_user: Annotated[int | None, typer.Option("--as", help=h("admin_help_as"))] = None,
) -> None:
    """Export visits: one row per visit, one column per question (+ a risk flag sheet in XLSX); audited."""
    locale = cli_locale()
    kind = output.suffix.lower().lstrip(".")
    if kind not in ("xlsx", "csv"):
        raise CommandError(message("export_bad_kind", locale, file=output), code=2)
    first, last = _day("--since", since, locale), _day("--until", until, locale)
    if first and last and last < first:
        raise CommandError(message("export_days_reversed", locale, since=first, until=last), code=2)
    writable(output)

    async def job(svc: Services) -> int:
        zone = svc.settings.timezone
        viewer, actor = await viewer_for(svc, as_user)
        flt = repo.VisitFilter(
            since=day_start(since, zone) if since else None,
            until=day_start(until, zone, end=True) if until else None,
            officer_id=officer, outcome=outcome, risk=risk, team=team, limit=100_000,
        )  # fmt: skip
        async with svc.sessions() as session, session.begin():
            file = await export_visits(
                session, viewer, flt, kind="xlsx" if kind == "xlsx" else "csv", now=svc.clock.now(),
                zone=person_zone(viewer, zone), catalog=svc.catalog, actor=actor,
            )  # fmt: skip
        await asyncio.to_thread(output.write_bytes, file.data)
        return file.rows

    count = run(job)
    out.print(message("export_written", locale, count=count, file=output), style="green", markup=False, soft_wrap=True)


def _day(option: str, value: str | None, locale: str) -> date | None:
    """A ``YYYY-MM-DD`` option as a date; a clear error (exit 2) for one that does not exist."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(message("export_bad_day", locale, option=option, value=value), code=2) from exc
