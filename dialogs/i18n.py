"""Messages the engine and front-ends show, in every shipped locale (zh-CN first)."""

from __future__ import annotations

__all__ = ["DEFAULT_LOCALE", "LOCALES", "message", "normalize_locale", "pick"]

DEFAULT_LOCALE = "zh-CN"
LOCALES = ("zh-CN", "en")

_CATALOG: dict[str, dict[str, str]] = {}


def register(messages: dict[str, dict[str, str]]) -> None:
    """Add messages to the catalog (each module registers its own keys once, at import)."""
    for key, texts in messages.items():
        missing = set(LOCALES) - texts.keys()
        if missing:
            raise ValueError(f"message {key!r} lacks {sorted(missing)}")
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


def message(key: str, locale: str, **params: object) -> str:
    """The catalog message ``key`` in ``locale`` with ``params`` filled in (``str.format``)."""
    return pick(_CATALOG[key], locale).format(**params)
