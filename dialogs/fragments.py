"""Includes: question banks defined once in ``fragments/`` and pulled into scripts by name.

A fragment file (``<scripts folder>/fragments/<name>.yaml``) holds questions; each question is a
step plus optional follow-up steps::

    fragment: business_questions
    questions:
      - id: changes                  # the question's first step (its id is the question's id)
        topic: 1                     # free-form grouping, ignored by the engine
        say:
          officer: {zh-CN: "您的主营业务……有没有变动？", en: "..."}
          borrower: {zh-CN: "您的主营业务……有变动吗？", en: "..."}
        ask: {kind: yesno}
        next:
          - {when: "answer", goto: changes_detail}
          - {goto: "@next"}          # whatever the including script asks next
        followups:
          - id: changes_detail
            ...

A script includes some of them, in the order it wants, in place of a step (the fragment is looked
up in the script's own ``fragments/`` folder first, then among the shipped ones)::

    steps:
      - include: business_questions
        questions: [business_status, changes]   # default: every question, in the file's order
        wording: borrower                       # default: the script's audience (any -> officer)
        override:                               # optional: replace keys of included steps
          business_status: {next: [{goto: changes}]}

Expansion happens on the raw YAML data, before validation, so every later error still names the
script file and the step. ``@next`` becomes the first step after the question (its follow-ups
included); a mapping whose keys are only wordings (``officer``/``borrower``) becomes the one the
include asks for. Included steps keep where they came from under ``__origin__``.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from dialogs.errors import ScriptError
from dialogs.yamlsource import LINE, ORIGIN, load_yaml

__all__ = ["FRAGMENTS_DIR", "NEXT", "WORDINGS", "expand_includes", "fragment_path", "has_includes"]

FRAGMENTS_DIR = "fragments"
NEXT = "@next"
"""A ``goto`` target in a fragment: the step that follows the question in the including script."""
WORDINGS = ("officer", "borrower")
INCLUDE_KEYS = frozenset({"include", "questions", "wording", "override"})
_FRAGMENT_NAME = re.compile(r"[a-z0-9_]{1,60}")


def fragment_path(folder: Path, name: str) -> Path:
    """Where the fragment ``name`` is for scripts in ``folder``: there, else among the shipped ones."""
    path = folder / FRAGMENTS_DIR / f"{name}.yaml"
    if path.is_file():
        return path
    import scripts

    shipped = Path(scripts.__file__).resolve().parent / FRAGMENTS_DIR / f"{name}.yaml"
    return shipped if shipped.is_file() else path


def _is_include(item: Any) -> bool:
    """True for an ``include`` item of a script's steps."""
    return isinstance(item, dict) and "include" in item


def has_includes(data: Any) -> bool:
    """True when a script's raw data has at least one ``include`` step."""
    steps = data.get("steps") if isinstance(data, dict) else None
    return isinstance(steps, list) and any(_is_include(s) for s in steps)


def _load_fragment(folder: Path, name: Any, source: str, where: str) -> tuple[str, dict[str, list[Any]]]:
    """The fragment's questions: question id -> [first step, *follow-ups] (raw mappings)."""
    if not isinstance(name, str) or not _FRAGMENT_NAME.fullmatch(name):
        raise ScriptError("'include' needs a fragment name (lower-case letters, digits, _)", source=source, step=where)
    path = fragment_path(folder, name)
    label = f"{FRAGMENTS_DIR}/{name}.yaml"
    try:
        data = load_yaml(path.read_text(encoding="utf-8"), lines=True)
    except OSError as exc:
        raise ScriptError(f"fragment '{name}' not found at {path}", source=source, step=where) from exc
    except yaml.YAMLError as exc:
        raise ScriptError(f"fragment {label} does not parse: {exc}", source=source, step=where) from exc
    questions = data.get("questions") if isinstance(data, dict) else None
    if not isinstance(questions, list):
        raise ScriptError(f"fragment {label} needs a 'questions' list", source=source, step=where)
    found: dict[str, list[Any]] = {}
    for item in questions:
        qid = item.get("id") if isinstance(item, dict) else None
        if not isinstance(qid, str):
            raise ScriptError(f"fragment {label}: every question needs an id", source=source, step=where)
        if qid in found:
            raise ScriptError(f"fragment {label}: question '{qid}' is defined twice", source=source, step=where)
        followups = item.get("followups", [])
        if not isinstance(followups, list) or not all(isinstance(f, dict) for f in followups):
            raise ScriptError(f"fragment {label}: 'followups' must be a list of steps", source=source, step=qid)
        first = {k: v for k, v in item.items() if k not in ("topic", "followups")}
        found[qid] = [first, *followups]
    return label, found


