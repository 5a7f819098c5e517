"""The dialog engine: scripts as data, compiled into state machines; no Telegram, no database."""

from dialogs.errors import DialogError, InvalidAnswer, ScriptError, VisitClosed

__all__ = ["DialogError", "InvalidAnswer", "ScriptError", "VisitClosed"]
