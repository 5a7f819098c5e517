"""The dialog package's one root exception and its children."""

from __future__ import annotations

from dialogs.i18n import message, register

__all__ = ["DialogError", "InvalidAnswer", "ScriptChanged", "ScriptError", "VisitClosed"]

register(
    {
        "script_changed": {
            "zh-CN": "脚本 {script} 第 {version} 版已发布过，但文件内容变了：请把 version 改为 {next} 再发布"
            "（进行中的回访继续使用已发布的内容）。",
            "en": "Script {script} version {version} was published before and its file has changed: bump "
            "'version' to {next} to publish the change (visits in progress keep the published text).",
        },
    }
)


class DialogError(Exception):
    """Root of every error raised by :mod:`dialogs`."""


class ScriptError(DialogError):
    """A script failed to load or validate; the message names the file, the step and the problem."""

    def __init__(self, problem: str, *, source: str = "", step: str | None = None, line: int | None = None) -> None:
        self.problem = problem
        self.source = source
        self.step = step
        self.line = line
        where = source or "<script>"
        if line:
            where += f":{line}"
        if step:
            where += f", step '{step}'"
        super().__init__(f"{where}: {problem}")


class ScriptChanged(ScriptError):
    """A published script version whose text changed without a new ``version``; refused."""

    def __init__(self, script_id: str, version: int) -> None:
        self.script_id = script_id
        self.version = version
        super().__init__(self.text("en"), source=f"{script_id} v{version}")

    def text(self, locale: str) -> str:
        """The refusal in the user's language, telling the author what to do."""
        return message("script_changed", locale, script=self.script_id, version=self.version, next=self.version + 1)


class InvalidAnswer(DialogError):
    """A reply that does not fit the question; ``key`` names a message in :mod:`dialogs.i18n`."""

    def __init__(self, key: str, **params: object) -> None:
        self.key = key
        self.params = params
        super().__init__(key)


class VisitClosed(DialogError):
    """An event arrived for a visit that has already ended."""
