"""The outbox: messages the core decided to send, written in the same transaction as their cause.

A front-end (Telegram today) delivers them: it claims due rows (``SKIP LOCKED``, so several processes
deliver each once), renders ``payload`` in the recipient's language and zone, sends, and marks the
row sent. A process killed between the commit and the send loses nothing: the row is still there.

``payload`` is front-end neutral::

    {"key": "alert_risk", "params": {...}, "buttons": [[{"key": "alert_open_transcript", "data": "s:tr:12"}]]}

A parameter given as ``{"msg": "severity_high"}`` is translated in the recipient's language; one
given as ``{"time": "2026-12-01T18:48:00+00:00"}`` is shown in the recipient's zone, zone named; one
given as ``{"label": "flag", "code": "funds_diverted"}`` is the code's human label (:mod:`bot.desk.labels`).
Any other value is shown as it is. A button is ``{"key": <i18n key>, "data": <callback data>}`` (or
``{"text": …}`` for a literal label). :func:`render` turns a payload into text and buttons, so a
message key registered anywhere (``dialogs.i18n.register``) needs nothing else to be delivered.

Kinds in :data:`WINDOWED_KINDS` are bot-initiated contact about a borrower (reminders, invites,
digests): they go out only inside the borrower's contact window. Alerts and notices to staff go at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot.desk.labels import channel_label, label, reason_label, task_note_label
from bot.desk.timefmt import shown
from dialogs.i18n import has_message, message
from storage.models import OutboxMessage

__all__ = [
    "MAX_ATTEMPTS",
    "WINDOWED_KINDS",
    "Button",
    "Rendered",
    "UnknownMessage",
    "enqueue",
    "label_of",
    "msg",
    "on_queued",
    "payload",
    "render",
    "retry_delay",
    "when",
]

WINDOWED_KINDS = frozenset({"reminder", "invite", "digest", "relief_decided"})
"""Bot-initiated contact about a borrower: held until the borrower's contact window opens."""
MAX_ATTEMPTS = 6
"""Delivery attempts before a message is given up (each attempt already retries a flaky call a few times)."""

Button = dict[str, str]

_LISTENERS: list[Callable[[], None]] = []


def on_queued(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` after every commit that queued a message in this process (a delivery worker's
    wake-up, so a message goes out at once instead of at the next poll); returns the way to stop."""
    _LISTENERS.append(callback)
    return lambda: _LISTENERS.remove(callback) if callback in _LISTENERS else None


def _committed(session: Session) -> None:
    session.info.pop("outbox_queued", None)
    for callback in list(_LISTENERS):
        callback()


def msg(key: str, **params: Any) -> dict[str, Any]:
    """A parameter translated in the recipient's language when delivered (a label, a severity)."""
    return {"msg": key, "params": params} if params else {"msg": key}


def label_of(kind: str, code: str | None) -> dict[str, str]:
    """A parameter shown as the human label of a code (``label_of("flag", "funds_diverted")``)."""
    return {"label": kind, "code": code or ""}


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
    sync = session.sync_session
    if not sync.info.get("outbox_queued"):
        sync.info["outbox_queued"] = True
        event.listen(sync, "after_commit", _committed, once=True)
    return row


def retry_delay(attempts: int) -> timedelta:
    """How long a message waits after its ``attempts``-th failed delivery: 2, 4, 8 … seconds, at most 5 minutes."""
    return timedelta(seconds=min(2 ** max(attempts, 1), 300))


class UnknownMessage(LookupError):
    """A payload names a message key no module registered (delivery gives it up, saying which)."""


@dataclass(frozen=True)
class Rendered:
    """A payload in one person's language and zone: plain text and rows of (label, callback data)."""

    text: str
    buttons: list[list[tuple[str, str]]] = field(default_factory=list)


def _value(value: Any, locale: str, zone: str) -> Any:
    """One parameter for ``locale`` and ``zone``: markers translated, anything else as it is."""
    if isinstance(value, dict):
        if "msg" in value:
            return _text(str(value["msg"]), value.get("params") or {}, locale, zone)
        if "time" in value:
            return shown(str(value["time"]), zone)
        if "label" in value:
            kind, code = str(value["label"]), str(value.get("code") or "")
            if kind == "reason":
                return reason_label(code, locale)
            if kind == "channel":
                return channel_label(code, locale)
            if kind.startswith("task_note:"):  # a task's note: its flags or the borrower's wish, in words
                return task_note_label(kind.partition(":")[2], code, locale)
            return label(kind, code, locale)
    return value


def _text(key: str, params: dict[str, Any], locale: str, zone: str) -> str:
    if not has_message(key):
        raise UnknownMessage(f"no message {key!r} is registered")
    return message(key, locale, **{name: _value(v, locale, zone) for name, v in params.items()})


def render(body: dict[str, Any], locale: str, zone: str) -> Rendered:
    """A payload as the recipient reads it: in their language, times in their zone (zone named)."""
    text = _text(str(body["key"]), dict(body.get("params") or {}), locale, zone)
    rows = []
    for row in body.get("buttons") or []:
        buttons = []
        for button in row:
            shown_as = button["text"] if "text" in button else _text(button["key"], {}, locale, zone)
            buttons.append((str(shown_as), str(button["data"])))
        if buttons:
            rows.append(buttons)
    return Rendered(text, rows)
