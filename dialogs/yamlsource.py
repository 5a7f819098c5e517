"""Reading script YAML with the line number of every mapping, so problems can name a line.

Each mapping loaded by :func:`load_yaml` carries its first line under :data:`LINE`; marks like it
(keys that start and end with ``__``) are removed by :func:`strip_marks` before validation.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["LINE", "ORIGIN", "line_of", "load_yaml", "strip_marks"]

LINE = "__line__"
"""The 1-based line where a mapping starts."""
ORIGIN = "__origin__"
"""Where an included step comes from (``fragments/x.yaml:12``), set by :mod:`dialogs.fragments`."""


try:  # libyaml's safe loader: several times faster, and it bounds nesting
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


class _LineLoader(_SafeLoader):
    """A safe loader that records the start line of every mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """Build the mapping as usual and add its line under :data:`LINE`."""
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        mapping[LINE] = node.start_mark.line + 1
        return mapping


def load_yaml(text: str, *, lines: bool = False) -> Any:
    """Parse YAML safely; with ``lines`` every mapping records its line (raises ``yaml.YAMLError``)."""
    if lines:
        return yaml.load(text, Loader=_LineLoader)  # a safe loader subclass: safe
    return yaml.load(text, Loader=_SafeLoader)  # a safe loader: safe


def _is_mark(key: object) -> bool:
    """True for a ``__mark__`` key."""
    return isinstance(key, str) and key.startswith("__") and key.endswith("__")


def strip_marks(data: Any) -> Any:
    """A copy of ``data`` without the ``__line__``/``__origin__`` marks, at every depth."""
    if isinstance(data, dict):
        return {k: strip_marks(v) for k, v in data.items() if not _is_mark(k)}
    if isinstance(data, list):
        return [strip_marks(v) for v in data]
    return data


def line_of(data: Any) -> int | None:
    """The line a loaded mapping starts at, when it was loaded with lines."""
    if isinstance(data, dict):
        line = data.get(LINE)
        return line if isinstance(line, int) else None
    return None
