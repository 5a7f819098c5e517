"""``visitbot scripts check``: load, validate and lint scripts, reporting every problem found.

Front-end free: :func:`lint_paths` returns :class:`Problem` s (file, line, step, message, fix
hint); the CLI prints them. Problems found (``code``):

``yaml``, ``include``, ``schema``
    the file does not parse, an include cannot be expanded, a step or field does not fit the schema
``duplicate_id``
    two steps, or two options of one question, share an id
``missing_step``, ``no_fallback``, ``identity``
    a branch (or ``start``/``identity_step``) names a step that does not exist; the last branch has a
    condition; the identity step has no branch that confirms identity
``unreachable``, ``no_outcome``, ``loop_no_exit``
    a step no visit can reach; a step from which no path ends at an outcome; a loop no branch leaves
    (or a loop of say-only steps, which would spin without asking anything)
``undefined``, ``condition_parse``
    a line uses a name or value the visit does not have (rendered with the sample facts, restricted
    before identity is confirmed); a line or condition that does not parse
``not_allowed``
    a line or condition uses what scripts may not: private (``_``) names, loops or macros, an unknown
    filter, or values past the sandbox bounds (huge numbers, texts or widths)
``unhandled_option``
    a condition compares an answer with an option id the question does not have; or a choice step
    has conditional branches but none of its option ids appears in them (every answer falls through)
``missing_text``
    a text lacks one of the script's locales
``callback_data``
    a button's callback data would exceed Telegram's 64 bytes (format below)
``message_too_long``
    a rendered line (with its hint) exceeds Telegram's 4096 characters
``unknown_flag`` (warning)
    a risk flag outside the shared vocabulary of SCRIPTS.md (often a typo)
``compile``
    anything else the compiler refuses (checked last, when nothing above was found)

Callback data format (our Telegram buttons): ``a:<visit_id>:<step_id>:<option_id>`` with the
visit id up to 10 digits. Option ids are the question's options; yes/no buttons use ``yes``/``no``,
a multiple-choice question adds ``done``, and every question may carry ``back`` and ``skip``.
So a step id and option id together may take at most 50 bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from dialogs.compiler import compile_script
from dialogs.errors import ScriptError
from dialogs.fragments import expand_includes, has_includes
from dialogs.lint_checks import CHECKS, LintContext, Problem
from dialogs.schema import Script, Step
from dialogs.yamlsource import LINE, line_of, load_yaml, strip_marks

__all__ = [
    "CALLBACK_DATA_FORMAT",
    "CALLBACK_DATA_LIMIT",
    "Problem",
    "has_errors",
    "lint_file",
    "lint_paths",
    "lint_text",
]

CALLBACK_DATA_FORMAT = "a:{visit_id}:{step}:{option}"
CALLBACK_DATA_LIMIT = 64


def has_errors(problems: Iterable[Problem]) -> bool:
    """True when any problem is an error (warnings alone do not fail a check)."""
    return any(p.severity == "error" for p in problems)


def lint_paths(paths: Sequence[Path]) -> list[Problem]:
    """Lint files and folders (a folder: its ``*.yaml`` scripts, not its ``fragments/``)."""
    problems: list[Problem] = []
    for path in paths:
        files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
        for file in files:
            problems.extend(lint_file(file))
    return problems


def lint_file(path: Path) -> list[Problem]:
    """Lint one script file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        message = f"the file is not UTF-8 text (byte {exc.start})"
        return [Problem(str(path), None, None, "yaml", message, "save the file as UTF-8")]
    except OSError as exc:
        return [Problem(str(path), None, None, "yaml", f"cannot read the file: {exc}", "check the path")]
    return lint_text(text, source=str(path), folder=path.resolve().parent)


def lint_text(text: str, *, source: str = "<string>", folder: Path | None = None) -> list[Problem]:
    """Lint a script given as YAML text; includes are looked up in ``<folder>/fragments``."""
    try:
        return _lint_text(text, source, folder)
    except RecursionError:
        hint = "flatten the nesting"
        return [Problem(source, None, None, "schema", "the script is nested too deeply", hint)]


