"""Mutation test of the shipped scripts: every broken variant loads or gives one ScriptError.

Each shipped script and fragment is mutated many ways (keys deleted, types changed, values
garbled, gotos to missing steps, broken or hostile Jinja, truncation, random characters, bad
YAML, deep nesting, huge numbers), deterministically. Loading a mutant must either work or raise
:class:`ScriptError` naming the file; ``scripts check`` (the linter) must never raise.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from dialogs.catalog import ScriptCatalog, default_scripts_dir
from dialogs.errors import ScriptError
from dialogs.lint import lint_file
from dialogs.loader import load_and_compile

SHIPPED = default_scripts_dir()
SCRIPTS = sorted(SHIPPED.glob("*.yaml"))
FRAGMENTS = sorted((SHIPPED / "fragments").glob("*.yaml"))
PER_FILE = 40
HOSTILE = [
    "''.__class__",
    "answer.__class__.__mro__",
    "'a' * 10 ** 9",
    "10 ** 100000000",
    "answer.value == 'poor'",
    "1 / 0",
    "answer > 'x'",
    "(" * 300 + "1" + ")" * 300,
    "9" * 5000,
    "'{:>999999999}'.format(1)",
    "'%999999999d' % 1",
    "answer | center(1000000000)",
    "answer | attr('__class__')",
    "range(10)",
    "lipsum()",
    "answers.nowhere",
    "answer(",
    "{{ answer }}",
    "answer | nosuchfilter",
    "answer is nosuchtest",
    "loan.amount.__class__",
]
GARBAGE = [
    "\t",
    ":",
    "- ",
    "{",
    "}",
    "[",
    "]",
    '"',
    "'",
    "&a",
    "*a",
    "!!python/object:os.system",
    "\x00",
    "é",
    "万",
    "\n  ",
]

Mutation = Callable[[random.Random, str], str]


def _nodes(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every (path, value) of a loaded YAML document."""
    yield path, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _nodes(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _nodes(value, (*path, index))


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    """``data`` with the value at ``path`` replaced."""
    if not path:
        return value
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return data


def _pick(rng: random.Random, data: Any, want: Callable[[Any], bool]) -> tuple[Any, ...] | None:
    """A random path whose value satisfies ``want``."""
    found = [p for p, v in _nodes(data) if p and want(v)]
    return rng.choice(found) if found else None


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)


def _on_data(change: Callable[[random.Random, Any], Any]) -> Mutation:
    """A mutation of the parsed document, written back as YAML."""

    def mutate(rng: random.Random, text: str) -> str:
        return _dump(change(rng, yaml.safe_load(text)))

    return mutate


def _delete_key(rng: random.Random, data: Any) -> Any:
    path = _pick(rng, data, lambda v: isinstance(v, dict) and bool(v))
    if path is not None:
        target = data
        for key in path:
            target = target[key]
        del target[rng.choice(list(target))]
    return data


def _change_type(rng: random.Random, data: Any) -> Any:
    path = _pick(rng, data, lambda v: True)
    value = rng.choice([None, 0, -1, 1.5, True, "x", [], {}, [1, 2], {"a": 1}, "", 10**30])
    return _set(data, path, value) if path is not None else data


def _garble(rng: random.Random, data: Any) -> Any:
    path = _pick(rng, data, lambda v: isinstance(v, str))
    if path is None:
        return data
    target: Any = data
    for key in path:
        target = target[key]
    chars = list(target)
    for _ in range(rng.randint(1, 4)):
        chars.insert(rng.randint(0, len(chars)), rng.choice(GARBAGE))
    return _set(data, path, "".join(chars))


def _missing_goto(rng: random.Random, data: Any) -> Any:
    path = _pick(rng, data, lambda v: isinstance(v, dict) and "goto" in v)
    return _set(data, (*path, "goto"), "no_such_step") if path is not None else data


def _hostile_jinja(rng: random.Random, data: Any) -> Any:
    path = _pick(rng, data, lambda v: isinstance(v, dict) and ("when" in v or "zh-CN" in v))
    if path is None:
        return data
    target: Any = data
    for key in path:
        target = target[key]
    expression = rng.choice(HOSTILE)
    if "when" in target:
        target["when"] = expression
    else:
        target["zh-CN"] = f"{target['zh-CN']}{{{{ {expression} }}}}"
    return data


def _huge_number(rng: random.Random, data: Any) -> Any:
    path = _pick(rng, data, lambda v: isinstance(v, int | float) and not isinstance(v, bool))
    if path is None:
        path = _pick(rng, data, lambda v: isinstance(v, dict) and "kind" in v)
        if path is None:
            return data
        path = (*path, "max")
    return _set(data, path, rng.choice([10**4000, -(10**4000), float("inf"), 1e308, 2**63]))


