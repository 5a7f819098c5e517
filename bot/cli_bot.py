"""``visitbot bot``: run the Telegram front-end by long polling or as a webhook server."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.app import make_services
from bot.cli_base import CommandError, h, ready_to_serve, settings_or_exit
from dialogs.i18n import message, register

__all__ = ["bot"]

register(
    {
        "bot_no_token": {
            "zh-CN": "请把 VISITBOT_TELEGRAM_TOKEN 设为机器人的 token（来自 @BotFather）。",
            "en": "Set VISITBOT_TELEGRAM_TOKEN to the bot's token (from @BotFather).",
        },
        "bot_no_secret": {
            "zh-CN": "webhook 模式需要 VISITBOT_WEBHOOK_SECRET（Telegram 每次请求都会带上它）。",
            "en": "Webhook mode needs VISITBOT_WEBHOOK_SECRET (Telegram sends it in every request).",
        },
    }
)


def bot(
    webhook: Annotated[bool, typer.Option("--webhook", help=h("cli_help_webhook"))] = False,
    listen: Annotated[str | None, typer.Option(help=h("cli_help_listen"))] = None,
    port: Annotated[int | None, typer.Option(help=h("cli_help_port"))] = None,
    path: Annotated[str | None, typer.Option(help=h("cli_help_path"))] = None,
    url: Annotated[str | None, typer.Option(help=h("cli_help_url"))] = None,
    set_webhook: Annotated[bool, typer.Option(help=h("cli_help_set_webhook"))] = True,
) -> None:
    """Run the Telegram bot (VISITBOT_TELEGRAM_TOKEN; VISITBOT_TELEGRAM_API_URL for another Bot API server)."""
    settings = settings_or_exit()
    if not settings.telegram_token:
        raise CommandError(message("bot_no_token", settings.locale), code=2)
    if webhook and not settings.webhook_secret:
        raise CommandError(message("bot_no_secret", settings.locale), code=2)
    from telegram import Update  # the bot's libraries load when the bot runs, not with every command

    from bot.telegram.app import build_application

    ready_to_serve(settings.database_url)
    svc = make_services(settings)
    application = build_application(svc)
    if not webhook:
        application.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
        return
    secret = settings.webhook_secret
    assert secret is not None  # checked above, before anything started
    import asyncio

    from bot.telegram.webhook import serve_webhook

    listen = listen or settings.webhook_listen
    port = port or settings.webhook_port
    url_path = (path or settings.webhook_path).strip("/")
    public = url or settings.webhook_url or f"http://{listen}:{port}/{url_path}"  # as PTB derived it
    # 200 only once an update was handled (its answer committed); 503 when it could not be recorded
    asyncio.run(
        serve_webhook(
            application,
            listen=listen,
            port=port,
            url_path=url_path,
            secret_token=secret,
            webhook_url=public if set_webhook else None,
            allowed_updates=Update.ALL_TYPES,
            drop_pending_updates=False,
            grace=settings.update_timeout + 10,
        )
    )
