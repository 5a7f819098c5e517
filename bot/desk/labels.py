"""Human labels for the codes the record keeps: never an internal id in a text people read.

Flags (``funds_diverted``), opt-out reasons (``privacy``), channels (``self_service``), task kinds,
outcomes and severities each have a label in every shipped locale; an unknown code falls back to
itself, so a new script's flag still shows (and ``scripts check`` can ask for a label).
"""

from __future__ import annotations

from dialogs.i18n import has_message, message

__all__ = ["channel_label", "flag_label", "label", "outcome_label", "reason_label", "severity_label", "task_label"]


def label(kind: str, code: str | None, locale: str) -> str:
    """The label of ``code`` of a kind (``flag``, ``reason``, ``channel``, ``task``, ``outcome`` …)."""
    if not code:
        return "-"
    key = f"{kind}_{code}"
    return message(key, locale) if has_message(key) else code


def flag_label(code: str, locale: str) -> str:
    """A risk flag's label (资金挪用 for ``funds_diverted``)."""
    return label("flag", code, locale)


def outcome_label(code: str | None, locale: str) -> str:
    """How a visit ended, in words."""
    return label("outcome", code, locale)


def severity_label(code: str | None, locale: str) -> str:
    """A severity in words (高 / high)."""
    return label("severity", code, locale)


def reason_label(code: str | None, locale: str) -> str:
    """An opt-out reason in words; several (comma-separated) are joined with the locale's comma."""
    if not code:
        return "-"
    sep = "、" if locale.startswith("zh") else ", "
    return sep.join(label("reason", part.strip(), locale) for part in code.split(","))


def channel_label(code: str | None, locale: str) -> str:
    """A contact channel in words (phone, on site, self-service …)."""
    if not code:
        return "-"
    sep = "、" if locale.startswith("zh") else ", "
    return sep.join(label("channel", part.strip(), locale) for part in code.split(","))


def task_label(code: str | None, locale: str) -> str:
    """A task kind in words (call back, relief request …)."""
    return label("task", code, locale)