def _deep(rng: random.Random, data: Any) -> Any:
    path = _pick(rng, data, lambda v: True)
    nested: Any = "x"
    for _ in range(rng.choice([60, 400])):
        nested = [nested] if rng.random() < 0.5 else {"k": nested}
    return _set(data, path, nested) if path is not None else data


def _truncate(rng: random.Random, text: str) -> str:
    return text[: rng.randint(0, len(text))]


def _insert_chars(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 5)):
        at = rng.randint(0, len(text))
        text = text[:at] + rng.choice(GARBAGE) + text[at:]
    return text


def _wrong_yaml(rng: random.Random, text: str) -> str:
    lines = text.splitlines()
    at = rng.randrange(len(lines))
    lines[at] = rng.choice(["\t" + lines[at], lines[at] + " ]", "  " + lines[at], lines[at] + ": :", "%YAML 9"])
    return "\n".join(lines)


def _deep_yaml(rng: random.Random, text: str) -> str:
    depth = rng.choice([500, 3000])
    return text + f"\nextra: {'[' * depth}{']' * depth}\n"


def _huge_yaml_int(rng: random.Random, text: str) -> str:
    return text.replace("version: ", f"version: {'9' * rng.choice([30, 5000])}", 1)


MUTATIONS: list[Mutation] = [
    _on_data(_delete_key),
    _on_data(_change_type),
    _on_data(_garble),
    _on_data(_missing_goto),
    _on_data(_hostile_jinja),
    _on_data(_hostile_jinja),
    _on_data(_huge_number),
    _on_data(_deep),
    _truncate,
    _insert_chars,
    _wrong_yaml,
    _deep_yaml,
    _huge_yaml_int,
]


def mutants(path: Path) -> Iterator[tuple[str, str]]:
    """(name, text) of the deterministic mutants of one shipped file."""
    rng = random.Random(f"mutants:{path.name}")
    text = path.read_text(encoding="utf-8")
    for number in range(PER_FILE):
        mutation = MUTATIONS[number % len(MUTATIONS)]
        name = getattr(mutation, "__name__", "mutation")
        try:
            yield f"{path.stem}-{number}-{name}", mutation(rng, text)
        except (yaml.YAMLError, RecursionError):  # the mutation itself could not write the document
            continue


def _load(path: Path) -> None:
    """Load and lint one file: it loads, or gives one ScriptError naming the file; lint never raises."""
    error = None
    try:
        load_and_compile(path)
    except ScriptError as exc:
        error = str(exc)
    assert error is None or path.name in error, error
    problems = lint_file(path)
    assert all(p.file == str(path) for p in problems)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A scripts folder with the shipped fragments."""
    shutil.copytree(SHIPPED / "fragments", tmp_path / "fragments")
    return tmp_path


@pytest.mark.parametrize("shipped", SCRIPTS, ids=lambda p: p.stem)
def test_every_mutant_of_a_script_loads_or_gives_one_script_error(shipped: Path, folder: Path) -> None:
    for name, text in mutants(shipped):
        target = folder / f"{name}.yaml"
        target.write_text(text, encoding="utf-8")
        _load(target)
        target.unlink()


@pytest.mark.parametrize("fragment", FRAGMENTS, ids=lambda p: p.stem)
def test_every_mutant_of_a_fragment_leaves_its_scripts_loading_or_failing_cleanly(fragment: Path, folder: Path) -> None:
    users = [s for s in SCRIPTS if f"include: {fragment.stem}" in s.read_text(encoding="utf-8")]
    for script in users:
        shutil.copy(script, folder / script.name)
    for number, (_, text) in enumerate(mutants(fragment)):
        (folder / "fragments" / fragment.name).write_text(text, encoding="utf-8")
        _load(folder / users[number % len(users)].name)


def test_a_folder_with_broken_files_still_serves_the_good_scripts(folder: Path) -> None:
    for script in SCRIPTS:
        shutil.copy(script, folder / script.name)
    (folder / "broken.yaml").write_text("id: broken\nversion: 1\nsteps: [", encoding="utf-8")
    bad = SCRIPTS[0].read_text(encoding="utf-8").replace("version: ", "version: 9", 1)
    bad = bad.replace('when: "answer"', "when: \"''.__class__\"", 1)
    (folder / "zz_hostile.yaml").write_text(bad, encoding="utf-8")
    catalog = ScriptCatalog(folder)
    assert catalog.ids == sorted(s.stem for s in SCRIPTS)
    assert [Path(e.source).name for e in catalog.errors] == ["broken.yaml", "zz_hostile.yaml"]
