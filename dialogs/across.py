"""What a finished visit remembers (``remember:``); rules comparing it with earlier visits (``across_visits:``).

A script declares measures, each an expression over the finished visit (``answers``, ``loan``, ``borrower``,
``visit`` with its ``outcome`` and ``respondent``), and rules over them::

    remember:
      staff: {value: "answers.staff_total", label: {zh-CN: 员工人数, en: Staff}}
      overdue_days: "loan.overdue_days"
    across_visits:
      - flag: staff_collapse
        severity: medium
        uses: [staff]
        when: "now.staff < before.staff / 2"

A rule's ``when`` sees ``now`` (this visit's measures), ``before`` (the newest earlier visit that measured all
of ``uses``) and ``history`` (up to ``look_back`` of them, newest first). It is tested only when this visit
measured all of ``uses`` and at least one earlier visit did, so its evidence always has both values.
Everything is compiled and checked when the script loads (names, measures a rule reads, sample runs).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from jinja2 import TemplateSyntaxError, Undefined, nodes

from dialogs.answers import JsonValue
from dialogs.errors import ScriptError
from dialogs.expressions import answer_samples, attribute_problems, probe, rule_problems
from dialogs.schema import AcrossRule, AnswerKind, LocalText, Measure, Script, Step
from dialogs.templating import CONTEXT_NAMES, compile_condition, condition_names, environment, parse_source

__all__ = ["ACROSS_NAMES", "CompiledAcross", "CompiledMeasure", "Memory", "as_json", "memory_context"]

ACROSS_NAMES = frozenset({"now", "before", "history"})
"""The names a cross-visit rule's ``when`` may use."""
_RESERVED = frozenset(dir(dict))
"""Measure names that would read as a mapping's method in an expression (``now.values``)."""
SAMPLE_RESPONDENT = 100_000_001
log = logging.getLogger(__name__)

Fail = Callable[[str], ScriptError]


def as_json(value: Any) -> JsonValue:
    """A measured value as the visit keeps it: numbers stay numbers, dates become ISO text."""
    if value is None or isinstance(value, bool | str | int | float):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [as_json(v) for v in value]
    if isinstance(value, Undefined):
        return None
    return str(value)


def memory_context(
    facts: dict[str, Any], answers: dict[str, Any], locale: str, *, outcome: str | None, respondent: int | None
) -> dict[str, Any]:
    """What a measure's expression sees: the visit's facts and decoded answers, its outcome and respondent."""
    visit = dict(facts.get("visit") or {})
    visit.update(outcome=outcome, respondent=respondent)
    return {**facts, "visit": visit, "answers": answers, "answer": None, "locale": locale}


@dataclass(frozen=True)
class CompiledMeasure:
    """A measure ready to compute on a finished visit."""

    name: str
    measure: Measure
    compute: Callable[[dict[str, Any]], Any]
    reads_answers: bool
    """False for a measure of the loan or the visit only: a correction later keeps what was true then."""
    options: dict[str, LocalText]
    """The option labels when the measure is one choice answer (``answers.business_status``), else empty."""

    def value(self, context: dict[str, Any]) -> JsonValue:
        """The measured value (None when the expression fails on this visit: logged, never raised)."""
        try:
            return as_json(self.compute(context))
        except Exception as exc:  # a measure that cannot be taken must not stop a visit finishing
            log.warning("measure %s failed, kept as none: %s: %s", self.name, type(exc).__name__, exc)
            return None


@dataclass(frozen=True)
class CompiledAcross:
    """A cross-visit rule with its condition compiled."""

    rule: AcrossRule
    test: Callable[[dict[str, Any]], bool]

    def compared(self, now: Mapping[str, JsonValue], earlier: Sequence[Mapping[str, JsonValue]]) -> list[int] | None:
        """The positions in ``earlier`` (newest first) the rule compared ``now`` with, when it holds."""
        uses = self.rule.uses
        if any(now.get(name) is None for name in uses):
            return None
        picked = [i for i, values in enumerate(earlier) if all(values.get(name) is not None for name in uses)]
        picked = picked[: self.rule.look_back]
        if not picked:
            return None
        history = [{name: earlier[i].get(name) for name in uses} for i in picked]
        context = {"now": {name: now[name] for name in uses}, "before": history[0], "history": history}
        try:
            holds = bool(self.test(context))
        except Exception as exc:  # a failing condition counts as false, as step rules do
            log.warning("cross-visit rule %s failed, taken as false: %s: %s", self.rule.flag, type(exc).__name__, exc)
            return None
        return picked if holds else None


def _value_expression(source: str) -> Callable[[dict[str, Any]], Any]:
    """Compile a sandboxed expression returning its value (TemplateSyntaxError when it does not compile)."""
    try:
        compiled = environment().compile_expression(source, undefined_to_none=False)
    except TemplateSyntaxError:
        raise
    except (RecursionError, MemoryError, ValueError, OverflowError, SyntaxError) as exc:
        raise TemplateSyntaxError(str(exc) or "it does not parse", 1) from exc
    return lambda context: compiled(**context)


def _choice_labels(tree: nodes.Template, steps: dict[str, Step]) -> dict[str, LocalText]:
    """The option labels of the choice question a measure reads whole (``answers.<step>``), else none."""
    body = tree.body[0] if len(tree.body) == 1 else None
    expr = body.nodes[0] if isinstance(body, nodes.Output) and len(body.nodes) == 1 else None
    if isinstance(expr, nodes.Getattr) and isinstance(expr.node, nodes.Name) and expr.node.name == "answers":
        step = steps.get(expr.attr)
        if step is not None and step.ask is not None and step.ask.kind in (AnswerKind.CHOICE, AnswerKind.MULTI):
            return {o.id: o.label for o in step.ask.options}
    return {}


