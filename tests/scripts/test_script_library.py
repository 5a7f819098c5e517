"""The shipped script library: every script loads, compiles and renders every line in both locales."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from script_walks import LOCALES, WALKS, facts_for

from dialogs.catalog import ScriptCatalog, default_scripts_dir
from dialogs.compiler import compile_script
from dialogs.engine import VisitState
from dialogs.loader import parse_script, read_script

SCRIPTS = default_scripts_dir()
SHIPPED = sorted(p.stem for p in SCRIPTS.glob("*.yaml"))
FRAGMENTS = sorted((SCRIPTS / "fragments").glob("*.yaml"))


@pytest.fixture(scope="module")
def catalog() -> ScriptCatalog:
    return ScriptCatalog()


def test_the_library_is_complete(catalog: ScriptCatalog) -> None:
    expected = {"officer_phone_visit", "onsite_visit", "self_checkin", "visit_refusal", "overdue_reminder"}
    expected |= {"promise_checkin"}
    assert set(SHIPPED) == expected
    assert set(catalog.ids) == expected  # fragments are not loaded as scripts


@pytest.mark.parametrize("script_id", SHIPPED)
@pytest.mark.parametrize("locale", LOCALES)
def test_every_line_renders(catalog: ScriptCatalog, script_id: str, locale: str) -> None:
    """Each line of each step, with the answers the walks give (so answer-dependent lines render too)."""
    path = SCRIPTS / f"{script_id}.yaml"
    script, text = read_script(path)
    engine = catalog.latest(script_id)
    assert engine.script == script
    compile_script(script, text, source_name=str(path))
    answers: dict[str, object] = {}
    for spec in WALKS[script_id]:
        from script_walks import walk

        answers.update(walk(engine, spec, locale).turn.state.answers)
    facts = facts_for(WALKS[script_id][0])
    state = VisitState(script_id, script.version, locale, script.first_step, answers=answers)  # type: ignore[arg-type]
    for step in script.steps:
        if step.say is None:
            continue
        line = engine.compiled.render(step.id, engine._context(state, facts, step.id))
        assert line.strip(), (step.id, locale)
        assert "{{" not in line and "None" not in line, (step.id, locale, line)


def test_officer_phone_visit_v1_is_unchanged_by_the_move_to_includes() -> None:
    before = Path(__file__).parent / "fixtures" / "officer_phone_visit_v1_before_includes.yaml"
    old = parse_script(before.read_text(encoding="utf-8"), source=str(before))
    new, _ = read_script(SCRIPTS / "officer_phone_visit.yaml")
    assert new.steps == old.steps  # step for step the same (v2 only adds remember: / across_visits:)
    assert new.version == 2 and new.remember and not old.remember


@pytest.mark.parametrize("script_id", SHIPPED)
def test_pinned_text_is_self_contained(catalog: ScriptCatalog, script_id: str) -> None:
    engine = catalog.latest(script_id)
    source = catalog.source(script_id, engine.script.version)
    assert "include:" not in source and "@next" not in source
    assert parse_script(source, source="pinned", folder=Path("/nonexistent")) == engine.script


def _native_steps(path: Path) -> set[str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {s["id"] for s in data["steps"] if "id" in s}


def _bank_steps(path: Path) -> set[str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    ids = set()
    for question in data["questions"]:
        ids.add(question["id"])
        ids.update(f["id"] for f in question.get("followups", []))
    return ids


def test_bank_questions_are_included_not_copied() -> None:
    bank = set().union(*(_bank_steps(p) for p in FRAGMENTS))
    for script_id in SHIPPED:
        copied = _native_steps(SCRIPTS / f"{script_id}.yaml") & bank
        assert not copied, (script_id, copied)


def test_the_ten_question_topics_are_all_in_the_bank() -> None:
    data = yaml.safe_load((SCRIPTS / "fragments" / "business_questions.yaml").read_text(encoding="utf-8"))
    assert {q["topic"] for q in data["questions"]} == set(range(11))  # 0 = the opening question


def test_borrowers_read_the_borrower_wording(catalog: ScriptCatalog) -> None:
    officer = catalog.latest("officer_phone_visit").script
    borrower = catalog.latest("self_checkin").script
    say = {s.id: s.say for s in officer.steps}
    mine = {s.id: s.say for s in borrower.steps}
    assert say["business_status"] != mine["business_status"]
    assert mine["business_status"] and "您" in mine["business_status"]["zh-CN"]
    assert borrower.audience == "borrower"


def test_every_bank_question_is_asked_by_some_script(catalog: ScriptCatalog) -> None:
    asked = {s.id for script_id in catalog.ids for s in catalog.latest(script_id).script.steps}
    for path in FRAGMENTS:
        assert _bank_steps(path) <= asked, path.name


OVERDUE_NEVER = ["起诉", "法院", "坐牢", "上门", "家人", "单位", "后果自负", "黑名单", "借钱", "网贷", "贷款还"]
OVERDUE_NEVER_EN = ["sue", "court", "prison", "family", "employer", "blacklist", "borrow from", "consequences"]


def test_the_overdue_reminder_never_threatens() -> None:
    script, _ = read_script(SCRIPTS / "overdue_reminder.yaml")
    for step in script.steps:
        for text in (step.say or {}).values():
            lowered = text.lower()
            assert not [w for w in OVERDUE_NEVER + OVERDUE_NEVER_EN if w in lowered], (step.id, text)
