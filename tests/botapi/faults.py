"""Faults the double can inject into Bot API calls: errors once or at a seeded rate, per-chat flood
waits (429 with retry_after), Telegram's flood control (too many calls per bot or per chat in a sliding
window: 429), and hung calls that answer only after the bot has given up."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .records import JSON, ApiError

Match = Callable[[JSON], bool]

DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
    504: "Gateway Timeout",
}


def api_error(status: int, retry_after: int | None = None, description: str | None = None) -> ApiError:
    """The error Telegram answers with this status (429 carries `retry_after`, default 1)."""
    if status == 429 and retry_after is None:
        retry_after = 1
    if description is None:
        default = f"Too Many Requests: retry after {retry_after}" if status == 429 else None
        description = default or DESCRIPTIONS.get(status, "Error")
    parameters = {"retry_after": retry_after} if retry_after is not None else None
    return ApiError(status, description, parameters)


def for_chat(chat_id: int | None, when: Match | None) -> Match:
    """A filter on a call's parameters: this chat (None: any) and the test's own predicate."""

    def match(params: JSON) -> bool:
        if chat_id is not None and params.get("chat_id") != chat_id:
            return False
        return when is None or when(params)

    return match


@dataclass
class _Armed:
    error: ApiError
    match: Match


@dataclass
class _Rate:
    rate: float
    status: int
    retry_after: int | None
    rng: random.Random
    match: Match


@dataclass
class _Hang:
    seconds: float
    times: int
    apply: bool
    match: Match


@dataclass
class FloodLimits:
    """Telegram's flood control, emulated: within any ``window`` seconds, at most ``per_bot`` calls about a
    chat (any method with a ``chat_id``) and ``per_chat`` calls about one chat; a call over either limit is
    answered 429 with the whole seconds until it would have fitted, and is counted in ``refused``.
    ``calls`` keeps every call about a chat, let through or not: what the bot tried, and when."""

    per_bot: int
    per_chat: int
    window: float
    refused: int = 0
    calls: list[tuple[float, int]] = field(default_factory=list)
    """(monotonic time, chat) of every call about a chat, in order of arrival."""
    _bot: deque[float] = field(default_factory=deque)
    _chats: dict[int, deque[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.per_bot < 1 or self.per_chat < 1 or self.window <= 0:
            raise ValueError("flood limits need per_bot >= 1, per_chat >= 1 and a positive window")

    def check(self, chat_id: object) -> ApiError | None:
        """Let this call through (and count it), or the 429 Telegram would answer."""
        if not isinstance(chat_id, int):
            return None
        now = time.monotonic()
        self.calls.append((now, chat_id))
        since = now - self.window
        chat = self._chats.setdefault(chat_id, deque())
        for calls in (self._bot, chat):
            while calls and calls[0] <= since:
                calls.popleft()
        bounds = ((self._bot, self.per_bot), (chat, self.per_chat))
        full = [calls[-limit] for calls, limit in bounds if len(calls) >= limit]  # leaves the window: room
        if full:
            self.refused += 1
            fits_at = max(full) + self.window
            return api_error(429, retry_after=max(1, math.ceil(fits_at - now)))
        self._bot.append(now)
        chat.append(now)
        return None

    def busiest_window(self) -> int:
        """The most calls the bot tried in any ``window`` seconds."""
        times = [at for at, _ in self.calls]
        most, first = 0, 0
        for last, at in enumerate(times):
            while times[first] <= at - self.window:
                first += 1
            most = max(most, last - first + 1)
        return most

    def closest_in_a_chat(self) -> float | None:
        """The shortest time between two calls the bot tried for one chat (None: no chat had two)."""
        last: dict[int, float] = {}
        closest: float | None = None
        for at, chat in self.calls:
            if chat in last and (closest is None or at - last[chat] < closest):
                closest = at - last[chat]
            last[chat] = at
        return closest


@dataclass(frozen=True)
class Fired:
    """One fault that fired: the method, what it did ("502", "429", "hang") and the call's chat."""

    method: str
    fault: str
    chat_id: object
    at: float


