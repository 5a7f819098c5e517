"""Scripts are checked when they load: one clear error naming file, step and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogs.compiler import compile_script
from dialogs.errors import ScriptError
from dialogs.loader import load_and_compile, parse_script, read_script

HEAD = """
id: broken
version: 1
title: {zh-CN: 坏的, en: Broken}
identity_step: who
steps:
  - id: who
    say: {zh-CN: "是{{ borrower.name }}吗？", en: "Is that {{ borrower.name }}?"}
    ask: {kind: yesno}
    next:
      - {when: "answer", goto: ask_amount, confirms_identity: true}
      - {goto: bye}
  - id: bye
    say: {zh-CN: 再见, en: Bye}
    outcome: wrong_party
"""


def load(body: str) -> None:
    text = HEAD + body
    compile_script(parse_script(text, source="broken.yaml"), text, source_name="broken.yaml")


GOOD_TAIL = """
  - id: ask_amount
    say: {zh-CN: 多少？, en: "How much?"}
    ask: {kind: money}
  - id: done
    outcome: completed
"""


def test_the_fixture_itself_is_fine() -> None:
    load(GOOD_TAIL)


@pytest.mark.parametrize(
    ("body", "step", "words"),
    [
        (GOOD_TAIL.replace("goto", "goto") + "  - id: done\n    outcome: completed\n", "done", "duplicate"),
        (
            GOOD_TAIL.replace("ask: {kind: money}", "ask: {kind: money}\n    next: [{goto: nowhere}]"),
            "ask_amount",
            "missing step 'nowhere'",
        ),
        (GOOD_TAIL.replace("{zh-CN: 多少？", '{zh-CN: "多少{{ nope }}？"'), "ask_amount", "unknown name"),
        (GOOD_TAIL.replace("{zh-CN: 多少？", '{zh-CN: "多少{{ loan.amunt }}？"'), "ask_amount", "undefined"),
        (GOOD_TAIL.replace("How much?", "How much {{ x"), "ask_amount", "does not parse"),
        (
            GOOD_TAIL.replace(
                "ask: {kind: money}",
                "ask: {kind: money}\n    next: [{when: 'answer >', goto: done}, {goto: done}]",
            ),
            "ask_amount",
            "does not parse",
        ),
        (
            GOOD_TAIL.replace(
                "ask: {kind: money}",
                "ask: {kind: money}\n    next: [{when: 'answers.ghost', goto: done}, {goto: done}]",
            ),
            "ask_amount",
            "missing step",
        ),
        (GOOD_TAIL.replace(', en: "How much?"', ""), "ask_amount", "no text for locale"),
        (GOOD_TAIL.replace("{kind: money}", "{kind: choice}"), "ask_amount", "at least two options"),
        (GOOD_TAIL.replace("{kind: money}", "{kind: guess}"), "ask_amount", "kind"),
    ],
)
def test_defects_are_named(body: str, step: str, words: str) -> None:
    with pytest.raises(ScriptError) as caught:
        load(body)
    text = str(caught.value)
    assert "broken.yaml" in text and f"'{step}'" in text and words in text


def test_loan_details_before_identity_are_refused() -> None:
    text = HEAD.replace("是{{ borrower.name }}吗？", "是{{ borrower.name }}吗？您借了{{ loan.amount }}") + GOOD_TAIL
    with pytest.raises(ScriptError, match="before identity"):
        compile_script(parse_script(text, source="leak.yaml"), text)


def test_yaml_syntax_errors_name_the_line() -> None:
    with pytest.raises(ScriptError, match=r"x\.yaml: YAML does not parse at line 2"):
        parse_script("id: a\n  bad: [", source="x.yaml")


def test_last_step_needs_an_outcome() -> None:
    with pytest.raises(ScriptError, match="needs an outcome"):
        load("\n  - id: ask_amount\n    say: {zh-CN: 多少？, en: How much}\n    ask: {kind: money}\n")


def test_unreadable_files_are_one_script_error(tmp_path: Path) -> None:
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes((HEAD + GOOD_TAIL).encode("gbk"))
    with pytest.raises(ScriptError, match=r"gbk\.yaml: the file is not UTF-8 text"):
        read_script(gbk)
    with pytest.raises(ScriptError, match=r"missing\.yaml: cannot read the file"):
        read_script(tmp_path / "missing.yaml")


def test_compile_errors_through_the_catalog_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(HEAD + GOOD_TAIL.replace("{kind: money}", "{kind: money}\n    next: [{goto: nowhere}]"), "utf-8")
    with pytest.raises(ScriptError) as caught:
        load_and_compile(path)
    assert caught.value.line == 17 and f"{path}:17, step 'ask_amount': branch goes to missing step" in str(caught.value)
