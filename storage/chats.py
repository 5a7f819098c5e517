"""Telegram chat sessions: which visit a chat is on and the message that shows its question."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import direct
from storage.db import table_of
from storage.direct import Direct
from storage.models import ChatSession, utcnow

__all__ = ["chat_session", "leave_visit", "point_chat_at", "set_chat", "set_chat_message"]


async def chat_session(session: AsyncSession, chat_id: int) -> ChatSession | None:
    """The chat's session row, if any."""
    return await session.get(ChatSession, chat_id, populate_existing=True)


async def set_chat(
    session: AsyncSession,
    chat_id: int,
    *,
    visit_id: int | None,
    message_id: int | None,
    step: str | None,
    picked: list[str] | None = None,
) -> None:
    """Point a chat at a visit and the message showing its current question."""
    row = await session.get(ChatSession, chat_id)
    if row is None:
        row = ChatSession(chat_id=chat_id)
        session.add(row)
    row.visit_id, row.message_id, row.step, row.picked = visit_id, message_id, step, picked
    await session.flush()


_CHATS = table_of(ChatSession)
# Built once and run by the driver (storage.direct): the answer path runs these on every answer, and
# SQLAlchemy's execution of a statement costs many times the database's work.
_POINT = Direct(
    update(_CHATS)
    .where(_CHATS.c.chat_id == bindparam("b_chat"))
    .values(
        visit_id=bindparam("b_visit"),
        message_id=bindparam("b_message"),
        step=bindparam("b_step"),
        picked=None,
        updated_at=bindparam("b_at"),
    )
)


async def point_chat_at(
    session: AsyncSession, chat_id: int, *, visit_id: int, step: str | None, message_id: int | None = None
) -> None:
    """Point a chat at its visit's step (one UPDATE, no read first; a chat with no row gets one):
    ``message_id`` is the message that will show that question, None when it is not delivered yet."""
    params = {"b_chat": chat_id, "b_visit": visit_id, "b_message": message_id, "b_step": step, "b_at": utcnow()}
    if not await direct.execute(session, _POINT, params):
        await set_chat(session, chat_id, visit_id=visit_id, message_id=message_id, step=step)


_LEAVE = Direct(
    update(_CHATS)
    .where(_CHATS.c.chat_id == bindparam("b_chat"), _CHATS.c.visit_id == bindparam("b_visit"))
    .values(visit_id=None, message_id=None, step=None, picked=None, updated_at=bindparam("b_at"))
)


async def leave_visit(session: AsyncSession, chat_id: int, visit_id: int) -> None:
    """Detach a chat from a visit that ended, unless the chat is on another visit by now (one UPDATE)."""
    await direct.execute(session, _LEAVE, {"b_chat": chat_id, "b_visit": visit_id, "b_at": utcnow()})


_DELIVERED = {
    stepped: Direct(
        update(_CHATS)
        .where(
            _CHATS.c.chat_id == bindparam("b_chat"),
            _CHATS.c.visit_id == bindparam("b_visit"),
            _CHATS.c.step == bindparam("b_step") if stepped else _CHATS.c.step.is_(None),
            _CHATS.c.message_id.is_(None),
        )
        .values(message_id=bindparam("b_message"), updated_at=bindparam("b_at"))
    )
    for stepped in (True, False)
}


async def set_chat_message(
    session: AsyncSession, chat_id: int, *, visit_id: int, step: str | None, message_id: int
) -> None:
    """Remember the message just sent for the chat's question, unless the chat has moved on meanwhile
    (another bot process may have taken the next answer already)."""
    params: dict[str, Any] = {"b_chat": chat_id, "b_visit": visit_id, "b_message": message_id, "b_at": utcnow()}
    if step is not None:
        params["b_step"] = step
    await direct.execute(session, _DELIVERED[step is not None], params)
