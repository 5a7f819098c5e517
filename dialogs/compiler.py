"""Compile a validated script once into templates, conditions and a `transitions` machine."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from jinja2 import TemplateSyntaxError, UndefinedError
from transitions import Machine

from dialogs.across import Memory
from dialogs.errors import ScriptError
from dialogs.expressions import answer_samples, attribute_problems, kind_samples, probe, rule_problems
from dialogs.i18n import message, register
from dialogs.schema import RiskRule, Script, Step
from dialogs.templating import CONTEXT_NAMES, compile_condition, compile_text, condition_names, parse_source

__all__ = ["ADVANCE", "CompiledBranch", "CompiledRule", "CompiledScript", "compile_script", "sample_facts"]

ADVANCE = "advance"
Condition = Callable[[dict[str, Any]], bool]
Renderer = Callable[[dict[str, Any]], str]
log = logging.getLogger(__name__)
_TAGS = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)

register(
    {
        "script_condition_failed": {
            "zh-CN": "脚本条件“{condition}”（步骤 {step}）运行出错，已按“不成立”处理：{error}",
            "en": "The script condition '{condition}' (step {step}) failed and was taken as false: {error}",
        },
        "script_line_failed": {
            "zh-CN": "步骤 {step} 的话术无法生成，已显示原文：{error}",
            "en": "The line of step {step} could not be rendered and was shown as written: {error}",
        },
    }
)


def sample_facts() -> dict[str, Any]:
    """Facts used to render every line at load time, so a missing variable fails then, not mid-call."""
    return {
        "borrower": {
            "code": "B0000",
            "name": "张三",
            "phone": "+8613800138000",
            "business": "餐饮",
            "risk_tier": "low",
        },
        "loan": {
            "amount": Decimal("50000"),
            "disbursed_on": date(2026, 1, 15),
            "purpose": "进货",
            "product": "经营贷",
            "overdue_amount": Decimal("4500"),
            "overdue_days": 5,
        },
        "officer": {"name": "李经理", "phone": "+8613900139000"},
        "institution": "示例农商银行",
        "today": date(2026, 2, 1),
        "visit": {"id": 1, "channel": "phone"},
    }


def restricted(facts: dict[str, Any]) -> dict[str, Any]:
    """What may be shown before the borrower's identity is confirmed: no loan, no institution."""
    return {
        "borrower": {"name": facts["borrower"]["name"]},
        "officer": {"name": facts["officer"]["name"]},
        "today": facts["today"],
        "visit": facts.get("visit", {}),
    }


def run_condition(
    test: Condition, context: dict[str, Any], *, condition: str, step: str, notes: list[str] | None = None
) -> bool:
    """Test a condition at run time; one that fails is logged, taken as false and noted in ``notes``."""
    try:
        return bool(test(context))
    except Exception as exc:  # a failing condition must never stick a visit
        error = f"{type(exc).__name__}: {exc}"
        log.warning("condition %r at step %s failed, taken as false: %s", condition, step, error)
        if notes is not None:
            locale = str(context.get("locale") or "zh-CN")
            notes.append(message("script_condition_failed", locale, condition=condition, step=step, error=error))
        return False


@dataclass(frozen=True)
class CompiledBranch:
    """A branch with its condition compiled."""

    goto: str
    when: str | None
    test: Condition | None


@dataclass(frozen=True)
class CompiledRule:
    """A risk rule with its condition compiled."""

    rule: RiskRule
    test: Condition
    step: str = ""

    def holds(self, context: dict[str, Any], notes: list[str] | None = None) -> bool:
        """True when the rule fires; a condition that fails at run time counts as false (and is noted)."""
        return run_condition(self.test, context, condition=self.rule.when, step=self.step, notes=notes)


class _Holder:
    """The short-lived object a trigger moves: the visit's step, the condition context, the notes."""

    __slots__ = ("context", "notes", "state")

    def __init__(self, state: str, context: dict[str, Any], notes: list[str] | None) -> None:
        self.state = state
        self.context = context
        self.notes = notes


