"""Typed text to values: amounts (cn2an), phone numbers (phonenumbers); dates and times from :mod:`dialogs.when`.

Each parser takes text already folded by :func:`fold` and raises :class:`InvalidAnswer` with a key
registered here; :mod:`dialogs.answers` picks the parser for a question's kind.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

import phonenumbers

from dialogs.errors import InvalidAnswer
from dialogs.i18n import register
from dialogs.when import parse_date, parse_datetime

__all__ = [
    "MAX_INTEGER",
    "MAX_MONEY",
    "check_location",
    "fold",
    "grouped",
    "integer_bounds",
    "mask_phone",
    "money_bounds",
    "money_text",
    "parse_date",
    "parse_datetime",
    "parse_integer",
    "parse_location",
    "parse_money",
    "parse_percent",
    "parse_phone",
    "percent_bounds",
    "plain_decimal",
]

register(
    {
        "answer_integer_invalid": {
            "zh-CN": "没看懂这个数字，请输入整数，例如 12、1,200、十二 或 2万。",
            "en": "I could not read that number. Type a whole number such as 12, 1,200 or 2万.",
        },
        "answer_integer_too_small": {
            "zh-CN": "这个数不能小于 {min}，请重新输入。",
            "en": "The number must be at least {min}. Please try again.",
        },
        "answer_integer_too_large": {
            "zh-CN": "这个数不能大于 {max}，请重新输入。",
            "en": "The number must be at most {max}. Please try again.",
        },
        "answer_money_invalid": {
            "zh-CN": "没看懂这个金额，请输入数字，例如 50000、5万 或 5w。",
            "en": "I could not read that amount. Type a number such as 50000, 5万 or 5w.",
        },
        "answer_money_negative": {
            "zh-CN": "金额不能是负数，请输入大于等于 0 的金额。",
            "en": "The amount cannot be negative. Type an amount of 0 or more.",
        },
        "answer_money_cents": {
            "zh-CN": "金额最多精确到分（两位小数），请重新输入。",
            "en": "Amounts go down to the fen at most (two decimals). Please try again.",
        },
        "answer_money_too_small": {
            "zh-CN": "金额不能低于 {min} 元，请重新输入。",
            "en": "The amount must be at least ¥{min}. Please try again.",
        },
        "answer_money_too_large": {
            "zh-CN": "金额不能超过 {max} 元，请重新输入。",
            "en": "The amount must be at most ¥{max}. Please try again.",
        },
        "answer_percent_invalid": {
            "zh-CN": "没看懂这个百分比，请输入数字，例如 15、15% 或 百分之十五。",
            "en": "I could not read that percentage. Type a number such as 15, 15% or 12.5%.",
        },
        "answer_percent_range": {
            "zh-CN": "百分比要在 {min}% 到 {max}% 之间，请重新输入。",
            "en": "The percentage must be between {min}% and {max}%. Please try again.",
        },
        "answer_phone_invalid": {
            "zh-CN": "这个电话号码不对，请输入 11 位手机号（如 138 0013 8000）或带区号的座机（如 010-12345678）。",
            "en": "That phone number is not valid. Type an 11-digit mobile such as 138 0013 8000 "
            "or a landline with its area code such as 010-12345678.",
        },
        "answer_location_invalid": {
            "zh-CN": "没看懂这个位置，请发送定位，或输入 纬度,经度，例如 31.23,121.47。",
            "en": "I could not read that location. Share it, or type latitude,longitude: 31.23,121.47.",
        },
        "answer_location_range": {
            "zh-CN": "坐标超出范围：纬度在 -90 到 90 之间，经度在 -180 到 180 之间。",
            "en": "Those coordinates are out of range: latitude is -90 to 90, longitude -180 to 180.",
        },
    }
)

MAX_INTEGER = 999_999_999_999_999
"""The largest whole number an answer may hold: exact in every JSON reader (below 2**53)."""
MAX_MONEY = Decimal("999999999999.99")
"""The largest amount an answer may hold: what a loan amount column (Numeric(14, 2)) stores."""
_CN_DIGITS = "零〇一二两三四五六七八九十百千万亿"
_CN_DIGIT_VALUES = {c: str(i) for i, c in enumerate("零一二三四五六七八九")} | {"〇": "0", "两": "2"}
_UNITS = {"百": 2, "千": 3, "k": 3, "万": 4, "w": 4, "亿": 8}
_ARABIC = re.compile(r"([+-]?)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(百|千|k|万|w|亿)?")
_MONEY_AFFIXES = re.compile(r"^(?:¥|rmb|cny)|(?:元整?|块钱|块|圆|人民币|rmb|cny|yuan)$")
_COUNTERS = re.compile(r"(?:个|次|人|位|天|期|家|笔)$")
_LONGEST_NUMERAL = 40
"""Chinese numerals longer than this are not an amount anyone says (and cn2an slows down)."""


def fold(text: str) -> str:
    """Fold full-width forms (NFKC), trim and lower-case, so ``"２，０００"`` reads as ``"2,000"``."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


