"""The message catalogue: every module finds the messages it shows, whatever was imported first."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dialogs.i18n import LOCALES, SHARED, message, register
from dialogs.schema import Outcome, Severity

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("catalogue_probe.py")
FRONT_ENDS = ["bot.telegram.app", "bot.telegram.supervisor", "bot.telegram.visits", "bot.console", "bot.cli"]


def project_modules() -> list[str]:
    """Every importable module of bot/, dialogs/ and storage/ (``__main__`` runs the CLI, so not it)."""
    names = []
    for package in ("bot", "dialogs", "storage"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts or parts[-1] == "__main__":
                continue
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def run_python(*args: str) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter in the project root (nothing imported yet)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_every_module_imported_alone_finds_every_message_it_uses() -> None:
    modules = project_modules()
    assert "bot.telegram.app" in modules and "dialogs.engine" in modules
    result = run_python(str(PROBE), *modules)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("module", FRONT_ENDS)
def test_front_end_imported_alone_names_every_outcome(module: str) -> None:
    code = textwrap.dedent(f"""
        import {module}
        from dialogs.i18n import message
        for outcome in {[o.value for o in Outcome]!r}:
            for locale in ("zh-CN", "en"):
                print(message("outcome_" + outcome, locale))
    """)
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr
    assert "已完成" in result.stdout and "wrong party" in result.stdout


def test_telegram_app_alone_renders_a_transcript() -> None:
    code = textwrap.dedent("""
        import bot.telegram.app
        from bot.telegram.supervisor import render_transcript
        record = {
            "id": 7, "borrower": {"code": "B001", "name": "张健"}, "officer": {"name": "王磊"},
            "script": {"id": "officer_phone_visit", "version": 1}, "outcome": "completed", "status": "finished",
            "flags": [], "answers": [], "transcript": [],
        }
        print(render_transcript(record, "zh-CN"))
    """)
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr
    assert "已完成" in result.stdout and "B001" in result.stdout


def test_shared_labels_cover_every_outcome_and_severity() -> None:
    for outcome in Outcome:
        assert set(SHARED[f"outcome_{outcome.value}"]) == set(LOCALES)
    for severity in Severity:
        assert message(f"severity_{severity.value}", "en") == severity.value


def test_a_key_registered_again_with_other_words_is_refused() -> None:
    register({"outcome_completed": dict(SHARED["outcome_completed"])})  # the same words: harmless
    with pytest.raises(ValueError, match="already registered"):
        register({"outcome_completed": {"zh-CN": "完成了", "en": "done"}})
    assert message("outcome_completed", "zh-CN") == "已完成"
