"""Reading script YAML into validated :class:`~dialogs.schema.Script` models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from dialogs.errors import ScriptError
from dialogs.schema import Script

__all__ = ["parse_script", "read_script"]


def _step_name(data: Any, loc: tuple[int | str, ...]) -> str | None:
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        try:
            return str(data["steps"][loc[1]].get("id") or f"#{loc[1] + 1}")
        except (KeyError, IndexError, TypeError, AttributeError):
            return f"#{loc[1] + 1}"
    return None


def parse_script(text: str, *, source: str = "<string>") -> Script:
    """Parse and validate one script from YAML text; errors name the source, step and problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ScriptError(
            f"YAML does not parse{where}: {getattr(exc, 'problem', exc)}", source=source
        ) from exc
    if not isinstance(data, dict):
        raise ScriptError("a script must be a YAML mapping with id, version, title and steps", source=source)
    try:
        return Script.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        step = _step_name(data, loc)
        field = ".".join(str(p) for p in (loc[2:] if step else loc))
        problem = f"{field}: {first['msg']}" if field else first["msg"]
        more = len(exc.errors()) - 1
        if more:
            problem += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise ScriptError(problem, source=source, step=step) from exc


def read_script(path: Path) -> tuple[Script, str]:
    """Read a script file; returns the model and its source text (kept to pin versions)."""
    text = path.read_text(encoding="utf-8")
    return parse_script(text, source=str(path)), text
