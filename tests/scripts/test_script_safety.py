"""Bad scripts fail at load with one ScriptError; what still fails at run time never sticks a visit."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from bot.cli import app
from dialogs.answers import Reply
from dialogs.catalog import ScriptCatalog
from dialogs.compiler import compile_script
from dialogs.engine import Skip, Submit, VisitEngine
from dialogs.errors import ScriptError
from dialogs.lint import has_errors, lint_text
from dialogs.loader import parse_script

NOW = datetime(2026, 2, 1, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
SCRIPT = """
id: safety
version: 1
title: {zh-CN: 安全, en: Safety}
steps:
  - id: state
    say: {zh-CN: "LINE", en: "How is it?"}
    ask: {kind: KIND, OPTIONS}
    skippable: true
    risk:
      - {flag: business_worse, severity: medium, when: "RISK"}
  - id: done
    say: {zh-CN: "再见", en: "Bye"}
    outcome: completed
"""
CHOICE = "options: [{id: good, label: {zh-CN: 好, en: Good}}, {id: poor, label: {zh-CN: 差, en: Poor}}]"


def script(risk: str = "answer == 'poor'", *, line: str = "情况如何？", kind: str = "choice") -> str:
    """The test script with a risk condition, a zh-CN line and a question kind."""
    options = CHOICE if kind == "choice" else "min: 0"
    return SCRIPT.replace("RISK", risk).replace("LINE", line).replace("KIND", kind).replace("OPTIONS", options)


def load(text: str) -> VisitEngine:
    """Parse and compile like the catalog does."""
    return VisitEngine(compile_script(parse_script(text, source="safety.yaml"), text, source_name="safety.yaml"))


def refused(text: str) -> str:
    """The ScriptError message a script gets at load; ``scripts check`` must refuse it too."""
    with pytest.raises(ScriptError) as caught:
        load(text)
    assert has_errors(lint_text(text, source="safety.yaml"))
    return str(caught.value)


@pytest.mark.parametrize(
    ("risk", "words"),
    [
        ("answer.__class__", "'__class__' is private"),
        ("''.__class__.__mro__", "private"),
        ("answer | attr('__class__')", "filter 'attr' is not available"),
        ("answer | center(5) == 'x'", "filter 'center' is not available"),
        ("range(10) | length > 3", "unknown name"),
    ],
)
def test_sandbox_violations_are_one_script_error_at_load(risk: str, words: str) -> None:
    message = refused(script(risk))
    assert "safety.yaml" in message and "step 'state'" in message and words in message


def test_a_sandbox_violation_in_a_line_is_refused_at_load() -> None:
    message = refused(script(line="情况如何？{{ ''.__class__ }}"))
    assert "step 'state'" in message and "private" in message


@pytest.mark.parametrize(
    "hostile",
    [
        "'a' * 10 ** 9 == 'a'",
        "10 ** 100000000 > 1",
        "(2 ** 4000) * (2 ** 4000) > 1",
        "'{:>999999999}'.format(1) == 'x'",
        "'%999999999d' % 1 == 'x'",
        "answer | truncate(1000000000) == 'x'",
    ],
)
def test_huge_expressions_are_refused_at_load_in_no_time(hostile: str) -> None:
    started = time.perf_counter()
    message = refused(script(hostile))
    assert time.perf_counter() - started < 2
    assert "step 'state'" in message and ("too large" in message or "up to 10000" in message)


def test_a_huge_line_is_refused_at_load() -> None:
    message = refused(script(line="{{ 'a' * 10 ** 9 }}"))
    assert "too large" in message


@pytest.mark.parametrize(
    ("risk", "kind", "words"),
    [
        ("answer.value == 'poor'", "choice", "choice question, an option id (text); it has no 'value'"),
        ("answer / 0 > 1", "integer", "division by zero"),
        ("answer > 'many'", "integer", "it fails"),
        ("answers.done.amount > 1", "integer", "step 'done' asks no question"),
        ("borrower.nickname == 'x'", "integer", "has no 'nickname'"),
    ],
)
def test_conditions_are_checked_against_the_answer_kinds_at_load(risk: str, kind: str, words: str) -> None:
    message = refused(script(risk, kind=kind))
    assert "step 'state'" in message and words in message


def test_a_condition_that_fails_at_run_time_counts_as_false_and_is_noted() -> None:
    engine = load(script("100 / answer > 5", kind="integer"))  # fine for most answers, not for 0
    turn = engine.start({}, "zh-CN")
    turn = engine.handle(turn.state, {}, Submit(Reply(text="0")), now=NOW)
    assert turn.finished and not turn.state.flags
    assert len(turn.notes) == 1 and "100 / answer > 5" in turn.notes[0] and "不成立" in turn.notes[0]
    turn = load(script("100 / answer > 5", kind="integer")).start({}, "en")
    turn = engine.handle(turn.state, {}, Submit(Reply(text="10")), now=NOW)
    assert turn.state.flags and turn.notes == []


def test_a_branch_that_fails_at_run_time_takes_the_fallback() -> None:
    text = script("answer == 'poor'").replace(
        "    skippable: true\n",
        "    skippable: true\n    next:\n      - {when: \"answer.upper() == 'x'\", goto: done}\n",
    )
    text = text.replace("goto: done}\n", "goto: done}\n      - {goto: done}\n", 1)
    engine = load(text)
    turn = engine.handle(engine.start({}, "en").state, {}, Skip(), now=NOW)  # answer is none: .upper() fails
    assert turn.finished and "answer.upper()" in turn.notes[0]


def test_one_bad_file_is_skipped_and_named_by_scripts_check(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(script(), encoding="utf-8")
    bad = script("answer.value == 'poor'").replace("id: safety", "id: other")
    (tmp_path / "bad.yaml").write_text(bad, encoding="utf-8")
    (tmp_path / "gbk.yaml").write_bytes(script().replace("id: safety", "id: gbk").encode("gbk"))
    catalog = ScriptCatalog(tmp_path)
    assert catalog.ids == ["safety"]
    assert sorted(Path(e.source).name for e in catalog.errors) == ["bad.yaml", "gbk.yaml"]
    assert any("not UTF-8" in str(e) for e in catalog.errors)
    assert any("bad.yaml:6, step 'state': risk condition" in str(e) for e in catalog.errors)
    result = CliRunner().invoke(app, ["scripts", "check", str(tmp_path)])
    assert result.exit_code == 1
    output = result.output.replace("\n", "")
    assert "bad.yaml" in output and "it has no 'value'" in output and "gbk.yaml" in output


def test_script_errors_name_file_line_and_step() -> None:
    text = script().replace("kind: choice, " + CHOICE, "kind: choice")
    with pytest.raises(ScriptError) as caught:
        parse_script(text, source="safety.yaml")
    assert caught.value.line == 6 and str(caught.value).startswith("safety.yaml:6, step 'state': ask")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("id: x\nversion: " + "9" * 5000 + "\n", "YAML does not parse"),
        ("id: x\nsteps: " + "[" * 3000 + "]" * 3000 + "\n", "YAML does not parse"),
        ("- just\n- a list\n", "must be a YAML mapping"),
    ],
)
def test_unloadable_yaml_is_one_script_error(text: str, words: str) -> None:
    with pytest.raises(ScriptError, match=words):
        parse_script(text, source="odd.yaml")


def test_a_loop_of_lines_that_ask_nothing_is_refused_at_load() -> None:
    text = script().replace(
        "steps:\n",
        "steps:\n  - id: hello\n    say: {zh-CN: 您好, en: Hello}\n    next: [{goto: again}]\n"
        "  - id: again\n    say: {zh-CN: 再说一次, en: Again}\n"
        "    next: [{when: \"borrower.name == 'x'\", goto: state}, {goto: hello}]\n",
    )
    assert "loops through say-only steps" not in refused(text)
    assert "['again', 'hello'] loop through lines that ask nothing" in refused(text)


def test_a_line_that_fails_at_run_time_is_shown_as_written() -> None:
    text = script(kind="integer").replace(
        '    say: {zh-CN: "再见", en: "Bye"}', '    say: {zh-CN: "再见", en: "Paid {{ answers.state | money }}, bye"}'
    )
    engine = load(text)
    turn = engine.handle(engine.start({}, "en").state, {}, Skip(), now=NOW)  # no amount: money(None) fails
    assert turn.finished and turn.said == ["Paid …, bye"]


@pytest.mark.parametrize(
    "hostile",
    [
        "('a' * 20000) | replace('a', 'b' * 20000) == 'x'",
        "('a' * 20000).replace('a', 'b' * 20000) == 'x'",
        "(('a' * 20000) | list) | join('b' * 20000) == 'x'",
        "('{0}' * 5000).format('a' * 20000) == 'x'",
        "('%s' * 5000) % (('a' * 20000,) * 5000) == 'x'",
        "((['a' * 20000] * 20000) | string) == 'x'",
    ],
)
def test_texts_built_from_bounded_parts_stay_bounded(hostile: str) -> None:
    started = time.perf_counter()
    assert "too large" in refused(script(hostile))
    assert time.perf_counter() - started < 2


def test_only_listed_methods_may_be_called() -> None:
    assert "the method 'expandtabs' is not available" in refused(script("answer.expandtabs(9999) == 'x'"))
    load(script("answer.upper().startswith('P')"))


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("{% for c in borrower.name %}{% for d in borrower.name %}x{% endfor %}{% endfor %}", "'{% for %}'"),
        ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "'{% macro %}'"),
        ("{% include 'x.j2' %}", "'{% include %}'"),
        ("{% set x = 1 %}{{ x }}", "'{% set %}'"),
    ],
)
def test_lines_may_not_loop_or_pull_in_templates(line: str, words: str) -> None:
    message = refused(script(line=line))
    assert words in message and "{% if %} only" in message


def test_lines_may_use_if() -> None:
    engine = load(script(line="{% if borrower.name %}您好{{ borrower.name }}{% else %}您好{% endif %}"))
    assert engine.start({"borrower": {"name": "张三"}}, "zh-CN").prompt is not None
