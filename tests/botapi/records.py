"""Plain records the Bot API double keeps and hands to tests: messages, files, answers, requests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

JSON = dict[str, Any]
T = TypeVar("T")


class DoubleError(AssertionError):
    """Root of the errors the double raises in a test (an AssertionError, so pytest shows it plainly)."""


class WaitTimeout(DoubleError):
    """A wait helper gave up: the bot did not do what the test expected in time."""


class ButtonNotFound(DoubleError):
    """`press` found no inline button with that text or callback data."""


class ApiError(Exception):
    """A Bot API error answer: HTTP status, Telegram's description and optional parameters."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(f"{status} {description}")
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JSON:
        """The JSON body Telegram sends with this error."""
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> ApiError:
    """A 400 with Telegram's `Bad Request: ...` description."""
    return ApiError(400, f"Bad Request: {detail}")


@dataclass
class ApiRequest:
    """One call the bot made: logged on arrival, `status` filled in when answered (None while open)."""

    method: str
    params: JSON
    status: int | None = None
    error: str | None = None
    in_response: bool = False
    """Given as the answer to a webhook post (Telegram runs it; the bot never learns how it went)."""


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes

    def __repr__(self) -> str:
        return f"Upload({self.filename!r}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class StoredFile:
    """A file the double holds: uploaded by the bot, or sent by a fake user."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    file_name: str | None = None
    mime_type: str | None = None

    def __repr__(self) -> str:
        return f"StoredFile({self.file_name or self.file_path!r}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class MessageVersion:
    """One state of a bot message: `text` as the user sees it, `source` as the bot sent it."""

    text: str | None
    source: str | None
    parse_mode: str | None
    reply_markup: JSON | None


Button = tuple[str, str | None]


@dataclass(frozen=True)
class BotMessage:
    """A bot message as it was at one moment (a send or an edit); `versions[0]` is the original."""

    message_id: int
    chat_id: int
    kind: str  # "text", "document" or "photo"
    versions: tuple[MessageVersion, ...]
    file: StoredFile | None = None

    @property
    def text(self) -> str | None:
        """The text (or caption) the user sees, HTML tags removed and entities unescaped."""
        return self.versions[-1].text

    @property
    def source(self) -> str | None:
        """The text exactly as the bot sent it (with its HTML or Markdown)."""
        return self.versions[-1].source

    @property
    def parse_mode(self) -> str | None:
        return self.versions[-1].parse_mode

    @property
    def reply_markup(self) -> JSON | None:
        return self.versions[-1].reply_markup

    @property
    def edits(self) -> tuple[MessageVersion, ...]:
        """The versions produced by edits, oldest first (empty if never edited)."""
        return self.versions[1:]

    @property
    def buttons(self) -> list[list[Button]]:
        """Inline keyboard rows as (text, callback_data or url)."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [[(b["text"], b.get("callback_data", b.get("url"))) for b in row] for row in rows]

    @property
    def keyboard(self) -> list[list[str]]:
        """Reply keyboard rows (the texts a user can tap to send)."""
        rows = (self.reply_markup or {}).get("keyboard", [])
        return [[b if isinstance(b, str) else b["text"] for b in row] for row in rows]


@dataclass(frozen=True)
class CallbackAnswer:
    """What the bot passed to answerCallbackQuery."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None


@dataclass
class ChatLog:
    """A private chat with a fake user: its message ids, the bot's messages and what the test consumed."""

    chat: JSON
    user: JSON
    blocked: bool = False
    last_message_id: int = 0
    bot_messages: dict[int, BotMessage] = field(default_factory=dict)
    user_messages: dict[int, JSON] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)
    events: list[BotMessage] = field(default_factory=list)  # every send and edit, in order
    consumed: set[int] = field(default_factory=set)  # indices of `events` a wait already returned

    def next_message_id(self) -> int:
        self.last_message_id += 1
        return self.last_message_id


class Signal:
    """Wakes every waiter whenever the double's state changes (single event loop, no lock needed)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_until(self, check: Callable[[], T | None], seconds: float) -> T | None:
        """Return `check()` once it is not None, or None after `seconds`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            result = check()
            if result is not None:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._event.wait()
