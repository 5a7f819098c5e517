"""The monthly visit plan (月度回访计划): who each officer visits this month, and why.

Interface used by the Telegram front-end (/plan, /progress, /flag) and the digest; the rules are
filled in below (see :func:`make_plan`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk.clock import Clock
from bot.settings import Settings
from dialogs.i18n import message
from storage.models import User, Visit, WatchFlag

__all__ = [
    "PLAN_REASONS",
    "PlanInputError",
    "PlanLine",
    "PlanSummary",
    "ProgressRow",
    "flag_borrower",
    "fulfil_plan",
    "make_plan",
    "parse_month",
    "plan_lines",
    "progress",
]

PLAN_REASONS = ("overdue", "new_loan", "policy", "flagged", "sample")
"""Reason codes, in display order."""


class PlanInputError(ValueError):
    """A month, officer or flag reason the plan cannot take; ``text(locale)`` words it."""

    def __init__(self, key: str, **params: object) -> None:
        self.key = key
        self.params = params
        super().__init__(key)

    def text(self, locale: str) -> str:
        """The problem in ``locale``."""
        return message(self.key, locale, **self.params)


@dataclass(frozen=True)
class PlanLine:
    """One plan entry as shown."""

    entry_id: int
    month: str
    borrower_id: int
    borrower_code: str
    borrower_name: str
    officer_id: int | None
    officer_name: str
    reasons: tuple[str, ...]
    action: str
    note: str
    script_id: str
    planned_on: date
    due_on: date
    done: bool
    visit_id: int | None


@dataclass(frozen=True)
class PlanSummary:
    """What :func:`make_plan` did."""

    month: str
    entries: int
    added: int
    kept_done: int
    updated: int
    invites_queued: int
    by_reason: dict[str, int]


@dataclass(frozen=True)
class ProgressRow:
    """Planned vs done for one officer and reason (``officer_id`` None and reason ``total``: totals)."""

    officer_id: int | None
    officer_name: str
    reason: str
    planned: int
    done: int


def parse_month(text: str) -> str:
    """``2026-12`` -> ``2026-12``; anything else raises :class:`PlanInputError`."""
    raise NotImplementedError


async def make_plan(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: Clock,
    month: str,
    *,
    officer_ids: Sequence[int] | None = None,
    seed: int | None = None,
) -> PlanSummary:
    """Make or update the plan of ``month``."""
    raise NotImplementedError


async def plan_lines(
    sessions: async_sessionmaker[AsyncSession],
    month: str,
    *,
    officer_id: int | None = None,
    viewer: User | None = None,
    open_only: bool = False,
) -> list[PlanLine]:
    """The month's entries the viewer may see, due first (due_on, planned_on, code)."""
    raise NotImplementedError


async def progress(
    sessions: async_sessionmaker[AsyncSession], month: str, *, viewer: User | None = None
) -> list[ProgressRow]:
    """Planned vs done per officer and reason, with a total row."""
    raise NotImplementedError


async def flag_borrower(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, *, user: User | None, code: str, reason: str
) -> WatchFlag:
    """Flag a borrower for next month's plan."""
    raise NotImplementedError


async def fulfil_plan(session: AsyncSession, visit: Visit, now: datetime) -> None:
    """Mark the borrower's open entry for the visit's month done (in the visit's transaction)."""
    raise NotImplementedError
