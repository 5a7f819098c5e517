"""The bot's overall sending turn handed out fairly between chats: round-robin over per-chat queues.

Telegram lets a bot send about 30 messages a second in all. A single first-come-first-served queue for
that budget lets one busy chat (a hundred messages queued at once) hold every other chat back a hundred
turns. :class:`FairTurns` keeps one queue per chat instead and gives each turn to the next chat in
rotation that has a call waiting: a chat's own calls keep their order, and a call of a chat that joins
waits at most one turn per other chat with calls waiting — never behind another chat's backlog.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

__all__ = ["FairTurns"]


class FairTurns:
    """Hand out turns of ``token`` (an awaitable that returns when the next overall turn is due, such as
    ``AsyncLimiter.acquire``) round-robin over the chats waiting for one."""

    def __init__(self, token: Callable[[], Awaitable[object]]) -> None:
        self._token = token
        self._waiting: dict[object, deque[asyncio.Future[None]]] = {}
        """Each chat's waiting calls, oldest first; the dict's order is the rotation (next chat first)."""
        self._dispatcher: asyncio.Task[None] | None = None
        self.turns = 0
        """Turns handed out so far."""

    @property
    def waiting(self) -> int:
        """Calls waiting for a turn."""
        return sum(1 for queue in self._waiting.values() for future in queue if not future.done())

    async def turn(self, chat: object) -> None:
        """Wait for this chat's next turn (a call of the chat may go when this returns)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(chat, deque()).append(future)
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.ensure_future(self._dispatch())
        await future  # cancelled while waiting: the dispatcher skips it

    async def close(self) -> None:
        """Stop handing out turns (the application stops); calls still waiting are cancelled."""
        if self._dispatcher is not None and not self._dispatcher.done():
            self._dispatcher.cancel()
        for queue in self._waiting.values():
            for future in queue:
                future.cancel()
        self._waiting.clear()

    async def _dispatch(self) -> None:
        """While calls wait: take the next overall turn, give it to the next chat in rotation."""
        while self._live():
            await self._token()
            self._grant()

    def _live(self) -> bool:
        """Forget calls given up (cancelled) and chats with none left; True when some call still waits."""
        for chat in list(self._waiting):
            queue = self._waiting[chat]
            while queue and queue[0].done():
                queue.popleft()
            if not queue:
                del self._waiting[chat]
        return bool(self._waiting)

    def _grant(self) -> None:
        """The turn to the first chat in rotation with a live call; that chat moves to the back."""
        while self._waiting:
            chat = next(iter(self._waiting))
            queue = self._waiting.pop(chat)
            while queue and queue[0].done():
                queue.popleft()
            if not queue:
                continue
            queue.popleft().set_result(None)
            self.turns += 1
            if queue:
                self._waiting[chat] = queue  # back of the rotation
            return
