"""Who may see what: admins everything, supervisors their team, officers their own visits.

Phone and ID numbers are shown in full only where :data:`SEES_NUMBERS` says so, by the viewer's
role and how the borrower stands to them; everywhere else they are masked (``138****5678``).
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any, Literal

from storage import repositories as repo
from storage.models import Borrower, User, Visit

__all__ = [
    "RELATIONS",
    "SEES_NUMBERS",
    "STAFF_ROLES",
    "can_read_audit",
    "can_see",
    "cli_admin",
    "filter_detail",
    "relation",
    "sees_numbers",
    "team_filter",
    "visible_filter",
]

STAFF_ROLES = ("officer", "supervisor", "admin")

Relation = Literal["own", "team", "other"]
RELATIONS: tuple[Relation, ...] = ("own", "team", "other")
"""How a borrower stands to a viewer: the viewer's own borrower, one of the viewer's team, or neither."""

SEES_NUMBERS: dict[str, dict[Relation, bool]] = {
    #              own    team   other
    "admin":      {"own": True, "team": True, "other": True},
    "supervisor": {"own": True, "team": True, "other": False},
    "officer":    {"own": True, "team": False, "other": False},
}  # fmt: skip
"""The masking matrix: True where the viewer sees a borrower's phone and ID numbers in full.

An admin sees every number; a supervisor their team's borrowers' (they check visits by calling
back); an officer only their own borrowers' (the ones they must reach), not a colleague's even when
covering a visit. Any other role, or a borrower of nobody's, is masked.
"""


def can_see(user: User, visit: Visit) -> bool:
    """Admins see every visit; supervisors their team's; officers their own."""
    if user.role == "admin":
        return True
    if user.role == "supervisor":
        return visit.officer is not None and visit.officer.team == user.team
    return visit.officer_id == user.id


def relation(user: User, borrower: Borrower) -> Relation:
    """``own`` when the user is the borrower's officer, ``team`` when that officer is in the user's team."""
    if borrower.officer_id is not None and borrower.officer_id == user.id:
        return "own"
    officer = borrower.officer
    if user.team is not None and officer is not None and officer.team == user.team:
        return "team"
    return "other"


def sees_numbers(user: User, borrower: Borrower) -> bool:
    """True when ``user`` may see this borrower's phone and ID numbers unmasked (:data:`SEES_NUMBERS`)."""
    return SEES_NUMBERS.get(user.role, {}).get(relation(user, borrower), False)


def can_read_audit(user: User) -> bool:
    """The audit log is for admins (all of it) and supervisors (their team's); never for officers."""
    return user.role in ("admin", "supervisor")


def cli_admin() -> User:
    """The person at the command line: an admin (not stored; audit entries name the actor ``cli``)."""
    return User(name="CLI", role="admin", team=None)


def team_filter(user: User, **kwargs: Any) -> repo.VisitFilter:
    """A visit filter limited to what this user may see."""
    if user.role == "supervisor":
        return repo.VisitFilter(team=user.team or "\x00", **kwargs)
    if user.role == "officer":
        return repo.VisitFilter(officer_id=user.id, **kwargs)
    return repo.VisitFilter(**kwargs)


def visible_filter(user: User, flt: repo.VisitFilter) -> repo.VisitFilter:
    """``flt`` narrowed to what ``user`` may see (a supervisor keeps an officer filter inside their team)."""
    if user.role == "admin":
        return flt
    if user.role == "supervisor":
        return replace(flt, team=user.team or "\x00")
    return replace(flt, officer_id=user.id if user.id is not None else -1)


def filter_detail(flt: repo.VisitFilter) -> dict[str, str]:
    """The filters a visit list was asked with, as text (for the audit log): defaults left out."""
    default = repo.VisitFilter()
    return {
        f.name: value.isoformat() if hasattr(value, "isoformat") else str(value)
        for f in fields(flt)
        if (value := getattr(flt, f.name)) != getattr(default, f.name) and f.name != "limit"
    }
