"""The one Jinja2 environment: sandboxed, StrictUndefined, bounded, with locale-aware filters.

Script lines and conditions come from authors, so everything they can build is bounded: numbers
(``10 ** 100000000``), repeated text (``'a' * 10**9``), widths given to filters or methods
(``'a'|center(10**9)``) and format specs. A bound that is hit raises
:class:`jinja2.sandbox.SecurityError`, at load time when the sample facts hit it.
"""

from __future__ import annotations

import functools
import operator
import re
import string
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import consume, pass_context

from dialogs.parsing import money_text

__all__ = [
    "CONTEXT_NAMES",
    "MAX_COUNT",
    "MAX_INT_BITS",
    "MAX_SOURCE",
    "MAX_TEXT",
    "BoundedEnvironment",
    "SecurityError",
    "compile_condition",
    "compile_text",
    "condition_names",
    "environment",
    "parse_source",
]

CONTEXT_NAMES = frozenset(
    {"answer", "answers", "borrower", "loan", "officer", "institution", "locale", "today", "visit"}
)
"""Every name a script line or condition may use."""

MAX_TEXT = 20_000
"""The longest text or list an expression may build, and the longest rendered line."""
MAX_INT_BITS = 4_096
"""The largest integer an expression may build (about 1,200 digits)."""
MAX_COUNT = 10_000
"""The largest width or count given to a filter or method (``center``, ``ljust``, ``truncate``...)."""
MAX_SOURCE = 20_000
"""The longest line or condition source accepted."""

_SIZED = (str, bytes, list, tuple, dict, set, frozenset)
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_NUMBERS = re.compile(r"\d+")
_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "**": operator.pow,
    "%": operator.mod,
}


def _too_big(what: str) -> SecurityError:
    """The error for a value over a bound."""
    return SecurityError(
        f"{what} is too large for a script (limits: {MAX_TEXT} characters, {MAX_INT_BITS}-bit numbers)"
    )


def _weight(value: Any, budget: int = MAX_TEXT) -> int:
    """The size of a value as characters plus items, counted up to a little past ``budget``."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, dict):
        items: Iterable[Any] = (*value.keys(), *value.values())
    elif isinstance(value, list | tuple | set | frozenset):
        items = value
    else:
        return 1
    total = len(value)
    for item in items:
        if total > budget:
            break
        total += _weight(item, budget - total)
    return total


def _check_size(value: Any) -> Any:
    """``value`` itself, or SecurityError when it is a text, list or number over the bounds."""
    if isinstance(value, _SIZED) and _weight(value) > MAX_TEXT:
        raise _too_big("the text or list")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise _too_big("the number")
    return value


def _is_int(value: Any) -> bool:
    """True for an int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def _check_counts(args: Iterable[Any]) -> None:
    """SecurityError when an int argument (a width or count) exceeds :data:`MAX_COUNT`."""
    for arg in args:
        if _is_int(arg) and abs(arg) > MAX_COUNT:
            raise SecurityError(f"the width or count {arg} is too large for a script (at most {MAX_COUNT})")


def _check_percent_format(text: str) -> None:
    """SecurityError for a ``%`` format with a ``*`` or an over-large width or precision."""
    for match in _PERCENT_SPEC.finditer(text):
        for part in match.groups():
            if part == "*" or (part is not None and int(part) > MAX_COUNT):
                raise SecurityError("a format width or precision in a script must be a number up to 10000")


def _check_brace_format(text: str) -> None:
    """SecurityError for a ``str.format`` spec with an over-large or nested width."""
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise SecurityError(f"a format string does not parse: {exc}") from exc
    for _, _, spec, _ in fields:
        if spec and ("{" in spec or any(int(n) > MAX_COUNT for n in _NUMBERS.findall(spec))):
            raise SecurityError("a format width or precision in a script must be a number up to 10000")


def _longest(values: Iterable[Any]) -> int:
    """The length of the longest value as text (each value is already bounded)."""
    return max((len(str(v)) for v in values), default=0)


def _check_estimate(size: int) -> None:
    """SecurityError when a result would exceed :data:`MAX_TEXT`, before it is built."""
    if size > MAX_TEXT:
        raise _too_big("the text or list")


def _check_percent_result(fmt: str, right: Any) -> None:
    """Refuse a ``%`` format whose result would be too long (checked before formatting)."""
    _check_percent_format(fmt)
    values = right.values() if isinstance(right, dict) else right if isinstance(right, tuple) else (right,)
    _check_estimate(len(fmt) + len(_PERCENT_SPEC.findall(fmt)) * _longest(values))


def _check_replace(text: Any, old: Any, new: Any) -> None:
    """Refuse a ``replace`` whose result would be too long."""
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        hits = len(text) + 1 if not old else text.count(old)
        _check_estimate(len(text) + hits * max(len(new) - len(old), 0))


