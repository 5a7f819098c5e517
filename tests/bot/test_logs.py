"""Logs never hold a raw phone or ID number: not in messages, arguments, exceptions, tracebacks or SQL errors."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, String, Table, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.logs import MaskingFormatter, install_masking, mask
from storage.db import make_engine

PHONE, ID_NUMBER, LANDLINE = "13812345678", "11010119900307425X", "010-62345678"
RAW = (PHONE, "1381234", ID_NUMBER, "110101199003074", "62345678")


def assert_masked(text: str) -> None:
    """No raw phone or ID number (nor a long piece of one) in ``text``."""
    for raw in RAW:
        assert raw not in text, text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("13812345678", "138****5678"),
        ("+86 138 1234 5678", "+86 138****5678"),
        ("+8613812345678", "+86138****5678"),
        ("138-1234-5678", "138****5678"),
        ("010-62345678", "010-****5678"),
        ("0755 2345 6789", "0755 ****6789"),
        ("11010119900307425X", "**************425X"),
        ("110101199003074258", "**************4258"),
        ("+1 415 555 2671", "+* *** *** 2671"),
    ],
)
def test_mask_keeps_only_the_last_digits(raw: str, shown: str) -> None:
    assert mask(f"call {raw}, please") == f"call {shown}, please"


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-01 20:32:19,123 INFO update 123456789",
        "visit 42 amount 150000.00",
        "chat -1001234567890",
        "日期20261201",
    ],
)
def test_mask_leaves_dates_ids_and_amounts(text: str) -> None:
    assert mask(text) == text


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """A root handler with a plain formatter (like any library's), with masking installed; all undone after."""
    factory = logging.getLogRecordFactory()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    install_masking()
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        logging.setLogRecordFactory(factory)


def test_messages_arguments_and_exceptions_are_masked(captured: io.StringIO) -> None:
    log = logging.getLogger("visitbot.test")
    log.warning("borrower phone %s, id %s", PHONE, ID_NUMBER)
    log.warning({"phone": PHONE, "landline": LANDLINE})
    try:
        raise ValueError(f"cannot reach {PHONE} (ID {ID_NUMBER})")
    except ValueError:
        log.exception("update failed for %s", PHONE)
    try:
        try:
            raise KeyError(PHONE)
        except KeyError as exc:
            raise RuntimeError(f"while handling {ID_NUMBER}") from exc
    except RuntimeError as exc:
        log.error("failed: %s", exc, exc_info=exc, stack_info=True)
    text = captured.getvalue()
    assert "Traceback" in text and "ValueError: cannot reach 138****5678" in text
    assert "138****5678" in text and "425X" in text
    assert_masked(text)


def test_pytest_caplog_sees_masked_records(captured: io.StringIO, caplog: pytest.LogCaptureFixture) -> None:
    try:
        raise ValueError(PHONE)
    except ValueError:
        logging.getLogger("visitbot.test").exception("phone %s", PHONE)
    assert_masked(caplog.text)
    assert all(PHONE not in r.getMessage() for r in caplog.records)


async def test_sqlalchemy_parameter_dumps_are_masked(tmp_path: Path, captured: io.StringIO) -> None:
    """Even an engine that shows parameters: an IntegrityError's ``[parameters: ...]`` is masked in the logs."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    people = Table("people", MetaData(), Column("id", Integer, primary_key=True), Column("phone", String, unique=True))
    async with engine.begin() as conn:
        await conn.run_sync(people.metadata.create_all)
        await conn.execute(insert(people).values(phone=PHONE))
    with pytest.raises(IntegrityError) as failure:
        async with engine.begin() as conn:
            await conn.execute(insert(people).values(phone=PHONE, id=2))
    await engine.dispose()
    assert PHONE in str(failure.value)  # the dump really holds it
    logging.getLogger("sqlalchemy.test").error("insert failed: %s", failure.value, exc_info=failure.value)
    text = captured.getvalue()
    assert "[parameters:" in text
    assert_masked(text)


async def test_our_engine_keeps_parameters_out_of_errors(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}")
    people = Table("people", MetaData(), Column("id", Integer, primary_key=True), Column("phone", String, unique=True))
    async with engine.begin() as conn:
        await conn.run_sync(people.metadata.create_all)
        await conn.execute(insert(people).values(phone=PHONE))
    with pytest.raises(IntegrityError) as failure:
        async with engine.begin() as conn:
            await conn.execute(insert(people).values(phone=PHONE, id=2))
    await engine.dispose()
    assert PHONE not in str(failure.value) and "hidden" in str(failure.value)


def test_masking_formatter_masks_records_made_elsewhere() -> None:
    record = logging.makeLogRecord({"msg": "phone %s", "args": (PHONE,), "levelno": logging.ERROR})
    try:
        raise ValueError(ID_NUMBER)
    except ValueError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    text = MaskingFormatter("%(message)s").format(record)
    assert "138****5678" in text and "ValueError: **************425X" in text
    assert_masked(text)


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


NOT_DIGITS = st.text(alphabet=st.characters(blacklist_categories=("Nd",)), max_size=12)


@given(
    before=NOT_DIGITS,
    after=NOT_DIGITS,
    prefix=st.sampled_from(["", "+86", "+86 ", "0086", "86"]),
    second=st.sampled_from("3456789"),
    rest=_digits(9),
    sep=st.sampled_from(["", " ", "-"]),
)
def test_any_cn_mobile_in_any_text_is_masked(
    before: str, after: str, prefix: str, second: str, rest: str, sep: str
) -> None:
    number = f"1{second}{rest}"
    written = f"{number[:3]}{sep}{number[3:7]}{sep}{number[7:]}"
    assert mask(f"{before}{prefix}{written}{after}") == f"{before}{prefix}{number[:3]}****{number[7:]}{after}"


@given(before=NOT_DIGITS, after=NOT_DIGITS, body=_digits(17), last=st.sampled_from("0123456789Xx"))
def test_any_id_number_in_any_text_is_masked(before: str, after: str, body: str, last: str) -> None:
    masked = mask(f"{before}{body}{last}{after}")
    assert body not in masked and body[:13] not in masked
