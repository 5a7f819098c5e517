"""The visit engine: takes a visit's state and an input, returns what to show and what to record.

It never sends or stores anything itself; the front-ends show :class:`Turn` and the storage
layer applies its :attr:`Turn.records`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from dialogs.answers import JsonValue, Reply, answer_hint, decode_value, format_value, parse_answer
from dialogs.compiler import CompiledRule, CompiledScript
from dialogs.errors import InvalidAnswer, VisitClosed
from dialogs.i18n import message, pick, register
from dialogs.schema import AnswerKind, Outcome, Severity, Step

__all__ = [
    "AnswerRecorded",
    "AnswerUndone",
    "Back",
    "Cancel",
    "Event",
    "FlagRaised",
    "Prompt",
    "Record",
    "Skip",
    "Submit",
    "Turn",
    "VisitEnded",
    "VisitEngine",
    "VisitState",
]

register(
    {
        "engine_nothing_to_undo": {
            "zh-CN": "已经是第一个问题，没有可以撤回的回答。",
            "en": "This is the first question: nothing to undo.",
        },
        "engine_not_skippable": {
            "zh-CN": "这个问题不能跳过，请回答。",
            "en": "This question cannot be skipped; please answer it.",
        },
        "engine_undone": {"zh-CN": "已撤回上一个回答。", "en": "The last answer was undone."},
        "engine_completed_by_cancel": {
            "zh-CN": "取消时不能选择“已完成”，请选择其他结果。",
            "en": "A cancelled visit cannot be 'completed'; pick another outcome.",
        },
        "engine_callback_needs_time": {
            "zh-CN": "约定回访需要一个时间，例如“明天下午三点”。",
            "en": "A call-back needs a time, for example 'tomorrow 3pm'.",
        },
    }
)

LOOP_GUARD = 200


@dataclass
class VisitState:
    """A visit's dialog state as plain JSON-shaped data, stored after every step."""

    script_id: str
    script_version: int
    locale: str
    step: str
    history: list[str] = field(default_factory=list)
    answers: dict[str, JsonValue] = field(default_factory=dict)
    flags: list[dict[str, str]] = field(default_factory=list)
    outcome: str | None = None
    callback_at: str | None = None
    earlier: dict[str, list[JsonValue]] = field(default_factory=dict)
    """Answers replaced when a loop asked a step again, newest last: ``/back`` puts them back."""

    @property
    def finished(self) -> bool:
        """True once the visit has an outcome."""
        return self.outcome is not None

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-serialisable mapping: a copy, nothing shared with the state (as
        ``dataclasses.asdict`` makes it, at a fraction of its cost: it runs on every answer)."""
        return {name: _json_copy(getattr(self, name)) for name in _STATE_FIELDS}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VisitState:
        """Rebuild a state stored with :meth:`to_json`."""
        return cls(**data)


_STATE_FIELDS = tuple(f.name for f in fields(VisitState))


def _json_copy(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, tuples and scalars)."""
    if isinstance(value, dict):
        return {key: _json_copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_json_copy(item) for item in value)
    return value


@dataclass(frozen=True)
class Submit:
    """The user answered the current question."""

    reply: Reply


@dataclass(frozen=True)
class Back:
    """Undo the last answer and ask that question again."""


@dataclass(frozen=True)
class Skip:
    """Skip the current question (only where the script allows)."""


@dataclass(frozen=True)
class Cancel:
    """End the visit now with an outcome (call-backs need a time)."""

    outcome: Outcome
    callback_at: datetime | None = None


Event = Submit | Back | Skip | Cancel


@dataclass(frozen=True)
class AnswerRecorded:
    """An answer to keep: the question as shown, the raw input, the parsed value."""

    step: str
    question: str
    raw: str
    value: JsonValue
    display: str
    skipped: bool = False


@dataclass(frozen=True)
class AnswerUndone:
    """The latest answer to ``step`` was taken back, with the flags it raised (an earlier answer stays)."""

    step: str
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class FlagRaised:
    """A risk rule fired."""

    flag: str
    severity: Severity
    step: str
    note: str


@dataclass(frozen=True)
class VisitEnded:
    """The visit reached an outcome."""

    outcome: Outcome
    callback_at: str | None
    fields: dict[str, JsonValue] = field(default_factory=dict)
    """Answers of steps with ``sets: <field>`` (opt-out reason, preferred channel, ...)."""


Record = AnswerRecorded | AnswerUndone | FlagRaised | VisitEnded


@dataclass(frozen=True)
class Prompt:
    """The question to put now: the line to say, the kind and the choices."""

    step: str
    text: str
    kind: AnswerKind
    options: tuple[tuple[str, str], ...]
    hint: str
    can_back: bool
    can_skip: bool


@dataclass
class Turn:
    """What one input produced: lines said, the next prompt, records, or a re-ask message."""

    state: VisitState
    said: list[str] = field(default_factory=list)
    prompt: Prompt | None = None
    records: list[Record] = field(default_factory=list)
    error: str | None = None
    notice: str | None = None
    # -- script faults (issue 8, section 4): conditions that failed at run time and counted as false
    notes: list[str] = field(default_factory=list)
    """For the record (the desk keeps them in the transcript); never shown to the borrower."""

    @property
    def finished(self) -> bool:
        """True when the visit ended in this turn (or earlier)."""
        return self.state.finished


