"""Getting updates in and messages out under faults: per-chat order, time limits, retries, flood waits.

- :class:`ChatOrderedProcessor` runs the updates of different chats concurrently and those of one
  chat one at a time, in the order they came, each within a time limit. A chat sending hundreds of
  messages queues behind itself only.
- :class:`ChatPacedLimiter` keeps the bot within Telegram's limits and rides out what still goes wrong:
  every call about a chat passes one overall :class:`aiolimiter.AsyncLimiter` (about 30 messages/s per
  bot, as PTB's ``AIORateLimiter``), whose turns go round-robin over the chats waiting
  (:class:`~bot.telegram.turns.FairTurns`: one busy chat never delays the others); a bot-initiated
  send (the outbox's, ``rate_limit_args=OUTBOUND``)
  also keeps 1 s between calls to its chat, while a reply to a user goes at once. A call that failed
  on the way (5xx, a timeout, a lost connection) is retried with backoff, and a 429's ``retry_after``
  pauses the chat it was about only: other chats' calls go on (``AIORateLimiter`` halts them all).
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from telegram import Update
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter, BaseUpdateProcessor
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_random_exponential

from bot.telegram.turns import FairTurns

__all__ = [
    "OUTBOUND",
    "PER_BOT",
    "PER_CHAT",
    "ChatOrderedProcessor",
    "ChatPace",
    "ChatPacedLimiter",
    "retry_seconds",
]

log = logging.getLogger(__name__)

QUEUE_LIMIT = 100_000
"""Updates PTB may hand over at once; they wait on their chat's turn, not on a shared slot."""
PRESS_DEADLINE = 3.0
"""Seconds a button press may wait for its real answer before it is answered 'working on it'."""
UNWIND_WAIT = 5.0
"""Seconds a chat waits for an abandoned update to roll back before its next update runs."""
PER_BOT = 30.0
"""Messages per second Telegram lets a bot send in all (FloodLimit.MESSAGES_PER_SECOND)."""
PER_CHAT = 1.0
"""Seconds between two bot-initiated messages to one chat (FloodLimit.MESSAGES_PER_SECOND_PER_CHAT)."""
MARGIN = 0.04
"""How far under Telegram's limits the bot stays, so a request's few milliseconds of jitter on the way
never put a 31st call into Telegram's second (or two calls into a chat's)."""
REMEMBERED_CHATS = 10_000
"""Chats whose last call is remembered before those quiet for a minute are forgotten."""


@dataclass(frozen=True)
class ChatPace:
    """The ``rate_limit_args`` of a bot-initiated send: at least ``every`` seconds since the chat's last call."""

    every: float = PER_CHAT


OUTBOUND = ChatPace()
"""What the outbox passes: Telegram's 1 message/s per chat."""