def _trimmed(value: Decimal) -> Decimal:
    """``value`` without trailing zeros, exactly (``normalize`` would round to 28 digits); -0 is 0."""
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        raise ValueError(f"not a finite number: {value}")
    kept = list(digits)
    while len(kept) > 1 and kept[-1] == 0:
        kept.pop()
        exponent += 1
    if kept == [0]:
        return Decimal(0)
    return Decimal((sign, tuple(kept), exponent))


def plain_decimal(value: Decimal) -> str:
    """A Decimal as plain digits: no exponent, no trailing zeros (``"50000"``, ``"35000.5"``)."""
    return format(_trimmed(value), "f")


def grouped(value: Decimal | int) -> str:
    """A number with thousands separators and no trailing zeros (``"50,000"``, ``"35,000.5"``)."""
    return format(_trimmed(Decimal(value)), ",f")


def _shifted(value: Decimal, places: int) -> Decimal:
    """``value`` times ``10 ** places``, exactly (``scaleb`` would round to the context's precision)."""
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        raise ValueError(f"not a finite number: {value}")
    return Decimal((sign, digits, exponent + places))


def _decimals(value: Decimal) -> int:
    """How many decimal places ``value`` needs (0 for whole numbers, also for ``5E+3``)."""
    exponent = _trimmed(value).as_tuple().exponent
    assert isinstance(exponent, int)
    return max(-exponent, 0)


def money_text(amount: Decimal, locale: str) -> str:
    """An amount as people say it (``5万元``, ``2亿元``, ``12,345.5元``, ``¥50,000``), in lines and records alike."""
    if locale != "zh-CN":
        return f"¥{grouped(amount)}"
    if amount >= 100_000_000 and _decimals(_shifted(amount, -6)) == 0:
        return f"{plain_decimal(_shifted(amount, -8))}亿元"
    if 10_000 <= amount < 100_000_000 and _decimals(_shifted(amount, -2)) == 0:
        return f"{plain_decimal(_shifted(amount, -4))}万元"
    return f"{grouped(amount)}元"


def _chinese(text: str) -> Decimal | None:
    """Chinese numerals (``三千五``, ``负五``, ``三点一四``, ``5万``) exactly; None if cn2an cannot read them."""
    negative = text.startswith("负")
    whole, _, fraction = text.removeprefix("负").replace(".", "点").partition("点")
    decimals = "".join(_CN_DIGIT_VALUES.get(c, c) for c in fraction)
    if not whole or not (decimals.isdecimal() or not fraction) or len(text) > _LONGEST_NUMERAL:
        return None
    try:
        import cn2an  # imported on first use: it takes ~0.15 s, every command line would pay it

        number = cn2an.cn2an(whole, "smart")
    except (ValueError, KeyError, IndexError, TypeError):  # cn2an's KeyError on 一亿四
        return None
    if not isinstance(number, int) or number < 0:
        return None
    value = Decimal(f"{number}.{decimals}" if fraction else number)
    return -value if negative else value


def _number(text: str) -> Decimal | None:
    """A number in arabic digits, Chinese numerals or a mix, with 百/千/k/万/w/亿, exactly; None if unreadable."""
    text = re.sub(r"\s+", "", text).replace("\u2212", "-")  # U+2212 is the minus sign proper
    if not text:
        return None
    match = _ARABIC.fullmatch(text)
    if match:
        sign, digits, fraction, unit = match.groups()
        value = _shifted(Decimal(digits.replace(",", "") + (fraction or "")), _UNITS.get(unit or "", 0))
        return -value if sign == "-" else value
    if not re.fullmatch(rf"[-+负]?[\d.{_CN_DIGITS}点wk]+", text):
        return None
    return _chinese(text.replace("w", "万").replace("k", "千").replace("+", "").replace("-", "负"))


def integer_bounds(low: Decimal | None, high: Decimal | None) -> tuple[Decimal, Decimal]:
    """The whole numbers an integer question takes: the script's bounds within ±MAX_INTEGER."""
    limit = Decimal(MAX_INTEGER)
    floor = max(low, -limit) if low is not None else -limit
    return floor, min(high, limit) if high is not None else limit


