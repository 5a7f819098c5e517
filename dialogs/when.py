"""Typed days and times to values (dateparser, with the Chinese it misses rewritten first).

Each parser takes text already folded by :func:`dialogs.parsing.fold` and raises
:class:`InvalidAnswer` with a key registered here.
"""

from __future__ import annotations

import re
import warnings
from datetime import date, datetime, timedelta

from dateparser.date import DateDataParser

from dialogs.errors import InvalidAnswer
from dialogs.i18n import register

__all__ = ["check_day", "parse_date", "parse_datetime"]

register(
    {
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
        "answer_date_before_today": {
            "zh-CN": "这一天已经过去了，请输入今天或以后的日期，例如 明天 或 下周一。",
            "en": "That day has passed. Type today or a later day, e.g. tomorrow or next Monday.",
        },
        "answer_date_after_today": {
            "zh-CN": "这一天还没到，请输入今天或以前的日期。",
            "en": "That day is still to come. Type today or an earlier day.",
        },
        "answer_datetime_past": {
            "zh-CN": "这个时间已经过去了，请输入一个将来的时间，例如 明天下午三点。",
            "en": "That time has already passed. Type a time in the future, for example tomorrow 3pm.",
        },
    }
)

_CN_DIGITS = "零〇一二两三四五六七八九十百千万亿"
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
_TIMESTAMP = re.compile(r"[-+]?\d{9,}(?:\.\d*)?")
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
        import cn2an  # imported on first use: it takes ~0.15 s, every command line would pay it

        return str(cn2an.cn2an(match[0], "normal"))
    except (ValueError, KeyError, IndexError, TypeError):  # cn2an raises KeyError on 一亿四
        return match[0]


def _month_day(match: re.Match[str]) -> str:
    """``12月5日`` as ``5 dec`` for dateparser; a month or day that does not exist is an error."""
    month, day = int(match[2]), int(match[3])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise ValueError(f"no such day: {match[0]}")
    return f" {day} {_MONTHS[month - 1]} {match[1] or ''} "


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
    text = _MONTH_DAY.sub(_month_day, text)

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
    if _TIMESTAMP.fullmatch(text):  # dateparser reads 13800138000 as seconds since 1970
        return None
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
    precision = data.period or "day"
    if precision == "day" and "time" in data.parts:  # a named hour equal to now's leaves period "day"
        precision = "time"
    return found.replace(microsecond=0), precision


def parse_date(text: str, now: datetime) -> date:
    """A day (``2026-12-01``, ``12月1日``, ``明天``, ``下周一``, ``tomorrow``); the later one when unsure."""
    found = _when(text, now)
    if found is None or found[1] not in ("day", "time"):
        raise InvalidAnswer("answer_date_invalid")
    return found[0].date()


def parse_datetime(text: str, now: datetime) -> datetime:
    """A future moment with an hour (``明天下午三点``, ``tomorrow 3pm``), to the minute, in ``now``'s time zone."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware to place a datetime answer")
    found = _when(text, now)
    if found is None:
        raise InvalidAnswer("answer_datetime_invalid")
    if found[1] != "time":
        raise InvalidAnswer("answer_datetime_needs_time")
    moment = found[0].replace(second=0, tzinfo=now.tzinfo)  # shown to the minute, so kept to the minute
    if moment < now.replace(second=0, microsecond=0):
        raise InvalidAnswer("answer_datetime_past")
    return moment


def check_day(day: date, today: date, low: object, high: object) -> None:
    """Refuse ``day`` before ``today`` when ``low`` is ``"today"``, or after it when ``high`` is."""
    if low == "today" and day < today:
        raise InvalidAnswer("answer_date_before_today")
    if high == "today" and day > today:
        raise InvalidAnswer("answer_date_after_today")
