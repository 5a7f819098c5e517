"""Borrowers' self-service: an invite link opens the check-in (consent first), in their language.

A borrower sees only their own commands (:data:`BORROWER_COMMANDS`, in their chat's menu and in
/help), reads a closing message when the check-in ends (thanks, and what happens next), and a
staff member who opens a borrower's link (to check it) does not use it up.
"""

from __future__ import annotations

import dataclasses
import html
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import BotCommand, BotCommandScopeChat, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.cli_share import deep_link
from bot.desk import Actor, DeskReply, NotFound
from bot.desk.timefmt import shown
from bot.telegram.common import Sender, send, services_of, t
from bot.telegram.visits import show_reply
from dialogs.i18n import message, register
from dialogs.schema import Severity
from storage import repositories as repo
from storage.self_service import InviteCheck, create_invite, invite_reopens, redeem_invite

__all__ = [
    "BORROWER_COMMANDS",
    "closing_text",
    "help_borrower",
    "invite",
    "open_invite",
    "set_borrower_menu",
    "start_with_token",
]

log = logging.getLogger(__name__)

BORROWER_COMMANDS = ("start", "help", "resume", "back", "skip")
"""What a borrower may send: never a staff command (their menu and /help list only these)."""

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
        "tg_borrower_cmd_start": {"zh-CN": "开始", "en": "Start"},
        "tg_borrower_cmd_help": {"zh-CN": "能做什么", "en": "What I can do here"},
        "tg_borrower_cmd_resume": {"zh-CN": "回到我的自助回访", "en": "Back to my check-in"},
        "tg_borrower_cmd_back": {"zh-CN": "撤回上一个回答", "en": "Undo my last answer"},
        "tg_borrower_cmd_skip": {"zh-CN": "跳过这个问题（可跳过时）", "en": "Skip this question (where allowed)"},
        "tg_borrower_help": {
            "zh-CN": "您可以直接点选按钮或输入回答。可用的命令：\n{commands}\n"
            "如需新的自助回访链接，请联系您的客户经理。",
            "en": "Tap a button or type your answer. Commands you can use:\n{commands}\n"
            "For a new check-in link, please ask your loan officer.",
        },
        "tg_invite_staff": {
            "zh-CN": "这是给借款人本人使用的自助回访链接。您是员工，打开它不会用掉它，借款人仍然可以使用。"
            "想先看看借款人会看到什么，可以运行 visitbot scripts try self_checkin。",
            "en": "This self-service link is for the borrower. You are staff, so opening it does not use it up: "
            "the borrower can still use it. To see what the borrower will see, run visitbot scripts try self_checkin.",
        },
        "tg_borrower_closing_completed": {
            "zh-CN": "自助回访结束，感谢您抽空填写！您的回答已经提交给您的客户经理，我们会认真查看。"
            "如有任何需要，可以随时联系您的客户经理。",
            "en": "Check-in finished: thank you for your time! Your answers have gone to your loan officer, who will "
            "read them. If you need anything, contact your loan officer any time.",
        },
        "tg_borrower_closing_call_at": {
            "zh-CN": "自助回访结束，感谢您抽空填写！您的回答已经提交给您的客户经理，客户经理会在 {at} 给您回电。",
            "en": "Check-in finished: thank you for your time! Your answers have gone to your loan officer, who will "
            "call you at {at}.",
        },
        "tg_borrower_closing_call_soon": {
            "zh-CN": "自助回访结束，感谢您抽空填写！您的回答已经提交给您的客户经理，客户经理会尽快给您回电。",
            "en": "Check-in finished: thank you for your time! Your answers have gone to your loan officer, who will "
            "call you soon.",
        },
        "tg_borrower_closing_opted_out": {
            "zh-CN": "自助回访结束，感谢您告诉我们您的想法：您的选择已经记录，我们会按您的意愿安排今后的联系。"
            "如有任何需要，可以随时联系您的客户经理。",
            "en": "Check-in finished: thank you for telling us. Your choice is recorded and we will keep in touch "
            "only as you wish. "
            "If you need anything, contact your loan officer any time.",
        },
    }
)

INVITE_DAYS = 7


async def start_with_token(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender, token: str) -> None:
    """/start <token>: check the invite (once, unexpired), link the borrower, start the check-in.

    The link opened again by the person who used it takes them back to their check-in while it is
    open (the first attempt may have died between using the link and showing the first question).
    """
    await open_invite(context, sender, lambda session: redeem_invite(session, token, telegram_id=sender.telegram_id))


async def open_invite(
    context: ContextTypes.DEFAULT_TYPE, sender: Sender, redeem: Callable[[AsyncSession], Awaitable[InviteCheck]]
) -> None:
    """Redeem an invite (a link's token, a button's invite id) and start or reopen its check-in, or say
    why not (``tg_invite_<problem>``); staff opening it leave it to the borrower."""
    if sender.user is not None:  # staff checking a borrower's link: it stays the borrower's
        await send(context, sender.chat_id, html.escape(t("tg_invite_staff", sender)))
        return
    svc = services_of(context)
    async with svc.sessions() as session, session.begin():
        check = await redeem(session)
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
    await set_borrower_menu(context, dataclasses.replace(sender, borrower=invite.borrower))
    try:
        actor = Actor("borrower", telegram_id=sender.telegram_id)  # who answers is kept (the visit's respondent)
        reply = await svc.desk.begin(
            code, actor=actor, officer_id=None, script_id=script_id, channel="self", locale=sender.locale
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


def _menu(locale: str) -> list[BotCommand]:
    return [BotCommand(name, message(f"tg_borrower_cmd_{name}", locale)) for name in BORROWER_COMMANDS]


async def set_borrower_menu(context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """The borrower's own command menu in their chat (replacing whatever menu the chat had)."""
    try:
        await context.bot.set_my_commands(_menu(sender.locale), scope=BotCommandScopeChat(sender.chat_id))
    except TelegramError as exc:
        log.info("could not set the borrower's commands for chat %s: %s", sender.chat_id, exc)


async def help_borrower(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/help for a borrower: their own commands only, then their check-in where it stands."""
    await set_borrower_menu(context, sender)
    commands = "\n".join(f"/{c.command} {c.description}" for c in _menu(sender.locale) if c.command != "start")
    await send(context, sender.chat_id, html.escape(t("tg_borrower_help", sender, commands=commands)))


def closing_text(reply: DeskReply, zone: str) -> str:
    """What a borrower reads when their check-in ends: thanks, and what happens next (in ``zone``)."""
    state = reply.turn.state
    locale = state.locale
    if state.outcome == "opted_out":
        return message("tg_borrower_closing_opted_out", locale)
    if state.callback_at:
        return message("tg_borrower_closing_call_at", locale, at=shown(state.callback_at, zone))
    worrying = any(f.get("severity") == Severity.HIGH.value for f in state.flags)
    if state.answers.get("wants_call") is True or worrying:
        return message("tg_borrower_closing_call_soon", locale)
    return message("tg_borrower_closing_completed", locale)
