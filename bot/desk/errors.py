"""The core's root exception: what went wrong, worded for the person who asked (``text``)."""

from __future__ import annotations

__all__ = ["NotFound", "Refused"]


class NotFound(LookupError):
    """A borrower, loan or visit that does not exist, or a contact the rules refuse; ``text`` is ready to show."""

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(text)


class Refused(Exception):
    """An act the core does not allow (a review change, a correction, a relief decision, a flag explained):
    nothing was changed; ``reason`` is a code for programs, ``text`` says why in the person's language."""

    def __init__(self, reason: str, text: str) -> None:
        self.reason = reason
        self.text = text
        super().__init__(text)