class CompiledScript:
    """A script ready to run: built once per script version and cached by the catalog."""

    def __init__(
        self,
        script: Script,
        source: str,
        *,
        source_name: str | None = None,
        lines: dict[str, int] | None = None,
        strict: bool = True,
    ) -> None:
        self.script = script
        self.strict = strict
        self.source = source
        self.source_name = source_name or script.id
        self.lines = lines or {}
        self.steps: dict[str, Step] = {}
        for step in script.steps:
            if step.id in self.steps:
                raise self._fail("duplicate step id", step.id)
            self.steps[step.id] = step
        self.order = [s.id for s in script.steps]
        self.branches: dict[str, list[CompiledBranch]] = {}
        self.rules: dict[str, list[CompiledRule]] = {}
        self.texts: dict[tuple[str, str], Renderer] = {}
        self._check_top()
        for step in script.steps:
            self._compile_step(step)
        if strict:
            self._check_say_loops()
        self.before_identity = self._steps_before_identity()
        if strict:
            self._render_samples()
            self._probe_conditions()
        self.memory = Memory(script, self.steps, self._fail, strict=strict)  # remember: / across_visits:
        self.machine = self._build_machine()

    # -- validation -----------------------------------------------------------------------------
    def _fail(self, problem: str, step: str | None = None) -> ScriptError:
        return ScriptError(problem, source=self.source_name, step=step, line=self.lines.get(step or ""))

    def _check_top(self) -> None:
        if self.script.first_step not in self.steps:
            raise self._fail(f"start step '{self.script.first_step}' does not exist")
        ident = self.script.identity_step
        if ident is not None:
            if ident not in self.steps:
                raise self._fail(f"identity_step '{ident}' does not exist")
            if not any(b.confirms_identity for b in self.steps[ident].next):
                raise self._fail("the identity step needs a branch with confirms_identity: true", ident)

    def _check_names(self, source: str, step: Step, what: str, *, expression: bool) -> None:
        try:
            names, answer_steps = condition_names(source, expression=expression)
        except TemplateSyntaxError as exc:
            raise self._fail(f"{what} does not parse: {exc.message}", step.id) from exc
        broken = rule_problems(parse_source(source, expression=expression), expression=expression)
        if broken and self.strict:
            raise self._fail(f"{what}: {broken[0]}", step.id)
        unknown = names - CONTEXT_NAMES
        if unknown:
            known = ", ".join(sorted(CONTEXT_NAMES))
            raise self._fail(f"{what} uses unknown name(s) {sorted(unknown)}; known: {known}", step.id)
        missing = answer_steps - self.steps.keys()
        if missing:
            raise self._fail(f"{what} refers to answers of missing step(s) {sorted(missing)}", step.id)

    def _compiled(self, factory: Callable[[str], Any], source: str, step: Step, what: str) -> Any:
        """``factory(source)``, or a ScriptError when Jinja refuses it."""
        try:
            return factory(source)
        except TemplateSyntaxError as exc:
            raise self._fail(f"{what} does not compile: {exc.message}", step.id) from exc

    def _compile_step(self, step: Step) -> None:
        for what, texts in step.texts():
            absent = [loc for loc in self.script.locales if not texts.get(loc)]
            if absent:
                raise self._fail(f"{what} has no text for locale(s) {absent}", step.id)
        if step.say:
            for loc in self.script.locales:
                self._check_names(step.say[loc], step, "the line", expression=False)
                self.texts[(step.id, loc)] = self._compiled(compile_text, step.say[loc], step, "the line")
        branches: list[CompiledBranch] = []
        for branch in step.next:
            if branch.goto not in self.steps:
                raise self._fail(f"branch goes to missing step '{branch.goto}'", step.id)
            test = None
            if branch.when is not None:
                what = f"condition '{branch.when}'"
                self._check_names(branch.when, step, what, expression=True)
                test = self._compiled(compile_condition, branch.when, step, what)
            branches.append(CompiledBranch(branch.goto, branch.when, test))
        if step.outcome is None:
            if not step.next:
                index = self.order.index(step.id)
                if index + 1 >= len(self.order):
                    raise self._fail("the last step needs an outcome or a 'next'", step.id)
                branches.append(CompiledBranch(self.order[index + 1], None, None))
            elif step.next[-1].when is not None:
                raise self._fail("the last branch must have no 'when' (the fallback)", step.id)
        self.branches[step.id] = branches
        rules = []
        for rule in step.risk:
            what = f"risk condition '{rule.when}'"
            self._check_names(rule.when, step, what, expression=True)
            rules.append(CompiledRule(rule, self._compiled(compile_condition, rule.when, step, what), step.id))
        self.rules[step.id] = rules

    def _check_say_loops(self) -> None:
        """Refuse a loop of steps that only say something: a visit would spin without asking."""
        says = {sid for sid, step in self.steps.items() if step.ask is None and step.outcome is None}
        done: set[str] = set()
        for start in sorted(says):
            path: list[str] = []
            todo: list[tuple[str, bool]] = [(start, True)]
            while todo:
                sid, entering = todo.pop()
                if not entering:
                    path.pop()
                    done.add(sid)
                    continue
                if sid in path:
                    loop = path[path.index(sid) :]
                    raise self._fail(f"steps {loop} loop through lines that ask nothing", loop[0])
                if sid in done:
                    continue
                path.append(sid)
                todo.append((sid, False))
                todo.extend((b.goto, True) for b in self.branches[sid] if b.goto in says)

    def _steps_before_identity(self) -> frozenset[str]:
        ident = self.script.identity_step
        if ident is None:
            return frozenset()
        seen = {self.script.first_step}
        todo = [self.script.first_step]
        while todo:
            current = todo.pop()
            for branch, raw in zip(self.branches[current], self._raw_next(current), strict=True):
                if raw is not None and raw.confirms_identity:
                    continue
                if branch.goto not in seen:
                    seen.add(branch.goto)
                    todo.append(branch.goto)
        return frozenset(seen)

    def _raw_next(self, step_id: str) -> list[Any]:
        step = self.steps[step_id]
        return list(step.next) if step.next else [None] * len(self.branches[step_id])

    def _render_samples(self) -> None:
        """Render every line with the sample facts and sample answers; a line that fails is refused."""
        facts = sample_facts()
        answers = answer_samples(self.steps)
        for (step_id, loc), render in self.texts.items():
            context = self.context(step_id, facts, answers, loc)
            try:
                render(context)
            except UndefinedError as exc:
                hint = " (nothing about the loan may be said before identity is confirmed)"
                extra = hint if step_id in self.before_identity else ""
                raise self._fail(f"line in {loc} uses an undefined value: {exc.message}{extra}", step_id) from exc
            except Exception as exc:  # any failure with the sample values is the script's
                problem = probe(render, [context]) or f"it fails: {exc}"
                raise self._fail(f"line in {loc}: {problem}", step_id) from exc

    def _probe_conditions(self) -> None:
        """Try every condition on sample answers of its question's kind (attributes checked first)."""
        facts = sample_facts()
        answers = answer_samples(self.steps)
        kinds = {sid: (s.ask.kind if s.ask else None) for sid, s in self.steps.items()}
        for step in self.script.steps:
            tests = [
                (f"condition '{b.when}'", b.when, b.test)
                for b in self.branches[step.id]
                if b.when is not None and b.test is not None
            ]
            tests += [(f"risk condition '{r.rule.when}'", r.rule.when, r.test) for r in self.rules[step.id]]
            for what, when, test in tests:
                samples = kind_samples(step.ask)
                contexts = [self.context(step.id, facts, answers, self.script.locales[0], s) for s in samples]
                tree = parse_source(when, expression=True)
                wrong = attribute_problems(tree, contexts[0], kinds, step.id)
                if wrong:
                    raise self._fail(f"{what}: {wrong[0]}", step.id)
                problem = probe(test, contexts)
                if problem is not None:
                    raise self._fail(f"{what}: {problem}", step.id)

    def _build_machine(self) -> Machine:
        machine = Machine(
            model=None,
            states=self.order,
            initial=None,
            auto_transitions=False,
            send_event=True,
        )
        for step_id, branches in self.branches.items():
            for branch in branches:
                conditions: list[str | Callable[..., bool | None]] = (
                    [self._condition(branch, step_id)] if branch.test else []
                )
                machine.add_transition(ADVANCE, step_id, branch.goto, conditions=conditions)
        return machine

    @staticmethod
    def _condition(branch: CompiledBranch, step_id: str) -> Callable[[Any], bool]:
        test, when = branch.test, branch.when or ""
        assert test is not None

        def check(event: Any) -> bool:
            holder: _Holder = event.model
            return run_condition(test, holder.context, condition=when, step=step_id, notes=holder.notes)

        return check

    # -- running --------------------------------------------------------------------------------
    def context(
        self, step_id: str, facts: dict[str, Any], answers: dict[str, Any], locale: str, answer: Any = None
    ) -> dict[str, Any]:
        """The template/condition context for a step (restricted before identity is confirmed)."""
        base = restricted(facts) if step_id in self.before_identity else dict(facts)
        base.update(answers=answers, answer=answer, locale=locale)
        return base

    def advance(self, step_id: str, context: dict[str, Any], notes: list[str] | None = None) -> str:
        """Fire the machine's ``advance`` event from ``step_id``; returns the next step.

        A branch condition that fails at run time counts as false and is noted in ``notes``.
        """
        holder = _Holder(step_id, context, notes)
        if not self.machine.events[ADVANCE].trigger(holder):
            raise self._fail("no branch matched", step_id)
        return holder.state

    def render(self, step_id: str, context: dict[str, Any], notes: list[str] | None = None) -> str:
        """The step's line in the context's locale ('' when the step says nothing).

        A line that fails at run time (a value the visit lacks) is logged, noted and shown as
        written, without its ``{{ … }}`` parts, so the visit goes on.
        """
        renderer = self.texts.get((step_id, context["locale"]))
        if renderer is None:
            return ""
        try:
            return renderer(context)
        except Exception as exc:  # a line that cannot be rendered must not stick a visit
            error = f"{type(exc).__name__}: {exc}"
            log.warning("line of step %s failed, shown as written: %s", step_id, error)
            if notes is not None:
                notes.append(message("script_line_failed", str(context["locale"]), step=step_id, error=error))
            step = self.steps[step_id]
            written = (step.say or {}).get(str(context["locale"]), "")
            return " ".join(_TAGS.sub("…", written).split())


def compile_script(
    script: Script,
    source: str,
    *,
    source_name: str | None = None,
    lines: dict[str, int] | None = None,
    strict: bool = True,
) -> CompiledScript:
    """Compile a validated script; raises :class:`ScriptError` naming the step and problem.

    ``lines`` (step id -> line in the file) lets the error name the line too. ``strict=False``
    (for a text pinned by visits in progress, accepted when it was published) skips the checks
    added since: the rules of lines and conditions, the sample runs and say-only loops. The
    sandbox bounds still hold when it runs, and a condition that fails counts as false.
    """
    return CompiledScript(script, source, source_name=source_name, lines=lines, strict=strict)