def chat_of(update: object) -> int | None:
    """The chat an update belongs to (None for updates without one)."""
    if isinstance(update, Update) and update.effective_chat is not None:
        return update.effective_chat.id
    return None


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Concurrent across chats, in order within a chat, each update within ``timeout`` seconds."""

    def __init__(
        self,
        *,
        workers: int,
        timeout: float,
        on_timeout: Callable[[object], Coroutine[Any, Any, None]],
        on_slow_press: Callable[[object], Coroutine[Any, Any, None]] | None = None,
        press_deadline: float = PRESS_DEADLINE,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        super().__init__(max_concurrent_updates=QUEUE_LIMIT)
        self.timeout = timeout
        self.press_deadline = press_deadline
        self._on_timeout = on_timeout
        self._on_slow_press = on_slow_press
        self._workers = asyncio.Semaphore(workers)
        self._locks: dict[int, asyncio.Lock] = {}
        self._queued: dict[int, int] = {}
        self._tasks: set[asyncio.Future[None]] = set()

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free."""

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the chat's turn (ordered), then for a worker, then run the update with a time limit.

        A button press still waiting for its answer after ``press_deadline`` seconds (its chat busy,
        a call hung) is answered then (``on_slow_press``), so no button keeps spinning."""
        slow = None
        if self._on_slow_press is not None and isinstance(update, Update) and update.callback_query is not None:
            notice = self._on_slow_press
            slow = asyncio.get_running_loop().call_later(self.press_deadline, lambda: self._background(notice(update)))
        try:
            await self._in_turn(update, coroutine)
        finally:
            if slow is not None:
                slow.cancel()

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` on its own, keeping a reference until it is done."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _in_turn(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = chat_of(update)
        if chat is None:
            async with self._workers:
                await self._run(update, coroutine)
            return
        lock = self._locks.setdefault(chat, asyncio.Lock())
        self._queued[chat] = self._queued.get(chat, 0) + 1
        try:
            async with lock, self._workers:
                await self._run(update, coroutine)
        finally:
            self._queued[chat] -= 1
            if not self._queued[chat]:
                del self._queued[chat], self._locks[chat]

    async def _run(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the update; past the time limit, cancel it and tell the user at once (a cancelled database
        call may take a while to unwind: the chat waits for it a little longer, then goes on)."""
        task = asyncio.ensure_future(coroutine)
        try:
            done, _ = await asyncio.wait({task}, timeout=self.timeout)
        except asyncio.CancelledError:  # the application stops: so does the update
            task.cancel()
            raise
        if done:
            task.result()
            return
        task.cancel()
        task.add_done_callback(_reap)
        log.warning("update %s took over %ss and was abandoned", getattr(update, "update_id", "?"), self.timeout)
        try:
            async with asyncio.timeout(self.timeout):
                await self._on_timeout(update)
        except Exception:  # telling the user is best effort; the update itself is already logged
            log.warning("could not tell the chat about the timeout", exc_info=True)
        await asyncio.wait({task}, timeout=min(UNWIND_WAIT, self.timeout))


