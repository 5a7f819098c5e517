"""remember: and across_visits: are checked when a script loads: unknown measures, names and bad expressions are
one clear ScriptError; a rule holds only on visits that measured what it uses."""

from __future__ import annotations

import pytest

from dialogs.compiler import CompiledScript, compile_script
from dialogs.errors import ScriptError
from dialogs.loader import parse_script

BASE = """
id: t
version: 1
title: {zh-CN: 测试, en: Test}
remember:
  staff: {value: "answers.staff", label: {zh-CN: 员工人数, en: Staff}}
  outcome: "visit.outcome"
across_visits:
%s
steps:
  - id: staff
    say: {zh-CN: 几个人？, en: How many?}
    ask: {kind: integer, min: 0}
  - id: end
    say: {zh-CN: 谢谢, en: Thanks}
    outcome: completed
"""
GOOD = """  - flag: staff_collapse
    severity: high
    uses: [staff]
    when: "now.staff <= before.staff / 2"
"""


def compiled(rules: str, text: str = BASE) -> CompiledScript:
    source = text % rules
    return compile_script(parse_script(source), source)


def test_a_rule_holds_only_against_visits_that_measured_it() -> None:
    memory = compiled(GOOD).memory
    assert memory.hits({"staff": 2, "outcome": "completed"}, [{"outcome": "unreachable"}, {"staff": 8}])[0][1] == [1]
    assert memory.hits({"staff": 6}, [{"staff": 8}]) == []
    assert memory.hits({"staff": None}, [{"staff": 8}]) == []
    assert memory.hits({"staff": 1}, []) == []


@pytest.mark.parametrize(
    ("rules", "problem"),
    [
        (GOOD.replace("[staff]", "[staf]"), "does not remember"),
        (GOOD.replace("now.staff", "now.outcome"), "add them to 'uses'"),
        (GOOD.replace("now.staff", "loan.staff"), "unknown name(s) ['loan']"),
        (GOOD.replace("before.staff / 2", "before.staff /"), "does not parse"),
        (GOOD.replace("before.staff / 2", "before.staff / 0"), "division by zero"),
    ],
)
def test_bad_rules_are_refused_at_load(rules: str, problem: str) -> None:
    with pytest.raises(ScriptError, match="across_visits 'staff_collapse'") as caught:
        compiled(rules)
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("measure", "problem"),
    [
        ('"answers.nothing"', "missing step(s) ['nothing']"),
        ('"officers.name"', "unknown name(s) ['officers']"),
        ('"answers.staff +"', "does not parse"),
    ],
)
def test_bad_measures_are_refused_at_load(measure: str, problem: str) -> None:
    text = BASE.replace('"visit.outcome"', measure)
    with pytest.raises(ScriptError, match="remember 'outcome'") as caught:
        compiled(GOOD, text)
    assert problem in str(caught.value)


def test_a_measure_named_like_a_method_is_refused() -> None:
    with pytest.raises(ScriptError, match="cannot name a measure"):
        compiled(GOOD, BASE.replace('  outcome: "visit', '  values: "visit'))