def _read_measures(tree: nodes.Template) -> set[str]:
    """The measures a rule reads: ``now.x``, ``before.x``, ``history[0].x`` (and ``now['x']``)."""
    found: set[str] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            name: object = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value
        else:
            continue
        base = node.node
        on_visit = isinstance(base, nodes.Name) and base.name in ("now", "before")
        on_history = isinstance(base, nodes.Getitem) and getattr(base.node, "name", "") == "history"
        if (on_visit or on_history) and isinstance(name, str):
            found.add(name)
    return found


class Memory:
    """A script's measures and cross-visit rules, compiled and checked once when the script loads."""

    def __init__(self, script: Script, steps: dict[str, Step], fail: Fail, *, strict: bool = True) -> None:
        self.steps = steps
        self._fail = fail
        self.strict = strict
        self.measures: dict[str, CompiledMeasure] = {}
        for name, measure in script.remember.items():
            self.measures[name] = self._measure(name, measure, script.locales)
        self.rules = [self._rule(rule, script.locales) for rule in script.across_visits]

    def measure(self, context: dict[str, Any]) -> dict[str, JsonValue]:
        """Every measure of a finished visit (see :func:`memory_context`)."""
        return {name: m.value(context) for name, m in self.measures.items()}

    def hits(
        self, now: Mapping[str, JsonValue], earlier: Sequence[Mapping[str, JsonValue]]
    ) -> list[tuple[CompiledAcross, list[int]]]:
        """The rules that hold on ``now`` against ``earlier`` (newest first), each with the positions compared."""
        found = []
        for rule in self.rules:
            picked = rule.compared(now, earlier)
            if picked is not None:
                found.append((rule, picked))
        return found

    # -- compiling ------------------------------------------------------------------------------
    def _expression(self, source: str, what: str, names: frozenset[str]) -> nodes.Template:
        try:
            used, answer_steps = condition_names(source, expression=True)
            tree = parse_source(source, expression=True)
        except TemplateSyntaxError as exc:
            raise self._fail(f"{what} does not parse: {exc.message}") from exc
        broken = rule_problems(tree, expression=True)
        if broken and self.strict:
            raise self._fail(f"{what}: {broken[0]}")
        unknown = used - names
        if unknown:
            raise self._fail(f"{what} uses unknown name(s) {sorted(unknown)}; known: {', '.join(sorted(names))}")
        missing = answer_steps - self.steps.keys() if "answers" in names else set()
        if missing:
            raise self._fail(f"{what} refers to answers of missing step(s) {sorted(missing)}")
        return tree

    def _measure(self, name: str, measure: Measure, locales: tuple[str, ...]) -> CompiledMeasure:
        what = f"remember '{name}'"
        if name in _RESERVED:
            raise self._fail(f"{what}: '{name}' cannot name a measure (it reads as a method); choose another name")
        if measure.label is not None and any(not measure.label.get(loc) for loc in locales):
            raise self._fail(
                f"{what}: the label has no text for locale(s) {[x for x in locales if not measure.label.get(x)]}"
            )
        tree = self._expression(measure.value, what, CONTEXT_NAMES)
        try:
            compute = _value_expression(measure.value)
        except TemplateSyntaxError as exc:
            raise self._fail(f"{what} does not compile: {exc.message}") from exc
        reads = bool({"answers", "answer"} & condition_names(measure.value, expression=True)[0])
        compiled = CompiledMeasure(name, measure, compute, reads, _choice_labels(tree, self.steps))
        if self.strict:
            context = self.sample_context()
            kinds = {sid: (s.ask.kind if s.ask else None) for sid, s in self.steps.items()}
            wrong = attribute_problems(tree, context, kinds, "")
            if wrong:
                raise self._fail(f"{what}: {wrong[0]}")
            problem = probe(compute, [context])
            if problem is not None:
                raise self._fail(f"{what}: {problem}")
        return compiled

    def _rule(self, rule: AcrossRule, locales: tuple[str, ...]) -> CompiledAcross:
        what = f"across_visits '{rule.flag}'"
        unknown = [name for name in rule.uses if name not in self.measures]
        if unknown:
            known = ", ".join(sorted(self.measures)) or "none (add them under 'remember:')"
            raise self._fail(f"{what} uses measure(s) {unknown} the script does not remember; known: {known}")
        if rule.note is not None and any(not rule.note.get(loc) for loc in locales):
            raise self._fail(
                f"{what}: the note has no text for locale(s) {[x for x in locales if not rule.note.get(x)]}"
            )
        source = f"condition '{rule.when}'"
        tree = self._expression(rule.when, f"{what} {source}", ACROSS_NAMES)
        unused = sorted(_read_measures(tree) - set(rule.uses))
        if unused:
            raise self._fail(f"{what} reads {unused} but its 'uses' lists only {list(rule.uses)}; add them to 'uses'")
        try:
            test = compile_condition(rule.when)
        except TemplateSyntaxError as exc:
            raise self._fail(f"{what} {source} does not compile: {exc.message}") from exc
        if self.strict:
            values = self.measure(self.sample_context())
            sample = {name: 0 if values.get(name) is None else values[name] for name in rule.uses}
            history = [sample] * rule.look_back
            problem = probe(test, [{"now": sample, "before": sample, "history": history}])
            if problem is not None:
                raise self._fail(f"{what} {source}: {problem}")
        return CompiledAcross(rule, test)

    def sample_context(self) -> dict[str, Any]:
        """A finished visit with sample facts and answers, as measures see one at load time."""
        from dialogs.compiler import sample_facts  # the compiler builds this module; its samples are its own

        answers = answer_samples(self.steps)
        return memory_context(sample_facts(), answers, "zh-CN", outcome="completed", respondent=SAMPLE_RESPONDENT)
