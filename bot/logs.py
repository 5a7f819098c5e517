"""Logging with personal data masked: phone numbers and ID card numbers never reach the logs."""

from __future__ import annotations

import logging
import re

import phonenumbers

__all__ = ["MaskingFilter", "mask", "setup_logging"]

ID_CARD = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")


def mask(text: str) -> str:
    """Mask phone numbers (kept: country code, first 3 and last 4 digits) and ID numbers."""
    text = ID_CARD.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)
    for match in reversed(list(phonenumbers.PhoneNumberMatcher(text, "CN"))):
        digits = re.sub(r"\D", "", match.raw_string)
        masked = digits[:3] + "*" * max(len(digits) - 7, 4) + digits[-4:]
        text = text[: match.start] + masked + text[match.end :]
    return text


class MaskingFilter(logging.Filter):
    """Rewrites each record's message with :func:`mask` before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the formatted message in place."""
        record.msg = mask(record.getMessage())
        record.args = None
        return True


def setup_logging(level: int = logging.INFO) -> None:
    """Log to stderr with masking on every handler."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)