def _lint_text(text: str, source: str, folder: Path | None) -> list[Problem]:
    """:func:`lint_text` without the guard against too deep nesting."""
    try:
        data = load_yaml(text, lines=True)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        message = f"YAML does not parse: {getattr(exc, 'problem', exc)}"
        return [Problem(source, line, None, "yaml", message, "fix the YAML syntax at this line")]
    except (ValueError, OverflowError) as exc:  # e.g. an integer of more than 4300 digits
        return [Problem(source, None, None, "yaml", f"YAML does not parse: {exc}", "fix the value")]
    if not isinstance(data, dict):
        return [Problem(source, 1, None, "schema", "a script must be a mapping", "start with id, version, title")]
    if "fragment" in data:
        return []  # a question bank: checked through the scripts that include it
    if has_includes(data):
        try:
            data = expand_includes(data, folder=folder or _shipped(), source=source)
        except ScriptError as exc:
            line = _include_line(data, exc.step)
            return [Problem(source, line, exc.step, "include", exc.problem, "check the include's name and keys")]
    return _lint_data(data, text, source)


def _shipped() -> Path:
    """The shipped scripts folder (fragments fall back to it)."""
    import scripts

    return Path(scripts.__file__).resolve().parent


def _include_line(data: dict[str, Any], where: str | None) -> int | None:
    """The line of the include directive an expansion error is about."""
    for item in data.get("steps") or []:
        if isinstance(item, dict) and "include" in item and where == f"include {item['include']}":
            return line_of(item)
    return line_of(data)


def _lint_data(data: dict[str, Any], text: str, source: str) -> list[Problem]:
    """Validate step by step, run every check, then let the compiler have the last word."""
    problems: list[Problem] = []
    raw_steps: dict[str, dict[str, Any]] = {}
    steps: list[Step] = []
    broken: set[str] = set()
    raw_list = data.get("steps")
    if not isinstance(raw_list, list) or not raw_list:
        hint = "add a 'steps' list"
        return [Problem(source, line_of(data), None, "schema", "the script has no steps", hint)]
    for number, raw in enumerate(raw_list, 1):
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            line = line_of(raw) or line_of(data)
            problems.append(Problem(source, line, f"#{number}", "schema", "a step needs an id", "add 'id:'"))
            continue
        sid = raw["id"]
        if sid in raw_steps:
            first = line_of(raw_steps[sid])
            message = f"step id '{sid}' is used twice (first at line {first})"
            hint = "rename one of the steps (and the branches that go to it)"
            problems.append(Problem(source, line_of(raw), sid, "duplicate_id", message, hint))
            continue
        raw_steps[sid] = raw
        problems.extend(_duplicate_options(raw, source))
        try:
            steps.append(Step.model_validate(strip_marks(raw)))
        except ValidationError as exc:
            broken.add(sid)
            for error in exc.errors():
                if "duplicate option ids" in error["msg"]:
                    continue
                field = ".".join(str(p) for p in error["loc"])
                message = f"{field}: {error['msg']}" if field else error["msg"]
                problems.append(Problem(source, line_of(raw), sid, "schema", message, "see the script schema"))
    top = {k: v for k, v in strip_marks(data).items() if k != "steps"}
    if not steps:
        return problems
    try:
        script = Script.model_validate({**top, "steps": steps})
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            problems.append(Problem(source, 1, None, "schema", f"{field}: {error['msg']}", "fix the script's header"))
        return problems
    ctx = LintContext(source=source, script=script, raw_steps=raw_steps, broken=broken)
    for check in CHECKS:
        problems.extend(check(ctx))
    if not has_errors(problems):
        try:
            compile_script(script, text, source_name=source)
        except ScriptError as exc:
            line = line_of(raw_steps.get(exc.step or "")) if exc.step else None
            problems.append(Problem(source, line, exc.step, "compile", exc.problem, "see the message"))
    return problems


def _duplicate_options(raw: dict[str, Any], source: str) -> list[Problem]:
    """Options of one question that share an id."""
    ask = raw.get("ask")
    options = ask.get("options") if isinstance(ask, dict) else None
    if not isinstance(options, list):
        return []
    seen: set[str] = set()
    found = []
    for option in options:
        oid = option.get("id") if isinstance(option, dict) else None
        if isinstance(oid, str) and oid in seen:
            line = raw.get(LINE) if "__origin__" in raw else line_of(option)
            message = f"option id '{oid}' is used twice"
            found.append(Problem(source, line, raw["id"], "duplicate_id", message, "give each option its own id"))
        if isinstance(oid, str):
            seen.add(oid)
    return found
