"""Property tests of every answer kind: any input is a value or an InvalidAnswer, and values keep.

For arbitrary text (and button data, photos, places) ``parse_answer`` either returns a value or
raises :class:`InvalidAnswer` whose message renders in every locale, never another exception. A
value survives JSON, decodes, and is shown as what was stored: read back, the text shown gives
the same value (so ``20000万元`` is never shown as one amount and stored as another).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import example, given
from hypothesis import strategies as st

from dialogs.answers import JsonValue, Reply, answer_hint, decode_value, format_value, parse_answer
from dialogs.errors import InvalidAnswer
from dialogs.i18n import LOCALES, message
from dialogs.parsing import MAX_INTEGER, MAX_MONEY, grouped, money_text, plain_decimal
from dialogs.schema import AnswerKind, Option, Question

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEC_1 = datetime(2026, 12, 1, tzinfo=SHANGHAI)
OPTIONS = (
    Option(id="good", label={"zh-CN": "好", "en": "Good"}),
    Option(id="fair", label={"zh-CN": "一般", "en": "So-so"}),
    Option(id="sales_down", label={"zh-CN": "销量下滑", "en": "Sales down"}),
)
NUMERIC = (AnswerKind.INTEGER, AnswerKind.MONEY, AnswerKind.PERCENT)

# Pieces people type, so that generated text reaches deep into the parsers, not only their first check.
PIECES = [
    *"0123456789", *"零〇一二两三四五六七八九十百千万亿", "点", "负", "-", "−", "+", ".", ",", "，", "、", " ",
    "%", "％", "百分之", "元", "块", "¥", "w", "k", "万元", "亿元", "年", "月", "日", "号", "点", "半", "分", ":",
    "今天", "明天", "后天", "昨天", "下周", "周", "星期", "下个月", "上午", "下午", "晚上", "凌晨", "中午", "今晚",
    "tomorrow", "3pm", "dec", "+86", "138", "0013", "8000", "010-", "⑳", "２", "𐩀", "是", "否", "yes", "no", ";",
]  # fmt: skip
TYPED = st.one_of(
    st.text(max_size=30),
    st.lists(st.sampled_from(PIECES), max_size=12).map("".join),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.builds(
        lambda n, unit: f"{n}{unit}", st.integers(0, 10**32), st.sampled_from(["", "万", "亿", "元", "%", "万亿"])
    ),
    st.integers(0, 30).flatmap(lambda n: st.decimals(allow_nan=False, allow_infinity=False, places=n)).map(str),
)


@st.composite
def nows(draw: st.DrawFn) -> datetime:
    """A visit's clock, on whole minutes (also on the hour), in Shanghai."""
    day = draw(st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)))
    minute = draw(st.one_of(st.just(15 * 60), st.integers(0, 24 * 60 - 1)))
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI) + timedelta(minutes=minute)


@st.composite
def bounds(draw: st.DrawFn, kind: AnswerKind) -> dict[str, Any]:
    """A question's min/max as a script may write them for ``kind``."""
    if kind in (AnswerKind.DATE, AnswerKind.DATETIME):
        return draw(st.fixed_dictionaries({}, optional={"min": st.just("today"), "max": st.just("today")}))
    if kind not in NUMERIC:
        return {}
    limits = {AnswerKind.INTEGER: (-MAX_INTEGER, MAX_INTEGER), AnswerKind.MONEY: (0, MAX_MONEY)}
    low, high = limits.get(kind, (-1000, 1000))
    number = st.decimals(min_value=low, max_value=high, places=0 if kind is AnswerKind.INTEGER else 2)
    found = draw(st.fixed_dictionaries({}, optional={"min": number, "max": number}))
    if "min" in found and "max" in found and found["min"] > found["max"]:
        found["min"], found["max"] = found["max"], found["min"]
    return found


@st.composite
def questions(draw: st.DrawFn, kind: AnswerKind) -> Question:
    """A valid question of ``kind``."""
    fields: dict[str, Any] = draw(bounds(kind))
    if kind in (AnswerKind.CHOICE, AnswerKind.MULTI):
        fields["options"] = OPTIONS[: draw(st.integers(2, 3))]
    if kind is AnswerKind.TEXT:
        fields["max_length"] = draw(st.integers(1, 40))
        fields["min_length"] = draw(st.integers(0, fields["max_length"]))
    return Question(kind=kind, **fields)