def _check_join(items: Any, sep: Any) -> None:
    """Refuse a ``join`` whose result would be too long."""
    if isinstance(items, _SIZED) and isinstance(sep, str):
        _check_estimate(sum(len(str(i)) for i in items) + len(sep) * len(items))


def _bounded_pow(left: Any, right: Any) -> Any:
    """``left ** right`` for ints only when the result stays within :data:`MAX_INT_BITS`."""
    big = _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1
    if big and (abs(left).bit_length() - 1) * right > MAX_INT_BITS:
        raise _too_big("the number")
    return left**right


def _bounded_mul(left: Any, right: Any) -> Any:
    """``left * right`` when repeating text or lists, or multiplying ints, stays within bounds."""
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, _SIZED) and _is_int(count) and _weight(seq) * max(count, 0) > MAX_TEXT:
            raise _too_big("the text or list")
    if _is_int(left) and _is_int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS + 1:
        raise _too_big("the number")
    return left * right


_SIZING_FILTERS = frozenset({"center", "indent", "wordwrap", "truncate", "batch", "slice", "round"})
"""Built-in filters whose int arguments are widths or counts."""


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """A filter whose widths and format specs are bounded and whose result is checked for size."""
    skip = 2 if getattr(func, "jinja_pass_arg", None) is not None else 1

    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        if name in _SIZING_FILTERS:
            _check_counts(args[skip:])
            _check_counts(kwargs.values())
        rest = args[skip - 1 :]
        if name == "format" and rest and isinstance(rest[0], str):
            _check_percent_result(rest[0], tuple(rest[1:]) or dict(kwargs))
        if name == "replace" and len(rest) >= 3:
            _check_replace(*rest[:3])
        if name == "join" and rest:
            _check_join(rest[0], rest[1] if len(rest) > 1 else kwargs.get("d", ""))
        return _check_size(func(*args, **kwargs))

    return bounded


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with bounds on what expressions can build (see the module docstring).

    ``*``, ``**``, ``%`` and ``+`` are intercepted, which also stops Jinja folding them at
    compile time (``10 ** 100000000`` would otherwise be computed while compiling).
    """

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Apply an intercepted operator within the bounds."""
        if operator == "**":
            return _check_size(_bounded_pow(left, right))
        if operator == "*":
            return _check_size(_bounded_mul(left, right))
        if operator == "%" and isinstance(left, str):
            _check_percent_result(left, right)
        return _check_size(_BINOPS[operator](left, right))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Sandbox ``str.format`` as Jinja does, refusing over-large widths first."""
        owner = getattr(value, "__self__", None)
        wrapped = super().wrap_str_format(value)
        if wrapped is None or not isinstance(owner, str):
            return wrapped
        _check_brace_format(owner)
        fields = sum(1 for _, name, _, _ in string.Formatter().parse(owner) if name is not None)
        sandboxed = wrapped

        def bounded(*args: Any, **kwargs: Any) -> str:
            values = [*args, *kwargs.values()]
            if values and isinstance(values[0], dict) and getattr(value, "__name__", "") == "format_map":
                values = list(values[0].values())
            _check_estimate(len(owner) + fields * _longest(values))
            return str(_check_size(sandboxed(*args, **kwargs)))

        return bounded

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Call a method or function with bounded widths and format specs, and a bounded result."""
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, _SIZED):
            _check_counts(args)
            _check_counts(kwargs.values())
        method = getattr(__obj, "__name__", "")
        if isinstance(owner, str) and method == "replace" and len(args) >= 2:
            _check_replace(owner, args[0], args[1])
        if isinstance(owner, str) and method == "join" and args:
            _check_join(args[0], owner)
        return _check_size(super().call(__context, __obj, *args, **kwargs))


def _money(amount: Decimal | int | float | str, locale: str) -> str:
    """The amount as answers show it (one form for what is said and what is recorded)."""
    return money_text(Decimal(str(amount)), locale)


def _date(value: date | datetime | str, locale: str) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if locale == "zh-CN":
        text = f"{value.year}年{value.month}月{value.day}日"
        if isinstance(value, datetime):
            text += f" {value:%H:%M}"
        return text
    text = f"{value.day} {value:%b %Y}"
    if isinstance(value, datetime):
        text += f" {value:%H:%M}"
    return text


@pass_context
def _money_filter(ctx: Context, amount: Decimal | int | float | str) -> str:
    return _money(amount, str(ctx.get("locale", "zh-CN")))


@pass_context
def _date_filter(ctx: Context, value: date | datetime | str) -> str:
    return _date(value, str(ctx.get("locale", "zh-CN")))


