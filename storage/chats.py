"""Telegram chat sessions: which visit a chat is on, and where (in which message) its question shows.

A chat's row says only which visit it is on (and the options ticked so far on a multiple-choice
question). Where the visit's current question is on screen is the visit's own (``Visit.shown_in``,
``Visit.shown_step``), kept with the write that moves the visit: a press's answer says in its own
UPDATE of the visit that the pressed message shows the next question, so an answer writes no chat row.
:class:`ChatView` puts the two together, as the handlers read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import direct
from storage.db import table_of
from storage.direct import Direct
from storage.models import ChatSession, Visit, utcnow, visit_status_is

__all__ = [
    "ChatView",
    "chat_view",
    "leave_visit",
    "message_in",
    "move_shown",
    "point_chat_at",
    "screen_ref",
    "set_chat",
    "set_shown",
]


def screen_ref(chat_id: int, message_id: int) -> str:
    """The visit's reference to a Telegram message (``Visit.shown_in``)."""
    return f"tg:{chat_id}:{message_id}"


def message_in(ref: str | None, chat_id: int) -> int | None:
    """The message of ``chat_id`` a reference names (None: none, or another chat's)."""
    prefix = f"tg:{chat_id}:"
    if ref is None or not ref.startswith(prefix) or not ref[len(prefix) :].isdigit():
        return None
    return int(ref[len(prefix) :])


@dataclass(frozen=True)
class ChatView:
    """A chat as the handlers see it: the visit it is on, that visit's current step, and the message of
    this chat showing that step's question (None: not on screen here, e.g. not delivered yet)."""

    chat_id: int
    visit_id: int | None
    step: str | None
    """The open visit's current step (None: no open visit, or it ended)."""
    message_id: int | None
    picked: list[str] | None
    updated_at: datetime
    """When the chat or its visit last changed: a question not on screen since a moment ago may still be
    on its way (``bot.telegram.visits.IN_FLIGHT``)."""

    @classmethod
    def of(cls, chat_id: int, row: ChatSession | None, visit: Visit | None) -> ChatView | None:
        """The view of a chat's row and the open visit it is on (as read together); None without a row."""
        if row is None:
            return None
        if visit is None or visit.id != row.visit_id:
            return cls(chat_id, row.visit_id, None, None, row.picked, row.updated_at)
        return cls.made(chat_id, row.visit_id, row.picked, row.updated_at, visit.step, visit.shown_in,
                        visit.shown_step, visit.updated_at)  # fmt: skip

    @classmethod
    def made(
        cls,
        chat_id: int,
        visit_id: int | None,
        picked: list[str] | None,
        chat_at: datetime,
        step: str | None,
        shown_in: str | None,
        shown_step: str | None,
        visit_at: datetime | None,
    ) -> ChatView:
        """The view from the columns of a chat's row and its open visit's (``step`` …: None when none)."""
        message = message_in(shown_in, chat_id) if step is not None and shown_step == step else None
        at = chat_at if visit_at is None or visit_at < chat_at else visit_at
        return cls(chat_id, visit_id, step, message, picked, at)


_CHATS, _VISITS = table_of(ChatSession), table_of(Visit)
_VIEW = (
    select(
        _CHATS.c.visit_id,
        _CHATS.c.picked,
        _CHATS.c.updated_at,
        _VISITS.c.step,
        _VISITS.c.shown_in,
        _VISITS.c.shown_step,
        _VISITS.c.updated_at,
        _VISITS.c.status,
    )
    .select_from(_CHATS)
    .outerjoin(_VISITS, _VISITS.c.id == _CHATS.c.visit_id)
    .where(_CHATS.c.chat_id == bindparam("b_chat"))
)
"""A chat's row and its visit, joined by the visit's id alone (one not open is left out in :func:`chat_view`):
joined with ``status = 'open'`` too, PostgreSQL's generic plan may scan the partial index of open visits
(see ``storage.repositories._STAFF_AND_CHAT``)."""


