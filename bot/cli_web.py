"""``visitbot web`` (the supervisors' web desk, served by uvicorn) and ``visitbot web-link`` (a login link)."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.app import Services
from bot.cli_base import CommandError, cli_locale, h, out, ready_to_serve, run, settings_or_exit
from bot.desk.weblogin import LoginRefused, WebLogins
from dialogs.i18n import message, register
from storage.db import is_sqlite

__all__ = ["web", "web_link"]

register(
    {
        "web_help": {
            "zh-CN": "运行主管网页工作台（审核队列、回访记录、通过/退回）。",
            "en": "Serve the supervisors' web desk (review queue, transcripts, approve / send back).",
        },
        "web_help_link": {
            "zh-CN": "为员工生成一次性登录链接（VISITBOT_WEB_LINK_MINUTES 分钟内有效）。",
            "en": "Print a one-time login link for a staff member (valid VISITBOT_WEB_LINK_MINUTES minutes).",
        },
        "web_help_telegram_id": {"zh-CN": "员工的 Telegram ID。", "en": "The staff member's Telegram id."},
        "web_help_host": {
            "zh-CN": "监听地址（默认 VISITBOT_WEB_HOST）。",
            "en": "Address to listen on (VISITBOT_WEB_HOST).",
        },
        "web_help_port": {"zh-CN": "端口（默认 VISITBOT_WEB_PORT）。", "en": "Port (VISITBOT_WEB_PORT)."},
        "web_help_workers": {
            "zh-CN": "工作进程数（大于 1 时需要 PostgreSQL）。",
            "en": "Worker processes (more than 1 needs PostgreSQL).",
        },
        "web_workers_sqlite": {
            "zh-CN": "--workers {workers} 需要 PostgreSQL：SQLite 只支持一个工作进程。",
            "en": "--workers {workers} needs PostgreSQL: SQLite serves one worker only.",
        },
        "web_serving": {"zh-CN": "网页工作台：{url}", "en": "Web desk at {url}"},
    }
)


def web(
    host: Annotated[str | None, typer.Option(help=h("web_help_host"))] = None,
    port: Annotated[int | None, typer.Option(help=h("web_help_port"))] = None,
    workers: Annotated[int, typer.Option(min=1, help=h("web_help_workers"))] = 1,
) -> None:
    """Serve the web desk with uvicorn; each worker makes its own engine on the same database."""
    settings = settings_or_exit()
    locale = cli_locale()
    if workers > 1 and is_sqlite(settings.database_url):
        raise CommandError(message("web_workers_sqlite", locale, workers=workers), code=2)
    import uvicorn  # the server loads when the desk runs, not with every command

    ready_to_serve(settings.database_url)
    out.print(message("web_serving", locale, url=settings.web_url), markup=False)
    uvicorn.run(
        "bot.web.app:make_app",
        factory=True,
        host=host or settings.web_host,
        port=port or settings.web_port,
        workers=workers,
        proxy_headers=True,
        log_config=None,
        access_log=False,
    )


def web_link(telegram_id: Annotated[int, typer.Argument(help=h("web_help_telegram_id"))]) -> None:
    """Print a one-time login link to the web desk for the staff member with this Telegram id."""
    locale = cli_locale()

    async def job(svc: Services) -> str:
        try:
            return await WebLogins(svc.sessions, svc.settings, svc.clock).link_for_telegram_id(
                telegram_id, locale=locale
            )
        except LoginRefused as refused:
            raise CommandError(refused.text, code=2) from refused

    out.print(run(job), markup=False, soft_wrap=True)
