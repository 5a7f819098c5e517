"""The Bot API side of :mod:`bench.telegram_path`: a canned, network-free Bot API and the officer chats it serves.

:class:`CannedBotApi` is a ``telegram.request.BaseRequest`` answering every Bot API method with valid
JSON (a Message with a fresh ``message_id`` for a send, the edited Message for an edit, ``true`` for the
rest), counting calls per method and those carrying a ``chat_id`` (the ones Telegram's 30 messages/s
applies to). A :class:`Conversation` waiting for its next question is told when a sendMessage or
editMessageText shows it: a keyboard of another step than the one just answered, or the visit's end.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from telegram.request import BaseRequest, RequestData

__all__ = ["BOT_USER", "TOKEN", "CannedBotApi", "Conversation", "Shown", "Waiting", "buttons_of", "step_of"]

BOT_ID = 4_242_000
TOKEN = f"{BOT_ID}:benchTOKEN"
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Visit bench", "username": "visit_bench_bot"}
FINISHED = "回访结束"
"""What the message ending a visit says (tg_finished, zh-CN)."""
FAILED = "抱歉，处理时出了点问题"
"""The start of the error handler's message (tg_error, zh-CN)."""
VISIT_KINDS = ("a", "m", "c")
"""Callback data kinds of a visit question's buttons (``<kind>:<visit>:<step>:<value>``)."""


@dataclass
class Shown:
    """A question on the chat's screen: the message, its buttons, its step (None: the visit ended)."""

    message_id: int
    text: str
    markup: dict[str, Any] | None
    step: str | None
    at: float
    finished: bool = False
    failed: bool = False


@dataclass
class Waiting:
    """A conversation waiting for the bot to show the question after ``answered`` (None: any question)."""

    answered: str | None
    future: asyncio.Future[Shown]


class CannedBotApi(BaseRequest):
    """A Bot API without a network: canned valid JSON for every method, calls counted per method; a chat
    waiting for its next question is told when a call shows it."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.limited = 0
        self.last: dict[str, Any] | None = None
        """The last message sent or edited (as the canned reply has it)."""
        self.waiting: dict[int, Waiting] = {}
        self._ids = itertools.count(1_000_000)

    @property
    def read_timeout(self) -> float | None:
        """No timeouts: nothing waits on a network."""
        return None

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    def reset(self) -> None:
        """Forget the counts."""
        self.calls.clear()
        self.limited = 0

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        """Answer one Bot API call (HTTP 200, ``ok``)."""
        endpoint = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data is not None else {}
        self.calls[endpoint] += 1
        if "chat_id" in params:
            self.limited += 1
        result = self._result(endpoint, params)
        if isinstance(result, dict):
            self.last = result
            if endpoint in ("sendMessage", "editMessageText"):
                self._seen(result)
        return 200, json.dumps({"ok": True, "result": result}, ensure_ascii=False).encode()

    def _result(self, endpoint: str, params: dict[str, Any]) -> object:
        if endpoint == "getMe":
            return BOT_USER
        if endpoint == "getUpdates":
            return []
        if endpoint.startswith("send") or (endpoint.startswith("edit") and "chat_id" in params):
            new = endpoint.startswith("send")
            sent: dict[str, Any] = {
                "message_id": next(self._ids) if new else int(params["message_id"]),
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "from": BOT_USER,
                "text": str(params.get("text", "")),
            }
            if "reply_markup" in params:
                sent["reply_markup"] = params["reply_markup"]
            if not new:
                sent["edit_date"] = sent["date"]
            return sent
        return True  # answerCallbackQuery, setMyCommands, an inline message's edit …

    def _seen(self, sent: dict[str, Any]) -> None:
        """Tell the chat's conversation when this message shows its next question (or the visit's end)."""
        chat = sent["chat"]["id"]
        waiting = self.waiting.get(chat)
        if waiting is None or waiting.future.done():
            return
        text = sent["text"]
        step = step_of(sent.get("reply_markup"))
        shown = Shown(sent["message_id"], text, sent.get("reply_markup"), step, time.perf_counter())
        if FINISHED in text:
            shown.finished = True
        elif text.startswith(FAILED):
            shown.failed = True
        elif step is None or step == waiting.answered:
            return  # the answered question edited, a notice: not the next question yet
        del self.waiting[chat]
        waiting.future.set_result(shown)


def step_of(markup: object) -> str | None:
    """The visit step a question's keyboard belongs to (from its buttons' callback data)."""
    if not isinstance(markup, dict):
        return None
    for row in markup.get("inline_keyboard", ()):
        for button in row:
            kind, _, rest = str(button.get("callback_data", "")).partition(":")
            if kind in VISIT_KINDS:
                return rest.split(":")[1]
    return None


def buttons_of(shown: Shown) -> list[str]:
    """The callback data of a question's option buttons (``a``/``m`` kinds)."""
    rows = (shown.markup or {}).get("inline_keyboard", ())
    return [
        str(b.get("callback_data", ""))
        for row in rows
        for b in row
        if str(b.get("callback_data", ""))[:2] in ("a:", "m:")
    ]


@dataclass
class Conversation:
    """One officer's private chat running one visit."""

    officer_id: int
    code: str
    answers: int = 0
    latencies: list[float] = field(default_factory=list)
    finished: bool = False
    failed: bool = False
    stuck: bool = False
    shown: Shown | None = None
    _messages: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def user(self) -> dict[str, Any]:
        return {"id": self.officer_id, "is_bot": False, "first_name": f"信贷员{self.code}"}

    def chat(self) -> dict[str, Any]:
        return {"id": self.officer_id, "type": "private", "first_name": self.user()["first_name"]}

    def typed(self, update_id: int, text: str) -> dict[str, Any]:
        """A text message (a command gets its entity)."""
        payload: dict[str, Any] = {
            "message_id": next(self._messages), "date": int(time.time()), "chat": self.chat(), "from": self.user(),
            "text": text,
        }  # fmt: skip
        if text.startswith("/"):
            payload["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return {"update_id": update_id, "message": payload}

    def press(self, update_id: int, data: str) -> dict[str, Any]:
        """A press on a button of the question shown."""
        assert self.shown is not None
        message: dict[str, Any] = {
            "message_id": self.shown.message_id, "date": int(time.time()), "chat": self.chat(), "from": BOT_USER,
            "text": self.shown.text,
        }  # fmt: skip
        if self.shown.markup is not None:
            message["reply_markup"] = self.shown.markup
        query = {"id": f"q{update_id}", "from": self.user(), "chat_instance": str(self.officer_id), "data": data}
        return {"update_id": update_id, "callback_query": {**query, "message": message}}