async def chat_view(session: AsyncSession, chat_id: int) -> ChatView | None:
    """The chat as it stands (one statement); None when it has no row."""
    row = (await session.execute(_VIEW, {"b_chat": chat_id})).first()
    if row is None:
        return None
    visit_id, picked, chat_at, step, shown_in, shown_step, visit_at, status = row
    if status != "open":  # the chat's visit ended (or there is none): no step, nothing shown
        step = shown_in = shown_step = visit_at = None
    return ChatView.made(chat_id, visit_id, picked, chat_at, step, shown_in, shown_step, visit_at)


async def set_chat(
    session: AsyncSession, chat_id: int, *, visit_id: int | None, picked: list[str] | None = None
) -> None:
    """Put a chat on a visit (or on none), with the options ticked so far."""
    row = await session.get(ChatSession, chat_id)
    if row is None:
        row = ChatSession(chat_id=chat_id)
        session.add(row)
    row.visit_id, row.picked = visit_id, picked
    await session.flush()


# Built once and run by the driver (storage.direct): SQLAlchemy's execution of a statement costs many times
# the database's work.
_POINT = Direct(
    update(_CHATS)
    .where(_CHATS.c.chat_id == bindparam("b_chat"))
    .values(visit_id=bindparam("b_visit"), picked=None, updated_at=bindparam("b_at"))
)


async def point_chat_at(session: AsyncSession, chat_id: int, *, visit_id: int) -> None:
    """Put a chat on a visit with nothing ticked (one UPDATE, no read first; a chat with no row gets one)."""
    if not await direct.execute(session, _POINT, {"b_chat": chat_id, "b_visit": visit_id, "b_at": utcnow()}):
        await set_chat(session, chat_id, visit_id=visit_id)


_LEAVE = Direct(
    update(_CHATS)
    .where(_CHATS.c.chat_id == bindparam("b_chat"), _CHATS.c.visit_id == bindparam("b_visit"))
    .values(visit_id=None, picked=None, updated_at=bindparam("b_at"))
)


async def leave_visit(session: AsyncSession, chat_id: int, visit_id: int) -> None:
    """Detach a chat from a visit that ended, unless the chat is on another visit by now (one UPDATE)."""
    await direct.execute(session, _LEAVE, {"b_chat": chat_id, "b_visit": visit_id, "b_at": utcnow()})


_SHOWN = Direct(
    update(_VISITS)
    .where(_VISITS.c.id == bindparam("b_visit"), _VISITS.c.step == bindparam("b_step"), visit_status_is("open"))
    .values(shown_in=bindparam("b_shown_in"), shown_step=_VISITS.c.step, updated_at=_VISITS.c.updated_at)
)
"""Where the question shows (of the step it is guarded to be), not a change of the visit: its revision and its
``updated_at`` stay."""


async def set_shown(session: AsyncSession, chat_id: int, *, visit_id: int, step: str, message_id: int) -> None:
    """Remember the message just sent with ``step``'s question, unless the visit has moved on meanwhile
    (another bot process may have taken the next answer already)."""
    params = {"b_visit": visit_id, "b_step": step, "b_shown_in": screen_ref(chat_id, message_id)}
    await direct.execute(session, _SHOWN, params)


_MOVE_SHOWN = Direct(
    update(_VISITS)
    .where(
        _VISITS.c.id == bindparam("b_visit"),
        _VISITS.c.step == bindparam("b_step"),
        _VISITS.c.shown_step == _VISITS.c.step,
        _VISITS.c.shown_in == bindparam("b_was"),
        visit_status_is("open"),
    )
    .values(shown_in=bindparam("b_shown_in"), updated_at=_VISITS.c.updated_at)
)


async def move_shown(
    session: AsyncSession, chat_id: int, *, visit_id: int, step: str, was: int, now: int | None
) -> None:
    """``step``'s question moved from message ``was`` to ``now`` (None: it reached no message), unless the
    visit has moved on meanwhile."""
    params = {
        "b_visit": visit_id,
        "b_step": step,
        "b_was": screen_ref(chat_id, was),
        "b_shown_in": screen_ref(chat_id, now) if now is not None else None,
    }
    await direct.execute(session, _MOVE_SHOWN, params)
