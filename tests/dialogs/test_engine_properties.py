"""Property tests of the engine over every shipped script: random answers, backs, skips and cancels.

Whatever a user sends, in any order, the visit is never stuck (a question is shown until it ends,
and a fitting answer always moves on), a refused input changes nothing, one ``/back`` puts the
state back exactly as it was before the last answer (also where a loop asks a step twice), every
step in the history has its answer, the records replayed as storage applies them give the same
answers and flags, and the state survives JSON.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, target
from hypothesis import strategies as st

from dialogs.answers import JsonValue, Reply
from dialogs.catalog import ScriptCatalog
from dialogs.compiler import compile_script, sample_facts
from dialogs.engine import (
    AnswerRecorded,
    AnswerUndone,
    Back,
    Cancel,
    Event,
    FlagRaised,
    Skip,
    Submit,
    Turn,
    VisitEngine,
    VisitState,
)
from dialogs.errors import VisitClosed
from dialogs.i18n import LOCALES
from dialogs.loader import parse_script
from dialogs.schema import AnswerKind, Outcome, Question

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
CATALOG = ScriptCatalog()
EVENTS_PER_VISIT = 40
GARBAGE = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "0", "99", "-1", "一亿四", "⑳⑳", "明天", "yes", "1,9", "1" * 40, "0月5日", "好\x00"]),
)


def fitting_answer(question: Question, option: int) -> Reply:
    """An answer the question takes (``option`` picks among the fitting ones)."""
    kind = question.kind
    if kind in (AnswerKind.CHOICE, AnswerKind.MULTI):
        chosen = question.options[option % len(question.options)].id
        return Reply(option=chosen) if option % 2 else Reply(text=str(option % len(question.options) + 1))
    if kind in (AnswerKind.INTEGER, AnswerKind.MONEY, AnswerKind.PERCENT):
        bounds = [b for b in (question.min, question.max) if isinstance(b, Decimal)] or [Decimal(1)]
        number = format(bounds[option % len(bounds)], "f")
        return Reply(text=number + ("%" if kind is AnswerKind.PERCENT else ""))
    typed = {
        AnswerKind.YESNO: ["是", "否", "y", "n"],
        AnswerKind.DATE: ["明天", "下周一", "2026-12-05", "今天"],
        AnswerKind.DATETIME: ["明天下午三点", "tomorrow 3pm", "2026-12-01 15:00"],
        AnswerKind.PHONE: ["13800138000", "010-12345678"],
        AnswerKind.TEXT: ["还可以", "生意不错，最近进了一批货", "x" * question.max_length],
    }
    if kind is AnswerKind.PHOTO:
        return Reply(photo=f"AgAC{option}")
    if kind is AnswerKind.LOCATION:
        return Reply(location=(31.23, 121.47)) if option % 2 else Reply(text="31.23,121.47")
    choices = typed[kind]
    return Reply(text=choices[option % len(choices)])


@st.composite
def events(draw: st.DrawFn, question: Question) -> tuple[str, Event]:
    """The next thing a user does at a question: mostly a fitting answer, sometimes anything else."""
    what = draw(st.sampled_from(["answer"] * 12 + ["garbage", "back", "back", "back", "skip", "cancel"]))
    if what == "answer":
        return what, Submit(fitting_answer(question, draw(st.integers(0, 11))))
    if what == "garbage":
        return what, Submit(Reply(text=draw(GARBAGE)))
    if what == "back":
        return what, Back()
    if what == "skip":
        return what, Skip()
    at = draw(st.none() | st.just(NOW + timedelta(days=1)))
    return what, Cancel(draw(st.sampled_from(list(Outcome))), at)


@dataclass
class Ledger:
    """Answers and flags as storage keeps them: rows added per record, the newest undone per back."""

    answers: list[tuple[str, JsonValue]] = field(default_factory=list)
    flags: list[tuple[str, str]] = field(default_factory=list)

    def apply(self, turn: Turn) -> None:
        """Apply a turn's records the way :mod:`bot.desk` and :mod:`storage.repositories` do."""
        for record in turn.records:
            if isinstance(record, AnswerRecorded):
                assert "\x00" not in record.raw, "PostgreSQL stores no NUL in text"
                self.answers.append((record.step, record.value))
            elif isinstance(record, FlagRaised):
                self.flags.append((record.step, record.flag))
            elif isinstance(record, AnswerUndone):
                self.answers.remove(next(a for a in reversed(self.answers) if a[0] == record.step))
                for code in record.flags:
                    self.flags.remove(next(f for f in reversed(self.flags) if f == (record.step, code)))

    def agrees_with(self, state: VisitState) -> None:
        """The live rows are the state's history, answers and flags."""
        assert Counter(step for step, _ in self.answers) == Counter(state.history)
        newest = {step: value for step, value in self.answers}
        assert newest == state.answers
        assert Counter(self.flags) == Counter((f["step"], f["flag"]) for f in state.flags)


