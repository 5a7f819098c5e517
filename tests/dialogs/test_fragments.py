"""Includes: question banks expanded into scripts before validation, errors still naming file and step."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogs.answers import Reply
from dialogs.compiler import compile_script, sample_facts
from dialogs.engine import Submit, VisitEngine
from dialogs.errors import ScriptError
from dialogs.fragments import expand_includes, has_includes
from dialogs.loader import parse_script, read_script

BANK = """
fragment: bank
questions:
  - id: mood
    say:
      officer: {zh-CN: "他心情如何？", en: "How is he?"}
      borrower: {zh-CN: "您心情如何？", en: "How are you?"}
    ask:
      kind: choice
      options:
        - {id: fine, label: {zh-CN: 好, en: Fine}}
        - {id: sad, label: {zh-CN: 不好, en: Sad}}
    next:
      - {when: "answer == 'sad'", goto: why_sad}
      - {goto: "@next"}
    followups:
      - id: why_sad
        say: {zh-CN: "为什么？", en: "Why?"}
        ask: {kind: text}
        next: [{goto: "@next"}]
  - id: age
    say:
      officer: {zh-CN: "他多大？", en: "How old is he?"}
    ask: {kind: integer}
"""

SCRIPT = """
id: uses_bank
version: 1
title: {zh-CN: 用题库, en: Uses the bank}
audience: AUDIENCE
steps:
  - id: hello
    say: {zh-CN: 你好, en: Hello}
  - include: bank
    QUESTIONS
  - id: done
    say: {zh-CN: 再见, en: Bye}
    outcome: completed
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "fragments").mkdir()
    (tmp_path / "fragments" / "bank.yaml").write_text(BANK, encoding="utf-8")
    return tmp_path


def script(folder: Path, questions: str = "questions: [mood, age]", audience: str = "officer") -> Path:
    path = folder / "uses_bank.yaml"
    path.write_text(SCRIPT.replace("QUESTIONS", questions).replace("AUDIENCE", audience), encoding="utf-8")
    return path


def test_include_expands_in_order_with_next_resolved(folder: Path) -> None:
    model, text = read_script(script(folder))
    assert [s.id for s in model.steps] == ["hello", "mood", "why_sad", "age", "done"]
    steps = {s.id: s for s in model.steps}
    assert [b.goto for b in steps["mood"].next] == ["why_sad", "age"]
    assert [b.goto for b in steps["why_sad"].next] == ["age"]
    assert steps["mood"].say == {"zh-CN": "他心情如何？", "en": "How is he?"}
    assert "include" not in text and "@next" not in text  # what a visit pins is self-contained


def test_the_script_chooses_questions_and_order(folder: Path) -> None:
    model, _ = read_script(script(folder, "questions: [age, mood]"))
    steps = {s.id: s for s in model.steps}
    assert [s.id for s in model.steps] == ["hello", "age", "mood", "why_sad", "done"]
    assert [b.goto for b in steps["mood"].next] == ["why_sad", "done"]


def test_borrower_scripts_get_the_borrower_wording(folder: Path) -> None:
    model, _ = read_script(script(folder, "questions: [mood]", audience="borrower"))
    assert next(s for s in model.steps if s.id == "mood").say == {"zh-CN": "您心情如何？", "en": "How are you?"}


def test_a_missing_wording_names_the_fragment_and_step(folder: Path) -> None:
    with pytest.raises(ScriptError, match=r"uses_bank\.yaml, step 'age'.*fragments/bank\.yaml.*'borrower' wording"):
        read_script(script(folder, "questions: [age]", audience="borrower"))


def test_override_replaces_keys_of_included_steps(folder: Path) -> None:
    path = script(folder, "questions: [mood]\n    override:\n      mood: {skippable: true, next: null}")
    model, _ = read_script(path)
    mood = next(s for s in model.steps if s.id == "mood")
    assert mood.skippable and mood.next == ()


