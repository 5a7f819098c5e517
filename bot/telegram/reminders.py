"""Housekeeping jobs: forgetting old update keys. (Call-back reminders are outbox rows now: the core
queues one when a call-back is booked, held until its time in the borrower's contact window, and
:mod:`bot.telegram.outbox` delivers it — once, whichever process is running.)"""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram.ext import ContextTypes

from bot.app import Services
from bot.telegram.common import services_of
from storage import repositories as repo

__all__ = ["UPDATE_KEYS_KEPT", "expire_old_updates", "forget_old_updates"]

UPDATE_KEYS_KEPT = timedelta(days=2)
"""How long an applied update's key is kept: Telegram redelivers an update for 24 hours at most."""

log = logging.getLogger(__name__)


async def expire_old_updates(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Hourly: forget the idempotency keys of updates older than :data:`UPDATE_KEYS_KEPT`."""
    await forget_old_updates(services_of(context))


async def forget_old_updates(svc: Services) -> int:
    """Delete the idempotency keys older than :data:`UPDATE_KEYS_KEPT` (on start, then hourly)."""
    async with svc.sessions() as session, session.begin():
        gone = await repo.expire_updates(session, svc.clock.now() - UPDATE_KEYS_KEPT)
    if gone:
        log.info("forgot %s applied updates older than %s", gone, UPDATE_KEYS_KEPT)
    return gone
