"""Quality flags (形式化): visits that look made up rather than done."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from storage.models import Visit

if TYPE_CHECKING:
    from bot.desk.judging import Judged

__all__ = ["describe", "judge"]


async def judge(session: AsyncSession, visit: Visit, settings: Settings, *, now: datetime) -> list[Judged]:
    """The quality flags that hold on a finished ``visit``."""
    return []


def describe(code: str, evidence: dict[str, Any], locale: str) -> list[str]:
    """The evidence of a quality flag as lines a supervisor reads."""
    return []
