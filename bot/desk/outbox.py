"""The outbox: messages the core decided to send, written in the same transaction as their cause.

A front-end (Telegram today) delivers them: it claims due rows (``SKIP LOCKED``, so several processes
deliver each once), renders ``payload`` in the recipient's language and zone, sends, and marks the
row sent. A process killed between the commit and the send loses nothing: the row is still there.

``payload`` is front-end neutral::

    {"key": "tg_alert", "params": {...}, "buttons": [[{"key": "tg_open_transcript", "data": "s:tr:12"}]]}

A parameter given as ``{"msg": "severity_high"}`` is translated in the recipient's language; one
given as ``{"time": "2026-12-01T18:48:00+00:00"}`` is shown in the recipient's zone, zone named.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage

__all__ = ["Button", "enqueue", "msg", "payload", "when"]

Button = dict[str, str]


def msg(key: str, **params: Any) -> dict[str, Any]:
    """A parameter translated in the recipient's language when delivered (a label, a severity)."""
    return {"msg": key, "params": params} if params else {"msg": key}


def when(at: datetime) -> dict[str, str]:
    """A parameter shown in the recipient's time zone, with the zone named, when delivered."""
    return {"time": at.isoformat()}


def payload(key: str, params: dict[str, Any] | None = None, buttons: Sequence[Sequence[Button]] = ()) -> dict[str, Any]:
    """The payload of a message: an i18n key, its parameters and optional buttons (rows of key + data)."""
    return {"key": key, "params": dict(params or {}), "buttons": [list(row) for row in buttons]}


async def enqueue(
    session: AsyncSession,
    kind: str,
    body: dict[str, Any],
    *,
    now: datetime,
    user_id: int | None = None,
    chat_id: int | None = None,
    borrower_id: int | None = None,
    visit_id: int | None = None,
    task_id: int | None = None,
    not_before: datetime | None = None,
) -> OutboxMessage:
    """Queue a message to a staff member (``user_id``) or a chat; it is sent after the caller commits."""
    if user_id is None and chat_id is None:
        raise ValueError("an outbox message needs a recipient (user_id or chat_id)")
    row = OutboxMessage(
        kind=kind,
        user_id=user_id,
        chat_id=chat_id,
        borrower_id=borrower_id,
        visit_id=visit_id,
        task_id=task_id,
        payload=body,
        created_at=now,
        not_before=not_before or now,
    )
    session.add(row)
    return row