@pytest.mark.parametrize(
    ("questions", "words"),
    [
        ("questions: [mood, height]", r"no question\(s\) \['height'\]"),
        ("questions: mood", "must be a list"),
        ("questions: [mood]\n    wording: alien", "wording must be one of"),
        ("questions: [mood]\n    colour: red", r"unknown include key\(s\) \['colour'\]"),
        ("questions: [mood]\n    override: {ghost: {skippable: true}}", r"override names step\(s\) \['ghost'\]"),
    ],
)
def test_include_errors_name_the_script_and_the_include(folder: Path, questions: str, words: str) -> None:
    with pytest.raises(ScriptError, match=rf"uses_bank\.yaml, step 'include bank': .*{words}"):
        read_script(script(folder, questions))


def test_an_unknown_fragment_is_named(folder: Path) -> None:
    path = script(folder)
    path.write_text(path.read_text(encoding="utf-8").replace("include: bank", "include: nobank"), encoding="utf-8")
    with pytest.raises(ScriptError, match="fragment 'nobank' not found"):
        read_script(path)


def test_next_past_the_last_step_is_refused(folder: Path) -> None:
    text = SCRIPT.replace("QUESTIONS", "questions: [mood]").replace("AUDIENCE", "officer")
    text = text[: text.index("  - id: done")]
    with pytest.raises(ScriptError, match="'@next' leads past the last step"):
        parse_script(text, source="short.yaml", folder=folder)


def test_errors_inside_included_steps_still_name_the_script_and_step(folder: Path) -> None:
    path = script(folder, "questions: [mood]\n    override:\n      mood: {ask: {kind: choice}}")
    with pytest.raises(ScriptError, match=r"uses_bank\.yaml:\d+, step 'mood': ask: .*at least two options"):
        read_script(path)
    path = script(folder, "questions: [mood]\n    override:\n      mood: {next: [{goto: nowhere}]}")
    model, text = read_script(path)
    with pytest.raises(ScriptError, match=r"uses_bank\.yaml, step 'mood': branch goes to missing step 'nowhere'"):
        compile_script(model, text, source_name=str(path))


def test_scripts_without_includes_keep_their_text(folder: Path) -> None:
    path = folder / "plain.yaml"
    text = "id: plain\nversion: 1\ntitle: {zh-CN: 简, en: Plain}\nsteps:\n  - {id: done, outcome: completed}\n"
    path.write_text(text, encoding="utf-8")
    assert read_script(path)[1] == text
    assert not has_includes({"steps": [{"id": "done"}]})
    data = {"steps": [{"id": "done"}]}
    assert expand_includes(data, folder=folder) is data


def test_an_expanded_script_runs(folder: Path) -> None:
    model, text = read_script(script(folder))
    engine = VisitEngine(compile_script(model, text))
    from datetime import datetime

    now = datetime(2026, 11, 23, 10, 0)
    turn = engine.start(sample_facts(), "en")
    for answer in ("2", "lost his dog", "40"):
        turn = engine.handle(turn.state, sample_facts(), Submit(Reply(text=answer)), now=now)
        assert turn.error is None
    assert turn.state.outcome == "completed"
    assert turn.state.history == ["mood", "why_sad", "age"]


def test_an_override_that_is_not_a_mapping_is_one_script_error(folder: Path) -> None:
    path = script(folder, "questions: [mood]\n    override:\n      mood: [1, 2]")
    with pytest.raises(ScriptError, match="override of 'mood' must map keys to values"):
        read_script(path)


@pytest.mark.parametrize("name", ["../bank", "bank\\u0000", "/etc/bank"])
def test_a_fragment_name_cannot_reach_outside_the_fragments_folder(folder: Path, name: str) -> None:
    path = script(folder)
    text = path.read_text(encoding="utf-8").replace("include: bank", f'include: "{name}"')
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScriptError, match="needs a fragment name"):
        read_script(path)
