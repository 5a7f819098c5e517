"""``/web`` on Telegram: a one-time login link to the web desk (staff only; made by :mod:`bot.desk.weblogin`)."""

from __future__ import annotations

import html

from telegram import Update
from telegram.ext import ContextTypes

from bot.desk.weblogin import WebLogins
from bot.telegram.common import Sender, send, services_of, t
from dialogs.i18n import register

__all__ = ["web_link"]

register(
    {
        "cmd_web": {"zh-CN": "网页工作台登录链接", "en": "A login link to the web desk"},
        "tg_web_link": {
            "zh-CN": "网页工作台登录链接（{minutes} 分钟内有效，只能使用一次，请勿转发）：\n{url}",
            "en": "Your login link to the web desk (valid {minutes} minutes, works once; do not forward it):\n{url}",
        },
    }
)


async def web_link(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/web: a fresh one-time link into the web desk for this staff member."""
    assert sender.user is not None
    svc = services_of(context)
    url = await WebLogins(svc.sessions, svc.settings, svc.clock).link_for(sender.user)
    minutes = svc.settings.web_link_minutes
    await send(context, sender.chat_id, html.escape(t("tg_web_link", sender, url=url, minutes=minutes)))
