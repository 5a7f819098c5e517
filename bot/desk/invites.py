"""Self-service invites the bot sends itself: an outbox row to the borrower's own chat, with a button.

The plan (:mod:`bot.desk.plan`) gives a low-risk borrower who opted out of calls a self-service
check-in instead; when the borrower is on Telegram, :func:`queue_invite` makes the invite and queues
the message in the caller's transaction. The payload names the invite by its id in the button's
callback data (``i:<invite id>``) — the raw token is never stored outside the borrower's link. The row
is of the windowed kind ``invite``: it waits for the borrower's contact window. Pressing the button in
the borrower's own chat redeems the invite as ``/start <token>`` does (:mod:`bot.telegram.invites`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.desk.outbox import enqueue, payload, when
from dialogs.i18n import register
from storage.models import Borrower, OutboxMessage
from storage.self_service import create_invite, invite_of_token

__all__ = ["INVITE_DATA", "invite_data", "queue_invite"]

INVITE_DATA = "i"
"""The callback data prefix of an invite's button: ``i:<invite id>``."""

register(
    {
        "invite_checkin": {
            "zh-CN": "{name}，您好！邀请您完成一次自助回访，只需几分钟。请在 {until} 前点击下方按钮开始。",
            "en": "Hello {name}! You are invited to a short self-service check-in: it takes a few minutes. "
            "Tap the button below to start, before {until}.",
        },
        "invite_checkin_start": {"zh-CN": "开始自助回访", "en": "Start my check-in"},
    }
)


def invite_data(invite_id: int) -> str:
    """The callback data of the button that opens invite ``invite_id``."""
    return f"{INVITE_DATA}:{invite_id}"


async def queue_invite(
    session: AsyncSession,
    borrower: Borrower,
    *,
    script_id: str,
    now: datetime,
    created_by: int | None,
    valid_for: timedelta = timedelta(days=7),
) -> OutboxMessage | None:
    """Make an invite and queue it to the borrower's own chat, in their language; None without Telegram.

    The caller commits (the invite and its message together, or neither)."""
    if borrower.telegram_id is None:
        return None
    token = await create_invite(
        session, borrower, script_id=script_id, created_by=created_by, valid_for=valid_for, now=now
    )
    invite = await invite_of_token(session, token)
    assert invite is not None  # just flushed in this transaction
    body = payload(
        "invite_checkin",
        {"name": borrower.name, "until": when(invite.expires_at)},
        [[{"key": "invite_checkin_start", "data": invite_data(invite.id)}]],
    )
    body["locale"] = borrower.locale
    return await enqueue(session, "invite", body, now=now, chat_id=borrower.telegram_id, borrower_id=borrower.id)