def snapshot(state: VisitState) -> str:
    """The state as stored (JSON text), to compare states."""
    return json.dumps(state.to_json(), sort_keys=True, ensure_ascii=False, allow_nan=False)


def check_state(engine: VisitEngine, turn: Turn) -> None:
    """Invariants of any state: a prompt unless finished, answers for the history, JSON round trip."""
    state = turn.state
    assert (turn.prompt is None) == state.finished
    if turn.prompt is not None:
        assert turn.prompt.step == state.step and engine.compiled.steps[state.step].ask is not None
        assert turn.prompt.can_back == bool(state.history)
    assert set(state.answers) == set(state.history), "every step in the history has its answer, and only those"
    for step_id, values in state.earlier.items():
        assert state.history.count(step_id) == len(values) + 1, "one kept answer per earlier round"
    assert VisitState.from_json(json.loads(snapshot(state))) == state
    stored = state.to_json()  # what is stored is what dataclasses.asdict makes, and a copy
    assert stored == asdict(state) and list(stored) == [f.name for f in fields(state)]
    for name in ("history", "answers", "flags", "earlier"):
        assert stored[name] is not getattr(state, name)
    assert all(a is not b for a, b in zip(stored["flags"], state.flags, strict=True))


def play(engine: VisitEngine, data: st.DataObject, locale: str, facts: dict[str, Any]) -> None:
    """Drive one visit with drawn events, checking every invariant after each."""
    turn = engine.start(facts, locale)
    ledger, before_answers, deepest, rounds = Ledger(), [], 0, 0
    ledger.apply(turn)
    check_state(engine, turn)
    for _ in range(EVENTS_PER_VISIT):
        if turn.finished:
            with pytest.raises(VisitClosed):
                engine.handle(turn.state, facts, Back(), now=NOW)
            break
        assert turn.prompt is not None
        question = engine.compiled.steps[turn.prompt.step].ask
        assert question is not None
        what, event = data.draw(events(question), label=f"at {turn.prompt.step}")
        before, depth = snapshot(turn.state), len(turn.state.history)
        turn = engine.handle(VisitState.from_json(json.loads(before)), facts, event, now=NOW)
        ledger.apply(turn)
        check_state(engine, turn)
        ledger.agrees_with(turn.state)
        if turn.error is not None:
            assert what != "answer", f"a fitting answer is refused: {turn.error}"
            assert snapshot(turn.state) == before, "a refused input changes nothing"
            continue
        if isinstance(event, Submit | Skip):
            assert len(turn.state.history) == depth + 1, "one answer adds one step to the history"
            before_answers.append(before)
        if isinstance(event, Back):
            assert len(turn.state.history) == depth - 1, "one back undoes exactly one answer"
            assert snapshot(turn.state) == before_answers.pop(), "back restores the state before that answer"
            assert [type(r) for r in turn.records] == [AnswerUndone]
        if isinstance(event, Cancel):
            assert turn.finished and turn.state.outcome == event.outcome.value
        deepest = max(deepest, len(turn.state.history))
        rounds = max(rounds, *Counter(turn.state.history).values(), 0)
    target(float(deepest), label="steps answered")  # steer the search towards long visits and loops
    target(float(rounds), label="rounds of one step")


@pytest.mark.parametrize("script_id", CATALOG.ids)
@given(data=st.data(), locale=st.sampled_from(LOCALES), tier=st.sampled_from(["low", "medium", "high", None]))
def test_random_visits_keep_every_invariant(script_id: str, data: st.DataObject, locale: str, tier: str | None) -> None:
    facts = sample_facts()
    if tier is None:
        facts["borrower"].pop("risk_tier")
    else:
        facts["borrower"]["risk_tier"] = tier
    play(CATALOG.latest(script_id), data, locale, facts)


