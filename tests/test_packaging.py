"""A non-editable install works: the built wheel, in a new virtualenv, migrates a database and checks the scripts.

The wheel is built from a copy of the sources and installed with ``--no-deps`` into a virtualenv that sees
the dependencies of the test's own environment (one path line, so the editable install of the work tree
stays invisible). Every command then runs outside the work tree, so only the wheel's files can be imported.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "bot", "dialogs", "storage", "scripts")
TABLES = {"borrowers", "loans", "visits", "answers", "script_versions", "processed_updates", "alembic_version"}


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command; a failure shows its output."""
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def build_wheel(tmp: Path) -> tuple[Path, str]:
    """The project's wheel, built from a copy of its sources (the work tree gets no build/ folder), and the log."""
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    dist = tmp / "dist"
    built = run(
        sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation", "-w", dist, src, cwd=tmp
    )
    (wheel,) = dist.glob("visitbot-*.whl")
    return wheel, built.stdout + built.stderr


def new_venv(tmp: Path) -> Path:
    """A virtualenv without pip whose only extra path is this environment's site-packages."""
    venv = tmp / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp)
    python = venv / "bin" / "python"
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp).stdout.strip()
    (Path(purelib) / "visitbot_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The built wheel and what the build printed."""
    return build_wheel(tmp_path_factory.mktemp("build"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, wheel: tuple[Path, str]) -> tuple[Path, Path]:
    """(the new virtualenv with the wheel installed, an empty working folder outside the work tree)."""
    tmp = tmp_path_factory.mktemp("wheel")
    venv = new_venv(tmp)
    args = ("-m", "pip", "--python", venv / "bin" / "python", "install", "-qq", "--no-deps", "--no-compile", wheel[0])
    run(sys.executable, *args, cwd=tmp)
    work = tmp / "work"
    work.mkdir()
    return venv, work


def clean_env(work: Path) -> dict[str, str]:
    """The environment of a user's shell: no PYTHONPATH, the database in the working folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VISITBOT_"))}
    env["VISITBOT_DATABASE_URL"] = f"sqlite+aiosqlite:///{work / 'wheel.db'}"
    return env


def test_building_warns_of_nothing_in_pyproject(wheel: tuple[Path, str]) -> None:
    # `make install` once printed ~90 lines of these (licence table, packages missing from the list).
    warnings = [
        line for line in wheel[1].splitlines() if re.search(r"(Deprecation|BuildBackend)Warning|is absent", line)
    ]
    assert warnings == []


def test_the_wheel_holds_every_package_and_runs_from_its_own_files(installed: tuple[Path, Path]) -> None:
    venv, work = installed
    code = "import bot.telegram.app, storage.migrate, scripts; print(bot.telegram.app.__file__, scripts.__file__)"
    where = run(venv / "bin" / "python", "-c", code, cwd=work, env=clean_env(work)).stdout
    assert str(ROOT) not in where and where.count(str(venv)) == 2


def test_db_upgrade_from_the_wheel_creates_the_tables(installed: tuple[Path, Path]) -> None:
    venv, work = installed
    run(venv / "bin" / "visitbot", "db", "upgrade", cwd=work, env=clean_env(work))
    with sqlite3.connect(work / "wheel.db") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        head = db.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    assert tables >= TABLES
    assert head == max(p.name.split("_")[0] for p in (ROOT / "storage" / "migrations" / "versions").glob("0*.py"))


def test_scripts_check_from_the_wheel_finds_the_shipped_scripts(installed: tuple[Path, Path]) -> None:
    venv, work = installed
    result = run(venv / "bin" / "visitbot", "scripts", "check", cwd=work, env=clean_env(work))
    shipped = len(list((ROOT / "scripts").glob("*.yaml")))
    assert f"已检查 {shipped} 个文件：0 个错误" in result.stdout  # VISITBOT_LOCALE is zh-CN by default
    code = "from dialogs.catalog import default_scripts_dir as d; print(*sorted(p.name for p in d().rglob('*.*')))"
    shipped_files = run(venv / "bin" / "python", "-c", code, cwd=work, env=clean_env(work)).stdout.split()
    sources = sorted(p.name for p in (ROOT / "scripts").rglob("*.*") if p.suffix in (".yaml", ".j2"))
    assert [f for f in shipped_files if not f.endswith((".py", ".pyc"))] == sources  # fragments, report templates
