"""Answers: check a reply against its question, store it JSON-shaped, show it and decode it.

Typed text goes through :mod:`dialogs.parsing` (cn2an, dateparser, phonenumbers); button presses
carry option ids. Every message a user may see is registered here or there under ``answer_*``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeAlias

import phonenumbers

from dialogs.errors import InvalidAnswer
from dialogs.i18n import message, pick, register
from dialogs.parsing import (
    check_location,
    fold,
    grouped,
    integer_bounds,
    mask_phone,
    money_bounds,
    money_text,
    parse_integer,
    parse_location,
    parse_money,
    parse_percent,
    parse_phone,
    percent_bounds,
    plain_decimal,
)
from dialogs.schema import AnswerKind, Bound, Option, Question
from dialogs.when import check_day, parse_date, parse_datetime

__all__ = [
    "JsonValue",
    "Reply",
    "answer_hint",
    "decode_value",
    "format_value",
    "mask_phone",
    "parse_answer",
    "photo_path",
]

JsonValue: TypeAlias = str | int | float | bool | list["JsonValue"] | dict[str, "JsonValue"] | None

register(
    {
        "answer_empty": {
            "zh-CN": "还没有收到您的回答，请输入内容后再发送。",
            "en": "I did not get an answer. Please type it and send it again.",
        },
        "answer_needs_text": {
            "zh-CN": "这一步需要文字回答（或点选按钮），不需要照片或位置。",
            "en": "This question needs a typed answer (or a button), not a photo or a location.",
        },
        "answer_choice_unknown": {
            "zh-CN": "没有这个选项，请点选按钮，或回复序号 1–{count}。",
            "en": "That is not one of the options. Tap a button or reply with a number from 1 to {count}.",
        },
        "answer_multi_unknown": {
            "zh-CN": "“{value}”不是选项之一，请回复序号 1–{count}，多个用逗号分开，例如 1,3。",
            "en": "“{value}” is not one of the options. Reply with numbers from 1 to {count} "
            "separated by commas, e.g. 1,3.",
        },
        "answer_yesno_invalid": {
            "zh-CN": "请回答“是”或“否”。",
            "en": "Please answer yes or no.",
        },
        "answer_text_too_short": {
            "zh-CN": "回答太短了，请至少写 {min} 个字。",
            "en": "That is too short. Please write at least {min} characters.",
        },
        "answer_text_too_long": {
            "zh-CN": "回答太长了（{length} 字），请控制在 {max} 字以内。",
            "en": "That is too long ({length} characters). Please keep it within {max} characters.",
        },
        "answer_photo_needed": {
            "zh-CN": "这一步需要一张照片，请直接发送照片。",
            "en": "This step needs a photo. Please send one.",
        },
        "answer_photo_path": {
            "zh-CN": "请输入图片文件的路径，例如 /home/me/shop.jpg",
            "en": "Type the path of an image file, e.g. /home/me/shop.jpg",
        },
        "answer_location_needed": {
            "zh-CN": "这一步需要位置，请发送定位，或输入 纬度,经度，例如 31.23,121.47。",
            "en": "This step needs a location. Share it, or type latitude,longitude such as 31.23,121.47.",
        },
        "answer_hint_choice": {
            "zh-CN": "请点选一项，或回复序号 1–{count}。",
            "en": "Tap an option or reply with its number (1–{count}).",
        },
        "answer_hint_multi": {
            "zh-CN": "可多选：点选后确认，或回复序号，用逗号分开，例如 1,3。",
            "en": "Pick one or more: tap them, or reply with their numbers separated by commas, e.g. 1,3.",
        },
        "answer_hint_yesno": {"zh-CN": "请回答“是”或“否”。", "en": "Answer yes or no."},
        "answer_hint_integer": {
            "zh-CN": "请输入整数，例如 12 或 十二。",
            "en": "Type a whole number, e.g. 12.",
        },
        "answer_hint_money": {
            "zh-CN": "请输入金额，例如 50000、5万 或 5w。",
            "en": "Type an amount in yuan, e.g. 50000, 5万 or 5w.",
        },
        "answer_hint_percent": {
            "zh-CN": "请输入百分比，例如 15 或 12.5%。",
            "en": "Type a percentage, e.g. 15 or 12.5%.",
        },
        "answer_hint_date": {
            "zh-CN": "请输入日期，例如 2026-12-01、12月1日 或 明天。",
            "en": "Type a date, e.g. 2026-12-01, 1 Dec or tomorrow.",
        },
        "answer_hint_datetime": {
            "zh-CN": "请输入日期和时间，例如 明天下午三点 或 2026-12-01 15:00。",
            "en": "Type a day and a time, e.g. tomorrow 3pm or 2026-12-01 15:00.",
        },
        "answer_hint_phone": {
            "zh-CN": "请输入电话号码，例如 138 0013 8000 或 010-12345678。",
            "en": "Type a phone number, e.g. 138 0013 8000 or 010-12345678.",
        },
        "answer_hint_text": {
            "zh-CN": "请直接输入文字（最多 {max} 字）。",
            "en": "Type your answer (up to {max} characters).",
        },
        "answer_hint_photo": {"zh-CN": "请发送一张照片。", "en": "Send a photo."},
        "answer_hint_location": {
            "zh-CN": "请发送定位，或输入 纬度,经度，例如 31.23,121.47。",
            "en": "Share your location, or type latitude,longitude, e.g. 31.23,121.47.",
        },
        "answer_hint_between": {"zh-CN": "范围：{min} 到 {max}。", "en": " Allowed: {min} to {max}."},
        "answer_hint_at_least": {"zh-CN": "最少 {min}。", "en": " At least {min}."},
        "answer_hint_at_most": {"zh-CN": "最多 {max}。", "en": " At most {max}."},
        "answer_hint_from_today": {"zh-CN": "（今天或以后）", "en": " (today or later)"},
        "answer_hint_until_today": {"zh-CN": "（今天或以前）", "en": " (today or earlier)"},
    }
)

_YES = frozenset({"是", "是的", "对", "对的", "有", "有的", "好", "好的", "嗯", "可以", "y", "yes", "true", "1", "ok"})
_NO = frozenset({"否", "不是", "不", "不对", "没有", "没", "无", "n", "no", "false", "2"})
_PUNCTUATION = "。.!！?？~～,，、 "
_SEPARATORS = re.compile(r"[,;、]+")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Control characters but tab and line breaks: invisible, and PostgreSQL refuses NUL in text."""
_IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".heic"})
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Reply:
    """What the user sent for a question."""

    text: str | None = None
    option: str | None = None
    options: tuple[str, ...] | None = None
    photo: str | None = None
    location: tuple[float, float] | None = None


