"""The checks behind :mod:`dialogs.lint`, each a function of a validated script and its raw YAML."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateSyntaxError, UndefinedError, nodes

from dialogs.compiler import restricted, sample_facts
from dialogs.expressions import rule_problems
from dialogs.schema import AnswerKind, Script, Step
from dialogs.scriptgraph import ScriptGraph
from dialogs.templating import CONTEXT_NAMES, SecurityError, compile_text, condition_names, parse_source
from dialogs.yamlsource import ORIGIN, line_of

__all__ = ["CHECKS", "RISK_FLAGS", "LintContext", "Problem", "compared_literals"]

RISK_FLAGS = frozenset(
    {
        "funds_diverted",
        "repayment_pressure_high",
        "other_debt",
        "business_changed",
        "business_worse",
        "licence_abnormal",
        "court_enforcement",
        "dispute",
        "broken_promise",
        "wrong_party_repeated",
        "risky_investment",
        "collateral_impaired",
        "fine_while_overdue_grows",
        "staff_collapse",
        "stock_collapse",
        "other_debt_growing",
        "respondent_changed",
    }
)
"""The shared risk vocabulary (SCRIPTS.md, plus the on-site bank's investment and collateral flags)."""

CALLBACK_BYTES = 64
VISIT_ID_DIGITS = 10
MESSAGE_CHARS = 4096
NUMERIC = (AnswerKind.YESNO, AnswerKind.INTEGER, AnswerKind.MONEY, AnswerKind.PERCENT)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a script: where it is, what it is, and what to do about it."""

    file: str
    line: int | None
    step: str | None
    code: str
    message: str
    hint: str
    severity: str = "error"

    def __str__(self) -> str:
        """``file:line: error [code] step 'x': message (fix: hint)``."""
        where = f"{self.file}:{self.line}" if self.line else self.file
        step = f" step '{self.step}':" if self.step else ""
        return f"{where}: {self.severity} [{self.code}]{step} {self.message} (fix: {self.hint})"


@dataclass
class LintContext:
    """What every check looks at: the validated script, its raw steps (with lines), its graph."""

    source: str
    script: Script
    raw_steps: dict[str, dict[str, Any]]
    broken: set[str] = field(default_factory=set)
    graph: ScriptGraph = field(init=False)

    def __post_init__(self) -> None:
        """Build the graph once."""
        self.graph = ScriptGraph(self.script)

    def problem(
        self, step: str | None, code: str, message: str, hint: str, *, at: Any = None, severity: str = "error"
    ) -> Problem:
        """A problem at a step (or at a mapping ``at`` inside it), naming a fragment's origin."""
        raw = self.raw_steps.get(step or "")
        line = line_of(raw) if raw is not None else None
        if raw is not None and ORIGIN in raw:
            message += f" (from {raw[ORIGIN]})"
        elif at is not None and line_of(at):
            line = line_of(at)
        return Problem(self.source, line, step, code, message, hint, severity)


def _raw_item(ctx: LintContext, step: str, key: str, index: int) -> Any:
    """The raw mapping of a step's ``next`` or ``risk`` item (it knows its line)."""
    items = ctx.raw_steps.get(step, {}).get(key)
    return items[index] if isinstance(items, list) and index < len(items) else None


def _raw_branch(ctx: LintContext, step: str, index: int) -> Any:
    """The raw mapping of a step's ``next`` item."""
    return _raw_item(ctx, step, "next", index)


def check_structure(ctx: LintContext) -> Iterator[Problem]:
    """Targets that do not exist, a missing fallback, a missing start or identity step."""
    script, steps = ctx.script, ctx.graph.steps
    if script.first_step not in steps:
        yield ctx.problem(None, "missing_step", f"start step '{script.first_step}' does not exist", "fix 'start'")
    ident = script.identity_step
    if ident is not None and ident not in steps:
        yield ctx.problem(None, "missing_step", f"identity_step '{ident}' does not exist", "fix 'identity_step'")
    elif ident is not None and not any(b.confirms_identity for b in steps[ident].next):
        hint = "add confirms_identity: true to the branch taken when it is the borrower"
        yield ctx.problem(ident, "identity", "the identity step has no branch that confirms identity", hint)
    for step in steps.values():
        for index, branch in enumerate(step.next):
            if branch.goto not in steps and branch.goto not in ctx.broken:
                at = _raw_branch(ctx, step.id, index)
                message = f"branch goes to missing step '{branch.goto}'"
                yield ctx.problem(step.id, "missing_step", message, "fix the goto or add the step", at=at)
        if step.next and step.next[-1].when is not None:
            at = _raw_branch(ctx, step.id, len(step.next) - 1)
            hint = "end 'next' with a branch without 'when' (where any other answer goes)"
            yield ctx.problem(step.id, "no_fallback", "the last branch has a condition", hint, at=at)
    last = steps[ctx.graph.order[-1]]
    if last.outcome is None and not last.next:
        yield ctx.problem(last.id, "no_outcome", "the last step has no outcome and no 'next'", "add an outcome")


def check_graph(ctx: LintContext) -> Iterator[Problem]:
    """Unreachable steps, steps with no way to an outcome, loops that no branch leaves."""
    graph = ctx.graph
    reachable = graph.reachable()
    for sid in graph.order:
        if sid not in reachable:
            hint = "add a branch that goes here, or delete the step"
            yield ctx.problem(sid, "unreachable", "no visit can reach this step", hint)
    in_dead_loop: set[str] = set()
    for group in graph.loops():
        says_only = all(graph.steps[s].ask is None for s in group)
        if graph.exits(group) and not says_only:
            continue
        in_dead_loop.update(group)
        if says_only:
            message = f"steps {group} loop through lines that ask nothing, so the visit would never move on"
        else:
            message = f"steps {group} form a loop that no branch leaves"
        yield ctx.problem(group[0], "loop_no_exit", message, "add a branch out of the loop to an outcome")
    ending = graph.reaching_outcome()
    for sid in graph.order:
        if sid in reachable and sid not in ending and sid not in in_dead_loop:
            hint = "give a branch a way to a step with an outcome"
            yield ctx.problem(sid, "no_outcome", "no path from this step ends at an outcome", hint)


def check_texts(ctx: LintContext) -> Iterator[Problem]:
    """Texts missing in one of the script's locales."""
    for step in ctx.graph.steps.values():
        for what, texts in step.texts():
            absent = [loc for loc in ctx.script.locales if not texts.get(loc)]
            if absent:
                hint = f"add the {', '.join(absent)} text"
                yield ctx.problem(step.id, "missing_text", f"{what} has no text for {absent}", hint)


def _conditions(step: Step) -> list[tuple[str, str, tuple[str, int]]]:
    """(what, expression, raw index) of every condition of a step."""
    found = [(f"condition '{b.when}'", b.when, ("next", i)) for i, b in enumerate(step.next) if b.when]
    found.extend((f"risk condition '{r.when}'", r.when, ("risk", i)) for i, r in enumerate(step.risk))
    return found


def _check_names(
    ctx: LintContext, step: Step, what: str, source: str, *, expression: bool, at: Any = None
) -> Problem | None:
    """A problem when a line or condition does not parse or names what the visit lacks."""
    try:
        names, answer_steps = condition_names(source, expression=expression)
    except TemplateSyntaxError as exc:
        hint = "fix the Jinja2 syntax" + ("" if expression else " ({{ ... }} around values)")
        return ctx.problem(step.id, "condition_parse", f"{what} does not parse: {exc.message}", hint, at=at)
    broken = rule_problems(parse_source(source, expression=expression), expression=expression)
    if broken:
        hint = "use answers, facts, {{ … }}, {% if %} and the listed filters only"
        return ctx.problem(step.id, "not_allowed", f"{what}: {broken[0]}", hint, at=at)
    unknown = sorted(names - CONTEXT_NAMES)
    if unknown:
        hint = f"use one of {', '.join(sorted(CONTEXT_NAMES))}"
        return ctx.problem(step.id, "undefined", f"{what} uses unknown name(s) {unknown}", hint, at=at)
    missing = sorted(answer_steps - ctx.graph.steps.keys())
    if missing:
        hint = "refer to the answers of steps that exist"
        message = f"{what} refers to answers of missing step(s) {missing}"
        return ctx.problem(step.id, "undefined", message, hint, at=at)
    return None


def check_templates(ctx: LintContext) -> Iterator[Problem]:
    """Lines and conditions that do not parse or use undefined names; lines too long for Telegram."""
    facts = sample_facts()
    before = ctx.graph.before_identity()
    answers = dict.fromkeys(ctx.graph.steps)
    for step in ctx.graph.steps.values():
        for what, expression, (key, index) in _conditions(step):
            at = _raw_item(ctx, step.id, key, index)
            found = _check_names(ctx, step, what, expression, expression=True, at=at)
            if found is not None:
                yield found
        for loc, source in (step.say or {}).items():
            if loc not in ctx.script.locales:
                continue
            found = _check_names(ctx, step, f"the {loc} line", source, expression=False)
            if found is not None:
                yield found
                continue
            base = restricted(facts) if step.id in before else dict(facts)
            context = {**base, "answers": answers, "answer": None, "locale": loc}
            try:
                text = compile_text(source)(context)
            except TemplateSyntaxError as exc:
                message = f"the {loc} line does not compile: {exc.message}"
                yield ctx.problem(step.id, "condition_parse", message, "fix the Jinja2 syntax")
                continue
            except SecurityError as exc:
                hint = "keep numbers, texts and widths small"
                yield ctx.problem(step.id, "not_allowed", f"the {loc} line is not allowed: {exc}", hint)
                continue
            except UndefinedError as exc:
                hint = "use a value the visit has"
                if step.id in before:
                    hint += " (nothing about the loan may be said before identity is confirmed)"
                yield ctx.problem(step.id, "undefined", f"the {loc} line uses an undefined value: {exc.message}", hint)
                continue
            except Exception:  # depends on answers the sample does not have; the compiler tries samples
                text = source
            hint_text = (step.ask.hint or {}).get(loc, "") if step.ask else ""
            size = len(text) + (len(hint_text) + 1 if hint_text else 0)
            if size > MESSAGE_CHARS:
                message = f"the {loc} line is {size} characters; Telegram allows {MESSAGE_CHARS}"
                yield ctx.problem(step.id, "message_too_long", message, "shorten it or split it over say-only steps")


def _literals(node: nodes.Node) -> set[str] | None:
    """The strings of a constant or a list/tuple of constants."""
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, nodes.List | nodes.Tuple):
        values = {i.value for i in node.items if isinstance(i, nodes.Const) and isinstance(i.value, str)}
        return values or None
    return None


