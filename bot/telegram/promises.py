"""Promises to pay in the running bot: a job that decides them and follows them up (bot.desk.promises).

Every :data:`CHECK_EVERY` seconds (and shortly after start) the core decides the pending promises the
imported repayments show kept or broken, and follows up those whose day has come, inside the
borrower's contact window. The core claims each follow-up and decision with a conditional update,
so several bot processes running the job at once follow up and decide each promise once. The job
only writes outbox rows; the outbox worker delivers them (kicked at once when something was queued).
"""

from __future__ import annotations

import logging

from telegram.ext import Application, ContextTypes

from bot.desk.promises import check_promises
from bot.telegram.common import services_of
from bot.telegram.outbox import kick

__all__ = ["CHECK_EVERY", "install", "promises_job"]

log = logging.getLogger(__name__)

CHECK_EVERY = 900.0
"""Seconds between passes: a follow-up goes out within a quarter of an hour of the window opening."""


def install(application: Application) -> None:  # type: ignore[type-arg]
    """Run the promises job soon after start, then every :data:`CHECK_EVERY` seconds."""
    if application.job_queue is None:
        raise ValueError("the promises job needs PTB's job queue (python-telegram-bot[job-queue])")
    application.job_queue.run_repeating(promises_job, interval=CHECK_EVERY, first=5.0, name="promises")


async def promises_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Decide what the repayments show and follow up what is due; deliver at once what that queued."""
    svc = services_of(context)
    try:
        checked = await check_promises(svc.sessions, svc.settings, clock=svc.clock)
    except Exception:  # the database is away: the next pass tries again
        log.warning("could not check the promises to pay", exc_info=True)
        return
    if checked.kept or checked.broken or checked.invited or checked.tasked:
        log.info(
            "promises: %d kept, %d broken, %d check-in(s), %d task(s)",
            len(checked.kept), len(checked.broken), len(checked.invited), len(checked.tasked),
        )  # fmt: skip
        kick(context.application)