def _reap(task: asyncio.Future[Any]) -> None:
    """Collect an abandoned update's end, so its late failure is logged once, not left unretrieved."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("an abandoned update failed as it unwound: %s", task.exception())


def retry_seconds(exc: RetryAfter) -> float:
    """How long Telegram asked to wait, in seconds (PTB gives an int or a timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class ChatPacedLimiter(BaseRateLimiter[Any]):  # Any, not ChatPace: the application's bot stays ExtBot[None]
    """Telegram's limits kept (``per_bot`` calls/s overall, a paced send's chat ``every`` seconds apart);
    transient failures retried with backoff; a flood wait pauses only its own chat.

    The overall limiter is a bucket of one, so calls are spaced evenly and no second ever holds more
    than ``per_bot``; ``per_bot=0`` switches it off. Its turns go round-robin over the chats with calls
    waiting, so a chat's call waits at most one turn per other busy chat, never behind a chat's backlog.
    Paced sends take their turn at it one at a time, so a reply to a user waits behind at most one
    outbox message, never behind a backlog."""

    def __init__(
        self,
        *,
        attempts: int = 4,
        max_wait: float = 60.0,
        backoff: float = 0.3,
        per_bot: float = PER_BOT,
        margin: float = MARGIN,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        if per_bot < 0 or not 0 <= margin < 1:
            raise ValueError("per_bot must be 0 (no limit) or more, margin within 0..1")
        self.attempts = attempts
        self.max_wait = max_wait
        self.backoff = backoff
        self.margin = margin
        self._overall = AsyncLimiter(1, 1 / (per_bot * (1 - margin))) if per_bot else None
        self._fair = FairTurns(self._overall.acquire) if self._overall is not None else None
        self._bulk = asyncio.Lock()
        self._paused_until: dict[object, float] = {}
        self._last_call: dict[object, float] = {}
        self._pacing: dict[object, tuple[asyncio.Lock, int]] = {}  # a chat's paced sends: in turn, how many
        self._forget_at = REMEMBERED_CHATS

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Forget the chats' pauses and last calls; stop handing out turns."""
        if self._fair is not None:
            await self._fair.close()
        self._paused_until.clear()
        self._last_call.clear()

    def _retryable(self, exc: BaseException) -> bool:
        """A flood wait we are willing to sit out, or a failure on the way (never a refusal)."""
        if isinstance(exc, RetryAfter):
            return retry_seconds(exc) <= self.max_wait
        return isinstance(exc, NetworkError) and not isinstance(exc, BadRequest)

    def _wait(self, state: RetryCallState) -> float:
        """Telegram's retry_after for a 429 (the chat is paused as well), else jittered backoff."""
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, RetryAfter):
            return retry_seconds(exc) + 0.1
        return float(wait_random_exponential(multiplier=self.backoff, max=5)(state))

    async def _chat_turn(self, chat: object) -> None:
        """Sit out a pause Telegram imposed on this chat."""
        loop = asyncio.get_running_loop()
        until = self._paused_until.get(chat)
        if until is None:
            return
        if until <= loop.time():
            self._paused_until.pop(chat, None)
            return
        await asyncio.sleep(until - loop.time())

    @asynccontextmanager
    async def _turn(self, chat: object, pace: ChatPace | None) -> AsyncIterator[None]:
        """Wait until this call may go: the chat's pause, its pace (paced sends), the bot's overall rate."""
        if pace is None:
            await self._chat_turn(chat)
            await self._overall_turn(chat)
            self._called(chat)
            yield
            return
        lock, waiting = self._pacing.get(chat) or (asyncio.Lock(), 0)
        self._pacing[chat] = (lock, waiting + 1)
        try:
            async with lock:  # two paced sends to one chat keep their order and their distance
                await self._chat_turn(chat)
                loop = asyncio.get_running_loop()
                last = self._last_call.get(chat)
                if last is not None and (gap := last + pace.every * (1 + self.margin) - loop.time()) > 0:
                    await asyncio.sleep(gap)
                async with self._bulk:
                    await self._overall_turn(chat)
                self._called(chat)
        finally:
            lock, waiting = self._pacing[chat]
            if waiting > 1:
                self._pacing[chat] = (lock, waiting - 1)
            else:
                del self._pacing[chat]
        yield

    async def _overall_turn(self, chat: object) -> None:
        """The bot's next overall turn that falls to this chat (round-robin over the chats waiting)."""
        if self._fair is not None:
            await self._fair.turn(chat)

    def _called(self, chat: object) -> None:
        """Remember when a call to ``chat`` went (forgetting chats quiet for a minute, now and then)."""
        now = asyncio.get_running_loop().time()
        self._last_call[chat] = now
        if len(self._last_call) > self._forget_at:
            self._last_call = {c: at for c, at in self._last_call.items() if at > now - 60}
            self._forget_at = max(REMEMBERED_CHATS, 2 * len(self._last_call))

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: ChatPace | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Call the Bot API within the limits; retry what may succeed next time, pausing only the chat a 429 names.

        The first try runs outside tenacity (nearly every call succeeds at once, and tenacity's machinery
        costs about 25 µs a call); a retryable failure of it is then tenacity's first attempt, so the
        waits, the count of attempts and what is raised in the end are tenacity's, as before."""
        chat = data.get("chat_id")
        try:
            return await self._attempt(callback, args, kwargs, endpoint, chat, rate_limit_args, 1)
        except Exception as exc:
            if self.attempts < 2 or not self._retryable(exc):
                raise
            first = exc
        retrying = AsyncRetrying(
            retry=retry_if_exception(self._retryable),
            wait=self._wait,
            stop=stop_after_attempt(self.attempts),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                number = attempt.retry_state.attempt_number
                if number == 1:
                    raise first
                return await self._attempt(callback, args, kwargs, endpoint, chat, rate_limit_args, number)
        raise AssertionError("unreachable: tenacity re-raises the last failure")

    async def _attempt(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        chat: object,
        rate_limit_args: ChatPace | None,
        number: int,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """One try of a call (``number``: which): a flood wait pauses the chat, a failure on the way is logged."""
        try:
            if chat is None:
                return await callback(*args, **kwargs)
            async with self._turn(chat, rate_limit_args):
                return await callback(*args, **kwargs)
        except RetryAfter as exc:
            if chat is not None:
                pause = asyncio.get_running_loop().time() + retry_seconds(exc)
                self._paused_until[chat] = max(pause, self._paused_until.get(chat, 0.0))
            log.info("%s for chat %s: flood wait %ss", endpoint, chat, retry_seconds(exc))
            raise
        except NetworkError as exc:
            if not isinstance(exc, BadRequest):
                log.info("%s for chat %s failed (%s), attempt %s", endpoint, chat, exc, number)
            raise
