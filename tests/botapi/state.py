"""Telegram's side of the conversation: chats, bot messages, files, callback queries and commands."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from .feed import UpdateFeed
from .markup import MAX_CAPTION, MAX_TEXT, check_commands, check_reply_markup, render_text
from .records import (
    JSON,
    ApiError,
    BotMessage,
    CallbackAnswer,
    ChatLog,
    MessageVersion,
    Signal,
    StoredFile,
    Upload,
    bad_request,
)

Method = Callable[[JSON], Awaitable[Any]]
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)
_QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"


def now() -> int:
    return int(time.time())


class TelegramState:
    """Everything Telegram remembers for one bot, and the Bot API methods that change it."""

    def __init__(self, bot_user: JSON, signal: Signal, feed: UpdateFeed) -> None:
        self.bot_user = bot_user
        self.signal = signal
        self.feed = feed
        self.chats: dict[int, ChatLog] = {}
        self.files: dict[str, StoredFile] = {}
        self.callback_queries: dict[str, int] = {}  # id -> chat id, while unanswered
        self.answers: dict[str, CallbackAnswer] = {}
        self.query_chats: dict[str, int] = {}  # every callback query id ever sent -> its chat
        self.pressed_at: dict[str, float] = {}  # callback query id -> monotonic time of the press
        self.answered_at: dict[str, float] = {}  # ... -> of its successful answerCallbackQuery
        self.commands: dict[tuple[str, str], list[JSON]] = {}  # (scope JSON, language) -> commands
        self._file_ids = itertools.count(1)

    def spinning(self, within: float) -> list[str]:
        """Queries not answered within `within` s of the press (unanswered: once that time is up)."""
        clock = time.monotonic()
        late = []
        for query_id, pressed in self.pressed_at.items():
            answered = self.answered_at.get(query_id, clock)
            if answered - pressed > within:
                late.append(query_id)
        return late

    def press_latency(self, query_id: str) -> float | None:
        """Seconds from the press to its answer, None while unanswered."""
        answered = self.answered_at.get(query_id)
        return None if answered is None else answered - self.pressed_at[query_id]

    def methods(self) -> dict[str, Method]:
        """Bot API methods by lower-cased name (Telegram matches method names case-insensitively)."""
        table: dict[str, Method] = {
            "getme": self.get_me,
            "deletewebhook": self.delete_webhook,
            "setwebhook": self.set_webhook,
            "getwebhookinfo": self.get_webhook_info,
            "getupdates": self.get_updates,
            "sendmessage": self.send_message,
            "editmessagetext": self.edit_message_text,
            "editmessagereplymarkup": self.edit_message_reply_markup,
            "deletemessage": self.delete_message,
            "answercallbackquery": self.answer_callback_query,
            "setmycommands": self.set_my_commands,
            "getmycommands": self.get_my_commands,
            "deletemycommands": self.delete_my_commands,
            "senddocument": self.send_document,
            "sendphoto": self.send_photo,
            "getfile": self.get_file,
            "sendchataction": self.send_chat_action,
            "close": self.ok,
            "logout": self.ok,
        }
        return table

    # -- shared pieces -------------------------------------------------------------------------

    def chat(self, params: JSON) -> ChatLog:
        chat_id = params.get("chat_id")
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None  # "@name" is never known
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def chat_log(self, chat_id: int, user: JSON, chat: JSON) -> ChatLog:
        """Open a private chat (Telegram knows a chat once its user has talked to the bot)."""
        log = ChatLog(chat=chat, user=user)
        self.chats[chat_id] = log
        return log

    def store_file(self, data: bytes, folder: str, file_name: str | None, mime_type: str | None) -> StoredFile:
        n = next(self._file_ids)
        suffix = f".{file_name.rsplit('.', 1)[-1]}" if file_name and "." in file_name else ""
        stored = StoredFile(
            file_id=f"{folder[:3].upper()}{n}-{uuid.uuid4().hex}",
            file_unique_id=f"U{n}",
            file_path=f"{folder}/file_{n}{suffix}",
            data=data,
            file_name=file_name,
            mime_type=mime_type,
        )
        self.files[stored.file_id] = stored
        return stored

    def message_json(self, message: BotMessage) -> JSON:
        """A bot message as the Bot API returns it (and as callback queries carry it)."""
        chat = self.chats[message.chat_id]
        body: JSON = {"message_id": message.message_id, "from": self.bot_user, "chat": chat.chat, "date": now()}
        if message.edits:
            body["edit_date"] = now()
        text_key = "text" if message.kind == "text" else "caption"
        if message.text is not None:
            body[text_key] = message.text
        if message.file and message.kind == "document":
            body["document"] = _document_json(message.file)
        elif message.file and message.kind == "photo":
            body["photo"] = [photo_size_json(message.file)]
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            body["reply_markup"] = message.reply_markup
        return body

    def _record(self, chat: ChatLog, message: BotMessage) -> JSON:
        chat.bot_messages[message.message_id] = message
        chat.events.append(message)
        self.signal.fire()
        return self.message_json(message)

    def _send(self, params: JSON, kind: str, text: str | None, file: StoredFile | None = None) -> JSON:
        chat = self.chat(params)
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        markup = check_reply_markup(params.get("reply_markup"))
        source = params.get("text", params.get("caption"))
        version = MessageVersion(text, source, params.get("parse_mode"), markup)
        message = BotMessage(chat.next_message_id(), chat.user["id"], kind, (version,), file)
        return self._record(chat, message)

    def _editable(self, params: JSON) -> tuple[ChatLog, BotMessage]:
        if "inline_message_id" in params:
            raise bad_request("inline messages are not supported by the double")
        chat = self.chat(params)
        message_id = params.get("message_id")
        message = chat.bot_messages.get(message_id) if isinstance(message_id, int) else None
        if message is None or message.message_id in chat.deleted:
            raise bad_request("message to edit not found")
        return chat, message

    def _edit(self, chat: ChatLog, message: BotMessage, version: MessageVersion) -> JSON:
        current = message.versions[-1]
        if (version.text, version.reply_markup, _formatting(version)) == (
            current.text,
            current.reply_markup,
            _formatting(current),
        ):
            raise bad_request(_NOT_MODIFIED)
        return self._record(chat, dataclasses.replace(message, versions=(*message.versions, version)))

    # -- Bot API methods -------------------------------------------------------------------------

    async def ok(self, params: JSON) -> bool:
        return True

    async def get_me(self, params: JSON) -> JSON:
        return self.bot_user

    async def delete_webhook(self, params: JSON) -> bool:
        self.feed.set_webhook("", None, 40)
        if params.get("drop_pending_updates"):
            self.feed.drop_pending()
        return True

    async def set_webhook(self, params: JSON) -> bool:
        url = str(params.get("url", ""))
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad_request("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self.feed.drop_pending()
        self.feed.set_allowed_updates(params.get("allowed_updates"))
        self.feed.set_webhook(url, secret, int(params.get("max_connections", 40)))
        return True

    async def get_webhook_info(self, params: JSON) -> JSON:
        info: JSON = {
            "url": self.feed.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": self.feed.pending_count,
        }
        if self.feed.webhook_url:
            info["max_connections"] = self.feed.webhook_max_connections
            if self.feed.last_error:
                info["last_error_date"], info["last_error_message"] = self.feed.last_error
        if self.feed.allowed_updates is not None:
            info["allowed_updates"] = self.feed.allowed_updates
        return info

    async def get_updates(self, params: JSON) -> list[JSON]:
        self.feed.set_allowed_updates(params.get("allowed_updates"))
        return await self.feed.get_updates(
            int(params.get("offset", 0)), int(params.get("limit", 100)), float(params.get("timeout", 0))
        )

    async def send_message(self, params: JSON) -> JSON:
        self.chat(params)
        text = render_text(str(params.get("text", "")), params.get("parse_mode"), limit=MAX_TEXT)
        return self._send(params, "text", text)

    async def send_document(self, params: JSON) -> JSON:
        return self._send_file(params, "document")

    async def send_photo(self, params: JSON) -> JSON:
        return self._send_file(params, "photo")

    def _send_file(self, params: JSON, kind: str) -> JSON:
        self.chat(params)
        caption = params.get("caption")
        text = None
        if caption:
            text = render_text(caption, params.get("parse_mode"), limit=MAX_CAPTION, what="message caption")
        return self._send(params, kind, text, self._input_file(params, kind))

    def _input_file(self, params: JSON, kind: str) -> StoredFile:
        """The file in `document`/`photo`: an upload, a known file_id, `attach://name`, or a URL."""
        value = params.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
        if isinstance(value, Upload):
            return self.store_file(value.data, f"{kind}s", value.filename, value.content_type)
        if isinstance(value, str) and value in self.files:
            return self.files[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return self.store_file(b"", f"{kind}s", value.rsplit("/", 1)[-1], None)
        raise bad_request(f"wrong file identifier/HTTP URL specified for {kind}")

    async def edit_message_text(self, params: JSON) -> JSON:
        chat, message = self._editable(params)
        if message.kind != "text":
            raise bad_request("there is no text in the message to edit")
        try:
            text = render_text(str(params.get("text", "")), params.get("parse_mode"), limit=MAX_TEXT)
        except ApiError as exc:
            if "too long" in exc.description:
                raise bad_request("MESSAGE_TOO_LONG") from None
            raise
        markup = check_reply_markup(params.get("reply_markup"))
        version = MessageVersion(text, params.get("text"), params.get("parse_mode"), markup)
        return self._edit(chat, message, version)

    async def edit_message_reply_markup(self, params: JSON) -> JSON:
        chat, message = self._editable(params)
        markup = check_reply_markup(params.get("reply_markup"))
        return self._edit(chat, message, dataclasses.replace(message.versions[-1], reply_markup=markup))

    async def delete_message(self, params: JSON) -> bool:
        chat = self.chat(params)
        message_id = params.get("message_id")
        if not isinstance(message_id, int) or (
            message_id not in chat.bot_messages and message_id not in chat.user_messages
        ):
            raise bad_request("message to delete not found")
        chat.deleted.add(message_id)
        self.signal.fire()
        return True

    async def answer_callback_query(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if self.callback_queries.pop(query_id, None) is None:
            raise bad_request(_QUERY_INVALID)
        self.answers[query_id] = CallbackAnswer(
            query_id,
            params.get("text"),
            bool(params.get("show_alert", False)),
            params.get("url"),
            params.get("cache_time"),
        )
        self.answered_at[query_id] = time.monotonic()
        self.signal.fire()
        return True

    def _scope_key(self, params: JSON) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        if "chat_id" in scope and scope["chat_id"] not in self.chats:
            raise bad_request("chat not found")
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    async def set_my_commands(self, params: JSON) -> bool:
        key = self._scope_key(params)
        self.commands[key] = check_commands(params.get("commands"))
        return True

    async def get_my_commands(self, params: JSON) -> list[JSON]:
        return self.commands.get(self._scope_key(params), [])

    async def delete_my_commands(self, params: JSON) -> bool:
        self.commands.pop(self._scope_key(params), None)
        return True

    async def get_file(self, params: JSON) -> JSON:
        stored = self.files.get(str(params.get("file_id")))
        if stored is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

    async def send_chat_action(self, params: JSON) -> bool:
        chat = self.chat(params)
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return True


def _formatting(version: MessageVersion) -> str | None:
    """What besides the plain text Telegram compares for `message is not modified`: the entities."""
    return version.source if version.parse_mode and version.source != version.text else None


def _document_json(file: StoredFile) -> JSON:
    body: JSON = {"file_id": file.file_id, "file_unique_id": file.file_unique_id, "file_size": len(file.data)}
    if file.file_name:
        body["file_name"] = file.file_name
    if file.mime_type:
        body["mime_type"] = file.mime_type
    return body


def photo_size_json(file: StoredFile) -> JSON:
    """One PhotoSize; the double does not decode images, so the size is a fixed 1280x960."""
    return {
        "file_id": file.file_id,
        "file_unique_id": file.file_unique_id,
        "width": 1280,
        "height": 960,
        "file_size": len(file.data),
    }
