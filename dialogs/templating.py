"""The one Jinja2 environment: sandboxed, StrictUndefined, with locale-aware filters."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_context

__all__ = ["CONTEXT_NAMES", "compile_condition", "compile_text", "condition_names", "environment"]

CONTEXT_NAMES = frozenset(
    {"answer", "answers", "borrower", "loan", "officer", "institution", "locale", "today", "visit"}
)
"""Every name a script line or condition may use."""


def _money(amount: Decimal | int | float | str, locale: str) -> str:
    value = Decimal(str(amount))
    if locale == "zh-CN":
        if value >= 10000 and value % 100 == 0:
            wan = (value / 10000).normalize()
            return f"{wan:f}万元"
        return f"{value.normalize():,f}元"
    return f"¥{value.normalize():,f}"


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
def environment() -> ImmutableSandboxedEnvironment:
    """The shared sandboxed environment (built once, on first use)."""
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters["money"] = _money_filter
    env.filters["date"] = _date_filter
    return env


def compile_text(source: str) -> Callable[[dict[str, Any]], str]:
    """Compile a script line once; calling it renders the line with a context."""
    template = environment().from_string(source)
    return lambda context: template.render(context).strip()


def compile_condition(expression: str) -> Callable[[dict[str, Any]], bool]:
    """Compile a sandboxed condition expression (never ``eval``); calling it tests a context."""
    compiled = environment().compile_expression(expression, undefined_to_none=False)
    return lambda context: bool(compiled(**context))


def _walk(node: nodes.Node) -> Iterable[nodes.Node]:
    yield node
    for child in node.iter_child_nodes():
        yield from _walk(child)


def condition_names(source: str, *, expression: bool) -> tuple[set[str], set[str]]:
    """The top-level names and the ``answers.<step>`` names a template or expression uses.

    Raises :class:`jinja2.TemplateSyntaxError` when it does not parse.
    """
    text = "{{ (" + source + ") }}" if expression else source
    tree = environment().parse(text)
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