def _subject(node: nodes.Node, own: str) -> str | None:
    """The step whose answer a node refers to (``answer`` or ``answers.<step>``)."""
    if isinstance(node, nodes.Name) and node.name == "answer":
        return own
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) and node.node.name == "answers":
        return str(node.attr)
    return None


def compared_literals(expression: str, own: str) -> list[tuple[str, set[str]]] | None:
    """(step, strings) for each comparison of an answer with string literals; None if it does not parse."""
    try:
        tree = parse_source(expression, expression=True)
    except TemplateSyntaxError:
        return None
    found: list[tuple[str, set[str]]] = []
    for compare in tree.find_all(nodes.Compare):
        operands = [compare.expr, *(op.expr for op in compare.ops)]
        for left, right in itertools.pairwise(operands):
            for subject, other in ((left, right), (right, left)):
                step, values = _subject(subject, own), _literals(other)
                if step is not None and values:
                    found.append((step, values))
    return found


def check_options(ctx: LintContext) -> Iterator[Problem]:
    """Conditions naming options a question does not have; choices no branch condition looks at."""
    steps = ctx.graph.steps
    for step in steps.values():
        named_here: set[str] = set()
        doubtful = False
        for what, expression, (key, index) in _conditions(step):
            compared = compared_literals(expression, step.id)
            doubtful = doubtful or compared is None
            at = _raw_item(ctx, step.id, key, index)
            for target, values in compared or []:
                ask = steps[target].ask if target in steps else None
                if ask is None:
                    continue
                if target == step.id and key == "next":
                    named_here |= values
                if ask.kind in (AnswerKind.CHOICE, AnswerKind.MULTI):
                    ids = {o.id for o in ask.options}
                    for value in sorted(values - ids):
                        doubtful = doubtful or target == step.id
                        message = f"{what} compares '{target}' with '{value}', which is not one of its options"
                        yield ctx.problem(step.id, "unhandled_option", message, f"use one of {sorted(ids)}", at=at)
                elif ask.kind in NUMERIC:
                    message = f"{what} compares the {ask.kind} answer of '{target}' with text {sorted(values)}"
                    hint = "compare with a number or true/false"
                    yield ctx.problem(step.id, "unhandled_option", message, hint, at=at)
        ask = step.ask
        conditional = any(b.when for b in step.next)
        if ask and ask.kind in (AnswerKind.CHOICE, AnswerKind.MULTI) and conditional and not doubtful:
            ids = {o.id for o in ask.options}
            if not ids & named_here:
                message = f"no branch condition names any of the options {sorted(ids)}; every answer takes the fallback"
                yield ctx.problem(step.id, "unhandled_option", message, "compare 'answer' with the option ids")


