"""The whole desk for browser tests: a prepared database, the Bot API double, ``visitbot bot`` and ``visitbot web``.

One stack per test module (it takes ~15 s to stand up): the database is prepared as the Telegram
harness does (migrations, demo data, the test staff and a second team), then gets this month's plan and
the visits of :mod:`tests.web.visits`; the bot runs against the double, so ``/web`` answers with a login
link and a send-back reaches the officer's chat; the web desk runs as a newcomer starts it, on a free
port of 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.desk import FixedClock
from bot.settings import Settings
from storage.db import make_engine, make_sessionmaker
from tests.bot.telegram.harness import (
    OFFICER_ID,
    OTHER_SUPERVISOR_ID,
    SUPERVISOR_ID,
    TOKEN,
    BotProcess,
    bot_env,
    cli,
    prepare,
)
from tests.botapi import BotApiDouble, FakeUser, WaitTimeout
from tests.conftest import PG_URL, drop_postgres_database, new_postgres_database
from tests.web.visits import WEST_OFFICER_ID, Planted, add_west_team, plan_month, plant

__all__ = ["OFFICER_ID", "OTHER_SUPERVISOR_ID", "SUPERVISOR_ID", "WEST_OFFICER_ID", "WebStack", "desk_stack"]

LINK = re.compile(r"https?://[^\s<>\"']+/login/[A-Za-z0-9_\-]+")
"""A login link in a bot message."""


def free_port() -> int:
    """A port of 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class WebProcess:
    """One ``visitbot web`` process; its log goes to a file for post-mortems."""

    def __init__(self, env: dict[str, str], log: Path, port: int) -> None:
        self.log_path = log
        self.base_url = f"http://127.0.0.1:{port}"
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "web", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def answering(self) -> bool:
        """Whether the desk answers HTTP (any status: a refused login is an answer)."""
        try:
            with urllib.request.urlopen(f"{self.base_url}/login/probe", timeout=1):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    async def wait_ready(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Wait until the desk answers; a process that died or never answers fails with its log."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await asyncio.to_thread(self.answering):
            if self.proc.poll() is not None or loop.time() > deadline:
                raise AssertionError(f"visitbot web did not come up:\n{self.output()[-3000:]}")
            await asyncio.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL after 10 s)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()

    def output(self) -> str:
        """What the process logged so far."""
        return self.log_path.read_text(errors="replace")


@dataclass
class WebStack:
    """The running desk: where it answers, who is who, and the planted visits."""

    double: BotApiDouble
    env: dict[str, str]
    settings: Settings
    bot: BotProcess
    web: WebProcess
    visits: Planted

    @property
    def base_url(self) -> str:
        """The desk's address, e.g. ``http://127.0.0.1:40123``."""
        return self.web.base_url

    def user(self, telegram_id: int) -> FakeUser:
        """The Telegram user with this id in the double (staff of :mod:`tests.web.visits`)."""
        names = {OFFICER_ID: "王磊", SUPERVISOR_ID: "刘主管", OTHER_SUPERVISOR_ID: "赵主管", WEST_OFFICER_ID: "孙平"}
        return self.double.user(telegram_id, names.get(telegram_id, "测试"))

    async def telegram_link(self, telegram_id: int) -> str:
        """Send ``/web`` as this person through the double and read the login link from the bot's reply."""
        person = self.user(telegram_id)
        await person.send("/web")
        reply = await person.wait_for_message(lambda m: bool(LINK.search(m.text or "")), timeout=15)
        found = LINK.search(reply.text or "")
        assert found is not None
        return found.group(0)

    async def cli_link(self, telegram_id: int) -> str:
        """``visitbot web-link <telegram id>``: the line it prints (run off the loop: the double keeps answering)."""
        return (await asyncio.to_thread(cli, self.env, "web-link", str(telegram_id))).strip()

    async def link(self, telegram_id: int, *, issued_ago: timedelta = timedelta(0)) -> str:
        """A link issued through the core, as ``/web`` and ``web-link`` do (in-process: no CLI start-up)."""
        from bot.desk.weblogin import WebLogins  # the desk's own module, read when a test needs it

        engine = make_engine(self.settings.database_url)
        try:
            clock = FixedClock(datetime.now(UTC) - issued_ago)
            return await WebLogins(make_sessionmaker(engine), self.settings, clock).link_for_telegram_id(telegram_id)
        finally:
            await engine.dispose()

    async def expired_link(self, telegram_id: int) -> str:
        """A link issued an hour ago, so its ``web_link_minutes`` are over."""
        return await self.link(telegram_id, issued_ago=timedelta(hours=1))

    def logs(self) -> str:
        """Both processes' logs (for an assertion's message)."""
        return f"--- bot ---\n{self.bot.output()[-3000:]}\n--- web ---\n{self.web.output()[-3000:]}"


@asynccontextmanager
async def _database(folder: Path) -> AsyncIterator[str]:
    """SQLite in ``folder`` (default) or a new PostgreSQL database (``VISITBOT_TEST_WEB_DATABASE=postgresql``)."""
    if os.environ.get("VISITBOT_TEST_WEB_DATABASE", "sqlite") != "postgresql":
        yield f"sqlite+aiosqlite:///{folder / 'desk.db'}"
        return
    name, url = await asyncio.to_thread(new_postgres_database, PG_URL)
    try:
        yield url
    finally:
        await asyncio.to_thread(drop_postgres_database, name)


@asynccontextmanager
async def desk_stack(folder: Path) -> AsyncIterator[WebStack]:
    """Stand the whole desk up in ``folder`` (database, files, logs) and take it down after."""
    async with BotApiDouble(token=TOKEN, bot_username="visit_test_bot") as double, _database(folder) as url:
        port = free_port()
        files = folder / "files"
        env = bot_env(url, double.base_url, VISITBOT_WEB_URL=f"http://127.0.0.1:{port}", VISITBOT_FILES_DIR=str(files))
        await asyncio.to_thread(prepare, env)
        web = WebProcess(env, folder / "web.log", port)  # it starts up (reading nothing) while the data goes in
        try:
            settings = Settings(database_url=url, files_dir=str(files), web_url=env["VISITBOT_WEB_URL"])
            await add_west_team(settings)
            await plan_month(settings)
            visits = await plant(settings)
        except BaseException:
            web.stop()
            raise
        for telegram_id in (OFFICER_ID, SUPERVISOR_ID, OTHER_SUPERVISOR_ID, WEST_OFFICER_ID):
            double.user(telegram_id)
        bot = BotProcess(env, folder / "bot.log")
        try:
            await web.wait_ready()
            try:  # the bot polls: from now on a /web or a send-back is answered without a start-up delay
                await double.wait_for_request("getUpdates", timeout=30)
            except WaitTimeout as exc:
                raise AssertionError(f"visitbot bot did not start polling:\n{bot.output()[-3000:]}") from exc
            yield WebStack(double, env, settings, bot, web, visits)
        finally:
            await asyncio.gather(asyncio.to_thread(web.stop), asyncio.to_thread(bot.stop))
            shutil.rmtree(files, ignore_errors=True)