@lru_cache(maxsize=1)
def environment() -> BoundedEnvironment:
    """The shared sandboxed environment (built once, on first use)."""
    env = BoundedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters["money"] = _money_filter
    env.filters["date"] = _date_filter
    env.filters = {name: _bounded_filter(name, func) for name, func in env.filters.items()}
    return env


def _as_syntax_error(exc: Exception) -> TemplateSyntaxError:
    """A TemplateSyntaxError for what Jinja or Python raise on sources they cannot take."""
    if isinstance(exc, TemplateSyntaxError):
        return exc
    if isinstance(exc, RecursionError | MemoryError):
        return TemplateSyntaxError("it is nested too deeply", 1)
    return TemplateSyntaxError(str(exc) or type(exc).__name__, 1)


@lru_cache(maxsize=4096)
def parse_source(source: str, *, expression: bool) -> nodes.Template:
    """The Jinja AST of a line or a condition (cached: never change it); failures are TemplateSyntaxError."""
    if len(source) > MAX_SOURCE:
        raise TemplateSyntaxError(f"it is {len(source)} characters long; at most {MAX_SOURCE}", 1)
    text = "{{ (" + source + ") }}" if expression else source
    try:
        return environment().parse(text)
    except (TemplateSyntaxError, RecursionError, MemoryError, ValueError, OverflowError) as exc:
        raise _as_syntax_error(exc) from exc


@lru_cache(maxsize=4096)
def compile_text(source: str) -> Callable[[dict[str, Any]], str]:
    """Compile a script line once; calling it renders the line (at most :data:`MAX_TEXT` characters).

    Raises :class:`TemplateSyntaxError` for any source that does not compile.
    """
    try:
        template = environment().from_string(source)
    except (TemplateSyntaxError, RecursionError, MemoryError, ValueError, OverflowError, SyntaxError) as exc:
        raise _as_syntax_error(exc) from exc

    fresh = _contexts(template)
    env = template.environment

    def render(context: dict[str, Any]) -> str:
        try:
            text = env.concat(template.root_render_func(fresh(context))).strip()
        except Exception:
            env.handle_exception()  # raised again, its traceback through the line's source, as Template.render does
        if len(text) > MAX_TEXT:
            raise _too_big("the rendered line")
        return text

    return render


@lru_cache(maxsize=4096)
def compile_condition(expression: str) -> Callable[[dict[str, Any]], bool]:
    """Compile a sandboxed condition expression (never ``eval``); calling it tests a context.

    Raises :class:`TemplateSyntaxError` for any source that does not compile.
    """
    try:
        compiled = environment().compile_expression(expression, undefined_to_none=False)
    except (TemplateSyntaxError, RecursionError, MemoryError, ValueError, OverflowError, SyntaxError) as exc:
        raise _as_syntax_error(exc) from exc
    template = compiled._template  # the template that assigns the expression's value to ``result``
    fresh = _contexts(template)

    def holds(context: dict[str, Any]) -> bool:
        ran = fresh(context)
        consume(template.root_render_func(ran))
        return bool(ran.vars["result"])

    return holds


def _contexts(template: Template) -> Callable[[dict[str, Any]], Context]:
    """What ``template.render`` makes for each call, made faster: a new :class:`Context` over the template's
    globals and the values. Jinja copies the globals (a ChainMap over the environment's) into a dict on every
    render and takes a set of their names; here the copy is made once (the shared environment's globals
    never change once it is built) and no set is taken (Jinja 3.1 keeps it and reads it nowhere)."""
    env = template.environment
    shared, name, blocks, make = dict(template.globals), template.name, template.blocks, env.context_class

    def fresh(values: dict[str, Any]) -> Context:
        return make(env, {**shared, **values}, name, blocks)

    return fresh


def _walk(node: nodes.Node) -> Iterable[nodes.Node]:
    """Every node of a tree, without recursing in Python (deep trees are allowed here)."""
    todo = [node]
    while todo:
        current = todo.pop()
        yield current
        todo.extend(current.iter_child_nodes())


def condition_names(source: str, *, expression: bool) -> tuple[set[str], set[str]]:
    """The top-level names and the ``answers.<step>`` names a template or expression uses.

    Raises :class:`jinja2.TemplateSyntaxError` when it does not parse.
    """
    tree = parse_source(source, expression=expression)
    names: set[str] = set()
    answer_steps: set[str] = set()
    assigned = {n.name for n in _walk(tree) if isinstance(n, nodes.Name) and n.ctx in ("store", "param")}
    for node in _walk(tree):
        if isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in assigned:
            names.add(node.name)
        if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) and node.node.name == "answers":
            answer_steps.add(node.attr)
    return names, answer_steps


__all__ += ["TemplateSyntaxError"]
