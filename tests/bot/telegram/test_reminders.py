"""A call-back becomes a reminder to the officer when it falls due."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from tests.bot.telegram.harness import OFFICER_ID, cli, running
from tests.botapi import BotApiDouble


async def test_a_due_call_back_reminds_the_officer_once(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    await asyncio.to_thread(cli, env, "console", "--borrower", "B001", stdin="3\n明天下午三点\n")
    db = sqlite3.connect(env["VISITBOT_DATABASE_URL"].split("///", 1)[1])
    with db:  # the agreed time has come
        db.execute("UPDATE tasks SET due_at = '2026-01-01 07:00:00.000000'")
    officer = double.user(OFFICER_ID, "王磊")
    async with running(dict(env, VISITBOT_REMINDER_INTERVAL="0.3"), tmp_path / "bot.log"):
        reminder = await officer.wait_for_message("该回电了", timeout=30)
        assert "B001" in (reminder.text or "") and "2026-01-01 15:00" in (reminder.text or "")
        await asyncio.sleep(1.5)  # several more checks: still one reminder
    assert sum("该回电了" in (m.text or "") for m in officer.messages) == 1
    assert db.execute("SELECT notified_at IS NOT NULL FROM tasks").fetchall() == [(1,)]