def test_one_back_in_the_can_pay_loop_undoes_one_answer() -> None:
    """overdue_reminder asks can_pay again after 'cannot' → 'neither': /back takes back only the second."""
    engine, facts = CATALOG.latest("overdue_reminder"), sample_facts()
    turn = engine.start(facts, "zh-CN")
    for text in ["1", "1", "3", "3"]:  # it is me; forgot; cannot say yet; neither extension nor instalments
        turn = engine.handle(turn.state, facts, Submit(Reply(text=text)), now=NOW)
        assert turn.error is None
    assert turn.prompt is not None and turn.prompt.step == "can_pay"
    turn = engine.handle(turn.state, facts, Submit(Reply(text="1")), now=NOW)  # within a week, this time
    assert turn.prompt is not None and turn.prompt.step == "promise_date"
    assert turn.state.history.count("can_pay") == 2
    turn = engine.handle(turn.state, facts, Back(), now=NOW)
    assert turn.prompt is not None and turn.prompt.step == "can_pay"
    assert turn.state.history == ["identity", "overdue_reason", "can_pay", "relief_request"]
    assert turn.state.answers["can_pay"] == "cannot", "the first round's answer stands"
    assert turn.records == [AnswerUndone("can_pay")]
    turn = engine.handle(turn.state, facts, Back(), now=NOW)
    assert turn.prompt is not None and turn.prompt.step == "relief_request"
    assert turn.state.answers == {"identity": "self", "overdue_reason": "forgot", "can_pay": "cannot"}


LOOP = """
id: loop
version: 1
title: {zh-CN: 循环, en: Loop}
steps:
  - id: sales
    say: {zh-CN: "销量下滑了吗？", en: "Are sales down?"}
    ask: {kind: yesno}
    risk:
      - {flag: sales_down, severity: medium, when: "answer"}
  - id: again
    say: {zh-CN: "再问一遍？", en: "Ask again?"}
    ask: {kind: yesno}
    next:
      - {when: "answer", goto: sales}
      - {goto: done}
  - id: done
    outcome: completed
"""


def test_one_back_in_a_loop_takes_back_only_the_flag_of_the_undone_answer() -> None:
    engine, facts = VisitEngine(compile_script(parse_script(LOOP, source="loop.yaml"), LOOP)), sample_facts()
    turn = engine.start(facts, "en")
    for text in ["yes", "yes", "yes"]:  # sales down (flag), ask again, sales down again (second flag)
        turn = engine.handle(turn.state, facts, Submit(Reply(text=text)), now=NOW)
    assert [f["flag"] for f in turn.state.flags] == ["sales_down", "sales_down"]
    turn = engine.handle(turn.state, facts, Back(), now=NOW)
    assert turn.records == [AnswerUndone("sales", ("sales_down",))]
    assert [f["flag"] for f in turn.state.flags] == ["sales_down"], "the first round's flag stands"
    assert turn.state.answers == {"sales": True, "again": True}
    turn = engine.handle(turn.state, facts, Submit(Reply(text="no")), now=NOW)  # not down after all
    assert [f["flag"] for f in turn.state.flags] == ["sales_down"]
    turn = engine.handle(turn.state, facts, Back(), now=NOW)
    assert turn.records == [AnswerUndone("sales", ())]


def test_a_state_stored_before_loops_were_kept_still_loads_and_backs() -> None:
    """States saved by earlier releases have no ``earlier`` field and untagged flags."""
    engine, facts = CATALOG.latest("overdue_reminder"), sample_facts()
    old = {
        "script_id": "overdue_reminder", "script_version": engine.script.version, "locale": "zh-CN",
        "step": "relief_request", "history": ["identity", "overdue_reason", "hardship_detail"],
        "answers": {"identity": "self", "overdue_reason": "hardship", "hardship_detail": "病了"},
        "flags": [{"flag": "repayment_pressure_high", "severity": "high", "step": "hardship_detail", "note": ""}],
        "outcome": None, "callback_at": None,
    }  # fmt: skip
    turn = engine.handle(VisitState.from_json(old), facts, Back(), now=NOW)
    assert turn.state.flags == [] and turn.records == [AnswerUndone("hardship_detail", ("repayment_pressure_high",))]
