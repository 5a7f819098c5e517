"""Load-time checks of script lines and conditions beyond parsing.

* :func:`rule_problems`: what a line or condition may contain at all — only ``{{ … }}`` and
  ``{% if %}`` in lines, no private (``_``) names, only the filters of :data:`SCRIPT_FILTERS`,
  bounded nesting and number literals.
* :func:`attribute_problems`: attribute access checked against what the visit really has — the
  answer of a choice question is an option id (text), so ``answer.value`` is refused.
* :func:`answer_samples` and :func:`probe`: every condition is tried on sample answers of its
  question's kind; one that fails for every sample (``answer / 0``, ``answer > 'x'`` on a number)
  or breaks a sandbox bound is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Undefined, nodes

from dialogs.answers import JsonValue, decode_value
from dialogs.schema import AnswerKind, Question, Step
from dialogs.templating import MAX_INT_BITS, SecurityError, environment

__all__ = [
    "SCRIPT_FILTERS",
    "SCRIPT_METHODS",
    "answer_samples",
    "attribute_problems",
    "kind_samples",
    "probe",
    "rule_problems",
]

SCRIPT_FILTERS = frozenset(
    {
        "money",
        "date",
        "default",
        "d",
        "upper",
        "lower",
        "title",
        "capitalize",
        "trim",
        "length",
        "count",
        "round",
        "int",
        "float",
        "abs",
        "string",
        "join",
        "first",
        "last",
        "replace",
        "truncate",
        "min",
        "max",
        "sum",
        "unique",
        "sort",
        "list",
        "wordcount",
    }
)
"""The filters a script line or condition may use."""

SCRIPT_METHODS = frozenset(
    {
        "upper",
        "lower",
        "strip",
        "lstrip",
        "rstrip",
        "title",
        "capitalize",
        "startswith",
        "endswith",
        "isdigit",
        "isalpha",
        "split",
        "count",
        "find",
        "replace",
        "join",
        "format",
        "get",
        "keys",
        "values",
        "items",
        "isoformat",
        "weekday",
        "isoweekday",
    }
)
"""The methods a script line or condition may call (each bounded in time and size)."""

MAX_DEPTH = 40
"""How deeply a line or condition may nest."""

_LINE_STATEMENTS = (nodes.Template, nodes.Output, nodes.If)
_TAGS = {"Assign": "set", "AssignBlock": "set", "CallBlock": "call", "FilterBlock": "filter", "FromImport": "from"}
_TAGS |= {
    "ExprStmt": "do",
    "OverlayScope": "overlay",
    "EvalContextModifier": "autoescape",
    "ScopedEvalContextModifier": "autoescape",
}
_KIND_WORDS = {
    AnswerKind.CHOICE: "an option id (text)",
    AnswerKind.MULTI: "a list of option ids",
    AnswerKind.YESNO: "true or false",
    AnswerKind.INTEGER: "a whole number",
    AnswerKind.MONEY: "an amount (a number)",
    AnswerKind.PERCENT: "a number",
    AnswerKind.DATE: "a date (year, month, day)",
    AnswerKind.DATETIME: "a date and time",
    AnswerKind.PHONE: "a phone number (text)",
    AnswerKind.TEXT: "text",
    AnswerKind.PHOTO: "a photo (file)",
    AnswerKind.LOCATION: "a location (lat, lon)",
}
_ZONE = ZoneInfo("Asia/Shanghai")
_STORED: dict[AnswerKind, JsonValue] = {
    AnswerKind.YESNO: True,
    AnswerKind.DATE: "2026-02-15",
    AnswerKind.DATETIME: "2026-02-15T15:00:00+08:00",
    AnswerKind.PHONE: "+8613800138000",
    AnswerKind.TEXT: "示例回答",
    AnswerKind.PHOTO: {"file": "photo.jpg"},
    AnswerKind.LOCATION: {"lat": 30.27, "lon": 120.15},
}
_TYPICAL_NUMBER = {AnswerKind.INTEGER: Decimal(3), AnswerKind.MONEY: Decimal(50000), AnswerKind.PERCENT: Decimal(5)}


def _depth_problem(tree: nodes.Node) -> str | None:
    """A problem when the tree nests deeper than :data:`MAX_DEPTH`."""
    todo = [(tree, 0)]
    while todo:
        node, depth = todo.pop()
        if depth > MAX_DEPTH:
            return f"it nests more than {MAX_DEPTH} levels deep"
        todo.extend((child, depth + 1) for child in node.iter_child_nodes())
    return None


def _private(value: object) -> bool:
    """True for a string naming a private attribute."""
    return isinstance(value, str) and value.startswith("_")


def _node_problem(node: nodes.Node, *, expression: bool) -> str | None:
    """What is not allowed about one node, if anything."""
    if isinstance(node, nodes.Stmt) and not isinstance(node, _LINE_STATEMENTS):
        tag = _TAGS.get(type(node).__name__, type(node).__name__.lower())
        return f"'{{% {tag} %}}' is not allowed; lines may use {{{{ … }}}} and {{% if %}} only"
    if expression and isinstance(node, nodes.If):
        return "a condition is an expression, not a {% if %} block"
    if isinstance(node, nodes.Getattr) and _private(node.attr):
        return f"'{node.attr}' is private: scripts may only use public values"
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and _private(node.arg.value):
        return f"'{node.arg.value}' is private: scripts may only use public values"
    if isinstance(node, nodes.Filter) and node.name not in SCRIPT_FILTERS:
        return f"the filter '{node.name}' is not available; use one of {', '.join(sorted(SCRIPT_FILTERS))}"
    if isinstance(node, nodes.Test) and node.name not in environment().tests:
        return f"there is no test '{node.name}'"
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr) and node.node.attr not in SCRIPT_METHODS:
        return f"the method '{node.node.attr}' is not available; use one of {', '.join(sorted(SCRIPT_METHODS))}"
    if isinstance(node, nodes.Call) and (node.dyn_args is not None or node.dyn_kwargs is not None):
        return "calls may not unpack arguments (* or **)"
    if isinstance(node, nodes.Filter | nodes.Test | nodes.Call):
        args = [*node.args, *(kw.value for kw in node.kwargs)]
        if any(isinstance(a, nodes.Const) and _private(a.value) for a in args):
            return "private ('_') names may not be passed to filters or methods"
    if isinstance(node, nodes.Const) and isinstance(node.value, int) and node.value.bit_length() > MAX_INT_BITS:
        return "a number in it is too large"
    return None


def rule_problems(tree: nodes.Template, *, expression: bool) -> list[str]:
    """Everything a parsed line (``expression=False``) or condition breaks of the script rules."""
    deep = _depth_problem(tree)
    if deep is not None:
        return [deep]
    found: list[str] = []
    todo: list[nodes.Node] = [tree]
    while todo:
        node = todo.pop()
        problem = _node_problem(node, expression=expression)
        if problem is not None and problem not in found:
            found.append(problem)
        todo.extend(node.iter_child_nodes())
    return found


def _stored_samples(question: Question) -> list[JsonValue]:
    """Sample answers of a question as stored (the typical one first)."""
    kind = question.kind
    ids = [o.id for o in question.options]
    if kind is AnswerKind.CHOICE:
        return list(ids)
    if kind is AnswerKind.MULTI:
        first: list[JsonValue] = [ids[0]] if ids else []
        every: list[JsonValue] = list(ids)
        return [first, every]
    if kind is AnswerKind.YESNO:
        return [True, False]
    if kind in _TYPICAL_NUMBER:
        return _number_samples(question)
    if kind is AnswerKind.DATE:
        return ["2026-02-15", "2026-03-31"]
    if kind is AnswerKind.DATETIME:
        later = datetime(2026, 2, 15, 15, tzinfo=_ZONE) + timedelta(days=30)
        return [_STORED[kind], later.isoformat()]
    return [_STORED[kind]]


def _number_samples(question: Question) -> list[JsonValue]:
    """A typical number within the question's bounds, then the bounds themselves."""
    low = question.min if isinstance(question.min, Decimal) else None
    high = question.max if isinstance(question.max, Decimal) else None
    typical = _TYPICAL_NUMBER[question.kind]
    if low is not None and typical < low:
        typical = low
    if high is not None and typical > high:
        typical = high
    values = [typical, *(v for v in (low, high) if v is not None)]
    out: list[JsonValue] = []
    for value in values:
        stored: JsonValue = int(value) if question.kind is AnswerKind.INTEGER else format(value, "f")
        if stored not in out:
            out.append(stored)
    return out


