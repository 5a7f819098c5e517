"""What a flag's evidence says, as lines for a supervisor (web desk, Telegram, exports)."""

from __future__ import annotations

from typing import Any

__all__ = ["evidence_lines"]


def evidence_lines(kind: str, code: str, evidence: dict[str, Any] | None, locale: str) -> list[str]:
    """The lines that show why a flag of ``kind`` was raised (none for a flag on one answer)."""
    if not evidence:
        return []
    if kind == "history":
        from bot.desk import history_rules

        return history_rules.describe(code, evidence, locale)
    if kind == "quality":
        from bot.desk import quality

        return quality.describe(code, evidence, locale)
    if kind == "promise":
        from bot.desk import promises

        return promises.describe(code, evidence, locale)
    return []