def _pick_wording(node: Any, wording: str, where: tuple[str, str, str]) -> Any:
    """Replace every wording mapping (keys officer/borrower only) by the wanted wording."""
    if isinstance(node, list):
        return [_pick_wording(v, wording, where) for v in node]
    if not isinstance(node, dict):
        return node
    keys = {k for k in node if not (isinstance(k, str) and k.startswith("__"))}
    if keys and keys <= set(WORDINGS):
        if wording not in node:
            label, step, source = where
            raise ScriptError(f"{label} has no '{wording}' wording here", source=source, step=step)
        return _pick_wording(node[wording], wording, where)
    return {k: _pick_wording(v, wording, where) for k, v in node.items()}


def _include_block(item: dict[str, Any], folder: Path, source: str, default_wording: str) -> list[list[dict[str, Any]]]:
    """One include directive as a list of questions, each a list of ready steps (``@next`` kept)."""
    where = f"include {item.get('include')}"
    unknown = set(item) - INCLUDE_KEYS - {LINE, ORIGIN}
    if unknown:
        raise ScriptError(f"unknown include key(s) {sorted(unknown)}", source=source, step=where)
    label, bank = _load_fragment(folder, item["include"], source, where)
    wanted = item.get("questions", list(bank))
    if not isinstance(wanted, list) or not all(isinstance(q, str) for q in wanted):
        raise ScriptError("'questions' must be a list of question ids", source=source, step=where)
    missing = [q for q in wanted if q not in bank]
    if missing:
        raise ScriptError(f"{label} has no question(s) {missing}; it has {sorted(bank)}", source=source, step=where)
    wording = item.get("wording", default_wording)
    if wording not in WORDINGS:
        raise ScriptError(f"wording must be one of {list(WORDINGS)}", source=source, step=where)
    override = item.get("override") or {}
    if not isinstance(override, dict):
        raise ScriptError("'override' must map step ids to keys", source=source, step=where)
    chosen = [[copy.deepcopy(s) for s in bank[q]] for q in wanted]
    ids = {s.get("id") for block in chosen for s in block}
    stray = sorted(str(k) for k in override if k not in ids and k not in (LINE, ORIGIN))
    if stray:
        raise ScriptError(f"override names step(s) {stray} this include does not bring in", source=source, step=where)
    blocks: list[list[dict[str, Any]]] = []
    for block in chosen:
        ready = []
        for step in block:
            step_id = str(step.get("id"))
            changes = override.get(step_id) or {}
            if not isinstance(changes, dict):
                raise ScriptError(f"override of '{step_id}' must map keys to values", source=source, step=where)
            for key, value in changes.items():
                if key in (LINE, ORIGIN):
                    continue
                if value is None:
                    step.pop(key, None)
                else:
                    step[key] = copy.deepcopy(value)
            step = _pick_wording(step, wording, (f"{label}, step '{step_id}'", step_id, source))
            if not isinstance(step, dict):
                raise ScriptError(f"{label}: step '{step_id}' is not a mapping", source=source, step=where)
            step[ORIGIN] = f"{label}:{step.get(LINE, '?')}" if LINE in step else label
            step.pop(LINE, None)
            if LINE in item:
                step[LINE] = item[LINE]
            ready.append(step)
        blocks.append(ready)
    return blocks


def _resolve_next(steps: list[dict[str, Any]], ends: dict[int, int], source: str) -> None:
    """Replace ``@next`` in each included step by the id of the step after its question."""
    for index, step in enumerate(steps):
        branches = step.get("next") if isinstance(step, dict) else None  # a broken step: the schema says so
        if index not in ends or not isinstance(branches, list):
            continue
        uses_next = [b for b in branches if isinstance(b, dict) and b.get("goto") == NEXT]
        if not uses_next:
            continue
        after = ends[index] + 1
        if after >= len(steps):
            raise ScriptError(
                "'@next' leads past the last step: add a step after the include",
                source=source,
                step=str(step.get("id")),
            )
        for branch in uses_next:
            branch["goto"] = steps[after].get("id")


def expand_includes(data: dict[str, Any], *, folder: Path, source: str = "<string>") -> dict[str, Any]:
    """The script's raw data with every ``include`` step replaced by the fragment steps it names."""
    if not has_includes(data):
        return data
    default_wording = "borrower" if data.get("audience") == "borrower" else "officer"
    steps: list[dict[str, Any]] = []
    ends: dict[int, int] = {}  # index of an included step -> index of its question's last step
    for item in data["steps"]:
        if not _is_include(item):
            steps.append(item)
            continue
        for block in _include_block(item, folder, source, default_wording):
            start = len(steps)
            steps.extend(block)
            for index in range(start, len(steps)):
                ends[index] = len(steps) - 1
    _resolve_next(steps, ends, source)
    return {**data, "steps": steps}
