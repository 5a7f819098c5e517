"""Reading script YAML into validated :class:`~dialogs.schema.Script` models.

Whatever is wrong with a file — bad encoding, YAML that does not parse, nesting too deep,
numbers too large, a step that does not fit the schema — is one :class:`ScriptError` naming the
file, the line where known, the step and the problem.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from dialogs.compiler import CompiledScript, compile_script
from dialogs.errors import ScriptError
from dialogs.fragments import expand_includes, has_includes
from dialogs.schema import Script
from dialogs.yamlsource import line_of, load_yaml, strip_marks

__all__ = ["content_hash", "load_and_compile", "parse_script", "read_script", "step_lines"]

MAX_SCRIPT_BYTES = 1_000_000
"""The largest script file accepted."""


def content_hash(source: str) -> str:
    """The sha256 of a script's text, pinned with its version."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def _step_name(data: Any, loc: tuple[int | str, ...]) -> str | None:
    """The step a validation error is about."""
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        try:
            step_id = data["steps"][loc[1]].get("id")
        except (KeyError, IndexError, TypeError, AttributeError):
            return f"#{loc[1] + 1}"
        return step_id if isinstance(step_id, str) and step_id else f"#{loc[1] + 1}"
    return None


def _step_line(data: Any, loc: tuple[int | str, ...]) -> int | None:
    """The line of the step (or of the whole script) a validation error is about."""
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        steps = data.get("steps") if isinstance(data, dict) else None
        if isinstance(steps, list) and loc[1] < len(steps):
            return line_of(steps[loc[1]])
    return line_of(data)


def step_lines(data: Any) -> dict[str, int]:
    """Step id -> the line it starts at, for data loaded with lines."""
    steps = data.get("steps") if isinstance(data, dict) else None
    found: dict[str, int] = {}
    for step in steps if isinstance(steps, list) else []:
        line = line_of(step)
        if isinstance(step, dict) and isinstance(step.get("id"), str) and line is not None:
            found.setdefault(step["id"], line)
    return found


def _load(text: str, source: str) -> Any:
    """The raw YAML data of a script (a mapping, with lines), or a ScriptError."""
    if len(text) > MAX_SCRIPT_BYTES:
        raise ScriptError(f"the file is larger than {MAX_SCRIPT_BYTES} bytes", source=source)
    try:
        data = load_yaml(text, lines=True)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ScriptError(f"YAML does not parse{where}: {getattr(exc, 'problem', exc)}", source=source) from exc
    except RecursionError as exc:
        raise ScriptError("YAML does not parse: it is nested too deeply", source=source) from exc
    except (ValueError, OverflowError, MemoryError) as exc:  # e.g. an integer of more than 4300 digits
        raise ScriptError(f"YAML does not parse: {exc}", source=source) from exc
    if not isinstance(data, dict):
        raise ScriptError("a script must be a YAML mapping with id, version, title and steps", source=source)
    return data


def _validate(data: Any, source: str) -> Script:
    """The validated model, or a ScriptError naming the step, its line and the first problem."""
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
        raise ScriptError(problem, source=source, step=step, line=_step_line(data, loc)) from exc
    except RecursionError as exc:
        raise ScriptError("the script is nested too deeply", source=source) from exc


def _folder(source: str, folder: Path | None) -> Path:
    """Where includes are looked up: the given folder, the source file's, else the shipped scripts'."""
    if folder is not None:
        return folder
    try:
        if Path(source).is_file():
            return Path(source).resolve().parent
    except (OSError, ValueError):
        pass
    import scripts

    return Path(scripts.__file__).resolve().parent


def _expanded(data: dict[str, Any], folder: Path, source: str) -> dict[str, Any]:
    """The data with includes expanded (a ScriptError when they cannot be)."""
    if not has_includes(data):
        return data
    try:
        return expand_includes(data, folder=folder, source=source)
    except RecursionError as exc:
        raise ScriptError("an include is nested too deeply", source=source) from exc


def parse_script(text: str, *, source: str = "<string>", folder: Path | None = None) -> Script:
    """Parse and validate one script from YAML text; errors name the source, step and problem.

    ``include`` steps are expanded from ``<folder>/fragments/`` (default: the shipped scripts).
    """
    data = _expanded(_load(text, source), _folder(source, folder), source)
    return _validate(data, source)


def _read_text(path: Path) -> str:
    """A script file's text (UTF-8), or a ScriptError."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ScriptError(f"the file is not UTF-8 text (byte {exc.start}): save it as UTF-8", source=str(path)) from exc
    except OSError as exc:
        raise ScriptError(f"cannot read the file: {exc.strerror or exc}", source=str(path)) from exc


def _read(path: Path) -> tuple[Script, str, dict[str, int]]:
    """The model, its pinnable text and its step lines (an included step: its include's line)."""
    text = _read_text(path)
    data = _load(text, str(path))
    if has_includes(data):
        data = _expanded(data, path.parent, str(path))
        try:
            text = yaml.safe_dump(strip_marks(data), allow_unicode=True, sort_keys=False, width=1000)
        except (RecursionError, yaml.YAMLError) as exc:
            raise ScriptError(f"the expanded script cannot be written back: {exc}", source=str(path)) from exc
    return _validate(data, str(path)), text, step_lines(data)


def read_script(path: Path) -> tuple[Script, str]:
    """Read a script file; returns the model and its source text (kept to pin versions).

    A script with includes returns its expanded text, so a pinned version never depends on a
    fragment file that may change later.
    """
    script, text, _ = _read(path)
    return script, text


def load_and_compile(path: Path) -> CompiledScript:
    """Read and compile a script file, or raise one ScriptError naming file, line, step and problem."""
    script, text, lines = _read(path)
    try:
        return compile_script(script, text, source_name=str(path), lines=lines)
    except RecursionError as exc:
        raise ScriptError("the script is nested too deeply", source=str(path)) from exc
