"""Every shipped script walked to each of its outcomes, in both locales (data: script_walks.py)."""

from __future__ import annotations

import pytest
from script_walks import LOCALES, WALKS, Walk, walk

from dialogs.catalog import ScriptCatalog
from dialogs.compiler import sample_facts
from dialogs.engine import VisitEnded, VisitEngine


@pytest.fixture(scope="module")
def catalog() -> ScriptCatalog:
    return ScriptCatalog()


CASES = [(script_id, spec) for script_id, specs in WALKS.items() for spec in specs]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(("script_id", "spec"), CASES, ids=[f"{s}-{w.name}" for s, w in CASES])
def test_walk_reaches_its_outcome(catalog: ScriptCatalog, script_id: str, spec: Walk, locale: str) -> None:
    engine = catalog.latest(script_id)
    walked = walk(engine, spec, locale)
    state = walked.turn.state
    assert state.outcome == spec.outcome
    assert state.step == spec.last_step
    assert {f["flag"] for f in state.flags} == spec.flags
    assert all(line.strip() for line in walked.said if line is not None)


def test_every_outcome_step_of_every_script_is_walked(catalog: ScriptCatalog) -> None:
    assert set(WALKS) == set(catalog.ids)
    for script_id in catalog.ids:
        engine: VisitEngine = catalog.latest(script_id)
        ends = {s.id for s in engine.script.steps if s.outcome is not None}
        assert ends == {spec.last_step for spec in WALKS[script_id]}, script_id


@pytest.mark.parametrize("script_id", ["officer_phone_visit", "visit_refusal", "overdue_reminder"])
def test_a_third_party_hears_nothing_about_the_loan(catalog: ScriptCatalog, script_id: str) -> None:
    engine = catalog.latest(script_id)
    facts = sample_facts()
    secrets = [facts["institution"], facts["loan"]["product"], "5万", "4,500", "贷款", "逾期", "loan", "overdue"]
    for locale in LOCALES:
        spec = next(s for s in WALKS[script_id] if s.outcome == "wrong_party")
        walked = walk(engine, spec, locale)
        spoken = " ".join(walked.said) + engine.start(facts, locale).prompt.text  # type: ignore[union-attr]
        assert not [s for s in secrets if s in spoken], spoken


def test_self_checkin_offers_a_call_back_task(catalog: ScriptCatalog) -> None:
    engine = catalog.latest("self_checkin")
    spec = next(s for s in WALKS["self_checkin"] if s.name == "call_me")
    walked = walk(engine, spec, "zh-CN")
    assert walked.turn.state.answers["wants_call"] is True
    assert str(walked.turn.state.answers["call_time"]).startswith("2026-11-25T15:00")
    ended = walked.turn.records[-1]
    assert isinstance(ended, VisitEnded) and ended.fields["wants_call"] is True  # the desk makes a task of it
    assert str(walked.turn.state.callback_at).startswith("2026-11-25T15:00")  # ... due then


def test_declining_consent_keeps_only_the_refusal(catalog: ScriptCatalog) -> None:
    engine = catalog.latest("self_checkin")
    spec = next(s for s in WALKS["self_checkin"] if s.name == "declined")
    walked = walk(engine, spec, "zh-CN")
    assert walked.turn.state.answers == {"consent": "decline"}
    assert [a.step for a in walked.answers] == ["consent"]


def test_overdue_reminder_states_amount_and_days_politely(catalog: ScriptCatalog) -> None:
    engine = catalog.latest("overdue_reminder")
    spec = next(s for s in WALKS["overdue_reminder"] if s.name == "promise")
    walked = walk(engine, spec, "zh-CN")
    facts = sample_facts()
    notice = engine.compiled.render("overdue_reason", engine.compiled.context("overdue_reason", facts, {}, "zh-CN"))
    assert "4,500元" in notice and "5天" in notice
    assert "2026年11月28日" in walked.said[-2] and "4,500元" in walked.said[-2]
