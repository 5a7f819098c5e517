"""The core's root exception: what went wrong, worded for the person who asked (``text``)."""

from __future__ import annotations

__all__ = ["NotFound"]


class NotFound(LookupError):
    """A borrower, loan or visit that does not exist, or a contact the rules refuse; ``text`` is ready to show."""

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(text)
