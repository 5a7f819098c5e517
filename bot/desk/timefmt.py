"""Times shown to people: stored in UTC, shown in the viewer's own zone with the zone named.

One zone rule for every front-end: a staff member sees times in ``User.timezone``, else the
deployment's ``settings.timezone``; a borrower's times (a call-back, the contact window) are in
``Borrower.timezone``. Days typed as ``YYYY-MM-DD`` (``--since``/``--until`` of ``visits list`` and
``export``) are days of the deployment's zone: :func:`day_start`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["BadZone", "day_start", "known_zone", "person_zone", "shown", "zone_name"]


class BadZone(ValueError):
    """A time zone name that is not in the IANA database (``Asia/Urumqi`` is, ``Beijing`` is not)."""

    def __init__(self, zone: str) -> None:
        """Name the zone that is unknown."""
        self.zone = zone
        super().__init__(f"unknown time zone {zone!r}")


class _Zoned(Protocol):
    """Anyone with an optional own zone: a staff member (``User``) or a borrower."""

    @property
    def timezone(self) -> str | None:
        """The person's IANA zone, None when unset."""
        ...


def known_zone(zone: str) -> str:
    """``zone`` when the IANA database knows it (``Asia/Urumqi``); :class:`BadZone` otherwise."""
    if not zone or zone != zone.strip():
        raise BadZone(zone)
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadZone(zone) from exc
    return zone


def person_zone(person: _Zoned | None, default: str) -> str:
    """The zone times are shown to ``person`` in: their own (``User.timezone``), else ``default``."""
    own = person.timezone if person is not None else None
    return own or default


def zone_name(zone: str) -> str:
    """How a zone is named next to a time (the IANA name people configured)."""
    return zone


def shown(at: datetime | str | None, zone: str, *, fmt: str = "%Y-%m-%d %H:%M", named: bool = True) -> str:
    """``at`` (aware, or ISO text with an offset) in ``zone``, e.g. ``2026-12-01 02:48 Asia/Shanghai``."""
    if at is None or at == "":
        return "-"
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    local = moment.astimezone(ZoneInfo(zone))
    text = local.strftime(fmt)
    return f"{text} {zone_name(zone)}" if named else text


def day_start(day: date | str, zone: str, *, end: bool = False) -> datetime:
    """When a day (``YYYY-MM-DD``) begins in ``zone``, aware; with ``end``, when the next day begins.

    A visit at 02:48 Beijing time on 1 December (18:48 UTC on 30 November) lies inside
    ``day_start("2026-12-01", "Asia/Shanghai")`` … ``day_start("2026-12-01", "Asia/Shanghai", end=True)``.
    """
    first = date.fromisoformat(day) if isinstance(day, str) else day
    return datetime.combine(first + (timedelta(days=1) if end else timedelta()), time(), tzinfo=ZoneInfo(zone))