def replies(kind: AnswerKind) -> st.SearchStrategy[Reply]:
    """What a user may send to a question of ``kind``: text, button data, a photo or a place."""
    ids = st.one_of(st.sampled_from([o.id for o in OPTIONS]), st.text(max_size=10))
    coordinate = st.floats(allow_nan=True, allow_infinity=True)
    return st.one_of(
        st.builds(Reply, text=TYPED),
        st.builds(Reply, option=ids),
        st.builds(Reply, options=st.lists(ids, max_size=4).map(tuple)),
        st.builds(Reply, photo=st.text(max_size=10)),
        st.builds(Reply, location=st.tuples(coordinate, coordinate)),
        st.builds(Reply, text=st.none() | TYPED, photo=st.none() | st.text(max_size=5)),
    )


def refused_clearly(error: InvalidAnswer) -> None:
    """An InvalidAnswer names a registered message that renders fully in every locale."""
    assert error.key.startswith("answer_")
    blank = dict.fromkeys(error.params, "")  # a refusal may quote what was typed, braces and all
    for locale in LOCALES:
        assert message(error.key, locale, **error.params)
        assert "{" not in message(error.key, locale, **blank)


def read_back(question: Question, shown: str, locale: str, now: datetime) -> JsonValue:
    """What the shown text means when typed in again (money, dates and phones are re-parsed)."""
    return parse_answer(question, Reply(text=shown), locale=locale, now=now)


def shown_as_stored(question: Question, value: JsonValue, now: datetime) -> None:
    """The displayed text agrees with the stored value, in every locale."""
    kind = question.kind
    for locale in LOCALES:
        shown = format_value(question, value, locale)
        assert shown
        labels = {o.id: o.label[locale] for o in question.options}
        if kind is AnswerKind.CHOICE:
            assert shown == labels[str(value)]
        elif kind is AnswerKind.MULTI:
            assert isinstance(value, list)
            assert shown == ("、" if locale == "zh-CN" else ", ").join(labels[str(v)] for v in value)
        elif kind is AnswerKind.YESNO:
            assert shown in (("是", "Yes") if value else ("否", "No"))
        elif kind is AnswerKind.INTEGER:
            assert shown.replace(",", "") == str(value)
        elif kind in (AnswerKind.MONEY, AnswerKind.PERCENT, AnswerKind.DATE, AnswerKind.PHONE):
            assert read_back(question, shown, locale, now) == value
        elif kind is AnswerKind.DATETIME:
            assert read_back(question, shown, locale, now) == value or shown.endswith(f"{now:%H:%M}")
        elif kind is AnswerKind.TEXT:
            assert shown == value
        elif kind is AnswerKind.LOCATION:
            assert isinstance(value, dict)
            lat, lon = (float(part) for part in shown.split(", "))
            assert abs(lat - float(str(value["lat"]))) < 1e-6 and abs(lon - float(str(value["lon"]))) < 1e-6


def fits(question: Question, value: JsonValue, now: datetime) -> None:
    """A value within the question's own bounds and what storage holds."""
    decoded = decode_value(question, value)
    kind = question.kind
    if kind is AnswerKind.INTEGER:
        assert isinstance(decoded, int) and abs(decoded) <= MAX_INTEGER
    if kind is AnswerKind.MONEY:
        assert isinstance(decoded, Decimal) and 0 <= decoded <= MAX_MONEY
        assert decoded == decoded.quantize(Decimal("0.01"))
    if kind in NUMERIC:
        assert isinstance(decoded, int | Decimal)
        assert question.min is None or decoded >= question.min
        assert question.max is None or decoded <= question.max
    if kind in (AnswerKind.DATE, AnswerKind.DATETIME):
        assert isinstance(decoded, date)
        day = decoded.date() if isinstance(decoded, datetime) else decoded
        assert question.min != "today" or day >= now.date()
        assert question.max != "today" or day <= now.date()
    if kind is AnswerKind.DATETIME:
        assert isinstance(decoded, datetime) and decoded >= now


def check(question: Question, reply: Reply, now: datetime) -> None:
    """The property itself: a value that keeps, or a clear refusal."""
    try:
        value = parse_answer(question, reply, locale="zh-CN", now=now)
    except InvalidAnswer as error:
        refused_clearly(error)
        return
    stored = json.loads(json.dumps(value, allow_nan=False))
    assert stored == value
    assert "\\u0000" not in json.dumps(value), "PostgreSQL stores no NUL"
    fits(question, stored, now)
    shown_as_stored(question, stored, now)


def test_every_kind_is_covered() -> None:
    covered = {name.removeprefix("test_").removesuffix("_never_crashes") for name in globals()}
    assert {kind.value for kind in AnswerKind} <= covered