def check_callback_data(ctx: LintContext) -> Iterator[Problem]:
    """Buttons whose callback data ``a:<visit id>:<step>:<option>`` would exceed 64 bytes."""
    for step in ctx.graph.steps.values():
        if step.ask is None:
            continue
        options = [o.id for o in step.ask.options]
        options += {AnswerKind.YESNO: ["yes", "no"], AnswerKind.MULTI: ["done"]}.get(step.ask.kind, [])
        options += ["back", "skip"] if step.skippable else ["back"]
        longest = max(options, key=lambda o: len(o.encode()))
        size = len(f"a:{'9' * VISIT_ID_DIGITS}:{step.id}:{longest}".encode())
        if size > CALLBACK_BYTES:
            message = f"button '{longest}' needs {size} bytes of callback data; Telegram allows {CALLBACK_BYTES}"
            yield ctx.problem(step.id, "callback_data", message, "shorten the step id or the option id")


def check_flags(ctx: LintContext) -> Iterator[Problem]:
    """Risk flags outside the shared vocabulary (a warning: often a typo)."""
    for step in ctx.graph.steps.values():
        for index, rule in enumerate(step.risk):
            if rule.flag not in RISK_FLAGS:
                risks = ctx.raw_steps.get(step.id, {}).get("risk")
                at = risks[index] if isinstance(risks, list) and index < len(risks) else None
                message = f"risk flag '{rule.flag}' is not in the shared vocabulary"
                hint = f"use one of {', '.join(sorted(RISK_FLAGS))}, or add it to RISK_FLAGS"
                yield ctx.problem(step.id, "unknown_flag", message, hint, at=at, severity="warning")
    for across in ctx.script.across_visits:
        if across.flag not in RISK_FLAGS:
            message = f"cross-visit flag '{across.flag}' is not in the shared vocabulary"
            hint = f"use one of {', '.join(sorted(RISK_FLAGS))}, or add it to RISK_FLAGS"
            yield Problem(ctx.source, None, None, "unknown_flag", message, hint, severity="warning")


CHECKS: tuple[Callable[[LintContext], Iterator[Problem]], ...] = (
    check_structure,
    check_texts,
    check_templates,
    check_options,
    check_graph,
    check_callback_data,
    check_flags,
)
