"""Who may see what: admins everything, supervisors their team, officers their own visits."""

from __future__ import annotations

from typing import Any

from storage import repositories as repo
from storage.models import User, Visit

__all__ = ["STAFF_ROLES", "can_see", "team_filter"]

STAFF_ROLES = ("officer", "supervisor", "admin")


def can_see(user: User, visit: Visit) -> bool:
    """Admins see every visit; supervisors their team's; officers their own."""
    if user.role == "admin":
        return True
    if user.role == "supervisor":
        return visit.officer is not None and visit.officer.team == user.team
    return visit.officer_id == user.id


def team_filter(user: User, **kwargs: Any) -> repo.VisitFilter:
    """A visit filter limited to what this user may see."""
    if user.role == "supervisor":
        return repo.VisitFilter(team=user.team or "\x00", **kwargs)
    if user.role == "officer":
        return repo.VisitFilter(officer_id=user.id, **kwargs)
    return repo.VisitFilter(**kwargs)