def money_bounds(low: Decimal | None, high: Decimal | None) -> tuple[Decimal, Decimal]:
    """The amounts a money question takes: the script's bounds within 0..MAX_MONEY."""
    floor = max(low, Decimal(0)) if low is not None else Decimal(0)
    return floor, min(high, MAX_MONEY) if high is not None else MAX_MONEY


def percent_bounds(low: Decimal | None, high: Decimal | None) -> tuple[Decimal, Decimal]:
    """The percentages a question takes: the script's bounds, else 0..100 (widened to keep a given bound)."""
    floor = low if low is not None else min(Decimal(0), high if high is not None else Decimal(0))
    return floor, high if high is not None else max(Decimal(100), floor)


def parse_integer(text: str, low: Decimal | None, high: Decimal | None) -> int:
    """A whole number (``12``, ``1,200``, ``十二``, ``3千``, ``2万``) within ``low``..``high`` (and storable)."""
    value = _number(_COUNTERS.sub("", text))
    if value is None or _decimals(value):
        raise InvalidAnswer("answer_integer_invalid")
    floor, ceiling = integer_bounds(low, high)
    if value < floor:
        raise InvalidAnswer("answer_integer_too_small", min=grouped(floor))
    if value > ceiling:
        raise InvalidAnswer("answer_integer_too_large", max=grouped(ceiling))
    return int(value)


def parse_money(text: str, low: Decimal | None, high: Decimal | None) -> Decimal:
    """A yuan amount (``¥50,000``, ``5万元``, ``5w``, ``三千五百``) to the fen, within ``low``..``high``."""
    value = _number(_MONEY_AFFIXES.sub("", text))
    if value is None:
        raise InvalidAnswer("answer_money_invalid")
    if value < 0:
        raise InvalidAnswer("answer_money_negative")
    floor, ceiling = money_bounds(low, high)
    if value > ceiling:
        raise InvalidAnswer("answer_money_too_large", max=grouped(ceiling))
    value = _trimmed(value)
    if _decimals(value) > 2:
        raise InvalidAnswer("answer_money_cents")
    if value < floor:
        raise InvalidAnswer("answer_money_too_small", min=grouped(floor))
    return value


def parse_percent(text: str, low: Decimal | None, high: Decimal | None) -> Decimal:
    """Percentage points (``15``, ``15%``, ``百分之十五``, ``-5%``) within ``low``..``high``, else 0..100."""
    text = re.sub(r"^([-负]?)百分之", r"\1", text).removesuffix("%").removesuffix("percent")
    value = _number(text)
    if value is None:
        raise InvalidAnswer("answer_percent_invalid")
    floor, ceiling = percent_bounds(low, high)
    if not floor <= value <= ceiling:
        raise InvalidAnswer("answer_percent_range", min=plain_decimal(floor), max=plain_decimal(ceiling))
    return _trimmed(value)


# -- phones and places -------------------------------------------------------------------------
def parse_phone(text: str) -> str:
    """A valid phone number (mobile or landline, China by default) as E.164, e.g. ``+8613800138000``."""
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        raise InvalidAnswer("answer_phone_invalid") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidAnswer("answer_phone_invalid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """A phone number safe for logs: country code, first three and last four digits (``+86 138****8000``)."""
    try:
        number = phonenumbers.parse(e164, "CN")
        prefix, national = f"+{number.country_code} ", phonenumbers.national_significant_number(number)
    except phonenumbers.NumberParseException:
        prefix, national = "", re.sub(r"\D", "", e164)
    if len(national) >= 8:
        return f"{prefix}{national[:3]}{'*' * (len(national) - 7)}{national[-4:]}"
    return f"{prefix}{'*' * max(len(national) - 2, 1)}{national[-2:]}"


def parse_location(text: str) -> tuple[float, float]:
    """Typed coordinates ``"31.23,121.47"`` or ``"31.23 121.47"`` as (latitude, longitude)."""
    match = re.fullmatch(r"([+-]?\d{1,3}(?:\.\d+)?)\s*(?:[,;/]|\s)\s*([+-]?\d{1,3}(?:\.\d+)?)", text)
    if match is None:
        raise InvalidAnswer("answer_location_invalid")
    return check_location(float(match[1]), float(match[2]))


def check_location(lat: float, lon: float) -> tuple[float, float]:
    """``(lat, lon)`` if both are finite and in range, else InvalidAnswer."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):  # also false for NaN
        raise InvalidAnswer("answer_location_range")
    return float(lat), float(lon)
