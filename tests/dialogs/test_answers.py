"""Parsing, showing and decoding answers of every kind (dialogs.answers and dialogs.parsing)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dialogs.answers import (
    JsonValue,
    Reply,
    answer_hint,
    decode_value,
    format_value,
    mask_phone,
    parse_answer,
    photo_path,
)
from dialogs.errors import InvalidAnswer
from dialogs.i18n import LOCALES, message
from dialogs.schema import AnswerKind, Option, Question

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 10, 30, tzinfo=SHANGHAI)  # a Monday

CHOICE = Question(
    kind=AnswerKind.CHOICE,
    options=(
        Option(id="good", label={"zh-CN": "好", "en": "Good"}),
        Option(id="fair", label={"zh-CN": "一般", "en": "So-so"}),
        Option(id="poor", label={"zh-CN": "差", "en": "Poor"}),
    ),
)
MULTI = Question(
    kind=AnswerKind.MULTI,
    options=(
        Option(id="sales_down", label={"zh-CN": "销量下滑", "en": "Sales down"}),
        Option(id="costs_up", label={"zh-CN": "成本上涨", "en": "Costs up"}),
        Option(id="other", label={"zh-CN": "其他", "en": "Other"}),
    ),
)


def q(kind: AnswerKind, **fields: Any) -> Question:
    """A question of ``kind`` with ``fields``."""
    return Question(kind=kind, **fields)


def parse(question: Question, text: str | None = None, **reply: Any) -> JsonValue:
    """Parse a typed ``text`` (or a reply built from ``reply``) at the fixed NOW."""
    return parse_answer(question, Reply(text=text, **reply), locale="zh-CN", now=NOW)


def rejects(question: Question, text: str | None = None, **reply: Any) -> InvalidAnswer:
    """The InvalidAnswer the reply raises, after checking its message renders in every locale."""
    with pytest.raises(InvalidAnswer) as caught:
        parse(question, text, **reply)
    error = caught.value
    assert error.key.startswith("answer_")
    for locale in LOCALES:
        rendered = message(error.key, locale, **error.params)
        assert rendered
        assert "{" not in rendered
    return error


# -- choice and multi --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2", "fair"),
        ("２", "fair"),
        (" 3 ", "poor"),
        ("fair", "fair"),
        ("FAIR", "fair"),
        ("一般", "fair"),
        ("So-So", "fair"),
        ("好", "good"),
        ("good", "good"),
        ("差。", "poor"),
    ],
)
def test_choice_typed(text: str, expected: str) -> None:
    assert parse(CHOICE, text) == expected


def test_choice_button() -> None:
    assert parse(CHOICE, option="poor") == "poor"


@pytest.mark.parametrize("text", ["0", "4", "maybe", "很好"])
def test_choice_rejects(text: str) -> None:
    error = rejects(CHOICE, text)
    assert error.key == "answer_choice_unknown"
    assert error.params == {"count": 3}


def test_choice_rejects_stale_button() -> None:
    assert rejects(CHOICE, option="excellent").key == "answer_choice_unknown"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,3", ["sales_down", "other"]),
        ("1 3", ["sales_down", "other"]),
        ("1、3", ["sales_down", "other"]),
        ("1，3", ["sales_down", "other"]),
        ("3,1", ["sales_down", "other"]),
        ("2,2", ["costs_up"]),
        ("2", ["costs_up"]),
        ("成本上涨、销量下滑", ["sales_down", "costs_up"]),
        ("Sales down, costs up", ["sales_down", "costs_up"]),
        ("other 1", ["sales_down", "other"]),
    ],
)
def test_multi_typed(text: str, expected: list[str]) -> None:
    assert parse(MULTI, text) == expected


def test_multi_buttons_keep_question_order() -> None:
    assert parse(MULTI, options=("other", "sales_down", "other")) == ["sales_down", "other"]
    assert parse(MULTI, option="costs_up") == ["costs_up"]


def test_multi_rejects_unknown_parts() -> None:
    error = rejects(MULTI, "1,9")
    assert (error.key, error.params["value"]) == ("answer_multi_unknown", "9")
    assert rejects(MULTI, options=("sales_down", "bogus")).key == "answer_multi_unknown"
    assert rejects(MULTI, "、、").key == "answer_multi_unknown"
    assert rejects(MULTI, options=()).key == "answer_empty"


# -- yes / no ----------------------------------------------------------------------------------
YESNO = q(AnswerKind.YESNO)


@pytest.mark.parametrize(
    "text",
    ["是", "是的", "对", "有", "好", "嗯", "y", "Y", "yes", "YES", "true", "1", "１", "是的。", "Yes!"],
)
def test_yes(text: str) -> None:
    assert parse(YESNO, text) is True


@pytest.mark.parametrize("text", ["否", "不是", "不", "没有", "无", "n", "no", "No", "false", "2"])
def test_no(text: str) -> None:
    assert parse(YESNO, text) is False


def test_yesno_buttons() -> None:
    assert parse(YESNO, option="yes") is True
    assert parse(YESNO, option="no") is False
    assert rejects(YESNO, option="perhaps").key == "answer_yesno_invalid"


@pytest.mark.parametrize("text", ["maybe", "也许", "3"])
def test_yesno_rejects(text: str) -> None:
    assert rejects(YESNO, text).key == "answer_yesno_invalid"


# -- numbers -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", 12),
        ("1,200", 1200),
        ("十二", 12),
        ("3千", 3000),
        ("2万", 20000),
        ("１２", 12),
        ("3个", 3),
        ("0", 0),
    ],
)
def test_integer(text: str, expected: int) -> None:
    value = parse(q(AnswerKind.INTEGER), text)
    assert value == expected
    assert type(value) is int


@pytest.mark.parametrize("text", ["1.5", "abc", "1,2", "十二点五"])
def test_integer_rejects(text: str) -> None:
    assert rejects(q(AnswerKind.INTEGER), text).key == "answer_integer_invalid"


def test_integer_bounds() -> None:
    question = q(AnswerKind.INTEGER, min=Decimal(1), max=Decimal(1000))
    assert parse(question, "1") == 1
    assert parse(question, "一千") == 1000
    low = rejects(question, "0")
    assert (low.key, low.params) == ("answer_integer_too_small", {"min": "1"})
    high = rejects(question, "2千")
    assert (high.key, high.params) == ("answer_integer_too_large", {"max": "1,000"})
    assert "1,000" in message(high.key, "en", **high.params)


MONEY_EXAMPLES = [
    ("50000", "50000"),
    ("50,000", "50000"),
    ("5万", "50000"),
    ("5w", "50000"),
    ("5W", "50000"),
    ("5千", "5000"),
    ("5k", "5000"),
    ("3.5万", "35000"),
    ("1亿", "100000000"),
    ("¥50,000", "50000"),
    ("￥50,000", "50000"),
    ("50000元", "50000"),
    ("五万", "50000"),
    ("三千五百", "3500"),
    ("5万元", "50000"),
    ("35000.5", "35000.5"),
    ("35000.50", "35000.5"),
    ("５０，０００", "50000"),
    ("三万五", "35000"),
    ("3万5千", "35000"),
    ("5 万块", "50000"),
    ("RMB 2000", "2000"),
    ("0", "0"),
]


@pytest.mark.parametrize(("text", "expected"), MONEY_EXAMPLES)
def test_money(text: str, expected: str) -> None:
    assert parse(q(AnswerKind.MONEY), text) == expected


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("-500", "answer_money_negative"),
        ("负五万", "answer_money_negative"),
        ("abc", "answer_money_invalid"),
        ("5万万万", "answer_money_invalid"),
        ("1,2", "answer_money_invalid"),
        ("1e5", "answer_money_invalid"),
        ("12.345", "answer_money_cents"),
        ("万", "answer_money_invalid"),
    ],
)
def test_money_rejects(text: str, key: str) -> None:
    assert rejects(q(AnswerKind.MONEY), text).key == key


def test_money_bounds() -> None:
    question = q(AnswerKind.MONEY, min=Decimal(1), max=Decimal(1_000_000))
    zero = rejects(question, "0")
    assert (zero.key, zero.params) == ("answer_money_too_small", {"min": "1"})
    high = rejects(question, "101万")
    assert (high.key, high.params) == ("answer_money_too_large", {"max": "1,000,000"})
    assert "¥1,000,000" in message(high.key, "en", **high.params)
    assert parse(question, "100万") == "1000000"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15", "15"),
        ("15%", "15"),
        ("15％", "15"),
        ("百分之十五", "15"),
        ("12.5", "12.5"),
        ("12.50%", "12.5"),
        ("0", "0"),
        ("100", "100"),
        ("百分之一百", "100"),
    ],
)
def test_percent(text: str, expected: str) -> None:
    assert parse(q(AnswerKind.PERCENT), text) == expected


@pytest.mark.parametrize(
    ("text", "key"),
    [("101", "answer_percent_range"), ("-1", "answer_percent_range"), ("abc%", "answer_percent_invalid")],
)
def test_percent_rejects(text: str, key: str) -> None:
    error = rejects(q(AnswerKind.PERCENT), text)
    assert error.key == key


def test_percent_bounds_narrow_the_range() -> None:
    error = rejects(q(AnswerKind.PERCENT, min=Decimal(5), max=Decimal(50)), "60%")
    assert error.params == {"min": "5", "max": "50"}


# -- dates and times ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01", "2026-12-01"),
        ("2026/12/1", "2026-12-01"),
        ("12月1日", "2026-12-01"),
        ("12月1号", "2026-12-01"),
        ("2026年12月1日", "2026-12-01"),
        ("十二月一日", "2026-12-01"),
        ("明天", "2026-11-24"),
        ("后天", "2026-11-25"),
        ("下周一", "2026-11-30"),
        ("下周五", "2026-12-04"),
        ("这周五", "2026-11-27"),
        ("周五", "2026-11-27"),
        ("5号", "2026-12-05"),
        ("25号", "2026-11-25"),
        ("tomorrow", "2026-11-24"),
        ("1 Dec 2026", "2026-12-01"),
        ("1月5日", "2027-01-05"),
    ],
)
def test_date(text: str, expected: str) -> None:
    assert parse(q(AnswerKind.DATE), text) == expected


@pytest.mark.parametrize("text", ["abc", "下周", "13月1日", "12月32日", "31号"])
def test_date_rejects(text: str) -> None:
    assert rejects(q(AnswerKind.DATE), text).key == "answer_date_invalid"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("明天下午三点", "2026-11-24T15:00:00+08:00"),
        ("明天15点", "2026-11-24T15:00:00+08:00"),
        ("2026-12-01 15:00", "2026-12-01T15:00:00+08:00"),
        ("tomorrow 3pm", "2026-11-24T15:00:00+08:00"),
        ("明天下午3点半", "2026-11-24T15:30:00+08:00"),
        ("明天上午九点一刻", "2026-11-24T09:15:00+08:00"),
        ("下周一上午10点", "2026-11-30T10:00:00+08:00"),
        ("今晚8点", "2026-11-23T20:00:00+08:00"),
        ("明早9点", "2026-11-24T09:00:00+08:00"),
        ("12月1日下午3点", "2026-12-01T15:00:00+08:00"),
        ("2小时后", "2026-11-23T12:30:00+08:00"),
        ("半小时后", "2026-11-23T11:00:00+08:00"),
        ("明天 下午 3:30", "2026-11-24T15:30:00+08:00"),
        ("2026-12-01T15:00+09:00", "2026-12-01T14:00:00+08:00"),
        ("明天晚上十二点", "2026-11-25T00:00:00+08:00"),
        ("明天 24:00", "2026-11-25T00:00:00+08:00"),
    ],
)
def test_datetime(text: str, expected: str) -> None:
    assert parse(q(AnswerKind.DATETIME), text) == expected


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("今天上午9点", "answer_datetime_past"),
        ("2026-11-01 15:00", "answer_datetime_past"),
        ("明天", "answer_datetime_needs_time"),
        ("下周一", "answer_datetime_needs_time"),
        ("abc", "answer_datetime_invalid"),
        ("明天25点", "answer_datetime_invalid"),
        ("明天10点70分", "answer_datetime_invalid"),
    ],
)
def test_datetime_rejects(text: str, key: str) -> None:
    assert rejects(q(AnswerKind.DATETIME), text).key == key


def test_datetime_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_answer(q(AnswerKind.DATETIME), Reply(text="明天15点"), locale="zh-CN", now=NOW.replace(tzinfo=None))


# -- phones ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("138 0013 8000", "+8613800138000"),
        ("+86 138-0013-8000", "+8613800138000"),
        ("13800138000", "+8613800138000"),
        ("010-12345678", "+861012345678"),
        ("０１０-１２３４５６７８", "+861012345678"),
        ("+1 650 253 0000", "+16502530000"),
    ],
)
def test_phone(text: str, expected: str) -> None:
    assert parse(q(AnswerKind.PHONE), text) == expected


@pytest.mark.parametrize("text", ["12345", "abc", "1380013800", "138001380001"])
def test_phone_rejects(text: str) -> None:
    assert rejects(q(AnswerKind.PHONE), text).key == "answer_phone_invalid"


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        ("+8613800138000", "+86 138****8000"),
        ("+861012345678", "+86 101***5678"),
        ("12345", "+86 ***45"),
        ("garbage", "*"),
    ],
)
def test_mask_phone(e164: str, masked: str) -> None:
    assert mask_phone(e164) == masked


# -- text, photo, location ---------------------------------------------------------------------
def test_text_is_stripped_and_counted_in_characters() -> None:
    question = q(AnswerKind.TEXT, min_length=2, max_length=5)
    assert parse(question, "  生意不错  ") == "生意不错"
    short = rejects(question, "好")
    assert (short.key, short.params) == ("answer_text_too_short", {"min": 2})
    long = rejects(question, "生意还算不错吧")
    assert (long.key, long.params) == ("answer_text_too_long", {"max": 5, "length": 7})


def test_photo(tmp_path: Path) -> None:
    question = q(AnswerKind.PHOTO)
    assert parse(question, photo="AgACAgUAAxkBAAIB") == {"file": "AgACAgUAAxkBAAIB"}
    picture = tmp_path / "site.jpg"
    picture.write_bytes(b"\xff\xd8\xff")
    assert rejects(question, str(picture)).key == "answer_photo_needed"  # typed text is never a file
    assert photo_path(f"  {picture}  ") == str(picture.resolve())
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    for text in (str(tmp_path / "missing.jpg"), str(notes), "门店照片"):
        assert photo_path(text) is None
        assert rejects(question, text).key == "answer_photo_needed"
    assert rejects(question, location=(31.2, 121.4)).key == "answer_photo_needed"


@pytest.mark.parametrize("text", ["31.23,121.47", "31.23 121.47", "31.23，121.47", "31.23, 121.47", "-33.9;151.2"])
def test_location_typed(text: str) -> None:
    value = parse(q(AnswerKind.LOCATION), text)
    assert isinstance(value, dict)
    assert set(value) == {"lat", "lon"}
    assert all(isinstance(v, float) for v in value.values())


def test_location_shared_and_rejected() -> None:
    question = q(AnswerKind.LOCATION)
    assert parse(question, location=(31.23, 121.47)) == {"lat": 31.23, "lon": 121.47}
    assert rejects(question, location=(91.0, 0.0)).key == "answer_location_range"
    assert rejects(question, location=(float("nan"), 0.0)).key == "answer_location_range"
    assert rejects(question, "31.23,200").key == "answer_location_range"
    assert rejects(question, "上海市浦东新区").key == "answer_location_invalid"
    assert rejects(question, photo="AgAC").key == "answer_location_needed"


# -- every kind --------------------------------------------------------------------------------
ALL_QUESTIONS = [CHOICE, MULTI] + [q(kind) for kind in AnswerKind if kind not in (AnswerKind.CHOICE, AnswerKind.MULTI)]


@pytest.mark.parametrize("question", ALL_QUESTIONS, ids=lambda question: question.kind.value)
@pytest.mark.parametrize("text", [None, "", "   \n"])
def test_empty_reply(question: Question, text: str | None) -> None:
    assert rejects(question, text).key == "answer_empty"


@pytest.mark.parametrize("question", [CHOICE, q(AnswerKind.MONEY), q(AnswerKind.TEXT)], ids=lambda x: x.kind.value)
def test_photo_where_text_is_needed(question: Question) -> None:
    assert rejects(question, photo="AgAC").key == "answer_needs_text"


@pytest.mark.parametrize("question", ALL_QUESTIONS, ids=lambda question: question.kind.value)
@pytest.mark.parametrize("locale", LOCALES)
def test_hint_in_every_locale(question: Question, locale: str) -> None:
    hint = answer_hint(question, locale)
    assert hint
    assert "{" not in hint


def test_hint_from_question_and_bounds() -> None:
    hinted = q(AnswerKind.DATETIME, hint={"zh-CN": "例如：明天下午三点", "en": "e.g. tomorrow 3pm"})
    assert answer_hint(hinted, "en") == "e.g. tomorrow 3pm"
    money = q(AnswerKind.MONEY, min=Decimal(1), max=Decimal(50000))
    assert "5万元" in answer_hint(money, "zh-CN")
    assert "¥50,000" in answer_hint(money, "en")
    assert "10" in answer_hint(q(AnswerKind.INTEGER, max=Decimal(10)), "en")


# -- showing and decoding ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "zh", "en"),
    [
        ("50000", "5万元", "¥50,000"),
        ("35000", "3.5万元", "¥35,000"),
        ("1234", "1,234元", "¥1,234"),
        ("35000.5", "35,000.5元", "¥35,000.5"),
        ("100000000", "1亿元", "¥100,000,000"),
        ("0", "0元", "¥0"),
    ],
)
def test_format_money(value: str, zh: str, en: str) -> None:
    question = q(AnswerKind.MONEY)
    assert format_value(question, value, "zh-CN") == zh
    assert format_value(question, value, "en") == en


@pytest.mark.parametrize(
    ("question", "value", "zh", "en"),
    [
        (CHOICE, "fair", "一般", "So-so"),
        (MULTI, ["sales_down", "other"], "销量下滑、其他", "Sales down, Other"),
        (YESNO, True, "是", "Yes"),
        (YESNO, False, "否", "No"),
        (q(AnswerKind.INTEGER), 1200, "1,200", "1,200"),
        (q(AnswerKind.PERCENT), "12.5", "12.5%", "12.5%"),
        (q(AnswerKind.DATE), "2026-12-01", "2026年12月1日", "1 Dec 2026"),
        (q(AnswerKind.DATETIME), "2026-11-24T15:00:00+08:00", "2026年11月24日 15:00", "24 Nov 2026 15:00"),
        (q(AnswerKind.PHONE), "+8613800138000", "138 0013 8000", "138 0013 8000"),
        (q(AnswerKind.TEXT), "生意不错", "生意不错", "生意不错"),
        (q(AnswerKind.PHOTO), {"file": "x"}, "[照片]", "[photo]"),
        (q(AnswerKind.LOCATION), {"lat": 31.23, "lon": 121.47}, "31.23, 121.47", "31.23, 121.47"),
        (q(AnswerKind.TEXT), None, "—", "—"),
    ],
)
def test_format_value(question: Question, value: JsonValue, zh: str, en: str) -> None:
    assert format_value(question, value, "zh-CN") == zh
    assert format_value(question, value, "en") == en


ROUND_TRIPS = [
    (CHOICE, "2", "一般", str),
    (MULTI, "1,3", "销量下滑、其他", list),
    (YESNO, "是的", "是", bool),
    (q(AnswerKind.INTEGER), "十二", "12", int),
    (q(AnswerKind.MONEY), "3.5万", "3.5万元", Decimal),
    (q(AnswerKind.PERCENT), "百分之十五", "15%", Decimal),
    (q(AnswerKind.DATE), "下周一", "2026年11月30日", date),
    (q(AnswerKind.DATETIME), "明天下午三点", "2026年11月24日 15:00", datetime),
    (q(AnswerKind.PHONE), "+86 138-0013-8000", "138 0013 8000", str),
    (q(AnswerKind.TEXT), " 还可以 ", "还可以", str),
    (q(AnswerKind.LOCATION), "31.23,121.47", "31.23, 121.47", dict),
]


@pytest.mark.parametrize(
    ("question", "text", "shown", "decoded_type"), ROUND_TRIPS, ids=lambda x: getattr(x, "kind", x)
)
def test_round_trip_through_json(question: Question, text: str, shown: str, decoded_type: type) -> None:
    value = parse(question, text)
    stored = json.loads(json.dumps(value))
    assert stored == value
    assert format_value(question, stored, "zh-CN") == shown
    decoded = decode_value(question, stored)
    assert type(decoded) is decoded_type


def test_decode_values_compare() -> None:
    amount = decode_value(q(AnswerKind.MONEY), "50000")
    assert isinstance(amount, Decimal)
    assert amount == Decimal(50000)
    assert amount > Decimal("49999.99")
    assert decode_value(q(AnswerKind.PERCENT), "12.5") == Decimal("12.5")
    assert decode_value(q(AnswerKind.DATE), "2026-12-01") == date(2026, 12, 1)
    moment = decode_value(q(AnswerKind.DATETIME), "2026-11-24T15:00:00+08:00")
    assert moment == datetime(2026, 11, 24, 15, tzinfo=SHANGHAI)
    assert decode_value(YESNO, False) is False
    assert decode_value(q(AnswerKind.INTEGER), 7) == 7
    assert decode_value(MULTI, ["other"]) == ["other"]
    assert decode_value(q(AnswerKind.MONEY), None) is None


# -- inputs that used to crash, round or mislead (issue 8) -------------------------------------
@pytest.mark.parametrize("kind", [AnswerKind.DATE, AnswerKind.DATETIME])
def test_chinese_numerals_cn2an_cannot_read_are_not_a_date(kind: AnswerKind) -> None:
    assert rejects(q(kind), "一亿四").key == f"answer_{kind.value}_invalid"


def test_a_callback_time_cn2an_cannot_read_is_refused_not_a_crash() -> None:
    """``/cancel callback 一亿四`` parses its time as a datetime answer (console and Telegram)."""
    assert rejects(q(AnswerKind.DATETIME), "一亿四 下午三点").key == "answer_datetime_invalid"


@pytest.mark.parametrize("text", ["0月5日", "0月0日", "13月5日", "12月0日", "2026年0月5日"])
def test_a_month_or_day_that_does_not_exist_is_refused(text: str) -> None:
    assert rejects(q(AnswerKind.DATE), text).key == "answer_date_invalid"


@pytest.mark.parametrize("text", ["明天下午三点", "明天15点", "tomorrow 3pm", "明天 15:00"])
def test_an_hour_equal_to_the_clock_still_counts_as_an_hour(text: str) -> None:
    at_three = datetime(2026, 12, 1, 15, 0, 0, tzinfo=SHANGHAI)
    value = parse_answer(q(AnswerKind.DATETIME), Reply(text=text), locale="zh-CN", now=at_three)
    assert value == "2026-12-02T15:00:00+08:00"


@pytest.mark.parametrize("text", ["1" * 40, "1" * 29, "9" * 4000, "1" * 29 + ".5", "1" * 30 + "亿"])
def test_an_amount_too_large_to_store_is_refused_with_the_limit(text: str) -> None:
    error = rejects(q(AnswerKind.MONEY), text)
    assert error.key == "answer_money_too_large"
    assert "999,999,999,999.99" in message(error.key, "zh-CN", **error.params)


def test_the_largest_storable_amount_is_kept_exactly() -> None:
    assert parse(q(AnswerKind.MONEY), "999999999999.99") == "999999999999.99"
    assert parse(q(AnswerKind.MONEY), "9999亿") == "999900000000"
    assert rejects(q(AnswerKind.MONEY), "1万亿").key == "answer_money_too_large"


def test_long_decimals_are_never_rounded() -> None:
    assert parse(q(AnswerKind.PERCENT), "12.345678901234567890123456789") == "12.345678901234567890123456789"
    assert parse(q(AnswerKind.PERCENT), "零点一二三四五六七八九一二三四五六七八九") == "0.123456789123456789"
    assert rejects(q(AnswerKind.MONEY), "1.0000000000000000000000000001").key == "answer_money_cents"


@pytest.mark.parametrize("text", ["1" * 30, "9" * 19, "-" + "9" * 19, "1" * 5000, "一千万亿"])
def test_an_integer_too_large_to_store_is_refused(text: str) -> None:
    assert rejects(q(AnswerKind.INTEGER), text).key in ("answer_integer_too_large", "answer_integer_too_small")


def test_the_largest_storable_integer_is_kept() -> None:
    assert parse(q(AnswerKind.INTEGER), "999999999999999") == 999_999_999_999_999
    assert parse(q(AnswerKind.INTEGER), "-999999999999999") == -999_999_999_999_999


@pytest.mark.parametrize("text", ["⑳" * 2200, "9" * 5000, "𐩀"])
def test_a_huge_or_odd_number_names_no_option(text: str) -> None:
    assert rejects(CHOICE, text).key == "answer_choice_unknown"
    assert rejects(MULTI, text).key == "answer_multi_unknown"


@pytest.mark.parametrize(
    ("text", "zh"), [("20000万元", "2亿元"), ("15000万", "1.5亿元"), ("12345.67万", "123,456,700元")]
)
def test_an_amount_is_said_as_it_is_recorded(text: str, zh: str) -> None:
    from dialogs.templating import compile_text

    question = q(AnswerKind.MONEY)
    value = parse(question, text)
    assert format_value(question, value, "zh-CN") == zh
    said = compile_text("{{ amount | money }}")({"amount": decode_value(question, value), "locale": "zh-CN"})
    assert said == zh


def test_negative_percentages_within_the_hinted_range() -> None:
    margin = q(AnswerKind.PERCENT, min=Decimal(-100), max=Decimal(100))
    assert "-100%" in answer_hint(margin, "zh-CN")
    assert parse(margin, "-5%") == "-5"
    assert parse(margin, "−5%") == "-5"  # U+2212, the minus sign proper
    assert parse(margin, "负百分之五") == "-5"
    low = rejects(margin, "-101%")
    assert low.params == {"min": "-100", "max": "100"}


def test_a_percentage_bound_below_zero_widens_the_range_the_hint_states() -> None:
    falls = q(AnswerKind.PERCENT, max=Decimal(-1))
    assert "-1%" in answer_hint(falls, "en")
    assert parse(falls, "-1%") == "-1"


def test_a_date_from_today_refuses_the_past() -> None:
    promise = q(AnswerKind.DATE, min="today")
    assert parse(promise, "今天") == "2026-11-23"
    assert parse(promise, "下周一") == "2026-11-30"
    for past in ("昨天", "2026-11-01", "上周五"):
        error = rejects(promise, past)
        assert error.key == "answer_date_before_today"
    assert "今天或以后" in answer_hint(promise, "zh-CN")
    assert "today or later" in answer_hint(promise, "en")


def test_a_date_until_today_refuses_the_future() -> None:
    paid_on = q(AnswerKind.DATE, max="today")
    assert parse(paid_on, "2026-11-01") == "2026-11-01"
    assert rejects(paid_on, "明天").key == "answer_date_after_today"


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "date", "min": 1},
        {"kind": "money", "min": "today"},
        {"kind": "text", "max": 3},
        {"kind": "date", "min": "yesterday"},
        {"kind": "integer", "max": "1e30"},
        {"kind": "integer", "min": 10**15},
        {"kind": "money", "min": -100},
        {"kind": "money", "max": "1e12"},
        {"kind": "percent", "max": "1e7"},
    ],
)
def test_bounds_that_do_not_fit_the_kind_are_refused_at_load(fields: dict[str, Any]) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Question(**fields)


def test_the_shipped_promise_to_pay_date_is_today_or_later() -> None:
    from dialogs.catalog import ScriptCatalog

    promise = ScriptCatalog().latest("overdue_reminder").compiled.steps["promise_date"].ask
    assert promise is not None
    assert rejects(promise, "昨天").key == "answer_date_before_today"
    assert parse(promise, "下周一") == "2026-11-30"


@pytest.mark.parametrize("kind", [AnswerKind.DATE, AnswerKind.DATETIME])
@pytest.mark.parametrize("text", ["1577890861", "13800138000"])
def test_a_long_number_is_not_a_timestamp(kind: AnswerKind, text: str) -> None:
    assert rejects(q(kind), text).key == f"answer_{kind.value}_invalid"


def test_a_datetime_is_kept_to_the_minute_it_is_shown_with() -> None:
    later = NOW.replace(second=45)
    value = parse_answer(q(AnswerKind.DATETIME), Reply(text="30分钟后"), locale="zh-CN", now=later)
    assert value == "2026-11-23T11:00:00+08:00"
    assert format_value(q(AnswerKind.DATETIME), value, "zh-CN") == "2026年11月23日 11:00"


def test_control_characters_are_dropped_from_typed_answers() -> None:
    """Invisible to the user, and PostgreSQL refuses NUL in text."""
    assert parse(q(AnswerKind.TEXT), "生意\x00不错\x07") == "生意不错"
    assert parse(q(AnswerKind.TEXT), "第一行\n第二行") == "第一行\n第二行"
    assert parse(q(AnswerKind.MONEY), "5\x00万") == "50000"
    assert rejects(q(AnswerKind.TEXT), "\x00\x01").key == "answer_empty"


def test_cancel_callback_with_an_unreadable_time_is_refused_on_the_console() -> None:
    """``/cancel callback 一亿四`` re-asks with a clear line instead of a KeyError traceback."""
    import asyncio
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from bot.console import ConsoleVisit
    from bot.desk import Actor
    from bot.desk.choices import STAFF_CANCEL_OUTCOMES, CancelOffer

    async def offers(visit_id: int, actor: Actor) -> CancelOffer:
        return CancelOffer(visit_id, STAFF_CANCEL_OUTCOMES, "Asia/Shanghai", "B001")

    out = io.StringIO()
    desk: Any = SimpleNamespace(now=lambda: NOW)
    console = ConsoleVisit(desk, code="B001", locale="zh-CN", out=Console(file=out, width=200), offers=offers)
    officer = Actor("officer", 1)
    assert asyncio.run(console._cancel("callback 一亿四", 1, officer)) is None
    assert "没看懂这个时间" in out.getvalue()
    event = asyncio.run(console._cancel("callback 明天下午三点", 1, officer))
    assert event is not None and getattr(event, "callback_at", None) == datetime(2026, 11, 24, 15, tzinfo=SHANGHAI)
