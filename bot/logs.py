"""Logging with personal data masked: phone numbers and ID card numbers never reach the logs.

:func:`install_masking` wraps the process's log record factory, so every record is masked when it
is made — its message, its arguments, its exception text and traceback, its stack — whichever
handler (ours, pytest's, a library's) formats it later. :class:`MaskingFilter` and
:class:`MaskingFormatter` mask once more on our own handlers, for records made some other way
(``logging.makeLogRecord``).
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

import phonenumbers

__all__ = ["MaskingFilter", "MaskingFormatter", "install_masking", "mask", "mask_record", "setup_logging"]

# 15 to 19 digits in a row: 18-digit ID numbers (the last may be X), old 15-digit ones, bank cards.
LONG_NUMBER = re.compile(r"(?<!\d)\d{14,18}[\dXx](?!\d)")
CN_PREFIX = r"(?:(?:\+|00)\s?86[\s-]?|(?<!\d)86[\s-]?)?"
CN_MOBILE = re.compile(rf"(?<!\d)({CN_PREFIX})(1[3-9]\d)[\s-]?(\d{{4}})[\s-]?(\d{{4}})(?!\d)")
CN_LANDLINE = re.compile(
    r"(?<!\d)((?:(?:\+|00)\s?86[\s-]?\(?0?|\(?0)(?:10|2\d|[3-9]\d\d)\)?[\s-]?)([2-9]\d{2,3})[\s-]?(\d{4})(?!\d)"
)
MAYBE_PHONE = re.compile(r"\d(?:[\s().-]{0,2}\d){6}")
"""Seven digits, perhaps with separators: the fewest any phone number has (a cheap pre-check)."""


def _last_four(text: str) -> str:
    """Every digit but the last four replaced by ``*`` (separators kept)."""
    total = sum(c.isdigit() for c in text)
    seen = 0
    chars = []
    for c in text:
        if c.isdigit():
            seen += 1
            chars.append(c if seen > total - 4 else "*")
        else:
            chars.append(c)
    return "".join(chars)


def mask(text: str) -> str:
    """Mask ID/card numbers (last 4 kept), CN mobiles (``138****5678``), landlines and other phone numbers."""
    if not MAYBE_PHONE.search(text):
        return text
    text = CN_MOBILE.sub(lambda m: f"{m.group(1)}{m.group(2)}****{m.group(4)}", text)
    text = LONG_NUMBER.sub(lambda m: "*" * (len(m.group()) - 4) + m.group()[-4:], text)
    text = CN_LANDLINE.sub(lambda m: f"{m.group(1)}{'*' * len(m.group(2))}{m.group(3)}", text)
    if not MAYBE_PHONE.search(text):
        return text
    for match in reversed(list(phonenumbers.PhoneNumberMatcher(text, "CN"))):
        text = text[: match.start] + _last_four(match.raw_string) + text[match.end :]
    return text


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask a record in place: message (with its arguments filled in), exception text, stack."""
    try:
        text = record.getMessage()
    except (TypeError, ValueError):  # arguments that do not fit the format: keep both, masked
        text = f"{record.msg} {record.args!r}"
    record.msg = mask(text)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    if record.exc_text:
        record.exc_text = mask(record.exc_text)
    if record.stack_info:
        record.stack_info = mask(record.stack_info)
    return record


class MaskingFilter(logging.Filter):
    """Masks each record (see :func:`mask_record`) before a handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record in place and let it through."""
        mask_record(record)
        return True


class MaskingFormatter(logging.Formatter):
    """A formatter that masks each record (message, traceback, stack) before formatting it."""

    def format(self, record: logging.LogRecord) -> str:
        """The record formatted after masking it (cheap when the record factory masked it already)."""
        return super().format(mask_record(record))


class _MaskingFactory:
    """A log record factory that masks every record it makes (wraps the previous factory)."""

    def __init__(self, inner: Any) -> None:
        """Wrap ``inner`` (the factory installed before)."""
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        """Make the record with the wrapped factory, then mask it."""
        record: logging.LogRecord = self.inner(*args, **kwargs)
        return mask_record(record)


def install_masking() -> None:
    """Mask every log record this process makes from now on, and every root handler's output (idempotent)."""
    factory = logging.getLogRecordFactory()
    if not isinstance(factory, _MaskingFactory):
        logging.setLogRecordFactory(_MaskingFactory(factory))
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())


def setup_logging(level: int = logging.INFO) -> None:
    """Log to stderr with masking on every record and handler."""
    handler = logging.StreamHandler()
    handler.setFormatter(MaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("transitions").setLevel(logging.WARNING)  # two INFO lines per step otherwise
    install_masking()