def kind_samples(question: Question | None) -> list[Any]:
    """Sample answers of a question, decoded as conditions see them (``[None]`` for no question)."""
    if question is None:
        return [None]
    return [decode_value(question, value) for value in _stored_samples(question)]


def answer_samples(steps: dict[str, Step]) -> dict[str, Any]:
    """A typical decoded answer for every step (``None`` for steps that ask nothing)."""
    return {sid: kind_samples(step.ask)[0] for sid, step in steps.items()}


def _resolve(node: nodes.Node, context: dict[str, Any]) -> tuple[bool, Any]:
    """(known, value) of a name or a chain of attributes and constant items in a context."""
    env = environment()
    if isinstance(node, nodes.Name) and node.ctx == "load" and node.name in context:
        return True, context[node.name]
    if isinstance(node, nodes.Getattr):
        known, base = _resolve(node.node, context)
        if known:
            value = env.getattr(base, node.attr)
            return not isinstance(value, Undefined), value
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        known, base = _resolve(node.node, context)
        if known:
            value = env.getitem(base, node.arg.value)
            return not isinstance(value, Undefined), value
    return False, None


def _dotted(node: nodes.Node) -> str:
    """``answers.income`` for a chain of names and attributes."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        return f"{_dotted(node.node)}.{node.attr}"
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        return f"{_dotted(node.node)}[{node.arg.value!r}]"
    return "(…)"


def _chains(tree: nodes.Node) -> Iterator[nodes.Getattr | nodes.Getitem]:
    """Every attribute access and constant item access of a tree."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr) or (isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const)):
            yield node