@given(questions(AnswerKind.CHOICE), replies(AnswerKind.CHOICE), nows())
@example(Question(kind=AnswerKind.CHOICE, options=OPTIONS), Reply(text="⑳" * 2200), DEC_1)
def test_choice_never_crashes(question: Question, reply: Reply, now: datetime) -> None:
    check(question, reply, now)


@given(questions(AnswerKind.MULTI), replies(AnswerKind.MULTI), nows())
def test_multi_never_crashes(question: Question, reply: Reply, now: datetime) -> None:
    check(question, reply, now)


@given(questions(AnswerKind.YESNO), replies(AnswerKind.YESNO), nows())
def test_yesno_never_crashes(question: Question, reply: Reply, now: datetime) -> None:
    check(question, reply, now)


@given(questions(AnswerKind.INTEGER), replies(AnswerKind.INTEGER), nows())
@example(Question(kind=AnswerKind.INTEGER), Reply(text="9" * 19), DEC_1)
def test_integer_never_crashes(question: Question, reply: Reply, now: datetime) -> None:
    check(question, reply, now)


@given(questions(AnswerKind.MONEY), replies(AnswerKind.MONEY), nows())
@example(Question(kind=AnswerKind.MONEY), Reply(text="1" * 40), DEC_1)
@example(Question(kind=AnswerKind.MONEY), Reply(text="20000万元"), DEC_1)
def test_money_never_crashes(question: Question, reply: Reply, now: datetime) -> None:
    check(question, reply, now)


@given(questions(AnswerKind.PERCENT), replies(AnswerKind.PERCENT), nows())
def test_percent_never_crashes(question: Question, reply: Reply, now: datetime) -> None:
    check(question, reply, now)


@given(questions(AnswerKind.DATE), replies(AnswerKind.DATE), nows())
@example(Question(kind=AnswerKind.DATE), Reply(text="一亿四"), DEC_1)
@example(Question(kind=AnswerKind.DATE), Reply(text="0月5日"), DEC_1)
def test_date_never_crashes(question: Question, reply: Reply, now: datetime) -> None:
    check(question, reply, now)


@given(questions(AnswerKind.DATETIME), replies(AnswerKind.DATETIME), nows())
@example(Question(kind=AnswerKind.DATETIME), Reply(text="一亿四"), DEC_1)
def test_datetime_never_crashes(question: Question, reply: Reply, now: datetime) -> None:
    check(question, reply, now)


@given(questions(AnswerKind.PHONE), replies(AnswerKind.PHONE), nows())
def test_phone_never_crashes(question: Question, reply: Reply, now: datetime) -> None:
    check(question, reply, now)


@given(questions(AnswerKind.TEXT), replies(AnswerKind.TEXT), nows())
def test_text_never_crashes(question: Question, reply: Reply, now: datetime) -> None:
    check(question, reply, now)


@given(questions(AnswerKind.PHOTO), replies(AnswerKind.PHOTO), nows())
def test_photo_never_crashes(question: Question, reply: Reply, now: datetime) -> None:
    check(question, reply, now)


@given(questions(AnswerKind.LOCATION), replies(AnswerKind.LOCATION), nows())
def test_location_never_crashes(question: Question, reply: Reply, now: datetime) -> None:
    check(question, reply, now)


def bound_text(question: Question, bound: Decimal) -> str:
    """A bound as a hint would show it."""
    if question.kind is AnswerKind.MONEY:
        return money_text(bound, "en")
    return f"{plain_decimal(bound)}%" if question.kind is AnswerKind.PERCENT else grouped(bound)


@given(st.sampled_from(NUMERIC).flatmap(questions))
@example(Question(kind=AnswerKind.PERCENT, min=Decimal(-100), max=Decimal(100)))
@example(Question(kind=AnswerKind.PERCENT, max=Decimal("-0.01")))
@example(Question(kind=AnswerKind.MONEY, min=Decimal(0), max=MAX_MONEY))
def test_a_hint_names_a_bound_only_if_the_parser_takes_it(question: Question) -> None:
    """A bound the hint shows is accepted as an answer; one the parser narrows is not shown."""
    hint = answer_hint(question, "en")
    for bound in (question.min, question.max):
        if not isinstance(bound, Decimal):
            continue
        typed = plain_decimal(bound) + ("%" if question.kind is AnswerKind.PERCENT else "")
        try:
            parse_answer(question, Reply(text=typed), locale="en", now=DEC_1)
        except InvalidAnswer:
            assert bound_text(question, bound) not in hint
        else:
            assert bound_text(question, bound) in hint
