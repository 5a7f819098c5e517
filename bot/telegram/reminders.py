"""Call-back reminders: when a call-back task falls due, its officer gets a message (JobQueue).

The tasks live in the database, so a restart loses none; the job only polls for due ones. With
several bot processes each task is claimed by one of them (row lock, ``SKIP LOCKED``) and sent once.
"""

from __future__ import annotations

import html
import logging
from datetime import timedelta

from sqlalchemy import select
from telegram.ext import ContextTypes

from bot.app import Services
from bot.telegram.common import services_of
from bot.telegram.notify import tell
from dialogs.i18n import message, register
from storage import repositories as repo
from storage.models import Task, User, utcnow

__all__ = ["UPDATE_KEYS_KEPT", "expire_old_updates", "forget_old_updates", "remind_due"]

UPDATE_KEYS_KEPT = timedelta(days=2)
"""How long an applied update's key is kept: Telegram redelivers an update for 24 hours at most."""

log = logging.getLogger(__name__)

register(
    {
        "tg_reminder": {
            "zh-CN": "⏰ 该回电了：客户 {code} {name}（约定 {at}，回访 #{visit}）。发送 /visit {code} 开始。",
            "en": "⏰ Time to call back {code} {name} (agreed {at}, visit #{visit}). Send /visit {code} to start.",
        },
    }
)


async def remind_due(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Claim the call-back tasks that are due and not yet reminded, then tell their officers."""
    svc = services_of(context)
    now = utcnow()
    async with svc.sessions() as session, session.begin():
        query = (
            select(Task)
            .where(Task.kind == "callback", Task.done_at.is_(None), Task.notified_at.is_(None), Task.due_at <= now)
            .order_by(Task.due_at)
            .limit(50)
            .with_for_update(skip_locked=True, of=Task)
        )
        due = list((await session.scalars(query)).unique().all())
        claimed = []
        for task in due:
            task.notified_at = now
            officer = await session.get(User, task.officer_id) if task.officer_id else None
            claimed.append((task, task.borrower, officer))
    zone = svc.desk.now().tzinfo
    for task, borrower, officer in claimed:
        assert task.due_at is not None
        locale = (officer.locale if officer else None) or svc.settings.locale
        at = task.due_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        text = message("tg_reminder", locale, code=borrower.code, name=borrower.name, at=at, visit=task.visit_id)
        if not await tell(context, officer, html.escape(text)):
            log.info("call-back task %s has no reachable officer", task.id)


async def expire_old_updates(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Hourly: forget the idempotency keys of updates older than :data:`UPDATE_KEYS_KEPT`."""
    await forget_old_updates(services_of(context))


async def forget_old_updates(svc: Services) -> int:
    """Delete the idempotency keys older than :data:`UPDATE_KEYS_KEPT` (on start, then hourly)."""
    async with svc.sessions() as session, session.begin():
        gone = await repo.expire_updates(session, utcnow() - UPDATE_KEYS_KEPT)
    if gone:
        log.info("forgot %s applied updates older than %s", gone, UPDATE_KEYS_KEPT)
    return gone
