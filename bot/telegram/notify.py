"""Reaching staff directly — kept only for the review handlers until they queue through the outbox.

Everything an input produces (risk alerts, opt-out and call-back notices, reminders) is queued by the
core in the visit's own transaction (:mod:`bot.desk.alerts`) and delivered by
:mod:`bot.telegram.outbox`; nothing here sends after a commit any more.
"""

from __future__ import annotations

import logging

from sqlalchemy import or_, select
from telegram import InlineKeyboardMarkup
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.telegram.common import send, services_of
from dialogs.i18n import register
from storage.models import User, Visit

__all__ = ["supervisors_of", "tell"]

log = logging.getLogger(__name__)

register({"tg_open_transcript": {"zh-CN": "查看记录", "en": "Open transcript"}})


async def tell(
    context: ContextTypes.DEFAULT_TYPE, user: User | None, text: str, markup: InlineKeyboardMarkup | None = None
) -> bool:
    """Message a staff member if they have Telegram; False when they could not be reached."""
    if user is None or user.telegram_id is None:
        return False
    try:
        await send(context, user.telegram_id, text, markup)
    except TelegramError as exc:
        log.warning("could not reach user %s: %s", user.id, exc)
        return False
    return True


async def supervisors_of(context: ContextTypes.DEFAULT_TYPE, visit: Visit) -> list[User]:
    """The supervisors of the visit's team, and admins."""
    svc = services_of(context)
    team = visit.officer.team if visit.officer else None
    async with svc.sessions() as session:
        query = select(User).where(User.active.is_(True), User.telegram_id.is_not(None))
        query = query.where(or_(User.role == "admin", (User.role == "supervisor") & (User.team == team)))
        return list((await session.scalars(query)).all())
