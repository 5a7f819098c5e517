"""Typed text to values: amounts (cn2an), dates and times (dateparser), phone numbers (phonenumbers).

Each parser takes text already folded by :func:`fold` and raises :class:`InvalidAnswer` with a key
registered here; :mod:`dialogs.answers` picks the parser for a question's kind.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

import cn2an
import phonenumbers
from dateparser.date import DateDataParser

from dialogs.errors import InvalidAnswer
from dialogs.i18n import register

__all__ = [
    "check_location",
    "fold",
    "grouped",
    "mask_phone",
    "parse_date",
    "parse_datetime",
    "parse_integer",
    "parse_location",
    "parse_money",
    "parse_percent",
    "parse_phone",
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
        "answer_date_invalid": {
            "zh-CN": "没看懂这个日期，请输入具体的一天，例如 2026-12-01、12月1日、明天 或 下周一。",
            "en": "I could not read that date. Type a day such as 2026-12-01, 1 Dec or tomorrow.",
        },
        "answer_datetime_invalid": {
            "zh-CN": "没看懂这个时间，请输入日期和钟点，例如 明天下午三点 或 2026-12-01 15:00。",
            "en": "I could not read that time. Type a day and an hour: tomorrow 3pm or 2026-12-01 15:00.",
        },
        "answer_datetime_needs_time": {
            "zh-CN": "请同时说明几点，例如 明天下午三点 或 明天15点。",
            "en": "Please add the hour too, for example tomorrow 3pm or tomorrow 15:00.",
        },
        "answer_datetime_past": {
            "zh-CN": "这个时间已经过去了，请输入一个将来的时间，例如 明天下午三点。",
            "en": "That time has already passed. Type a time in the future, for example tomorrow 3pm.",
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

_CN_DIGITS = "零〇一二两三四五六七八九十百千万亿"
_UNITS = {"百": 100, "千": 1000, "k": 1000, "万": 10_000, "w": 10_000, "亿": 100_000_000}
_ARABIC = re.compile(r"([+-]?)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(百|千|k|万|w|亿)?")
_MONEY_AFFIXES = re.compile(r"^(?:¥|rmb|cny)|(?:元整?|块钱|块|圆|人民币|rmb|cny|yuan)$")
_COUNTERS = re.compile(r"(?:个|次|人|位|天|期|家|笔)$")


def fold(text: str) -> str:
    """Fold full-width forms (NFKC), trim and lower-case, so ``"２，０００"`` reads as ``"2,000"``."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


def plain_decimal(value: Decimal) -> str:
    """A Decimal as plain digits: no exponent, no trailing zeros (``"50000"``, ``"35000.5"``)."""
    return format((value + 0).normalize(), "f")


def grouped(value: Decimal | int) -> str:
    """A number with thousands separators and no trailing zeros (``"50,000"``, ``"35,000.5"``)."""
    return format((Decimal(value) + 0).normalize(), ",f")


def _number(text: str) -> Decimal | None:
    """A number in arabic digits, Chinese numerals or a mix, with 百/千/k/万/w/亿; None if unreadable."""
    text = re.sub(r"\s+", "", text)
    if not text:
        return None
    match = _ARABIC.fullmatch(text)
    if match:
        sign, digits, fraction, unit = match.groups()
        value = Decimal(digits.replace(",", "") + (fraction or "")) * _UNITS.get(unit or "", 1)
        return -value if sign == "-" else value
    if not re.fullmatch(rf"[-+负]?[\d.{_CN_DIGITS}点wk]+", text):
        return None
    text = text.replace("w", "万").replace("k", "千").replace("+", "").replace("-", "负")
    try:
        return Decimal(str(cn2an.cn2an(text, "smart")))
    except (ValueError, KeyError, IndexError, InvalidOperation):
        return None


