"""Messages the engine and front-ends show, in every shipped locale (zh-CN first).

The words every front-end shares (how a visit ended, how serious a flag is) are registered here,
so they exist whatever module was imported first; each module registers its own keys at import.
"""

from __future__ import annotations

__all__ = ["DEFAULT_LOCALE", "LOCALES", "has_message", "message", "normalize_locale", "pick", "register"]

DEFAULT_LOCALE = "zh-CN"
LOCALES = ("zh-CN", "en")

_CATALOG: dict[str, dict[str, str]] = {}

SHARED: dict[str, dict[str, str]] = {
    "outcome_completed": {"zh-CN": "已完成", "en": "completed"},
    "outcome_wrong_party": {"zh-CN": "非本人", "en": "wrong party"},
    "outcome_callback": {"zh-CN": "约定再回访", "en": "call back later"},
    "outcome_refused": {"zh-CN": "拒绝", "en": "refused"},
    "outcome_unreachable": {"zh-CN": "无法联系", "en": "unreachable"},
    "outcome_opted_out": {"zh-CN": "不想回访", "en": "opted out"},
    "severity_high": {"zh-CN": "高", "en": "high"},
    "severity_medium": {"zh-CN": "中", "en": "medium"},
    "severity_low": {"zh-CN": "低", "en": "low"},
    "unknown_outcome": {
        "zh-CN": "不认识的结果“{text}”。可选：refused、unreachable、wrong_party、callback",
        "en": "Unknown outcome '{text}'. Use refused, unreachable, wrong_party or callback",
    },
}
"""Labels of :class:`~dialogs.schema.Outcome` and :class:`~dialogs.schema.Severity` values, and the
message for an outcome word that is none of them (console and Telegram ``/cancel``)."""


def register(messages: dict[str, dict[str, str]]) -> None:
    """Add messages to the catalog (each module registers its own keys once, at import).

    A key registered again with other texts is an error: two modules would show different words
    depending on which was imported last.
    """
    for key, texts in messages.items():
        missing = set(LOCALES) - texts.keys()
        if missing:
            raise ValueError(f"message {key!r} lacks {sorted(missing)}")
        if _CATALOG.get(key, texts) != texts:
            raise ValueError(f"message {key!r} is already registered with other texts")
        _CATALOG[key] = texts


def normalize_locale(code: str | None) -> str:
    """Map a user's language code (``zh-hans``, ``en-US``, None) to a shipped locale."""
    if not code:
        return DEFAULT_LOCALE
    lowered = code.lower()
    if lowered.startswith("zh"):
        return "zh-CN"
    if lowered.startswith("en"):
        return "en"
    return DEFAULT_LOCALE


def pick(texts: dict[str, str], locale: str) -> str:
    """The text for ``locale`` from a per-locale mapping, falling back to zh-CN."""
    return texts.get(locale) or texts.get(DEFAULT_LOCALE) or next(iter(texts.values()))


def has_message(key: str) -> bool:
    """Whether ``key`` is in the catalog (labels fall back to their code when it is not)."""
    return key in _CATALOG


def message(key: str, locale: str, **params: object) -> str:
    """The catalog message ``key`` in ``locale`` with ``params`` filled in (``str.format``)."""
    return pick(_CATALOG[key], locale).format(**params)


register(SHARED)
