"""How Telegram reads what a bot sends: parameter types, HTML text, keyboards and command entities."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from .records import JSON, ApiError, bad_request

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64

# Form and multipart values arrive as strings; PTB JSON-encodes everything that is not a string.
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "allowed_updates",
        "scope",
        "commands",
        "entities",
        "caption_entities",
        "link_preview_options",
        "reply_parameters",
        "media",
    }
)
_INT_FIELDS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "cache_time",
        "max_connections",
        "reply_to_message_id",
        "message_thread_id",
        "user_id",
    }
)
_BOOL_FIELDS = frozenset(
    {
        "show_alert",
        "drop_pending_updates",
        "disable_notification",
        "protect_content",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "disable_content_type_detection",
    }
)
_HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s[^<>]*)?)>")
_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![^\s])")
_BOT_COMMAND = re.compile(r"[a-z0-9_]{1,32}")


def coerce_params(raw: dict[str, Any]) -> JSON:
    """Turn form/query strings into the types Telegram would parse them as."""
    params: JSON = {}
    for key, value in raw.items():
        if not isinstance(value, str):
            params[key] = value
        elif key in _JSON_FIELDS:
            try:
                params[key] = json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {key} JSON object") from None
        elif key in _INT_FIELDS and re.fullmatch(r"-?\d+", value):
            params[key] = int(value)
        elif key in _BOOL_FIELDS:
            params[key] = value.lower() in ("true", "1")
        else:
            params[key] = value
    return params


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def command_entities(text: str) -> list[JSON]:
    """`bot_command` entities for every /command in the text, as Telegram marks them."""
    return [
        {"type": "bot_command", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group())}
        for m in _COMMAND.finditer(text)
    ]


def render_text(source: str, parse_mode: str | None, *, limit: int, what: str = "message") -> str:
    """The text the user sees; raises Telegram's 400s for bad HTML, empty or too long text."""
    text = _html_to_text(source) if (parse_mode or "").upper() == "HTML" else source
    if not text.strip():
        raise bad_request(f"{what} text is empty")
    if len(text) > limit:
        raise bad_request(f"{what} is too long")
    return text


def _html_to_text(source: str) -> str:
    """Strip Telegram-supported HTML tags, checking they are known and balanced."""
    open_tags: list[str] = []
    pieces: list[str] = []
    pos = 0
    for match in re.finditer(r"<", source):
        if match.start() < pos:
            continue
        tag = _TAG.match(source, match.start())
        offset = len(source[: match.start()].encode())
        if tag is None:
            raise _entity_error(f'Unsupported start tag "" at byte offset {offset}')
        closing, name = tag.group(1) == "/", tag.group(2).lower()
        if name not in _HTML_TAGS:
            raise _entity_error(f'Unsupported start tag "{name}" at byte offset {offset}')
        if closing:
            if not open_tags or open_tags[-1] != name:
                expected = f'"</{open_tags[-1]}>"' if open_tags else "nothing"
                raise _entity_error(
                    f'Unmatched end tag at byte offset {offset}, expected {expected}, found "</{name}>"'
                )
            open_tags.pop()
        else:
            open_tags.append(name)
        pieces.append(source[pos : match.start()])
        pos = tag.end()
    if open_tags:
        raise _entity_error(f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"')
    pieces.append(source[pos:])
    return html.unescape("".join(pieces))


def _entity_error(detail: str) -> ApiError:
    return bad_request(f"can't parse entities: {detail}")


def check_reply_markup(markup: Any) -> JSON | None:
    """Validate a reply_markup the way Telegram does for the parts bots commonly get wrong."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                raise bad_request("BUTTON_DATA_INVALID")
            if not str(button.get("text", "")).strip():
                raise bad_request("text must be non-empty")
            if set(button) == {"text"}:
                raise bad_request("text buttons are unallowed in the inline keyboard")
    return markup


def check_commands(commands: Any) -> list[JSON]:
    """Validate setMyCommands' list: lowercase names of 1-32 characters, non-empty descriptions."""
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON object")
    for command in commands:
        if not _BOT_COMMAND.fullmatch(str(command.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    return [{"command": c["command"], "description": c["description"]} for c in commands]
