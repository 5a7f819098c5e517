"""The rules of contact: when, how often and whom an officer or the bot may contact (seeds 002, 004).

Contact window (default 08:00–21:00 in the borrower's zone), frequency caps across officers and
channels, opt-out, dispute holds. Every refusal says why and when contact is next allowed, in the
user's language, and is kept in the record (``contact_refusals``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["ContactWindow", "window_opens"]


@dataclass(frozen=True)
class ContactWindow:
    """The hours of the day contact is allowed, in the borrower's own zone."""

    opens: time = time(8, 0)
    closes: time = time(21, 0)

    def contains(self, at: datetime, zone: str) -> bool:
        """Whether ``at`` falls inside the window in ``zone`` (``closes`` itself is still inside)."""
        local = at.astimezone(ZoneInfo(zone)).time().replace(tzinfo=None)
        return self.opens <= local <= self.closes

    def next_open(self, at: datetime, zone: str) -> datetime:
        """``at`` itself when inside the window, else the next time the window opens (aware, in ``zone``)."""
        tz = ZoneInfo(zone)
        local = at.astimezone(tz)
        if self.contains(at, zone):
            return local
        day = local.date() if local.time().replace(tzinfo=None) < self.opens else local.date() + timedelta(days=1)
        return datetime.combine(day, self.opens, tzinfo=tz)


def window_opens(at: datetime, zone: str, window: ContactWindow | None = None) -> datetime:
    """When bot-initiated contact about a borrower in ``zone`` may go out: ``at`` or the next opening."""
    return (window or ContactWindow()).next_open(at, zone)