def parse_integer(text: str, low: Decimal | None, high: Decimal | None) -> int:
    """A whole number (``12``, ``1,200``, ``十二``, ``3千``, ``2万``) within ``low``..``high``."""
    value = _number(_COUNTERS.sub("", text))
    if value is None or value != value.to_integral_value():
        raise InvalidAnswer("answer_integer_invalid")
    number = int(value)
    if low is not None and number < low:
        raise InvalidAnswer("answer_integer_too_small", min=grouped(low))
    if high is not None and number > high:
        raise InvalidAnswer("answer_integer_too_large", max=grouped(high))
    return number


def parse_money(text: str, low: Decimal | None, high: Decimal | None) -> Decimal:
    """A non-negative yuan amount (``¥50,000``, ``5万元``, ``5w``, ``三千五百``) within ``low``..``high``."""
    value = _number(_MONEY_AFFIXES.sub("", text))
    if value is None:
        raise InvalidAnswer("answer_money_invalid")
    if value < 0:
        raise InvalidAnswer("answer_money_negative")
    value = (value + 0).normalize()
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise InvalidAnswer("answer_money_cents")
    if low is not None and value < low:
        raise InvalidAnswer("answer_money_too_small", min=grouped(low))
    if high is not None and value > high:
        raise InvalidAnswer("answer_money_too_large", max=grouped(high))
    return value


def parse_percent(text: str, low: Decimal | None, high: Decimal | None) -> Decimal:
    """Percentage points in 0..100 (``15``, ``15%``, ``百分之十五``), narrowed by ``low``/``high``."""
    text = text.removeprefix("百分之").removesuffix("%").removesuffix("percent")
    value = _number(text)
    if value is None:
        raise InvalidAnswer("answer_percent_invalid")
    floor = max(low, Decimal(0)) if low is not None else Decimal(0)
    ceiling = min(high, Decimal(100)) if high is not None else Decimal(100)
    if not floor <= value <= ceiling:
        raise InvalidAnswer("answer_percent_range", min=plain_decimal(floor), max=plain_decimal(ceiling))
    return (value + 0).normalize()


# -- dates and times ---------------------------------------------------------------------------
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "7": 6}
_WEEKDAYS.update({str(n): n - 1 for n in range(1, 7)})
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEK_SHIFT = {"上": -1, "这": 0, "本": 0, "下": 1, "下下": 2}
_RELATIVE_WEEKDAY = re.compile(r"(下下|下|这|本|上)个?(?:周|星期|礼拜)([一二三四五六日天1-7])")
_BARE_WEEKDAY = re.compile(r"(?:周|星期|礼拜)([一二三四五六日天1-7])")
_MONTH_DAY = re.compile(r"(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?")
_DAY_OF_MONTH = re.compile(r"(下个?月|这个?月|本月)?\s*(\d{1,2})\s*[日号]")
_PERIOD = r"(?P<period>凌晨|早上|早晨|上午|早|中午|下午|傍晚|晚上|晚)"
_CLOCK = re.compile(
    rf"(?:{_PERIOD}\s*)?(?P<hour>\d{{1,2}})\s*[点时]\s*(?:(?P<half>半)|(?P<minute>\d{{1,2}})\s*分?)?"
    rf"|{_PERIOD.replace('period', 'period2')}\s*(?P<hour2>\d{{1,2}})\s*:\s*(?P<minute2>\d{{2}})"
)
_SHORT_FORMS = {"今早": "今天早上", "今晚": "今天晚上", "明早": "明天早上", "明晚": "明天晚上"}
_SHORT_FORMS |= {"半小时": "30分钟", "一刻": "15分", "三刻": "45分", "点钟": "点"}


def _clock(match: re.Match[str]) -> str:
    period = match["period"] or match["period2"] or ""
    hour = int(match["hour"] or match["hour2"])
    minute = 30 if match["half"] else int(match["minute"] or match["minute2"] or 0)
    if period in ("下午", "傍晚", "晚上", "晚") and hour <= 12:
        hour += 12  # 晚上12点 is 24:00: midnight ending that day, see _when
    elif period == "中午" and hour < 6:
        hour += 12
    elif period in ("凌晨", "早上", "早晨", "上午", "早") and hour == 12:
        hour = 0
    if hour > 24 or minute > 59 or (hour == 24 and minute):
        raise ValueError(f"no such time of day: {match[0]}")
    return f" {hour:02d}:{minute:02d} "


