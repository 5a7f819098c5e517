"""The engine on its own: branches, back/skip/cancel, risk rules, identity protection, bad input."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dialogs.answers import Reply
from dialogs.catalog import ScriptCatalog
from dialogs.compiler import compile_script, sample_facts
from dialogs.engine import (
    AnswerRecorded,
    AnswerUndone,
    Back,
    Cancel,
    FlagRaised,
    Skip,
    Submit,
    Turn,
    VisitEngine,
)
from dialogs.errors import VisitClosed
from dialogs.loader import parse_script
from dialogs.schema import Outcome

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(scope="module")
def engine() -> VisitEngine:
    return ScriptCatalog().latest("officer_phone_visit")


def facts() -> dict[str, Any]:
    return sample_facts()


def say(engine: VisitEngine, turn: Turn, *texts: str) -> Turn:
    for text in texts:
        turn = engine.handle(turn.state, facts(), Submit(Reply(text=text)), now=NOW)
        assert turn.error is None, (text, turn.error)
    return turn


def test_identity_first_shows_only_the_name(engine: VisitEngine) -> None:
    turn = engine.start(facts(), "zh-CN")
    assert turn.prompt is not None
    assert turn.prompt.step == "identity"
    assert "张三" in turn.prompt.text
    assert "示例农商银行" not in turn.prompt.text and "5万" not in turn.prompt.text


def test_wrong_party_ends_without_disclosing_the_loan(engine: VisitEngine) -> None:
    turn = say(engine, engine.start(facts(), "zh-CN"), "不是本人")
    assert turn.finished and turn.state.outcome == "wrong_party"
    spoken = " ".join(turn.said)
    for secret in ("示例农商银行", "5万", "贷款", "经营贷"):
        assert secret not in spoken


def test_not_convenient_asks_for_a_time_and_ends_as_callback(engine: VisitEngine) -> None:
    turn = say(engine, engine.start(facts(), "zh-CN"), "3")
    assert turn.prompt is not None and turn.prompt.step == "callback_time"
    turn = say(engine, turn, "明天下午三点")
    assert turn.state.outcome == "callback"
    assert turn.state.callback_at is not None and turn.state.callback_at.startswith("2026-11-24T15:00")


def test_introduction_names_the_loan_after_identity(engine: VisitEngine) -> None:
    turn = say(engine, engine.start(facts(), "zh-CN"), "1")
    assert turn.prompt is not None and turn.prompt.step == "introduction"
    assert "示例农商银行" in turn.prompt.text and "5万元" in turn.prompt.text and "2026年1月15日" in turn.prompt.text
    assert "贷后" not in turn.prompt.text  # never "we are doing a post-loan visit"


def test_poor_business_asks_why_and_flags_heavy_pressure(engine: VisitEngine) -> None:
    turn = say(engine, engine.start(facts(), "zh-CN"), "1", "记得", "差")
    assert turn.prompt is not None and turn.prompt.step == "worse_reason"
    turn = say(engine, turn, "销量下滑")
    assert turn.prompt is not None and turn.prompt.step == "repayment_pressure"
    turn = say(engine, turn, "压力很大")
    codes = {(f["flag"], f["severity"]) for f in turn.state.flags}
    assert ("business_worse", "medium") in codes and ("repayment_pressure_high", "high") in codes
    assert turn.prompt is not None and turn.prompt.step == "other_borrowing"


def test_other_borrowing_branch_and_private_lending_is_high(engine: VisitEngine) -> None:
    turn = say(engine, engine.start(facts(), "zh-CN"), "1", "1", "好", "有", "8万")
    assert any(f["flag"] == "other_debt" and f["severity"] == "medium" for f in turn.state.flags)
    turn = say(engine, turn, "民间借贷")
    assert any(f["flag"] == "other_debt" and f["severity"] == "high" for f in turn.state.flags)


def test_diversion_is_a_high_flag(engine: VisitEngine) -> None:
    turn = say(engine, engine.start(facts(), "zh-CN"), "1", "1", "好", "没有", "否", "用于其他用途")
    assert turn.records and any(isinstance(r, FlagRaised) and r.flag == "funds_diverted" for r in turn.records)
    assert turn.prompt is not None and turn.prompt.step == "loan_use_detail"


def full_visit(engine: VisitEngine, rapport: str) -> Turn:
    turn = say(engine, engine.start(facts(), "zh-CN"), "1", "1", "好", "没有", "没有", "1")
    turn = engine.handle(turn.state, facts(), Skip(), now=NOW)
    turn = engine.handle(turn.state, facts(), Skip(), now=NOW)
    return say(engine, turn, "是", "否", rapport)


def test_closing_invites_only_when_the_talk_went_well(engine: VisitEngine) -> None:
    warm = full_visit(engine, "是")
    assert warm.prompt is not None and warm.prompt.step == "invitation"
    done = say(engine, warm, "有兴趣" if False else "是")
    assert done.state.outcome == "completed" and "祝您生意兴隆" in done.said[-1]
    cold = full_visit(engine, "否")
    assert cold.state.outcome == "completed"
    assert not any("免费贷款咨询" in line for line in cold.said)


def test_bad_input_reasks_in_the_visit_language_and_keeps_answers(engine: VisitEngine) -> None:
    turn = say(engine, engine.start(facts(), "en"), "1", "1", "1", "yes")
    assert turn.prompt is not None and turn.prompt.step == "other_borrowing_amount"
    before = dict(turn.state.answers)
    bad = engine.handle(turn.state, facts(), Submit(Reply(text="lots")), now=NOW)
    assert bad.error and "amount" in bad.error.lower()
    assert bad.prompt is not None and bad.prompt.step == "other_borrowing_amount"
    assert bad.state.answers == before and not bad.records


def test_back_undoes_the_last_answer_and_its_flags(engine: VisitEngine) -> None:
    turn = say(engine, engine.start(facts(), "zh-CN"), "1", "1", "差")
    assert any(f["flag"] == "business_worse" for f in turn.state.flags)
    turn = engine.handle(turn.state, facts(), Back(), now=NOW)
    assert turn.prompt is not None and turn.prompt.step == "business_status"
    assert "business_status" not in turn.state.answers
    assert not turn.state.flags
    assert turn.records == [AnswerUndone("business_status", ("business_worse",))]
    turn = say(engine, turn, "好")
    assert turn.prompt is not None and turn.prompt.step == "other_borrowing"


def test_back_at_the_start_says_nothing_to_undo(engine: VisitEngine) -> None:
    turn = engine.handle(engine.start(facts(), "zh-CN").state, facts(), Back(), now=NOW)
    assert turn.error and "撤回" in turn.error


def test_skip_only_where_allowed(engine: VisitEngine) -> None:
    turn = engine.handle(engine.start(facts(), "zh-CN").state, facts(), Skip(), now=NOW)
    assert turn.error and "不能跳过" in turn.error
    assert turn.prompt is not None and turn.prompt.step == "identity"


def test_skip_records_a_skipped_answer(engine: VisitEngine) -> None:
    turn = say(engine, engine.start(facts(), "zh-CN"), "1", "1", "好", "没有", "没有", "1")
    assert turn.prompt is not None and turn.prompt.step == "products"
    turn = engine.handle(turn.state, facts(), Skip(), now=NOW)
    record = turn.records[0]
    assert isinstance(record, AnswerRecorded) and record.skipped and record.step == "products"


def test_cancel_with_outcome(engine: VisitEngine) -> None:
    turn = say(engine, engine.start(facts(), "zh-CN"), "1")
    refused = engine.handle(turn.state, facts(), Cancel(Outcome.REFUSED), now=NOW)
    assert refused.state.outcome == "refused" and refused.prompt is None
    with pytest.raises(VisitClosed):
        engine.handle(refused.state, facts(), Back(), now=NOW)


def test_cancel_as_callback_needs_a_time(engine: VisitEngine) -> None:
    state = engine.start(facts(), "zh-CN").state
    turn = engine.handle(state, facts(), Cancel(Outcome.CALLBACK), now=NOW)
    assert turn.error and not turn.finished
    turn = engine.handle(state, facts(), Cancel(Outcome.CALLBACK, NOW.replace(hour=16)), now=NOW)
    assert turn.state.outcome == "callback" and turn.state.callback_at == NOW.replace(hour=16).isoformat()


def test_cancel_cannot_claim_completed(engine: VisitEngine) -> None:
    turn = engine.handle(engine.start(facts(), "zh-CN").state, facts(), Cancel(Outcome.COMPLETED), now=NOW)
    assert turn.error and not turn.finished


def test_state_round_trips_through_json(engine: VisitEngine) -> None:
    import json

    from dialogs.engine import VisitState

    turn = say(engine, engine.start(facts(), "zh-CN"), "1", "1", "差", "2")
    again = VisitState.from_json(json.loads(json.dumps(turn.state.to_json())))
    assert again == turn.state
    resumed = engine.resume(again, facts())
    assert resumed.prompt is not None and resumed.prompt.step == "repayment_pressure"


def test_buttons_reply_with_option_ids(engine: VisitEngine) -> None:
    turn = engine.start(facts(), "zh-CN")
    turn = engine.handle(turn.state, facts(), Submit(Reply(option="self")), now=NOW)
    assert turn.prompt is not None and turn.prompt.step == "introduction"


def test_money_condition_compares_decimals(engine: VisitEngine) -> None:
    f = facts()
    f["loan"]["amount"] = Decimal("100000")
    turn = engine.start(f, "zh-CN")
    for text in ("1", "1", "好", "有", "8万"):
        turn = engine.handle(turn.state, f, Submit(Reply(text=text)), now=NOW)
    assert not any(fl["flag"] == "other_debt" for fl in turn.state.flags)


MINI = """
id: mini
version: 1
title: {zh-CN: 小测试, en: Mini}
identity_step: who
steps:
  - id: who
    say: {zh-CN: "是{{ borrower.name }}吗？", en: "Is that {{ borrower.name }}?"}
    ask: {kind: yesno}
    next:
      - {when: "answer", goto: amount, confirms_identity: true}
      - {goto: bye}
  - id: bye
    say: {zh-CN: 再见, en: Bye}
    outcome: wrong_party
  - id: amount
    say: {zh-CN: "借了{{ loan.amount | money }}", en: "You borrowed {{ loan.amount | money }}"}
    ask: {kind: percent}
    risk:
      - {flag: big, severity: low, when: "answer > 50"}
  - id: done
    outcome: completed