def parse_answer(question: Question, reply: Reply, *, locale: str, now: datetime) -> JsonValue:
    """Validate a reply against its question and return the parsed, JSON-shaped value."""
    kind = question.kind
    if kind is AnswerKind.PHOTO:
        return _photo(reply)
    if kind is AnswerKind.LOCATION:
        return _location(reply)
    if kind is AnswerKind.CHOICE and reply.option is not None:
        return _option_by_id(question, reply.option)
    if kind is AnswerKind.MULTI and reply.options is not None:
        return _multi_by_ids(question, reply.options)
    if kind is AnswerKind.MULTI and reply.option:
        return _multi_by_ids(question, (reply.option,))
    if kind is AnswerKind.YESNO and reply.option is not None:
        if reply.option not in ("yes", "no"):
            raise InvalidAnswer("answer_yesno_invalid")
        return reply.option == "yes"
    text = _typed(reply)
    if kind is AnswerKind.TEXT:
        if len(text) < question.min_length:
            raise InvalidAnswer("answer_text_too_short", min=question.min_length)
        if len(text) > question.max_length:
            raise InvalidAnswer("answer_text_too_long", max=question.max_length, length=len(text))
        return text
    return _typed_value(question, fold(text), now)


def _typed_value(question: Question, folded: str, now: datetime) -> JsonValue:
    """The value of a typed answer to a choice, multi, yes/no, number, date or phone question."""
    kind = question.kind
    if kind is AnswerKind.CHOICE:
        found = _option_by_text(question, folded)
        if found is None:
            raise InvalidAnswer("answer_choice_unknown", count=len(question.options))
        return found.id
    if kind is AnswerKind.MULTI:
        return _multi_by_text(question, folded)
    if kind is AnswerKind.YESNO:
        return _yesno(folded)
    low, high = _numeric(question.min), _numeric(question.max)
    if kind is AnswerKind.INTEGER:
        return parse_integer(folded, low, high)
    if kind is AnswerKind.MONEY:
        return plain_decimal(parse_money(folded, low, high))
    if kind is AnswerKind.PERCENT:
        return plain_decimal(parse_percent(folded, low, high))
    if kind is AnswerKind.DATE:
        day = parse_date(folded, now)
        check_day(day, now.date(), question.min, question.max)
        return day.isoformat()
    if kind is AnswerKind.DATETIME:
        moment = parse_datetime(folded, now)
        check_day(moment.date(), now.date(), question.min, question.max)
        return moment.isoformat()
    return parse_phone(folded)


