"""Turning engine output into Telegram messages: HTML-escaped text, inline keyboards, callback data.

Callback data (≤ 64 bytes, Telegram's limit) is ``<kind>:<visit id>:<step id>:<value>``:
``a`` answers a choice/yes-no question with an option id, ``m`` ticks an option of a
multiple-choice question (``=`` submits the ticked set), ``c`` is a control (``back``, ``skip``).
Pick lists use ``v:<borrower code>`` (start or resume a visit) and ``r:<visit id>`` (resume).
The step id lets the bot refuse a press on a button of an earlier question.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from telegram import InlineKeyboardMarkup

from dialogs.engine import Prompt, Turn
from dialogs.i18n import message, register
from dialogs.schema import AnswerKind

__all__ = [
    "MAX_CALLBACK_BYTES",
    "MAX_MESSAGE",
    "Callback",
    "Keyboard",
    "answered_text",
    "as_markup",
    "keyboard",
    "one_message",
    "parse_callback",
    "prompt_text",
    "record_id",
    "split_text",
    "visible_length",
    "withdrawn_text",
]

MAX_CALLBACK_BYTES = 64
MAX_MESSAGE = 4096

register(
    {
        "tg_yes": {"zh-CN": "是", "en": "Yes"},
        "tg_no": {"zh-CN": "否", "en": "No"},
        "tg_back": {"zh-CN": "↩ 撤回上一题", "en": "↩ Undo last"},
        "tg_skip": {"zh-CN": "跳过", "en": "Skip"},
        "tg_done_multi": {"zh-CN": "✔ 完成选择", "en": "✔ Done"},
        "tg_answered": {"zh-CN": "✅ {answer}", "en": "✅ {answer}"},
        "tg_type_answer": {"zh-CN": "请直接输入回答。", "en": "Type your answer."},
        "tg_withdrawn": {"zh-CN": "↩ 已撤回，重新回答", "en": "↩ taken back, to be answered again"},
    }
)


@dataclass(frozen=True)
class Callback:
    """A decoded button press."""

    kind: str
    visit_id: int
    step: str
    value: str


def encode(kind: str, visit_id: int, step: str, value: str) -> str:
    """Callback data for a visit button; refuses data over Telegram's 64 bytes."""
    data = f"{kind}:{visit_id}:{step}:{value}"
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {data!r}")
    return data


MAX_ID_DIGITS = 18
"""Record ids fit a signed 64-bit integer (the database's BIGINT)."""


def record_id(text: str) -> int | None:
    """A record id from callback data: ASCII digits that fit the database; None for anything else."""
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_ID_DIGITS:
        return None
    return int(text)


def parse_callback(data: str) -> Callback | None:
    """Decode visit button data; None for anything else (pick lists, garbage)."""
    parts = data.split(":", 3)
    visit_id = record_id(parts[1]) if len(parts) == 4 else None
    if visit_id is None or parts[0] not in ("a", "m", "c"):
        return None
    return Callback(parts[0], visit_id, parts[2], parts[3])


def prompt_text(turn: Turn, locale: str, *, header: str = "") -> str:
    """The HTML text of a turn: notices, lines said, the question, a hint for typed answers."""
    parts = [f"<i>{html.escape(header)}</i>"] if header else []
    if turn.notice:
        parts.append(f"<i>{html.escape(turn.notice)}</i>")
    if turn.error:
        parts.append(f"⚠️ {html.escape(turn.error)}")
    parts.extend(html.escape(line) for line in turn.said if line)
    prompt = turn.prompt
    if prompt is not None:
        parts.append(f"<b>{html.escape(prompt.text)}</b>")
        if prompt.kind not in (AnswerKind.CHOICE, AnswerKind.YESNO, AnswerKind.MULTI) and prompt.hint:
            parts.append(f"<i>{html.escape(prompt.hint)}</i>")
    return "\n\n".join(parts)


Keyboard = dict[str, list[list[dict[str, str]]]]
"""An inline keyboard as the Bot API takes it (``{"inline_keyboard": rows of {"text", "callback_data"}}``):
built as JSON, not as PTB's objects, it costs 8 µs where InlineKeyboardMarkup and its buttons cost 87."""


def _button(text: str, kind: str, visit_id: int, step: str, value: str) -> dict[str, str]:
    return {"text": text, "callback_data": encode(kind, visit_id, step, value)}