def _describe(base: nodes.Node, value: Any, kinds: dict[str, AnswerKind | None], own: str) -> str:
    """What a value is, in words an author understands."""
    step = own if isinstance(base, nodes.Name) and base.name == "answer" else None
    if isinstance(base, nodes.Getattr) and isinstance(base.node, nodes.Name) and base.node.name == "answers":
        step = base.attr
    if step is not None:
        kind = kinds.get(step)
        if kind is None:
            return f"'{_dotted(base)}' is none (step '{step}' asks no question)"
        return f"'{_dotted(base)}' is the answer to a {kind} question, {_KIND_WORDS[kind]}"
    return f"'{_dotted(base)}' is {type(value).__name__ if value is not None else 'none'}"


def attribute_problems(
    tree: nodes.Template, context: dict[str, Any], kinds: dict[str, AnswerKind | None], own: str
) -> list[str]:
    """Attribute accesses the visit's values do not have (checked on a sample context)."""
    found: list[str] = []
    for node in _chains(tree):
        known, base = _resolve(node.node, context)
        if not known or _resolve(node, context)[0]:
            continue
        attr = node.attr if isinstance(node, nodes.Getattr) else repr(getattr(node.arg, "value", ""))
        problem = f"{_describe(node.node, base, kinds, own)}; it has no '{attr}'"
        if problem not in found:
            found.append(problem)
    return found


def probe(test: Callable[[dict[str, Any]], Any], contexts: list[dict[str, Any]]) -> str | None:
    """Why a compiled condition or line cannot work: it fails on every context, or breaks a bound."""
    failures: list[str] = []
    for context in contexts:
        try:
            test(context)
        except SecurityError as exc:
            return f"it is not allowed: {exc}"
        except Exception as exc:  # any failure on every sample is the script's fault
            failures.append(_reason(exc))
        else:
            return None
    return f"it fails: {failures[0]}" if failures else None


def _reason(exc: BaseException) -> str:
    """An exception as a short phrase."""
    text = getattr(exc, "message", None) or str(exc)
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    return f"{text} ({type(exc).__name__})" if text else type(exc).__name__
