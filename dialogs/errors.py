"""The dialog package's one root exception and its children."""

from __future__ import annotations

__all__ = ["DialogError", "InvalidAnswer", "ScriptError", "VisitClosed"]


class DialogError(Exception):
    """Root of every error raised by :mod:`dialogs`."""


class ScriptError(DialogError):
    """A script failed to load or validate; the message names the file, the step and the problem."""

    def __init__(self, problem: str, *, source: str = "", step: str | None = None) -> None:
        self.problem = problem
        self.source = source
        self.step = step
        where = source or "<script>"
        if step:
            where += f", step '{step}'"
        super().__init__(f"{where}: {problem}")


class InvalidAnswer(DialogError):
    """A reply that does not fit the question; ``key`` names a message in :mod:`dialogs.i18n`."""

    def __init__(self, key: str, **params: object) -> None:
        self.key = key
        self.params = params
        super().__init__(key)


class VisitClosed(DialogError):
    """An event arrived for a visit that has already ended."""