def _numerals(match: re.Match[str]) -> str:
    try:
        return str(cn2an.cn2an(match[0], "normal"))
    except ValueError:
        return match[0]


def _normalise_when(text: str, today: date) -> str:
    """Rewrite the Chinese that dateparser misses into forms it reads (``下午三点`` → ``15:00``)."""
    for short, long in _SHORT_FORMS.items():
        text = text.replace(short, long)

    def relative_weekday(match: re.Match[str]) -> str:
        monday = today - timedelta(days=today.weekday()) + timedelta(weeks=_WEEK_SHIFT[match[1]])
        return f" {monday + timedelta(days=_WEEKDAYS[match[2]]):%Y-%m-%d} "

    text = _RELATIVE_WEEKDAY.sub(relative_weekday, text)
    text = _BARE_WEEKDAY.sub(lambda m: f" {_DAY_NAMES[_WEEKDAYS[m[1]]]} ", text)
    text = re.sub(f"[{_CN_DIGITS}]+", _numerals, text)
    text = _MONTH_DAY.sub(lambda m: f" {int(m[3])} {_MONTHS[int(m[2]) - 1]} {m[1] or ''} ", text)

    def day_of_month(match: re.Match[str]) -> str:  # 5号: this month's 5th, or next month's if past
        day, ahead = int(match[2]), (match[1] or "").startswith("下")
        if not ahead and not match[1] and day < today.day:
            ahead = True
        year, month = (today.year + today.month // 12, today.month % 12 + 1) if ahead else (today.year, today.month)
        return f" {date(year, month, day):%Y-%m-%d} "

    text = _DAY_OF_MONTH.sub(day_of_month, text)
    text = _CLOCK.sub(_clock, text)
    return re.sub(r"\s+", " ", text).strip()


def _when(text: str, now: datetime) -> tuple[datetime, str] | None:
    """The moment ``text`` names (naive, in ``now``'s zone) and its precision, or None."""
    base = now.replace(tzinfo=None, microsecond=0)
    settings = {"PREFER_DATES_FROM": "future", "RELATIVE_BASE": base, "RETURN_TIME_AS_PERIOD": True}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            normalised = _normalise_when(text, base.date())
            midnight = " 24:00" in f" {normalised}"
            normalised = normalised.replace("24:00", "00:00")
            data = DateDataParser(languages=["zh", "en"], settings=settings).get_date_data(normalised)
    except (ValueError, IndexError, OverflowError):  # e.g. month 13, 99999 days ahead
        return None
    found = data.date_obj
    if found is None:
        return None
    if found.tzinfo is not None:  # the text named its own offset
        found = found.astimezone(now.tzinfo).replace(tzinfo=None)
    if midnight:
        found += timedelta(days=1)
    return found.replace(microsecond=0), data.period or "day"


def parse_date(text: str, now: datetime) -> date:
    """A day (``2026-12-01``, ``12月1日``, ``明天``, ``下周一``, ``tomorrow``); the later one when unsure."""
    found = _when(text, now)
    if found is None or found[1] not in ("day", "time"):
        raise InvalidAnswer("answer_date_invalid")
    return found[0].date()


def parse_datetime(text: str, now: datetime) -> datetime:
    """A future moment with an hour (``明天下午三点``, ``tomorrow 3pm``), in ``now``'s time zone."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware to place a datetime answer")
    found = _when(text, now)
    if found is None:
        raise InvalidAnswer("answer_datetime_invalid")
    if found[1] != "time":
        raise InvalidAnswer("answer_datetime_needs_time")
    moment = found[0].replace(tzinfo=now.tzinfo)
    if moment < now.replace(microsecond=0):
        raise InvalidAnswer("answer_datetime_past")
    return moment


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
