"""Run ``visitbot bot`` as a subprocess against the local Bot API double, as in production."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

TOKEN = "4242:TESTtoken"
OFFICER_ID = 7001
SUPERVISOR_ID = 7002
OTHER_SUPERVISOR_ID = 7003
STRANGER_ID = 7999


def cli(env: dict[str, str], *args: str, stdin: str = "") -> str:
    """Run a ``visitbot`` command and return its output (fails the test on a non-zero exit)."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args], env=env, input=stdin, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"visitbot {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def bot_env(database_url: str, api_base: str, **extra: str) -> dict[str, str]:
    """Environment for the bot process: database, token, the double's URLs."""
    env = dict(os.environ)
    env.update(
        VISITBOT_DATABASE_URL=database_url,
        VISITBOT_TELEGRAM_TOKEN=TOKEN,
        VISITBOT_TELEGRAM_API_URL=api_base,
        VISITBOT_TELEGRAM_FILE_URL=api_base.replace("/bot", "/file/bot"),
        VISITBOT_LOCALE="zh-CN",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


SQLITE = "sqlite+aiosqlite:///"
_template: list[Path] = []
"""A SQLite database prepared once per test run; each test gets a copy (three CLI runs saved per test)."""


def prepare(env: dict[str, str]) -> None:
    """Migrate, load demo data, and make the test officer (owning the demo borrowers of 王磊) and supervisors.

    A SQLite database is a copy of one prepared the same way once per run; PostgreSQL is prepared afresh."""
    url = env["VISITBOT_DATABASE_URL"]
    if not url.startswith(SQLITE):
        _prepare_with_cli(env)
        return
    if not _template:
        folder = Path(tempfile.mkdtemp(prefix="visitbot-template-"))
        template = folder / "prepared.db"
        _prepare_with_cli({**env, "VISITBOT_DATABASE_URL": f"{SQLITE}{template}"})
        _template.append(template)
    shutil.copyfile(_template[0], url.removeprefix(SQLITE))


def _prepare_with_cli(env: dict[str, str]) -> None:
    """Prepare the database as a newcomer would, through the ``visitbot`` commands."""
    cli(env, "db", "upgrade")
    cli(env, "demo", "load", "--officer-telegram-id", str(OFFICER_ID), "--supervisor-telegram-id", str(SUPERVISOR_ID))
    cli(
        env,
        "users",
        "add",
        "--telegram-id",
        str(OTHER_SUPERVISOR_ID),
        "--role",
        "supervisor",
        "--name",
        "赵主管",
        "--team",
        "城西支行",
    )


class BotProcess:
    """One ``visitbot bot`` process; its log goes to a file for post-mortems."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.log_path = log
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "bot", *args], env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, nothing confirmed to the Bot API."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()

    def output(self) -> str:
        """What the process logged so far."""
        return self.log_path.read_text(errors="replace")


@asynccontextmanager
async def running(env: dict[str, str], log: Path, *args: str) -> AsyncIterator[BotProcess]:
    """A bot process for the duration of an ``async with`` block; stopped off the event loop, so the
    double (on this loop) keeps answering the bot's last calls while it shuts down."""
    process = BotProcess(env, log, *args)
    try:
        yield process
    finally:
        await asyncio.to_thread(process.stop)


Seeded = TypeVar("Seeded")


@asynccontextmanager
async def seeded_bot(
    folder: Path, seed: Callable[[str], Awaitable[Seeded]]
) -> AsyncIterator[tuple[Any, dict[str, str], Seeded]]:
    """The Bot API double, a migrated SQLite database filled by ``seed(database_url)``, and the bot polling it:
    yields (double, env, what ``seed`` returned) once the bot asks for updates."""
    from tests.botapi import BotApiDouble

    async with BotApiDouble(token=TOKEN, bot_username="visit_test_bot") as double:
        env = bot_env(f"sqlite+aiosqlite:///{folder / 'bot.db'}", double.base_url)
        await asyncio.to_thread(prepare, env)
        seeded = await seed(env["VISITBOT_DATABASE_URL"])
        since = len(double.requests)
        async with running(env, folder / "bot.log"):
            await double.wait_for_request("getUpdates", since=since, timeout=60)
            yield double, env, seeded


async def until(predicate: object, timeout: float = 15.0) -> None:  # noqa: ASYNC109
    """Poll a zero-argument predicate until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    assert callable(predicate)
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


Turn = tuple[str, str]
"""(text the bot shows, what the officer does: ``press:<button>`` or a text to send)."""

CHANGES_TO_END: list[Turn] = [
    ("主营业务", "press:否"),
    ("用在哪儿", "press:按约定用途使用"),
    ("信贷业务种类", "/skip"),
    ("需要", "想要续贷"),
    ("续贷的打算", "press:是"),
    ("介绍给我", "press:否"),
    ("聊得顺利", "press:否"),
]
"""The phone visit from the 'changes' question to its end."""

OTHER_BORROWING_TO_END: list[Turn] = [
    ("另外筹借资金", "press:是"),
    ("借了多少", "很多"),
    ("金额", "5万"),
    ("从哪里借", "press:银行"),
    *CHANGES_TO_END,
]
"""The phone visit from 'other borrowing' (with a bad amount re-asked) to its end."""


async def converse(user: Any, turns: list[Turn]) -> str | None:
    """Play turns: wait for each question, then press or type; returns the last press's query id."""
    last = None
    for shown, act in turns:
        await user.wait_for_message(shown)
        if act.startswith("press:"):
            last = await user.press(act.removeprefix("press:"))
        else:
            await user.send(act)
    return last
