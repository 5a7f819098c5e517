"""A call-back becomes a reminder to the officer when it falls due."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.bot.telegram.harness import OFFICER_ID, cli, running
from tests.botapi import BotApiDouble

ZONES = ("Asia/Shanghai", "Europe/London", "America/New_York", "America/Los_Angeles", "Pacific/Auckland")


def daytime_zone() -> str:
    """A zone where it is between 10:00 and 18:00 now (the bot runs on the real clock)."""
    now = datetime.now(UTC)
    return next(zone for zone in ZONES if 10 <= now.astimezone(ZoneInfo(zone)).hour < 18)


async def test_a_due_call_back_reminds_the_officer_once(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    db = sqlite3.connect(env["VISITBOT_DATABASE_URL"].split("///", 1)[1])
    with db:  # calls and reminders keep the borrower's contact window: one where it is daytime now
        db.execute("UPDATE borrowers SET timezone = ? WHERE code = 'B001'", (daytime_zone(),))
    await asyncio.to_thread(cli, env, "console", "--borrower", "B001", stdin="3\n明天下午三点\n")
    with db:  # the agreed time has come (the reminder was queued with the visit, held until then)
        db.execute("UPDATE tasks SET due_at = '2026-01-01 07:00:00.000000'")
        db.execute("UPDATE outbox SET not_before = '2026-01-01 07:00:00.000000' WHERE kind = 'reminder'")
        for row_id, body in db.execute("SELECT id, payload FROM outbox WHERE kind = 'reminder'").fetchall():
            reminder = json.loads(body)
            reminder["params"]["at"] = {"time": "2026-01-01T07:00:00+00:00"}
            db.execute("UPDATE outbox SET payload = ? WHERE id = ?", (json.dumps(reminder), row_id))
    officer = double.user(OFFICER_ID, "王磊")
    async with running(dict(env, VISITBOT_REMINDER_INTERVAL="0.3"), tmp_path / "bot.log"):
        reminder = await officer.wait_for_message("该回电了", timeout=30)
        assert "B001" in (reminder.text or "") and "2026-01-01 15:00" in (reminder.text or "")
        await asyncio.sleep(1.5)  # several more checks: still one reminder
    assert sum("该回电了" in (m.text or "") for m in officer.messages) == 1
    assert db.execute("SELECT notified_at IS NOT NULL FROM tasks").fetchall() == [(1,)]
    sent = db.execute("SELECT count(*) FROM outbox WHERE kind = 'reminder' AND sent_at IS NOT NULL").fetchall()
    assert sent == [(1,)]