@dataclass
class FaultPlan:
    """Everything armed against the bot's calls, checked in order: flood limit, one-off errors,
    rate-based errors, hangs."""

    fired: list[Fired] = field(default_factory=list)
    _next: dict[str, list[_Armed]] = field(default_factory=dict)
    _rates: dict[str, list[_Rate]] = field(default_factory=dict)
    _hangs: dict[str, list[_Hang]] = field(default_factory=dict)
    _floods: dict[int, float] = field(default_factory=dict)  # chat id -> monotonic end of its flood wait
    limits: FloodLimits | None = None
    _open_hangs: set[asyncio.Event] = field(default_factory=set)

    def fail_next(self, method: str, error: ApiError, times: int, match: Match) -> None:
        """Answer the next `times` matching calls of `method` with `error`."""
        self._next.setdefault(method.lower(), []).extend(_Armed(error, match) for _ in range(times))

    def fail_rate(
        self, method: str, rate: float, status: int, seed: int, retry_after: int | None, match: Match
    ) -> None:
        """Fail each matching call of `method` with probability `rate` (seeded per method)."""
        if not 0 <= rate <= 1:
            raise ValueError(f"rate must be within 0..1, got {rate}")
        rng = random.Random(f"{seed}:{method.lower()}")
        self._rates.setdefault(method.lower(), []).append(_Rate(rate, status, retry_after, rng, match))

    def hang(self, method: str, seconds: float, times: int, apply: bool, match: Match) -> None:
        """Hold the next `times` matching calls of `method` for `seconds` before answering."""
        self._hangs.setdefault(method.lower(), []).append(_Hang(seconds, times, apply, match))

    def flood_wait(self, chat_id: int, seconds: float) -> None:
        """For `seconds` from now, every call for this chat answers 429 with the time left."""
        self._floods[chat_id] = time.monotonic() + seconds

    def clear(self) -> None:
        """Forget every armed fault (a hang in progress is released at once)."""
        self._next.clear()
        self._rates.clear()
        self._hangs.clear()
        self._floods.clear()
        self.limits = None
        for event in self._open_hangs:
            event.set()

    async def before(self, method: str, params: JSON) -> None:
        """Raise the armed error for this call, or hold it; return to let the call run normally."""
        name = method.lower()
        chat_id = params.get("chat_id")
        error = self._flood_error(chat_id) or self._take_next(name, params) or self._take_rate(name, params)
        if error is None and self.limits is not None:
            error = self.limits.check(chat_id)
        if error is not None:
            self.fired.append(Fired(method, str(error.status), chat_id, time.monotonic()))
            raise error
        hang = self._take_hang(name, params)
        if hang is None:
            return
        self.fired.append(Fired(method, "hang", chat_id, time.monotonic()))
        released = asyncio.Event()
        self._open_hangs.add(released)
        try:
            async with asyncio.timeout(hang.seconds):
                await released.wait()
        except TimeoutError:
            pass
        finally:
            self._open_hangs.discard(released)
        if not hang.apply:
            raise api_error(504)

    def _flood_error(self, chat_id: object) -> ApiError | None:
        if not isinstance(chat_id, int) or chat_id not in self._floods:
            return None
        left = self._floods[chat_id] - time.monotonic()
        if left <= 0:
            del self._floods[chat_id]
            return None
        return api_error(429, retry_after=max(1, math.ceil(left)))

    def _take_next(self, name: str, params: JSON) -> ApiError | None:
        armed = self._next.get(name, [])
        for index, item in enumerate(armed):
            if item.match(params):
                del armed[index]
                return item.error
        return None

    def _take_rate(self, name: str, params: JSON) -> ApiError | None:
        for item in self._rates.get(name, []):
            if item.match(params) and item.rng.random() < item.rate:
                return api_error(item.status, item.retry_after)
        return None

    def _take_hang(self, name: str, params: JSON) -> _Hang | None:
        for item in self._hangs.get(name, []):
            if item.times > 0 and item.match(params):
                item.times -= 1
                return item
        return None
