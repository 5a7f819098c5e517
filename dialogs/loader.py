"""Reading script YAML into validated :class:`~dialogs.schema.Script` models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from dialogs.errors import ScriptError
from dialogs.fragments import expand_includes, has_includes
from dialogs.schema import Script
from dialogs.yamlsource import strip_marks

__all__ = ["parse_script", "read_script"]


def _step_name(data: Any, loc: tuple[int | str, ...]) -> str | None:
    """The step a validation error is about."""
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        try:
            return str(data["steps"][loc[1]].get("id") or f"#{loc[1] + 1}")
        except (KeyError, IndexError, TypeError, AttributeError):
            return f"#{loc[1] + 1}"
    return None


def _load(text: str, source: str) -> Any:
    """The raw YAML data of a script (a mapping), or a ScriptError."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ScriptError(f"YAML does not parse{where}: {getattr(exc, 'problem', exc)}", source=source) from exc
    if not isinstance(data, dict):
        raise ScriptError("a script must be a YAML mapping with id, version, title and steps", source=source)
    return data


def _validate(data: Any, source: str) -> Script:
    """The validated model, or a ScriptError naming the step and the first problem."""
    try:
        return Script.model_validate(strip_marks(data))
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


def _folder(source: str, folder: Path | None) -> Path:
    """Where includes are looked up: the given folder, the source file's, else the shipped scripts'."""
    if folder is not None:
        return folder
    if Path(source).is_file():
        return Path(source).resolve().parent
    import scripts

    return Path(scripts.__file__).resolve().parent


def parse_script(text: str, *, source: str = "<string>", folder: Path | None = None) -> Script:
    """Parse and validate one script from YAML text; errors name the source, step and problem.

    ``include`` steps are expanded from ``<folder>/fragments/`` (default: the shipped scripts).
    """
    data = _load(text, source)
    if has_includes(data):
        data = expand_includes(data, folder=_folder(source, folder), source=source)
    return _validate(data, source)


def read_script(path: Path) -> tuple[Script, str]:
    """Read a script file; returns the model and its source text (kept to pin versions).

    A script with includes returns its expanded text, so a pinned version never depends on a
    fragment file that may change later.
    """
    text = path.read_text(encoding="utf-8")
    data = _load(text, str(path))
    if has_includes(data):
        data = strip_marks(expand_includes(data, folder=path.parent, source=str(path)))
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)
    return _validate(data, str(path)), text