"""


def test_a_minimal_script_runs() -> None:
    script = parse_script(MINI, source="mini.yaml")
    engine = VisitEngine(compile_script(script, MINI))
    turn = say(engine, engine.start(facts(), "en"), "yes")
    assert turn.prompt is not None and "¥50,000" in turn.prompt.text
    turn = say(engine, turn, "60%")
    assert turn.state.outcome == "completed" and turn.state.flags[0]["flag"] == "big"


def test_one_engine_serving_interleaved_visits_and_corrections_answers_as_a_fresh_one(engine: VisitEngine) -> None:
    """The engine keeps the last state's decoded answers between the calls of a turn: visits taking
    turns on it, and an answer corrected in place, still see their own answers as they are now."""

    def fresh() -> VisitEngine:
        return VisitEngine(engine.compiled)

    shared = [engine.start(facts(), "zh-CN"), engine.start(facts(), "zh-CN")]
    alone = [fresh().start(facts(), "zh-CN"), fresh().start(facts(), "zh-CN")]
    paths = [("1", "记得", "差", "销量下滑", "压力很大", "有", "8万"), ("1", "1", "好", "有", "8万", "民间借贷", "否")]
    for texts in zip(*paths, strict=True):
        for n, text in enumerate(texts):
            shared[n] = engine.handle(shared[n].state, facts(), Submit(Reply(text=text)), now=NOW)
            alone[n] = fresh().handle(alone[n].state, facts(), Submit(Reply(text=text)), now=NOW)
            assert shared[n].error is None, (text, shared[n].error)
            assert (shared[n].prompt, shared[n].records, shared[n].state) == (
                alone[n].prompt,
                alone[n].records,
                alone[n].state,
            )
    state = shared[0].state
    assert any(flag.flag == "business_worse" for flag in engine.standing_flags(state, facts()))
    state.answers["business_status"] = "good"  # corrected in place, as the desk corrects an answer
    standing = engine.standing_flags(state, facts())
    assert standing == fresh().standing_flags(state, facts())
    assert not any(flag.flag == "business_worse" for flag in standing)


ECHO = """
id: echo
version: 1
title: {zh-CN: 复述, en: Echo}
identity_step: share
steps:
  - id: share
    say: {zh-CN: "占比多少？", en: "What share?"}
    ask: {kind: percent}
    next:
      - {goto: check, confirms_identity: true}
  - id: check
    say: {zh-CN: "您说的是{{ answers.share }}%，对吗？", en: "You said {{ answers.share }}%, right?"}
    ask: {kind: yesno}
    risk:
      - {flag: big_share, severity: low, when: "answers.share > 50"}
  - id: done
    outcome: completed
"""


def test_a_question_shows_the_answer_just_given_and_each_visit_its_own() -> None:
    engine = VisitEngine(compile_script(parse_script(ECHO, source="echo.yaml"), ECHO))
    low, high = engine.start(facts(), "en"), engine.start(facts(), "en")
    low = say(engine, low, "10%")
    high = say(engine, high, "90%")
    assert low.prompt is not None and low.prompt.text == "You said 10%, right?"
    assert high.prompt is not None and high.prompt.text == "You said 90%, right?"
    assert say(engine, low, "yes").state.flags == []
    high.state.answers["share"] = "40"  # corrected in place before the last answer
    assert say(engine, high, "yes").state.flags == []