class VisitEngine:
    """Runs one compiled script; stateless (but for a memo of the last state's decoded answers), so one
    instance serves every visit."""

    def __init__(self, compiled: CompiledScript) -> None:
        self.compiled = compiled
        self.script = compiled.script
        self._memo: tuple[VisitState, dict[str, JsonValue], dict[str, Any]] | None = None

    # -- public API ---------------------------------------------------------------------------
    def start(self, facts: dict[str, Any], locale: str) -> Turn:
        """Begin a visit: the first question (after any say-only lines)."""
        state = VisitState(self.script.id, self.script.version, locale, self.script.first_step)
        turn = Turn(state)
        self._settle(turn, facts)
        if not state.finished:
            turn.prompt = self._prompt(state, facts)
        return turn

    def resume(self, state: VisitState, facts: dict[str, Any]) -> Turn:
        """Show the question a paused visit is waiting on."""
        turn = Turn(state)
        if not state.finished:
            turn.prompt = self._prompt(state, facts)
        return turn

    def handle(self, state: VisitState, facts: dict[str, Any], event: Event, *, now: datetime) -> Turn:
        """Apply one event to a visit's state."""
        if state.finished:
            raise VisitClosed(f"visit already ended as {state.outcome}")
        turn = Turn(state)
        if isinstance(event, Submit):
            self._submit(turn, facts, event.reply, now)
        elif isinstance(event, Skip):
            self._skip(turn, facts)
        elif isinstance(event, Back):
            self._back(turn, facts)
        else:
            self._cancel(turn, facts, event)
        if not state.finished and turn.prompt is None:
            turn.prompt = self._prompt(state, facts)
        return turn

    # -- events -------------------------------------------------------------------------------
    def _submit(self, turn: Turn, facts: dict[str, Any], reply: Reply, now: datetime) -> None:
        state = turn.state
        step = self.compiled.steps[state.step]
        assert step.ask is not None
        try:
            value = parse_answer(step.ask, reply, locale=state.locale, now=now)
        except InvalidAnswer as exc:
            turn.error = message(exc.key, state.locale, **exc.params)
            return
        raw = reply.text if reply.text is not None else _raw_of(reply)
        self._accept(turn, facts, step, raw, value, skipped=False)

    def _skip(self, turn: Turn, facts: dict[str, Any]) -> None:
        step = self.compiled.steps[turn.state.step]
        if not step.skippable:
            turn.error = message("engine_not_skippable", turn.state.locale)
            return
        self._accept(turn, facts, step, "", None, skipped=True)

    def _back(self, turn: Turn, facts: dict[str, Any]) -> None:
        state = turn.state
        if not state.history:
            turn.error = message("engine_nothing_to_undo", state.locale)
            return
        last = state.history.pop()
        earlier = state.earlier.get(last)
        if earlier:  # the step was answered before, in an earlier round of a loop: that answer stands again
            state.answers[last] = earlier.pop()
            if not earlier:
                del state.earlier[last]
        else:
            state.answers.pop(last, None)
        raised_by = str(len(state.history))
        undone = [f for f in state.flags if f.get("answer", raised_by) == raised_by and f["step"] == last]
        state.flags = [f for f in state.flags if f not in undone]
        state.step = last
        turn.records.append(AnswerUndone(last, tuple(f["flag"] for f in undone)))
        turn.notice = message("engine_undone", state.locale)

    def _cancel(self, turn: Turn, facts: dict[str, Any], event: Cancel) -> None:
        if event.outcome is Outcome.COMPLETED:
            turn.error = message("engine_completed_by_cancel", turn.state.locale)
            return
        if event.outcome is Outcome.CALLBACK and event.callback_at is None:
            turn.error = message("engine_callback_needs_time", turn.state.locale)
            return
        at = event.callback_at.isoformat() if event.callback_at else None
        self._finish(turn, event.outcome, at)

    # -- helpers ------------------------------------------------------------------------------
    def _accept(
        self, turn: Turn, facts: dict[str, Any], step: Step, raw: str, value: JsonValue, *, skipped: bool
    ) -> None:
        state = turn.state
        assert step.ask is not None
        context = self._context(state, facts, step.id)
        question = self.compiled.render(step.id, context)
        display = "" if skipped else format_value(step.ask, value, state.locale)
        raw = raw.replace("\x00", "")  # PostgreSQL cannot store NUL in text
        turn.records.append(AnswerRecorded(step.id, question, raw, value, display, skipped))
        if step.id in state.answers:  # asked again by a loop: keep the earlier answer for /back
            state.earlier.setdefault(step.id, []).append(state.answers[step.id])
        state.answers[step.id] = value
        state.history.append(step.id)
        raised_by = str(len(state.history) - 1)
        context = self._context(state, facts, step.id, answer=value)
        for compiled_rule in self.compiled.rules[step.id]:
            if skipped or not _holds(compiled_rule, context, turn.notes):
                continue
            rule = compiled_rule.rule
            note = pick(rule.note, state.locale) if rule.note else ""
            flag = {"flag": rule.flag, "severity": rule.severity.value, "step": step.id, "note": note}
            state.flags.append(flag | {"answer": raised_by})
            turn.records.append(FlagRaised(rule.flag, rule.severity, step.id, note))
        state.step = self.compiled.advance(step.id, context, turn.notes)
        self._settle(turn, facts)

    def _settle(self, turn: Turn, facts: dict[str, Any]) -> None:
        """Walk through say-only steps; stop at a question or an outcome."""
        state = turn.state
        for _ in range(LOOP_GUARD):
            step = self.compiled.steps[state.step]
            context = self._context(state, facts, step.id)
            if step.outcome is not None:
                line = self.compiled.render(step.id, context)
                if line:
                    turn.said.append(line)
                self._finish(turn, step.outcome, self._callback_at(state))
                return
            if step.ask is not None:
                return
            turn.said.append(self.compiled.render(step.id, context))
            state.step = self.compiled.advance(step.id, context, turn.notes)
        raise RuntimeError(f"script {self.script.id} loops through say-only steps at {state.step}")

    def _finish(self, turn: Turn, outcome: Outcome, callback_at: str | None) -> None:
        turn.state.outcome = outcome.value
        turn.state.callback_at = callback_at
        turn.prompt = None
        turn.records.append(VisitEnded(outcome, callback_at, self.fields(turn.state)))

    def fields(self, state: VisitState) -> dict[str, JsonValue]:
        """The answers of steps marked ``sets: <field>``, by field name."""
        found: dict[str, JsonValue] = {}
        for step_id, value in state.answers.items():
            target = self.compiled.steps[step_id].sets
            if target is not None and value is not None:
                found[target] = value
        return found

    def standing_flags(
        self, state: VisitState, facts: dict[str, Any], notes: list[str] | None = None
    ) -> list[FlagRaised]:
        """The step risk rules that hold on the state's answers as they are now (after a correction).

        Each answered step's rules (skipped ones have none), in the order first asked, see every answer
        the visit has now; the path through the script is not walked again."""
        found: list[FlagRaised] = []
        for step_id in dict.fromkeys(state.history):
            value = state.answers.get(step_id)
            if value is None:
                continue
            context = self._context(state, facts, step_id, answer=value)
            for compiled_rule in self.compiled.rules[step_id]:
                if _holds(compiled_rule, context, notes):
                    rule = compiled_rule.rule
                    note = pick(rule.note, state.locale) if rule.note else ""
                    found.append(FlagRaised(rule.flag, rule.severity, step_id, note))
        return found

    def _callback_at(self, state: VisitState) -> str | None:
        value = self.fields(state).get("callback_at")
        return value if isinstance(value, str) else None

    def _context(self, state: VisitState, facts: dict[str, Any], step_id: str, answer: Any = None) -> dict[str, Any]:
        step_ask = self.compiled.steps[step_id].ask
        decoded = decode_value(step_ask, answer) if step_ask is not None and answer is not None else answer
        return self.compiled.context(step_id, facts, self._decoded(state), state.locale, decoded)

    def _decoded(self, state: VisitState) -> dict[str, Any]:
        """Every step's answer as conditions compare it (None where unanswered): a fresh dict each time.

        A turn asks for it three or four times over one state; the last state's decoding is kept and
        reused while its answers are unchanged (a single entry, read and replaced whole, so visits
        interleaved on one engine only miss it)."""
        memo = self._memo
        if memo is not None and memo[0] is state and memo[1] == state.answers:
            return dict(memo[2])
        answers: dict[str, Any] = dict.fromkeys(self.compiled.steps)
        for key, value in state.answers.items():
            ask = self.compiled.steps[key].ask
            answers[key] = decode_value(ask, value) if ask is not None and value is not None else value
        self._memo = (state, dict(state.answers), answers)
        return dict(answers)

    def _prompt(self, state: VisitState, facts: dict[str, Any]) -> Prompt:
        step = self.compiled.steps[state.step]
        assert step.ask is not None
        context = self._context(state, facts, step.id)
        options = tuple((o.id, pick(o.label, state.locale)) for o in step.ask.options)
        return Prompt(
            step=step.id,
            text=self.compiled.render(step.id, context),
            kind=step.ask.kind,
            options=options,
            hint=answer_hint(step.ask, state.locale),
            can_back=bool(state.history),
            can_skip=step.skippable,
        )


def _holds(rule: CompiledRule, context: dict[str, Any], notes: list[str] | None = None) -> bool:
    """Whether a risk rule fires; a condition failing at run time counts as false and is noted."""
    return rule.holds(context, notes)


def _raw_of(reply: Reply) -> str:
    if reply.option is not None:
        return reply.option
    if reply.options is not None:
        return ",".join(reply.options)
    if reply.photo is not None:
        return reply.photo
    if reply.location is not None:
        return f"{reply.location[0]},{reply.location[1]}"
    return ""
