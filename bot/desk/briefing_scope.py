"""Whose month a briefing or an overview covers: the institution, a supervisor's team, an officer's own.

Visibility is :mod:`bot.desk.access`'s: an admin (and the command line) sees the institution or any
team; a supervisor their own team only; an officer their own visits and borrowers; a supervisor with
no team sees nothing. A month is a calendar month in ``VISITBOT_TIMEZONE`` (:func:`month_bounds`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk import plan_rules
from bot.desk.briefing_text import MESSAGES
from bot.desk.errors import NotFound
from bot.desk.planning import parse_month
from dialogs.i18n import DEFAULT_LOCALE, message, register
from storage import briefing as store
from storage.models import User

__all__ = ["BriefingScope", "briefing_scope", "month_bounds", "team_choices"]

register(MESSAGES)

NO_TEAM = "\x00"
"""The team of a supervisor who has none: matches nobody (as :func:`bot.desk.access.team_filter`)."""


@dataclass(frozen=True)
class BriefingScope:
    """A month and whose records: ``kind`` is ``institution``, ``team`` or ``officer``."""

    month: str
    kind: str
    team: str | None
    """The team's name (``kind`` team)."""
    supervisor_id: int | None
    """The supervisor whose team it is (user id), when asked by one or for one."""
    supervisor_name: str | None
    officer_id: int | None
    """The officer (``kind`` officer: an officer's own briefing)."""
    officer_name: str | None
    since: datetime
    """The month's first instant (aware, UTC) in the deployment's zone."""
    until: datetime
    """The next month's first instant."""
    zone: str

    @property
    def filter(self) -> store.Scope:
        """The storage filter of this scope."""
        return store.Scope(team=self.team, officer_id=self.officer_id)

    @property
    def viewer(self) -> User | None:
        """Who :func:`bot.desk.planning.progress` is asked as, to see exactly this scope's plan."""
        if self.kind == "team":
            return User(id=self.supervisor_id or -1, role="supervisor", team=self.team, name=self.supervisor_name)
        if self.kind == "officer":
            return User(id=self.officer_id, role="officer", team=None, name=self.officer_name)
        return None


def month_bounds(month: str, zone: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` -> its first instant and the next month's, in ``zone`` (aware, UTC)."""
    first = plan_rules.first_of(parse_month(month))
    tz = ZoneInfo(zone)
    return plan_rules.instant(first, tz), plan_rules.instant(plan_rules.shift(first, 1), tz)


async def briefing_scope(
    sessions: async_sessionmaker[AsyncSession],
    month: str,
    *,
    zone: str,
    viewer: User | None = None,
    team_of: int | None = None,
    locale: str | None = None,
) -> BriefingScope:
    """The scope ``viewer`` (None: the command line, an admin) asks for: ``team_of`` a supervisor's user id.

    Raises :class:`~bot.desk.planning.PlanInputError` for a bad month and :class:`NotFound` (worded in
    ``locale``) when ``team_of`` is no supervisor, or one whose team the viewer may not see.
    """
    month = parse_month(month)
    since, until = month_bounds(month, zone)
    lang = locale or (viewer.locale if viewer is not None and viewer.locale else None) or DEFAULT_LOCALE
    role = "admin" if viewer is None else viewer.role
    if role == "officer" and viewer is not None:
        if team_of is not None and team_of != viewer.id:
            raise NotFound(message("briefing_not_your_team", lang))
        return BriefingScope(month, "officer", None, None, None, viewer.id, viewer.name, since, until, zone)
    if role == "supervisor" and viewer is not None:
        if team_of is not None and team_of != viewer.id:
            async with sessions() as session:
                other = await session.get(User, team_of)
            if other is None or other.role != "supervisor" or other.team != viewer.team or viewer.team is None:
                raise NotFound(message("briefing_not_your_team", lang))
        team = viewer.team or NO_TEAM
        return BriefingScope(month, "team", team, viewer.id, viewer.name, None, None, since, until, zone)
    if role != "admin":
        raise NotFound(message("briefing_not_your_team", lang))
    if team_of is None:
        return BriefingScope(month, "institution", None, None, None, None, None, since, until, zone)
    async with sessions() as session:
        supervisor = await session.get(User, team_of)
    if supervisor is None or supervisor.role != "supervisor":
        raise NotFound(message("briefing_no_supervisor", lang, who=team_of))
    team = supervisor.team or NO_TEAM
    return BriefingScope(month, "team", team, supervisor.id, supervisor.name, None, None, since, until, zone)


async def team_choices(sessions: async_sessionmaker[AsyncSession], viewer: User | None) -> list[tuple[int, str, str]]:
    """(supervisor's user id, name, team) of the teams ``viewer`` may pick (an admin: every supervisor's)."""
    async with sessions() as session:
        staff = await store.staff_names(session)
    role = "admin" if viewer is None else viewer.role
    picks = sorted((uid, name, team or "") for uid, (name, team, r) in staff.items() if r == "supervisor")
    if role == "admin":
        return picks
    if role == "supervisor" and viewer is not None:
        return [pick for pick in picks if pick[0] == viewer.id]
    return []
