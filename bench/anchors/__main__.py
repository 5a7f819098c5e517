"""Run the anchors of issue 13 in their own virtualenv: ``python -m bench.anchors [--quick] [--json PATH]``.

The peers visitbot is compared against (python-telegram-bot echo and ConversationHandler, aiogram-dialog
on memory and on Redis, echo + one commit on SQLite and PostgreSQL) are measured by ``bench/anchors/run.py``
with the pinned versions of ``bench/anchors/requirements.txt``, installed into ``.venv-anchors`` at the
project root so the project's own dependencies stay clean. The venv is made (``python3 -m venv``) and
installed once; a stamp file holding the requirements' hash makes it reinstall when they change. Every
argument goes through to ``run.py``; without ``--json`` the rows go to ``artefacts/bench/anchors.json``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
REQUIREMENTS = HERE / "requirements.txt"
RUN = HERE / "run.py"
VENV = ROOT / ".venv-anchors"
STAMP = VENV / ".installed"
DEFAULT_JSON = ROOT / "artefacts" / "bench" / "anchors.json"


def venv_python() -> Path:
    """The anchors' interpreter, the venv made and its requirements installed first if needed."""
    python = VENV / "bin" / "python"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
        return python
    if not python.exists():
        print(f"bench.anchors: creating {VENV}", file=sys.stderr, flush=True)
        subprocess.run([shutil.which("python3") or sys.executable, "-m", "venv", str(VENV)], check=True)
    print(f"bench.anchors: installing {REQUIREMENTS.relative_to(ROOT)} into {VENV.name}", file=sys.stderr, flush=True)
    STAMP.unlink(missing_ok=True)
    subprocess.run([str(python), "-m", "pip", "install", "-qq", "-r", str(REQUIREMENTS)], check=True)
    STAMP.write_text(wanted + "\n")
    return python


def main(argv: list[str]) -> int:
    """Make or reuse the venv, then run ``run.py`` in it with ``argv``; its exit status."""
    python = venv_python()
    if not any(arg == "--json" or arg.startswith("--json=") for arg in argv) and not {"-h", "--help"} & set(argv):
        DEFAULT_JSON.parent.mkdir(parents=True, exist_ok=True)
        argv = [*argv, "--json", str(DEFAULT_JSON)]
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(python), str(RUN), *argv], env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
