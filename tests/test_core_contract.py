"""The core (bot/desk/) stays front-end free and tells the time only through its injected clock."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FRONT_ENDS = {"telegram", "typer", "rich", "starlette", "fastapi", "uvicorn", "bot.telegram", "bot.console"}


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return list(config["tool"]["importlinter"]["contracts"])


def test_an_import_contract_forbids_front_ends_in_the_core() -> None:
    core = [c for c in _contracts() if "bot.desk" in c.get("source_modules", [])]  # type: ignore[operator]
    assert core, "no import-linter contract covers bot.desk"
    forbidden = set(core[0]["forbidden_modules"])  # type: ignore[call-overload]
    assert forbidden >= FRONT_ENDS


def test_the_import_contracts_are_kept() -> None:
    tool = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(tool)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and " 0 broken" in result.stdout


def test_the_core_reads_the_time_only_from_its_clock() -> None:
    wall_clock = re.compile(r"datetime\.now\(|datetime\.utcnow\(|utcnow\(\)|time\.time\(")
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "bot" / "desk").glob("*.py"))
        if path.name != "clock.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if wall_clock.search(line)
    ]
    assert offenders == []
