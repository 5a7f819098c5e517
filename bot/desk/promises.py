"""Promises to pay (承诺还款): recorded in the overdue call, followed up, judged kept or broken."""

from __future__ import annotations

from typing import Any

__all__ = ["describe"]


def describe(code: str, evidence: dict[str, Any], locale: str) -> list[str]:
    """The evidence of a broken promise as lines a supervisor reads."""
    return []
