"""A job running when the bot stops is cancelled by APScheduler's shutdown (PTB waits for the jobs it
sees running, but an outbox poll can start between that wait and the shutdown): that is no error, and
the bot's log shows no traceback for it (the webhook tests check every bot log for one)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.telegram.outbox import quiet_job_log


async def test_a_job_cancelled_at_shutdown_logs_no_error(caplog: pytest.LogCaptureFixture) -> None:
    quiet_job_log()
    started = asyncio.Event()

    async def poll() -> None:
        started.set()
        await asyncio.sleep(30)

    async def broken() -> None:
        raise RuntimeError("a real failure")

    scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop())
    scheduler.add_job(broken)
    scheduler.add_job(poll)
    with caplog.at_level(logging.WARNING, logger="apscheduler"):
        scheduler.start()
        await asyncio.wait_for(started.wait(), 10)
        scheduler.shutdown(wait=False)  # as PTB's JobQueue.stop does: the running poll is cancelled
        await asyncio.sleep(0.05)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.exc_info[1].__class__ for r in errors if r.exc_info] == [RuntimeError], "a failing job still shows"
