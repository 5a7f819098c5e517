"""Run in a fresh interpreter: import each named module alone, then look up every message it uses.

``python catalogue_probe.py bot.telegram.app bot.console ...`` prints one line per missing message
(``module: key``) and exits 1 if there is any. Between modules every ``bot``/``dialogs``/``storage``
module is dropped from ``sys.modules``, so each import starts from an empty catalogue, as in a
process that imports only that module.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from pathlib import Path

PROJECT = ("bot", "dialogs", "storage")
LOOKUPS = {"message", "t"}
"""Functions whose first argument is a catalogue key (``t`` is the Telegram front-end's shortcut)."""


def _forget_project() -> None:
    """Drop the project's modules so the next import registers its messages from scratch."""
    for name in [n for n in sys.modules if n.split(".")[0] in PROJECT]:
        del sys.modules[name]


def used_keys(source: str) -> tuple[set[str], set[str]]:
    """The literal keys and the f-string key prefixes a module looks up."""
    keys: set[str] = set()
    prefixes: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        first = node.args[0]
        if name not in LOOKUPS:
            continue
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            keys.add(first.value)
        elif isinstance(first, ast.JoinedStr) and first.values and isinstance(first.values[0], ast.Constant):
            prefixes.add(str(first.values[0].value))
    return keys, prefixes


def expected(prefix: str) -> list[str]:
    """Every key an f-string with ``prefix`` can produce, where the values are a known enumeration."""
    from dialogs.schema import AnswerKind, Outcome, Severity

    values = {
        "outcome_": [o.value for o in Outcome],
        "report_outcome_": [o.value for o in Outcome],
        "severity_": [s.value for s in Severity],
        "report_severity_": [s.value for s in Severity],
        "answer_hint_": [k.value for k in AnswerKind],
    }
    return [prefix + v for v in values.get(prefix, [])]


def missing(module_name: str) -> list[str]:
    """Keys ``module_name`` uses that are not registered when it alone is imported."""
    spec = importlib.util.find_spec(module_name)
    assert spec is not None and spec.origin is not None, module_name
    keys, prefixes = used_keys(Path(spec.origin).read_text(encoding="utf-8"))
    if not keys and not prefixes:
        return []  # shows no message: nothing to import
    _forget_project()
    importlib.import_module(module_name)
    from dialogs import i18n
    from dialogs.i18n import LOCALES

    catalogue = i18n._CATALOG
    absent = [k for k in sorted(keys) if k not in catalogue]
    for prefix in sorted(prefixes):
        wanted = expected(prefix)
        if wanted:
            absent += [k for k in wanted if k not in catalogue]
        elif not any(k.startswith(prefix) for k in catalogue):
            absent.append(prefix + "*")
    absent += [f"{k} ({loc})" for k in sorted(keys & catalogue.keys()) for loc in LOCALES if loc not in catalogue[k]]
    return absent


def main(modules: list[str]) -> int:
    """Probe every module; print what is missing."""
    problems = [f"{name}: {key}" for name in modules for key in missing(name)]
    print("\n".join(problems) if problems else f"{len(modules)} modules: every message found")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
