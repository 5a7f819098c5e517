"""Telegram chat sessions: which visit a chat is on and the message that shows its question."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ChatSession, utcnow

__all__ = ["chat_session", "clear_chat", "point_chat_at", "set_chat", "set_chat_message"]


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


async def point_chat_at(session: AsyncSession, chat_id: int, *, visit_id: int, step: str | None) -> None:
    """Point a chat at its visit's step, that question not delivered yet (one UPDATE, no read first;
    a chat with no row gets one)."""
    result: Any = await session.execute(
        update(ChatSession)
        .where(ChatSession.chat_id == chat_id)
        .values(visit_id=visit_id, message_id=None, step=step, picked=None, updated_at=utcnow())
    )
    if not result.rowcount:
        await set_chat(session, chat_id, visit_id=visit_id, message_id=None, step=step)


async def clear_chat(session: AsyncSession, chat_id: int) -> None:
    """Detach a chat from its visit (the visit ended or was left)."""
    await set_chat(session, chat_id, visit_id=None, message_id=None, step=None)


async def set_chat_message(
    session: AsyncSession, chat_id: int, *, visit_id: int, step: str | None, message_id: int
) -> None:
    """Remember the message just sent for the chat's question, unless the chat has moved on meanwhile
    (another bot process may have taken the next answer already)."""
    await session.execute(
        update(ChatSession)
        .where(
            ChatSession.chat_id == chat_id,
            ChatSession.visit_id == visit_id,
            ChatSession.step.is_(None) if step is None else ChatSession.step == step,
            ChatSession.message_id.is_(None),
        )
        .values(message_id=message_id)
    )
