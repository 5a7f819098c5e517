"""Risk reports render for every outcome of every script, in both locales."""

from __future__ import annotations

from pathlib import Path

import pytest
from script_walks import LOCALES, WALKS, Walk, record_for, walk

from bot.desk.labels import flag_label
from bot.desk.report import render_report, report_template
from dialogs.catalog import ScriptCatalog, default_scripts_dir

OUTCOME_WORDS = {
    "zh-CN": {
        "completed": "已完成",
        "wrong_party": "非本人",
        "callback": "约定再回访",
        "refused": "拒绝",
        "opted_out": "不想回访",
        "unreachable": "无法联系",
    },
    "en": {
        "completed": "completed",
        "wrong_party": "wrong party",
        "callback": "call back later",
        "refused": "refused",
        "opted_out": "opted out",
        "unreachable": "unreachable",
    },
}
CASES = [(script_id, spec) for script_id, specs in WALKS.items() for spec in specs]


@pytest.fixture(scope="module")
def catalog() -> ScriptCatalog:
    return ScriptCatalog()


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(("script_id", "spec"), CASES, ids=[f"{s}-{w.name}" for s, w in CASES])
def test_report_renders(catalog: ScriptCatalog, script_id: str, spec: Walk, locale: str) -> None:
    engine = catalog.latest(script_id)
    record = record_for(engine, walk(engine, spec, "zh-CN"), "zh-CN")
    report = render_report(record, locale)
    assert report.startswith("# ") and "#42" in report
    assert "B0000 张三" in report and "李经理" in report and f"{script_id} v{engine.script.version}" in report
    assert f"**{OUTCOME_WORDS[locale][spec.outcome]}**" in report
    for flag in spec.flags:  # each flag by its name in words, never its code
        assert flag_label(flag, locale) in report and f"】{flag}" not in report
    assert "客户态度积极" in report
    high = "【高】" if locale == "zh-CN" else "【high】"
    assert (high in report) == any(f["severity"] == "high" for f in record["flags"])
    assert "\n\n\n" not in report
    key_answers = report.split("\n## ")[1]
    assert key_answers.count("\n- ") >= 1, report


def test_each_script_has_its_own_template() -> None:
    for script_id in WALKS:
        assert report_template(script_id).name == f"{script_id}.md.j2"
    assert report_template("something_new").name == "default.md.j2"


def test_the_default_template_lists_every_answer(catalog: ScriptCatalog) -> None:
    engine = catalog.latest("overdue_reminder")
    record = record_for(engine, walk(engine, WALKS["overdue_reminder"][0], "en"), "en")
    record["script"]["id"] = "something_new"
    report = render_report(record, "en")
    for answer in record["answers"]:
        assert answer["display"] in report


def test_report_times_are_local_and_callbacks_shown(catalog: ScriptCatalog) -> None:
    engine = catalog.latest("overdue_reminder")
    spec = next(s for s in WALKS["overdue_reminder"] if s.outcome == "callback")
    record = record_for(engine, walk(engine, spec, "zh-CN"), "zh-CN")
    report = render_report(record, "zh-CN", timezone="Asia/Shanghai")
    assert "2026年11月23日 10:00" in report  # 02:00 UTC
    assert "约定2026年11月25日 15:00" in report


def test_a_scripts_folder_may_bring_its_own_templates(tmp_path: Path, catalog: ScriptCatalog) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    for name in ("default.md.j2", "_macros.md.j2"):
        (reports / name).write_text((default_scripts_dir() / "reports" / name).read_text(encoding="utf-8"))
    (reports / "overdue_reminder.md.j2").write_text(
        '{% extends "default.md.j2" %}{% block key_answers %}- custom {{ visit.id }}\n{% endblock %}', encoding="utf-8"
    )
    engine = catalog.latest("overdue_reminder")
    record = record_for(engine, walk(engine, WALKS["overdue_reminder"][0], "en"), "en")
    assert "- custom 42" in render_report(record, "en", folder=tmp_path)


def test_a_template_using_a_missing_value_fails_loudly(tmp_path: Path, catalog: ScriptCatalog) -> None:
    from jinja2 import UndefinedError

    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "default.md.j2").write_text("{{ visit.nothing_here }}", encoding="utf-8")
    engine = catalog.latest("overdue_reminder")
    record = record_for(engine, walk(engine, WALKS["overdue_reminder"][0], "en"), "en")
    with pytest.raises(UndefinedError):
        render_report(record, "en", folder=tmp_path)
