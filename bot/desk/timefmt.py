"""Times shown to people: stored in UTC, shown in the viewer's own zone with the zone named."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

__all__ = ["shown", "zone_name"]


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
