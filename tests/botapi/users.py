"""Fake Telegram users for tests: they write to the bot, tap its buttons and read its replies."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from .markup import command_entities
from .records import (
    JSON,
    ApiRequest,
    BotMessage,
    ButtonNotFound,
    CallbackAnswer,
    ChatLog,
    StoredFile,
    WaitTimeout,
)
from .state import TelegramState, now, photo_size_json

MessageMatch = str | Callable[[BotMessage], bool] | None


class FakeUser:
    """One user in a private chat with the bot (chat id = user id)."""

    def __init__(self, state: TelegramState, chat: ChatLog, requests: list[ApiRequest]) -> None:
        self._state = state
        self._chat = chat
        self._requests = requests

    def __repr__(self) -> str:
        return f"FakeUser({self.user_id}, {self._chat.user['first_name']!r})"

    @property
    def user_id(self) -> int:
        return int(self._chat.user["id"])

    @property
    def chat_id(self) -> int:
        return int(self._chat.chat["id"])

    @property
    def profile(self) -> JSON:
        """The `User` object Telegram puts in this user's updates."""
        return dict(self._chat.user)

    @property
    def blocked(self) -> bool:
        """While True, the bot's sends to this chat fail with 403 `bot was blocked by the user`."""
        return self._chat.blocked

    @blocked.setter
    def blocked(self, value: bool) -> None:
        self._chat.blocked = value

    @property
    def messages(self) -> list[BotMessage]:
        """The bot's messages in this chat, oldest first, each in its latest version (not deleted ones)."""
        chat = self._chat
        return [m for i, m in sorted(chat.bot_messages.items()) if i not in chat.deleted]

    @property
    def events(self) -> list[BotMessage]:
        """Every send and edit in this chat, in order, each as it was at that moment."""
        return list(self._chat.events)

    @property
    def pressed(self) -> list[str]:
        """Ids of the callback queries this user sent, oldest first."""
        return [q for q, chat in self._state.query_chats.items() if chat == self.chat_id]

    @property
    def callback_answers(self) -> dict[str, CallbackAnswer]:
        """What the bot answered to this user's button presses, by callback query id."""
        mine = set(self.pressed)
        return {q: a for q, a in self._state.answers.items() if q in mine}

    @property
    def documents(self) -> list[StoredFile]:
        """Documents the bot sent to this chat, with their uploaded bytes in `.data`."""
        return [m.file for m in self.messages if m.kind == "document" and m.file]

    # -- acting as the user --------------------------------------------------------------------

    async def send(self, text: str) -> int:
        """Send a text message (`/start payload` is a deep link); returns the update id."""
        body = self._message(text=text)
        entities = command_entities(text)
        if entities:
            body["entities"] = entities
        return self._state.feed.enqueue({"message": body})

    async def send_photo(self, photo: bytes | str | os.PathLike[str], caption: str | None = None) -> int:
        """Send a photo (bytes or a file path); the bot can getFile and download it."""
        data = photo if isinstance(photo, bytes) else await asyncio.to_thread(Path(photo).read_bytes)
        stored = self._state.store_file(data, "photos", None, "image/jpeg")
        body = self._message(photo=[photo_size_json(stored)])
        if caption is not None:
            body["caption"] = caption
        return self._state.feed.enqueue({"message": body})

    async def send_location(self, latitude: float, longitude: float) -> int:
        """Share a location."""
        body = self._message(location={"latitude": latitude, "longitude": longitude})
        return self._state.feed.enqueue({"message": body})

    async def press(self, button: str, message: BotMessage | int | None = None) -> str:
        """Tap the inline button with this text or callback data, in the latest bot message that has
        it (or in `message`); returns the callback query id."""
        found, data = self._find_button(button, message)
        return await self.press_data(data, found.message_id)

    async def press_data(self, data: str, message_id: int) -> str:
        """Send a callback query with any data for any message id (a stale or forged button)."""
        query_id = str(uuid.uuid4().int >> 65)
        message = self._chat.bot_messages.get(message_id)
        if message is not None and message_id not in self._chat.deleted:
            message_json = self._state.message_json(message)
        else:  # Telegram's InaccessibleMessage
            message_json = {"chat": self._chat.chat, "message_id": message_id, "date": 0}
        self._state.callback_queries[query_id] = self.chat_id
        self._state.query_chats[query_id] = self.chat_id
        self._state.pressed_at[query_id] = time.monotonic()
        self._state.feed.enqueue(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self._chat.user,
                    "message": message_json,
                    "chat_instance": str(self.chat_id * 7919),
                    "data": data,
                }
            }
        )
        return query_id

    # -- waiting for the bot -------------------------------------------------------------------

    async def wait_for_message(
        self,
        match: MessageMatch = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - a test-facing wait takes its own timeout
    ) -> BotMessage:
        """Wait for a send or edit to this chat whose text contains `match` (or satisfies it, if
        callable). Each send/edit is returned at most once, the oldest matching first; the result
        is the message as it was at that send/edit."""
        chat = self._chat

        def find() -> BotMessage | None:
            for index, event in enumerate(chat.events):
                if index not in chat.consumed and _matches(event, match):
                    chat.consumed.add(index)
                    return event
            return None

        found = await self._state.signal.wait_until(find, timeout)
        if found is None:
            raise WaitTimeout(self._explain(f"no bot message matching {match!r} within {timeout}s"))
        return found

    async def wait_for_answer(
        self,
        callback_query_id: str,
        timeout: float = 10.0,  # noqa: ASYNC109 - a test-facing wait takes its own timeout
    ) -> CallbackAnswer:
        """Wait for the bot to answer this callback query; returns what it answered."""
        answers = self._state.answers
        answer = await self._state.signal.wait_until(lambda: answers.get(callback_query_id), timeout)
        if answer is None:
            problem = f"callback query {callback_query_id} not answered within {timeout}s"
            raise WaitTimeout(self._explain(problem))
        return answer

    # -- internals -------------------------------------------------------------------------------

    def _message(self, **fields: object) -> JSON:
        body: JSON = {
            "message_id": self._chat.next_message_id(),
            "from": self._chat.user,
            "chat": self._chat.chat,
            "date": now(),
            **fields,
        }
        self._chat.user_messages[body["message_id"]] = body
        return body

    def _find_button(self, button: str, message: BotMessage | int | None) -> tuple[BotMessage, str]:
        if message is None:
            candidates = list(reversed(self.messages))
        else:
            message_id = message if isinstance(message, int) else message.message_id
            candidates = [m for m in self.messages if m.message_id == message_id]
        for candidate in candidates:
            for row in (candidate.reply_markup or {}).get("inline_keyboard", []):
                for b in row:
                    if button in (b.get("text"), b.get("callback_data")):
                        if "callback_data" not in b:
                            raise ButtonNotFound(f"{button!r} is not a callback button: {b}")
                        return candidate, str(b["callback_data"])
        raise ButtonNotFound(self._explain(f"no inline button {button!r}"))

    def _explain(self, problem: str) -> str:
        """The problem plus what the bot did in this chat, for a readable test failure."""
        lines = [f"{self!r}: {problem}.", "Bot messages in this chat (* = already returned by a wait):"]
        for index, event in enumerate(self._chat.events):
            mark = "*" if index in self._chat.consumed else " "
            kind = "edit" if event.edits else event.kind
            lines.append(f" {mark} #{event.message_id} {kind}: {event.text!r} buttons={event.buttons}")
        failed = [r for r in self._requests if r.status not in (None, 200) and r.params.get("chat_id") == self.chat_id]
        if failed:
            lines.append("Failed Bot API calls for this chat:")
            lines += [f"   {r.method} -> {r.status} {r.error}" for r in failed[-5:]]
        return "\n".join(lines)


def _matches(message: BotMessage, match: MessageMatch) -> bool:
    if match is None:
        return True
    if isinstance(match, str):
        return match in (message.text or "")
    return match(message)
