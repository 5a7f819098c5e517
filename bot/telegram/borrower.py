"""Borrowers' self-service: an invite link opens the check-in (consent first), in their language."""

from __future__ import annotations

import html

from telegram import Update
from telegram.ext import ContextTypes

from bot.cli_share import deep_link
from bot.desk import Actor, NotFound
from bot.telegram.common import Sender, send, services_of, t
from bot.telegram.visits import show_reply
from dialogs.i18n import register
from storage import repositories as repo
from storage.self_service import create_invite, invite_reopens, redeem_invite

__all__ = ["invite", "start_with_token"]

register(
    {
        "tg_invite_unknown": {
            "zh-CN": "这个链接无效。请向您的客户经理索取新的链接。",
            "en": "This link is not valid. Please ask your loan officer for a new one.",
        },
        "tg_invite_used": {
            "zh-CN": "这个链接已经使用过了。如需再次填写，请向您的客户经理索取新的链接。",
            "en": "This link has already been used. Ask your loan officer for a new one.",
        },
        "tg_invite_expired": {
            "zh-CN": "这个链接已过期。请向您的客户经理索取新的链接。",
            "en": "This link has expired. Please ask your loan officer for a new one.",
        },
        "tg_checkin_header": {"zh-CN": "{institution} · 客户自助回访", "en": "{institution} · self-service check-in"},
        "tg_invite_usage": {"zh-CN": "用法：/invite 借款人编号", "en": "Usage: /invite <borrower code>"},
        "tg_invite_link": {
            "zh-CN": "{code} {name} 的自助回访链接（一次有效，{days} 天内）：\n{link}",
            "en": "Self-service link for {code} {name} (works once, for {days} days):\n{link}",
        },
        "tg_welcome_borrower": {
            "zh-CN": "您好！您可以通过客户经理发给您的链接填写自助回访。",
            "en": "Hello! You can fill in a self-service check-in through the link your loan officer sent you.",
        },
    }
)

INVITE_DAYS = 7


async def start_with_token(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender, token: str) -> None:
    """/start <token>: check the invite (once, unexpired), link the borrower, start the check-in.

    The link opened again by the person who used it takes them back to their check-in while it is
    open (the first attempt may have died between using the link and showing the first question).
    """
    svc = services_of(context)
    async with svc.sessions() as session, session.begin():
        check = await redeem_invite(session, token, telegram_id=sender.telegram_id)
        invite = check.invite
        script_id = invite.script_id if invite else ""
        code = invite.borrower.code if invite else ""
        reopens = (
            check.problem == "used"
            and invite is not None
            and await invite_reopens(session, invite, telegram_id=sender.telegram_id)
        )
    if (check.problem is not None and not reopens) or invite is None:
        await send(context, sender.chat_id, html.escape(t(f"tg_invite_{check.problem or 'unknown'}", sender)))
        return
    try:
        reply = await svc.desk.begin(
            code, actor=Actor("borrower"), officer_id=None, script_id=script_id, channel="self", locale=sender.locale
        )
    except NotFound as exc:
        await send(context, sender.chat_id, html.escape(exc.text))
        return
    header = t("tg_checkin_header", sender, institution=svc.settings.institution)
    await show_reply(context, sender, reply, header=header)


async def invite(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/invite <code>: a one-time self-service link for one of the officer's borrowers."""
    assert sender.user is not None
    svc = services_of(context)
    args = context.args or []
    if not args:
        await send(context, sender.chat_id, html.escape(t("tg_invite_usage", sender)))
        return
    token: str | None = None
    async with svc.sessions() as session, session.begin():
        borrower = await repo.borrower_by_code(session, args[0])
        if borrower is not None and (sender.role == "admin" or borrower.officer_id == sender.user.id):
            token = await create_invite(session, borrower, script_id="self_checkin", created_by=sender.user.id)
            code, name = borrower.code, borrower.name
    if token is None:  # told after the session: a slow send never holds a database connection
        await send(context, sender.chat_id, html.escape(t("tg_no_match", sender, text=args[0])))
        return
    username = context.bot.username
    text = t("tg_invite_link", sender, code=code, name=name, days=INVITE_DAYS, link=deep_link(username, token))
    await send(context, sender.chat_id, html.escape(text))
