"""A slow Bot API call never holds the database: replies are sent after the session is closed."""

from __future__ import annotations

import time
from pathlib import Path

from tests.bot.telegram.harness import OFFICER_ID, SUPERVISOR_ID, running
from tests.botapi import BotApiDouble

HANG = 4.0
"""How long Telegram sits on the officer's reply (under the bot's per-call timeout, so it is delivered)."""


async def test_a_slow_refusal_does_not_hold_other_chats(
    env: dict[str, str], double: BotApiDouble, tmp_path: Path
) -> None:
    """An officer's /invite for a borrower not theirs, and a supervisor's /transcript of a visit they may not see,
    are refused after the database is released: while Telegram hangs on that refusal, other chats are served."""
    officer = double.user(OFFICER_ID, "王磊")
    supervisor = double.user(SUPERVISOR_ID, "刘主管")
    async with running(env, tmp_path / "bot.log"):
        await supervisor.send("/review")
        await supervisor.wait_for_message("没有待审核的回访", timeout=30)
        for command, refusal, asker, other, probe, answer in (
            ("/invite B999", "没有找到", officer, supervisor, "/review", "没有待审核的回访"),
            ("/transcript 999", "找不到回访 #999", supervisor, officer, "/invite B999", "没有找到"),
        ):
            double.hang("sendMessage", HANG, apply=True, chat_id=asker.user_id)
            since = len(double.requests)
            await asker.send(command)
            await double.wait_for_request(  # the refusal, now hanging in Telegram
                "sendMessage", lambda r, chat=asker.user_id: r.params.get("chat_id") == chat, since=since
            )
            started = time.monotonic()
            await other.send(probe)
            await other.wait_for_message(answer, timeout=15)
            waited = time.monotonic() - started
            assert waited < HANG / 2, f"{probe} waited {waited:.1f}s behind a slow send in another chat"
            await asker.wait_for_message(refusal, timeout=15)