def keyboard(visit_id: int, prompt: Prompt | None, locale: str, picked: list[str] | None = None) -> Keyboard | None:
    """Buttons for a prompt: its options (or yes/no), ticks for multiple choice, back and skip."""
    if prompt is None:
        return None
    rows: list[list[dict[str, str]]] = []
    step = prompt.step
    if prompt.kind is AnswerKind.YESNO:
        rows.append(
            [
                _button(message("tg_yes", locale), "a", visit_id, step, "yes"),
                _button(message("tg_no", locale), "a", visit_id, step, "no"),
            ]
        )
    elif prompt.kind is AnswerKind.CHOICE:
        rows.extend([_button(label, "a", visit_id, step, option)] for option, label in prompt.options)
    elif prompt.kind is AnswerKind.MULTI:
        ticked = set(picked or [])
        rows.extend(
            [_button(("☑ " if option in ticked else "☐ ") + label, "m", visit_id, step, option)]
            for option, label in prompt.options
        )
        rows.append([_button(message("tg_done_multi", locale), "m", visit_id, step, "=")])
    controls = []
    if prompt.can_back:
        controls.append(_button(message("tg_back", locale), "c", visit_id, step, "back"))
    if prompt.can_skip:
        controls.append(_button(message("tg_skip", locale), "c", visit_id, step, "skip"))
    if controls:
        rows.append(controls)
    return {"inline_keyboard": rows} if rows else None


def as_markup(buttons: Keyboard | InlineKeyboardMarkup | None) -> InlineKeyboardMarkup | None:
    """PTB's object for a keyboard (for its typed methods)."""
    if buttons is None or isinstance(buttons, InlineKeyboardMarkup):
        return buttons
    return InlineKeyboardMarkup.de_json(dict(buttons), None)


def answered_text(question: str, answer: str) -> str:
    """The question message after it was answered: the question and the recorded answer."""
    return f"{html.escape(question)}\n✅ <b>{html.escape(answer)}</b>"


def one_message(*parts: str) -> str | None:
    """HTML parts (blank ones left out) as one message's text; None when that would pass Telegram's limit."""
    text = "\n\n".join(part for part in parts if part)
    if _utf16_len(text) <= MAX_MESSAGE:  # the markup never shows: the source is at least as long (no tokens)
        return text
    return text if visible_length(text) <= MAX_MESSAGE else None


def withdrawn_text(question: str, answer: str, locale: str) -> str:
    """An answered question's message once ``/back`` took the answer back: struck through, marked so."""
    withdrawn = html.escape(message("tg_withdrawn", locale))
    return f"{html.escape(question)}\n<s>{html.escape(answer)}</s> {withdrawn}"


_TOKEN = re.compile(r"<[^<>]*>|&#?\w+;|.", re.S)
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)")


def _width(token: str) -> int:
    """Visible characters of one token (Telegram counts UTF-16 units): tags none, an entity one."""
    if len(token) > 1 and token[0] == "<":
        return 0
    if len(token) > 1 and token[0] == "&":
        return 1
    return _utf16_len(token)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def visible_length(text: str) -> int:
    """The length Telegram checks against its limit: the HTML text as the user sees it."""
    return sum(_width(token) for token in _TOKEN.findall(text))


def split_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split HTML text into pieces Telegram accepts (≤ 4096 visible characters each), at line breaks
    where possible; never inside a tag or an entity, and tags open at a cut are closed and reopened."""
    if _utf16_len(text) <= limit:  # the markup never shows, so the source is at least as long
        return [text]
    pieces: list[list[str]] = []
    current: list[str] = []
    width, last_break = 0, -1
    for token in _TOKEN.findall(text):
        size = _width(token)
        while current and width + size > limit:
            if token == "\n":
                break
            head, tail = (current[:last_break], current[last_break + 1 :]) if last_break >= 0 else (current, [])
            pieces.append(head)
            current, width, last_break = tail, sum(_width(t) for t in tail), -1
        if token == "\n" and width + size > limit:
            pieces.append(current)
            current, width, last_break = [], 0, -1
            continue
        current.append(token)
        width += size
        if token == "\n":
            last_break = len(current) - 1
    pieces.append(current)
    result: list[str] = []
    open_tags: list[tuple[str, str]] = []  # (name, the opening tag as written)
    for piece in pieces:
        reopened = "".join(tag for _, tag in open_tags)
        for token in piece:
            match = _TAG.match(token) if len(token) > 1 and token[0] == "<" else None
            if match is None:
                continue
            name = match.group(2).lower()
            if not match.group(1):
                open_tags.append((name, token))
            elif open_tags and open_tags[-1][0] == name:
                open_tags.pop()
        body = "".join(piece)
        if body.strip() and any(_width(t) and not t.isspace() for t in piece):
            result.append(reopened + body + "".join(f"</{name}>" for name, _ in reversed(open_tags)))
    return result or [""]