def format_value(question: Question, value: JsonValue, locale: str) -> str:
    """Render a parsed value for people (labels, 5万元, 是/否, dates)."""
    kind, zh = question.kind, locale == "zh-CN"
    if value is None:
        return "—"
    if kind is AnswerKind.CHOICE and isinstance(value, str):
        return _label(question, value, locale)
    if kind is AnswerKind.MULTI and isinstance(value, list):
        return ("、" if zh else ", ").join(_label(question, str(v), locale) for v in value)
    if kind is AnswerKind.YESNO and isinstance(value, bool):
        return ("是" if value else "否") if zh else ("Yes" if value else "No")
    if kind is AnswerKind.INTEGER and isinstance(value, int):
        return grouped(value)
    if kind is AnswerKind.MONEY and isinstance(value, str | int):
        return money_text(Decimal(value), locale)
    if kind is AnswerKind.PERCENT and isinstance(value, str | int):
        return f"{plain_decimal(Decimal(value))}%"
    if kind is AnswerKind.DATE and isinstance(value, str):
        return _day(date.fromisoformat(value), zh)
    if kind is AnswerKind.DATETIME and isinstance(value, str):
        moment = datetime.fromisoformat(value)
        return f"{_day(moment.date(), zh)} {moment:%H:%M}"
    if kind is AnswerKind.PHONE and isinstance(value, str):
        return _phone(value)
    if kind is AnswerKind.PHOTO and isinstance(value, dict):
        return "[照片]" if zh else "[photo]"
    if kind is AnswerKind.LOCATION and isinstance(value, dict):
        return f"{_coordinate(value.get('lat'))}, {_coordinate(value.get('lon'))}"
    return str(value)


def answer_hint(question: Question, locale: str) -> str:
    """A short hint telling the user what to type (question.hint wins when set)."""
    if question.hint:
        return pick(question.hint, locale)
    kind = question.kind
    hint = message(f"answer_hint_{kind.value}", locale, count=len(question.options), max=question.max_length)
    if kind in (AnswerKind.DATE, AnswerKind.DATETIME):
        hint += message("answer_hint_from_today", locale) if question.min == "today" else ""
        hint += message("answer_hint_until_today", locale) if question.max == "today" else ""
    if kind in (AnswerKind.INTEGER, AnswerKind.MONEY, AnswerKind.PERCENT):
        low, high = (_bound(question, b, locale) for b in _shown_bounds(question))
        if low and high:
            hint += message("answer_hint_between", locale, min=low, max=high)
        elif low:
            hint += message("answer_hint_at_least", locale, min=low)
        elif high:
            hint += message("answer_hint_at_most", locale, max=high)
    return hint


def decode_value(question: Question, value: JsonValue) -> object:
    """Turn the stored JSON value into what script conditions compare: Decimal for money/percent, date/datetime objects, else as is."""  # noqa: E501
    if value is None or isinstance(value, bool | list | dict):
        return value
    kind = question.kind
    if kind in (AnswerKind.MONEY, AnswerKind.PERCENT):
        return Decimal(str(value))
    if kind is AnswerKind.DATE and isinstance(value, str):
        return date.fromisoformat(value)
    if kind is AnswerKind.DATETIME and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


# -- reading replies ---------------------------------------------------------------------------
def _typed(reply: Reply) -> str:
    """The reply's stripped text without control characters; answer_empty or answer_needs_text when none."""
    text = _CONTROLS.sub("", reply.text or "").strip()
    if text:
        return text
    if reply.photo is not None or reply.location is not None:
        raise InvalidAnswer("answer_needs_text")
    raise InvalidAnswer("answer_empty")


def _option_by_id(question: Question, option_id: str) -> str:
    if not option_id.strip():
        raise InvalidAnswer("answer_empty")
    if option_id not in {o.id for o in question.options}:
        raise InvalidAnswer("answer_choice_unknown", count=len(question.options))
    return option_id


def _option_by_text(question: Question, folded: str) -> Option | None:
    """The option a typed token names: its 1-based number first, then its id, then a label in any locale."""
    token = folded.strip(_PUNCTUATION)
    if token.isdecimal():  # isdigit() would pass digits int() cannot read; long ones name no option
        number = int(token) if len(token) <= 4 else 0
        return question.options[number - 1] if 1 <= number <= len(question.options) else None
    for option in question.options:
        if token == option.id or token in {fold(label).strip(_PUNCTUATION) for label in option.label.values()}:
            return option
    return None


