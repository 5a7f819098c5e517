"""Every code a shipped script can write into a record has a human label in zh-CN and en."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.desk.labels import (
    answered_by_label,
    channel_label,
    flag_label,
    label,
    reason_label,
    relief_label,
    task_label,
    task_note_label,
)
from dialogs.catalog import ScriptCatalog, default_scripts_dir
from dialogs.i18n import LOCALES, has_message, message

SCRIPTS = default_scripts_dir()
FILES = sorted([*SCRIPTS.glob("*.yaml"), *(SCRIPTS / "fragments").glob("*.yaml")])
LABELLED_FIELDS = {"opt_out_reason": "reason", "preferred_channel": "channel", "relief_request": "relief_kind"}
"""A step that fills one of these visit fields writes its option ids as codes of that kind."""


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every mapping in a YAML tree."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def codes_in(path: Path) -> set[tuple[str, str]]:
    """(kind, code) of every flag a file raises and every option of a field kept as a code."""
    found: set[tuple[str, str]] = set()
    for node in _walk(yaml.safe_load(path.read_text(encoding="utf-8"))):
        if isinstance(node.get("flag"), str):
            found.add(("flag", node["flag"]))
        kind = LABELLED_FIELDS.get(str(node.get("sets")))
        ask = node.get("ask")
        if kind and isinstance(ask, dict):
            found.update((kind, option["id"]) for option in ask.get("options", []))
    return found


SHIPPED = sorted({code for path in FILES for code in codes_in(path)})


def test_the_scripts_use_codes_that_need_labels() -> None:
    kinds = {kind for kind, _ in SHIPPED}
    assert kinds == {"flag", "reason", "channel", "relief_kind"}
    assert ("flag", "funds_diverted") in SHIPPED and ("channel", "self_service") in SHIPPED


@pytest.mark.parametrize(("kind", "code"), SHIPPED, ids=[f"{k}:{c}" for k, c in SHIPPED])
def test_every_code_of_every_shipped_script_has_a_label(kind: str, code: str) -> None:
    assert has_message(f"{kind}_{code}"), f"no label for {kind} '{code}': register {kind}_{code} in bot/desk/labels.py"
    zh, en = (label(kind, code, locale) for locale in LOCALES)
    assert zh != code and en != code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), f"{kind}_{code} is not Chinese in zh-CN: {zh!r}"
    assert "_" not in en, f"{kind}_{code} reads like an id in English: {en!r}"


def test_compiled_scripts_raise_only_labelled_flags() -> None:
    """The flags of the scripts as they run (includes resolved), not only as written."""
    catalog = ScriptCatalog()
    assert catalog.errors == []
    for script_id in catalog.ids:
        for step in catalog.latest(script_id).script.steps:
            for rule in step.risk:
                assert has_message(f"flag_{rule.flag}"), f"{script_id}/{step.id}: {rule.flag}"


def test_labels_read_as_words_in_each_language() -> None:
    assert flag_label("funds_diverted", "zh-CN") == "贷款资金挪用"
    assert flag_label("funds_diverted", "en") == "loan money diverted"
    assert reason_label("privacy,busy", "zh-CN") == "担心个人信息和隐私、工作太忙，没有时间"
    assert reason_label("privacy,busy", "en") == "privacy concerns, too busy"
    assert channel_label("self_service", "zh-CN") == "线上自助回访"
    assert channel_label("self", "en") == "borrower's self-service"
    assert channel_label(None, "en") == "-"
    assert task_label("callback", "zh-CN") == "回电"


def test_an_unknown_code_shows_as_itself() -> None:
    assert flag_label("new_flag_of_a_local_script", "zh-CN") == "new_flag_of_a_local_script"


def test_task_notes_in_words() -> None:
    assert task_note_label("callback", "funds_diverted, other_debt", "zh-CN") == "贷款资金挪用、其他负债"
    assert task_note_label("callback", "wants_call", "en") == "the borrower asked for a call"
    assert relief_label("extension: 6个月", "zh-CN") == "展期：6个月"
    assert relief_label("instalments", "en") == "instalment plan"
    assert task_note_label("callback", "客户说下午再打", "zh-CN") == "客户说下午再打"


def test_who_answered_in_words() -> None:
    assert answered_by_label("borrower", "zh-CN") == "借款人本人"
    assert answered_by_label("officer", "zh-CN") == "信贷员代答"
    assert answered_by_label("borrower", "en") == "the borrower themself"
    assert message("answered_by_officer", "en") == "the officer, for the borrower"


BORROWER_READS_NO = ("对方", "借款人", "the borrower", "(Did", "客户说")
"""Words of an aside to the officer: a borrower reading their own screen must not meet them."""
OFFICER_SAYS_NO = ("您的客户经理", "your loan officer")
"""An officer on the call is the loan officer: they do not speak of themself in the third person."""


def test_every_line_reads_right_in_its_voice() -> None:
    """One question bank, two voices: the borrower's screen (您, no asides) and the officer's call (I, 您)."""
    catalog = ScriptCatalog()
    wrong = []
    for script_id in catalog.ids:
        script = catalog.latest(script_id).script
        avoid = BORROWER_READS_NO if script.audience == "borrower" else OFFICER_SAYS_NO
        for step in script.steps:
            for what, texts in step.texts():
                if what.startswith("risk"):  # notes are for staff reading the record
                    continue
                wrong += [f"{script_id}/{step.id} {what}: {t}" for t in texts.values() if any(w in t for w in avoid)]
    assert wrong == []
