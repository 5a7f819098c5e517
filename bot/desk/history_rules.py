"""Cross-visit risk rules (``across_visits:`` in a script): this visit against the borrower's earlier ones."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.engine import VisitEngine
from storage.models import Visit

if TYPE_CHECKING:
    from bot.desk.judging import Judged

__all__ = ["describe", "judge"]


async def judge(session: AsyncSession, visit: Visit, engine: VisitEngine, *, now: datetime) -> list[Judged]:
    """The cross-visit flags that hold on ``visit`` (its measures stored on the visit first)."""
    return []


def describe(code: str, evidence: dict[str, Any], locale: str) -> list[str]:
    """The evidence of a history flag as lines a supervisor reads."""
    return []
