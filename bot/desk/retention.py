"""Retention: the personal data of visits finished longer ago than the retention period is removed.

``visitbot purge --older-than 5y`` (default: ``settings.retention_days``) deletes the answers,
transcript, risk flags and attachments of every visit finished before the cutoff, in one
transaction with its own audit entry. The visit rows stay, emptied, so counts and reports of past
months still add up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.desk import audit
from storage.models import User
from storage.retention import VisitData, count_visit_data, delete_visit_data

__all__ = ["Age", "BadAge", "PurgeResult", "cutoff", "parse_age", "purge"]

_AGE = re.compile(r"\s*(\d{1,5})\s*([yd]?)\s*", re.IGNORECASE)


class BadAge(ValueError):
    """A retention age that is not ``<n>y`` or ``<n>d``; ``text`` is what was given."""

    def __init__(self, text: str) -> None:
        """Keep the text given."""
        self.text = text
        super().__init__(text)


@dataclass(frozen=True)
class Age:
    """How old data may get: whole calendar years or days."""

    years: int = 0
    days: int = 0

    def __str__(self) -> str:
        """``5y`` or ``1825d``."""
        return f"{self.years}y" if self.years else f"{self.days}d"


@dataclass(frozen=True)
class PurgeResult:
    """What a purge removed (or, in a dry run, would remove) and the cutoff it used."""

    cutoff: datetime
    age: Age
    removed: VisitData
    dry_run: bool


def parse_age(text: str) -> Age:
    """``5y`` (calendar years), ``1825d`` or ``1825`` (days); at least one day."""
    match = _AGE.fullmatch(text)
    if match is None or int(match.group(1)) < 1:
        raise BadAge(text)
    number, unit = int(match.group(1)), match.group(2).lower()
    return Age(years=number) if unit == "y" else Age(days=number)


def cutoff(now: datetime, age: Age) -> datetime:
    """The instant before which visits are past retention: ``now`` less the age (29 February → 28th)."""
    if age.years:
        try:
            return now.replace(year=now.year - age.years)
        except ValueError:  # 29 February in a year that has none
            return now.replace(year=now.year - age.years, day=28)
    return now - timedelta(days=age.days)


async def purge(
    session: AsyncSession,
    age: Age,
    *,
    now: datetime,
    dry_run: bool = False,
    user: User | None = None,
    actor: str | None = None,
) -> PurgeResult:
    """Remove the personal data of visits finished before ``now - age``, with its audit entry, in the caller's
    transaction (commit it once); a dry run only counts and records nothing."""
    before = cutoff(now, age)
    if dry_run:
        return PurgeResult(before, age, await count_visit_data(session, before), dry_run=True)
    removed = await delete_visit_data(session, before)
    await audit.record(
        session,
        audit.PURGED,
        now=now,
        user=user,
        actor=actor,
        cutoff=before.isoformat(),
        older_than=str(age),
        **removed.counts(),
    )
    return PurgeResult(before, age, removed, dry_run=False)
