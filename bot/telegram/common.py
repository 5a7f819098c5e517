"""What every Telegram handler needs: who is writing, their language, services, safe sending."""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.app import Services
from bot.telegram.calls import Markup, answer_callback, edit_text, hold_answer, release_answer, send_text
from bot.telegram.render import MAX_MESSAGE, split_text, visible_length
from dialogs.i18n import message, normalize_locale, register
from storage import repositories as repo
from storage.chats import ChatView
from storage.models import Borrower, User, Visit

__all__ = [
    "Sender",
    "answer_query",
    "edit_or_send",
    "identify",
    "is_answered",
    "send",
    "services_of",
    "t",
    "try_edit_markup",
]

log = logging.getLogger(__name__)

register(
    {
        "tg_stranger": {
            "zh-CN": "您好！这是贷后回访助手，仅供本机构的信贷员、主管和受邀客户使用。"
            "如果您是员工，请联系管理员为您开通（需要提供您的 Telegram ID：{id}）。",
            "en": "Hello! This is the loan visit assistant, for our loan officers, supervisors and invited "
            "borrowers only. If you work here, ask an admin to add you (your Telegram id: {id}).",
        },
        "tg_error": {
            "zh-CN": "抱歉，处理时出了点问题。已经记录的回答都安全保存着，请稍后再试。",
            "en": "Sorry, something went wrong. Every answer recorded so far is safe; please try again.",
        },
        "tg_no_match": {"zh-CN": "没有找到“{text}”。", "en": "Nothing matches '{text}'."},
        "tg_not_allowed": {
            "zh-CN": "您没有权限使用这个命令。",
            "en": "You are not allowed to use this command.",
        },
    }
)


@dataclass(frozen=True)
class Sender:
    """The person behind an update: staff (with a role), a linked borrower, or a stranger."""

    telegram_id: int
    chat_id: int
    locale: str
    user: User | None
    borrower: Borrower | None
    chat: ChatView | None = field(default=None, compare=False)
    """The chat as the update found it (its row and its visit read with the sender, in the same statement),
    for an answer or a press; None for commands, which read it themselves when they need it."""
    visit: Visit | None = field(default=None, compare=False)
    """The open visit the chat is on, read with the chat (an answer or a press; else None): the desk
    records the answer against it once its revision shows nothing changed it since (``VisitDesk.act``)."""

    @property
    def role(self) -> str:
        """officer, supervisor, admin, borrower or stranger."""
        if self.user is not None:
            return self.user.role
        return "borrower" if self.borrower is not None else "stranger"


def services_of(context: ContextTypes.DEFAULT_TYPE) -> Services:
    """The services made at start-up."""
    services: Services = context.application.bot_data["services"]
    return services


def t(key: str, sender: Sender, **params: Any) -> str:
    """A catalog message in the sender's language."""
    return message(key, sender.locale, **params)


async def identify(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Sender | None:
    """Look the sender up by Telegram id (staff first, then linked borrowers)."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None:
        return None
    svc = services_of(context)
    incoming = update.message
    answering = update.callback_query is not None or (
        incoming is not None and not (incoming.text or "").startswith("/")
    )  # an answer or a press reads the chat's row as well: one read for both
    if answering:  # the sender, the chat's row and its visit in one statement, on a connection of its own
        async with svc.reading.connect() as connection:  # no session, no transaction: no BEGIN, no ROLLBACK
            rows = await repo.sender_and_chat(connection, user.id, chat.id)
        staff, borrower, visit = rows.staff, rows.borrower, rows.visit
        row = ChatView.of(chat.id, rows.chat, visit)
    else:
        row = visit = None
        async with svc.reads() as session:  # no transaction of its own on PostgreSQL: no BEGIN, no ROLLBACK
            staff = await repo.user_by_telegram_id(session, user.id)
            borrower = None if staff is not None else await repo.borrower_by_telegram_id(session, user.id)
    if staff is not None and staff.locale:
        locale = staff.locale
    elif borrower is not None and user.language_code is None:
        locale = borrower.locale
    else:
        locale = normalize_locale(user.language_code) if user.language_code else svc.settings.locale
    return Sender(user.id, chat.id, locale, staff, borrower, row, visit)


async def send(context: ContextTypes.DEFAULT_TYPE, chat_id: int, text: str, markup: Markup = None) -> int:
    """Send HTML text, split to Telegram's length limit; the keyboard goes on the last piece. The last
    piece's message id."""
    pieces = split_text(text)
    sent: int | None = None
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        sent = await send_text(context.bot, chat_id, piece, markup if last else None)
    assert sent is not None
    return sent


async def edit_or_send(
    context: ContextTypes.DEFAULT_TYPE,
    chat_id: int,
    message_id: int | None,
    text: str,
    markup: Markup = None,
) -> int:
    """Edit a message in place (or send a new one when it cannot be edited); returns its id."""
    if message_id is not None and (len(text) <= MAX_MESSAGE or visible_length(text) <= MAX_MESSAGE):
        try:
            await edit_text(context.bot, chat_id, message_id, text, markup)
            return message_id
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return message_id
            log.info("could not edit message %s in chat %s: %s", message_id, chat_id, exc)
        except TelegramError as exc:  # still failing after retries: a new message says the same
            log.info("could not edit message %s in chat %s: %s", message_id, chat_id, exc)
    return await send(context, chat_id, text, markup)


_ANSWERED: OrderedDict[str, None] = OrderedDict()
_REMEMBERED = 10_000
"""Callback queries answered by this process (the newest ids), so every press is answered exactly once."""


def is_answered(query: CallbackQuery) -> bool:
    """True once :func:`answer_query` has answered (or tried to answer) this press."""
    return query.id in _ANSWERED


async def answer_query(
    query: CallbackQuery, text: str | None = None, *, show_alert: bool = False, at_once: bool = False
) -> bool:
    """Answer a button press so it stops spinning, once; False if it was answered before. A press that
    came by webhook is answered in the webhook's response (:func:`bot.telegram.calls.hold_answer`),
    unless ``at_once`` (which also sends now an answer held for that response, should the handler be
    slow after it). The Bot API call is retried on the way (:mod:`bot.telegram.delivery`); if it still
    fails (a redelivered query too old to answer, a 502), that is no error of the visit and nothing the
    user is told about."""
    if query.id in _ANSWERED:
        held = release_answer(query.id) if at_once else None
        if held is not None:  # answered, but only in the webhook's response, still to come: answer now
            await _answer(query, held.get("text"), show_alert=bool(held.get("show_alert")))
        return False
    _ANSWERED[query.id] = None
    while len(_ANSWERED) > _REMEMBERED:
        _ANSWERED.popitem(last=False)
    if not at_once and hold_answer(query.id, text, show_alert=show_alert):
        return True
    await _answer(query, text, show_alert=show_alert)
    return True


async def _answer(query: CallbackQuery, text: str | None, *, show_alert: bool) -> None:
    try:
        await answer_callback(query.get_bot(), query.id, text, show_alert=show_alert)
    except TelegramError as exc:
        log.info("could not answer callback query %s: %s", query.id, exc)


async def try_edit_markup(query: CallbackQuery, markup: InlineKeyboardMarkup | None) -> None:
    """Change the buttons of the pressed message; a failure only leaves the old buttons showing."""
    try:
        await query.edit_message_reply_markup(markup)
    except TelegramError as exc:
        log.info("could not update the buttons of callback query %s: %s", query.id, exc)
