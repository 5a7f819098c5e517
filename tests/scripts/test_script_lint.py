"""The linter finds one planted defect of each kind it claims to catch, at the right line and step."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogs.catalog import default_scripts_dir
from dialogs.lint import Problem, has_errors, lint_file, lint_paths, lint_text

FIXTURES = Path(__file__).parent / "fixtures" / "lint"

# fixture -> (problem code, step, severity)
DEFECTS = {
    "unreachable": ("unreachable", "orphan", "error"),
    "no_outcome": ("no_outcome", "detour", "error"),
    "loop_no_exit": ("loop_no_exit", "spin_a", "error"),
    "undefined_name": ("undefined", "why", "error"),
    "undefined_value": ("undefined", "why", "error"),
    "loan_before_identity": ("undefined", "who", "error"),
    "condition_parse": ("condition_parse", "ask_state", "error"),
    "unhandled_option": ("unhandled_option", "ask_state", "error"),
    "unnamed_options": ("unhandled_option", "ask_state", "error"),
    "duplicate_id": ("duplicate_id", "why", "error"),
    "duplicate_option": ("duplicate_id", "ask_state", "error"),
    "missing_text": ("missing_text", "why", "error"),
    "callback_data": ("callback_data", "why_the_business_has_been_doing_poorly", "error"),
    "message_too_long": ("message_too_long", "why", "error"),
    "missing_step": ("missing_step", "ask_state", "error"),
    "unknown_flag": ("unknown_flag", "ask_state", "warning"),
    "yaml_syntax": ("yaml", None, "error"),
    "bad_include": ("include", "include business_questions", "error"),
    "include_origin": ("missing_step", "changes", "error"),
}


def marked_line(path: Path) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if "# DEFECT" in line and not line.startswith("#"))


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_planted_defect_is_found_at_its_line(name: str) -> None:
    code, step, severity = DEFECTS[name]
    path = FIXTURES / f"{name}.yaml"
    problems = lint_file(path)
    hits = [p for p in problems if p.code == code and p.step == step]
    assert hits, "\n".join(map(str, problems))
    assert hits[0].line == marked_line(path)
    assert hits[0].severity == severity and hits[0].file == str(path)
    assert hits[0].message and hits[0].hint
    assert has_errors(problems) is (severity == "error")


def test_every_defect_fixture_is_listed() -> None:
    assert {p.stem for p in FIXTURES.glob("*.yaml")} == set(DEFECTS) | {"ok"}


def test_the_clean_fixture_is_clean() -> None:
    assert lint_file(FIXTURES / "ok.yaml") == []


def test_shipped_scripts_lint_clean() -> None:
    assert [str(p) for p in lint_paths([default_scripts_dir()])] == []


def test_problems_read_as_file_line_step_message_hint() -> None:
    problem = lint_file(FIXTURES / "unreachable.yaml")[0]
    text = str(problem)
    assert text.startswith(f"{FIXTURES / 'unreachable.yaml'}:22: error [unreachable] step 'orphan':")
    assert "(fix: " in text


def test_included_steps_name_their_fragment() -> None:
    problem = next(p for p in lint_file(FIXTURES / "include_origin.yaml") if p.code == "missing_step")
    assert "fragments/business_questions.yaml:" in problem.message


def test_several_problems_are_reported_at_once() -> None:
    text = (FIXTURES / "ok.yaml").read_text(encoding="utf-8")
    text = text.replace('en: "Why?"', "").replace("goto: done}", "goto: gone}")
    codes = {p.code for p in lint_text(text, source="two.yaml")}
    assert {"missing_text", "missing_step"} <= codes


def test_compiler_errors_become_problems_not_crashes() -> None:
    text = (FIXTURES / "ok.yaml").read_text(encoding="utf-8").replace("steps:\n", "identity_step: ghost\nsteps:\n")
    problems = lint_text(text, source="ghost.yaml")
    assert [p.code for p in problems] == ["missing_step"]


def test_a_fragment_file_is_not_linted_as_a_script() -> None:
    assert lint_file(default_scripts_dir() / "fragments" / "business_questions.yaml") == []


def test_a_folder_is_linted_without_its_fragments(tmp_path: Path) -> None:
    (tmp_path / "fragments").mkdir()
    (tmp_path / "fragments" / "x.yaml").write_text("fragment: x\nquestions: []\n", encoding="utf-8")
    (tmp_path / "a.yaml").write_text((FIXTURES / "unreachable.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    problems: list[Problem] = lint_paths([tmp_path])
    assert {p.file for p in problems} == {str(tmp_path / "a.yaml")}


def test_whatever_else_the_compiler_refuses_is_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    from dialogs.errors import ScriptError

    def refuse(*args: object, **kwargs: object) -> None:
        raise ScriptError("something new", source="ok.yaml", step="why")

    monkeypatch.setattr("dialogs.lint.compile_script", refuse)
    problems = lint_file(FIXTURES / "ok.yaml")
    assert [(p.code, p.step, p.message) for p in problems] == [("compile", "why", "something new")]
    assert problems[0].line is not None