def _in_order(question: Question, chosen: set[str]) -> list[JsonValue]:
    return [o.id for o in question.options if o.id in chosen]


def _multi_by_ids(question: Question, ids: tuple[str, ...]) -> list[JsonValue]:
    if not ids:
        raise InvalidAnswer("answer_empty")
    known = {o.id for o in question.options}
    for option_id in ids:
        if option_id not in known:
            raise InvalidAnswer("answer_multi_unknown", value=option_id, count=len(question.options))
    return _in_order(question, set(ids))


def _multi_by_text(question: Question, folded: str) -> list[JsonValue]:
    """Options named by numbers, ids or labels separated by commas, 、, semicolons or spaces."""
    chosen: set[str] = set()
    for token in filter(None, (t.strip() for t in _SEPARATORS.split(folded))):
        whole = _option_by_text(question, token)  # a label may contain spaces ("Sales down")
        for part, option in [(token, whole)] if whole else [(p, _option_by_text(question, p)) for p in token.split()]:
            if option is None:
                raise InvalidAnswer("answer_multi_unknown", value=part, count=len(question.options))
            chosen.add(option.id)
    if not chosen:
        raise InvalidAnswer("answer_multi_unknown", value=folded, count=len(question.options))
    return _in_order(question, chosen)


def _yesno(folded: str) -> bool:
    token = folded.strip(_PUNCTUATION)
    if token in _YES:
        return True
    if token in _NO:
        return False
    raise InvalidAnswer("answer_yesno_invalid")


def _photo(reply: Reply) -> JsonValue:
    """Only a real photo counts: typed text is never taken as a file (a front-end turns a path into one)."""
    photo = _CONTROLS.sub("", reply.photo or "").strip()
    if photo:
        return {"file": photo}
    if not (reply.text or "").strip() and reply.location is None:
        raise InvalidAnswer("answer_empty")
    raise InvalidAnswer("answer_photo_needed")


def photo_path(text: str) -> str | None:
    """The absolute path of an image file typed on the console, or None if it is not one."""
    path = Path(text.strip()).expanduser()
    if path.suffix.lower() in _IMAGE_SUFFIXES and path.is_file():
        return str(path.resolve())
    return None


def _location(reply: Reply) -> JsonValue:
    if reply.location is not None:
        lat, lon = check_location(*reply.location)
    else:
        text = (reply.text or "").strip()
        if not text:
            raise InvalidAnswer("answer_location_needed" if reply.photo else "answer_empty")
        lat, lon = parse_location(fold(text))
    return {"lat": lat, "lon": lon}


# -- showing values ----------------------------------------------------------------------------
def _label(question: Question, option_id: str, locale: str) -> str:
    for option in question.options:
        if option.id == option_id:
            return pick(option.label, locale)
    return option_id


def _day(day: date, zh: bool) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if zh else f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _phone(e164: str) -> str:
    try:
        number = phonenumbers.parse(e164, "CN")
    except phonenumbers.NumberParseException:
        return e164
    style = phonenumbers.PhoneNumberFormat
    return phonenumbers.format_number(number, style.NATIONAL if number.country_code == 86 else style.INTERNATIONAL)


def _coordinate(value: JsonValue) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return "?"


def _bound(question: Question, bound: Decimal | None, locale: str) -> str:
    if bound is None:
        return ""
    if question.kind is AnswerKind.MONEY:
        return money_text(bound, locale)
    if question.kind is AnswerKind.PERCENT:
        return f"{plain_decimal(bound)}%"
    return grouped(bound)


def _numeric(bound: Bound | None) -> Decimal | None:
    """A numeric ``min``/``max`` (``today`` bounds dates, not numbers)."""
    return bound if isinstance(bound, Decimal) else None


def _shown_bounds(question: Question) -> tuple[Decimal | None, Decimal | None]:
    """The script's bounds as the parser applies them (money is never below 0), for the hint."""
    low, high = _numeric(question.min), _numeric(question.max)
    limits = {AnswerKind.INTEGER: integer_bounds, AnswerKind.MONEY: money_bounds}
    floor, ceiling = limits.get(question.kind, percent_bounds)(low, high)
    return floor if low is not None else None, ceiling if high is not None else None
