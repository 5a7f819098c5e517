"""The core's clock: every decision that depends on the time asks one, so tests can set it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

__all__ = ["Clock", "FixedClock", "SystemClock"]


class Clock(Protocol):
    """Tells the time: ``now()`` is timezone-aware, in UTC."""

    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        ...


class SystemClock:
    """The machine's clock (``time-machine`` can still freeze it in tests)."""

    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        return datetime.now(UTC)

    def local(self, zone: str) -> datetime:
        """The current time in ``zone``."""
        return self.now().astimezone(ZoneInfo(zone))


class FixedClock:
    """A clock that stands still until moved: for tests and dry runs."""

    def __init__(self, at: datetime | str | Callable[[], datetime]) -> None:
        """Start at ``at`` (aware datetime or ISO text with an offset)."""
        if callable(at):
            at = at()
        moment = datetime.fromisoformat(at) if isinstance(at, str) else at
        if moment.tzinfo is None:
            raise ValueError("FixedClock needs an aware time (with a zone or offset)")
        self._at = moment.astimezone(UTC)

    def now(self) -> datetime:
        """The clock's current instant, aware, in UTC."""
        return self._at

    def advance(self, **delta: float) -> None:
        """Move the clock forward (``advance(minutes=5)``)."""
        self._at += timedelta(**delta)

    def set(self, at: datetime) -> None:
        """Move the clock to ``at`` (aware)."""
        self._at = at.astimezone(UTC)
