"""The update queue: getUpdates long polling, or webhook pushes, until the bot confirms each update."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

import aiohttp

from .records import JSON, ApiError, Signal

_LOGGER = logging.getLogger(__name__)
# Telegram leaves these out unless a bot asks for them in allowed_updates.
_OPT_IN_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_CONFLICT_POLL = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
_CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)


class UpdateFeed:
    """Unconfirmed updates in update_id order, handed out by getUpdates or pushed to webhooks."""

    def __init__(self, signal: Signal, *, webhook_retry_delay: float) -> None:
        self._signal = signal
        self._retry_delay = webhook_retry_delay
        self._ids = itertools.count(1)
        self._pending: list[JSON] = []
        self._history: dict[int, JSON] = {}
        self._poll_generation = 0
        self._closing = False
        self._push_task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._targets: list[str] = []
        self._rotation = itertools.count()
        self.allowed_updates: list[str] | None = None
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        self.webhook_max_connections = 40
        self.last_error: tuple[int, str] | None = None
        self.on_reply: Callable[[JSON], Awaitable[None]] | None = None
        """Runs the Bot API method a webhook gave as its answer to a post."""

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self._push_task = asyncio.create_task(self._push_loop(), name="botapi-double-webhook-push")

    async def close(self) -> None:
        self._closing = True
        self._signal.fire()
        try:
            if self._push_task:
                self._push_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._push_task  # re-raises if the loop died of a bug
        finally:
            if self._session:
                await self._session.close()

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def enqueue(self, body: JSON) -> int:
        """Queue an update (`{"message": ...}` or similar) and return its update_id."""
        update = {"update_id": next(self._ids), **body}
        self._history[update["update_id"]] = update
        if self._allowed(update):
            self._pending.append(update)
            self._signal.fire()
        return int(update["update_id"])

    def redeliver(self, update_id: int) -> None:
        """Put an already confirmed update back, as Telegram does when it never saw the confirmation."""
        update = self._history[update_id]
        if update not in self._pending:
            self._pending.append(update)
            self._pending.sort(key=lambda u: int(u["update_id"]))
            self._signal.fire()

    def drop_pending(self) -> None:
        self._pending.clear()

    def set_webhook(self, url: str, secret: str | None, max_connections: int) -> None:
        self.webhook_url, self.webhook_secret = url, secret
        self.webhook_max_connections = max_connections
        self.last_error = None
        self._signal.fire()  # a waiting getUpdates now ends with 409

    def deliver_to(self, urls: Sequence[str] | None) -> None:
        self._targets = list(urls or [])
        self._rotation = itertools.count()
        self._signal.fire()

    def set_allowed_updates(self, allowed: list[str] | None) -> None:
        """None keeps the previous setting; an empty list restores the default (all but opt-ins)."""
        if allowed is not None:
            self.allowed_updates = list(allowed) or None

    async def get_updates(self, offset: int, limit: int, wait_seconds: float) -> list[JSON]:
        """Long-poll: confirm ids below offset, then wait up to `wait_seconds` for updates."""
        if self.webhook_url:
            raise ApiError(409, _CONFLICT_WEBHOOK)
        if offset < 0:
            del self._pending[:offset]
        elif offset:
            self._pending = [u for u in self._pending if int(u["update_id"]) >= offset]
        self._poll_generation += 1
        mine = self._poll_generation
        self._signal.fire()  # an older poll still waiting ends with 409: the newest request wins

        def ready() -> list[JSON] | None:
            if mine != self._poll_generation:
                raise ApiError(409, _CONFLICT_POLL)
            if self.webhook_url:
                raise ApiError(409, _CONFLICT_WEBHOOK)
            batch = [u for u in self._pending if self._allowed(u)][: max(1, min(limit, 100))]
            return batch if batch or self._closing else None

        return await self._signal.wait_until(ready, wait_seconds) or []

    def _allowed(self, update: JSON) -> bool:
        kind = next(k for k in update if k != "update_id")
        if self.allowed_updates is None:
            return kind not in _OPT_IN_TYPES
        return kind in self.allowed_updates

    def _next_push(self) -> JSON | None:
        if self._closing or not self.webhook_url or not self._pending:
            return None
        return self._pending[0]

    async def _push_loop(self) -> None:
        """Push pending updates one at a time, in order; retry a failed one after a short delay."""
        while not self._closing:
            update = await self._signal.wait_until(self._next_push, 3600)
            if update is None:
                continue
            targets = self._targets or [self.webhook_url]
            url = targets[next(self._rotation) % len(targets)]
            status, failure = await self._post(url, update, self.webhook_secret)
            if 200 <= status < 300:
                if self._pending and self._pending[0] is update:
                    self._pending.pop(0)
                self._signal.fire()
            else:
                self.last_error = (int(time.time()), failure or f"Wrong response from the webhook: {status}")
                _LOGGER.debug("webhook %s failed on update %s: %s", url, update["update_id"], failure)
                await asyncio.sleep(self._retry_delay)

    async def post(self, url: str, update: JSON, secret: str | None) -> int:
        """POST one update as Telegram does; returns the HTTP status, 0 if the connection failed."""
        status, _ = await self._post(url, update, secret)
        return status

    async def _post(self, url: str, update: JSON, secret: str | None) -> tuple[int, str | None]:
        assert self._session is not None, "the double is not started"
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        try:
            async with self._session.post(url, json=update, headers=headers) as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return 0, f"Connection failed: {exc}"
        if 200 <= status < 300 and body and self.on_reply is not None:
            try:
                call = json.loads(body)
            except ValueError:
                call = None
            if isinstance(call, dict) and isinstance(call.get("method"), str):
                await self.on_reply(call)  # a Bot API method as the answer: Telegram runs it
        return status, None
