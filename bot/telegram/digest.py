"""The morning digest on Telegram: one PTB job a day per time zone of the officers, at VISITBOT_DIGEST_TIME.

JobQueue jobs live in memory, so the schedule is rebuilt from the database: at start, the zones of
everyone who gets a digest (``users.timezone``, else ``VISITBOT_TIMEZONE``) each get one ``run_daily``
job at the digest time in that zone; every hour the zones are read again and a new zone gets its job
(a zone already armed is left alone, so jobs never double). A zone armed after its digest time today
(every zone at start, a new one later) is caught up at once: its digests are queued if they were not.

The job only asks the core (:func:`bot.desk.digest.queue_digests`) to write the outbox rows; the
outbox worker delivers them. The core's dedupe key makes every firing safe: several bot processes, a
restart, a catch-up after the job already ran — one digest per officer and day.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from telegram.ext import Application, ContextTypes

from bot.app import Services
from bot.desk.digest import digest_zones, queue_digests
from bot.telegram.common import services_of
from bot.telegram.outbox import kick

__all__ = ["ARM_EVERY", "arm_job", "digest_job", "install", "job_name"]

log = logging.getLogger(__name__)

ARM_EVERY = 3600.0
"""Seconds between readings of the officers' zones (a new officer's zone is armed within the hour)."""
RETRY_ARM = 60.0
"""Seconds before arming again when the database could not be read."""


def job_name(zone: str) -> str:
    """The daily job of one zone (one per zone per process)."""
    return f"digest:{zone}"


def install(application: Application) -> None:  # type: ignore[type-arg]
    """Arm the digest jobs from the database now (catching up a day already past its time), and hourly."""
    if application.job_queue is None:
        raise ValueError("the morning digest needs PTB's job queue (python-telegram-bot[job-queue])")
    application.job_queue.run_once(arm_job, 0.2, name="digest-arm")
    application.job_queue.run_repeating(arm_job, interval=ARM_EVERY, first=ARM_EVERY, name="digest-rearm")


async def arm_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Give every digest zone without a job its daily job, and catch up those just armed."""
    svc = services_of(context)
    job_queue = context.application.job_queue
    assert job_queue is not None
    try:
        zones = await digest_zones(svc.sessions, svc.settings)
    except Exception:  # the database is away: try again soon
        log.warning("could not read the digest zones; trying again in %.0f s", RETRY_ARM, exc_info=True)
        job_queue.run_once(arm_job, RETRY_ARM, name="digest-arm")
        return
    for zone in zones:
        if job_queue.get_jobs_by_name(job_name(zone)):
            continue
        try:
            at = svc.settings.digest_time.replace(tzinfo=ZoneInfo(zone))
        except (ValueError, KeyError):  # an unknown zone in the database (users add refuses one)
            log.warning("no digest job for the unknown time zone %r", zone)
            continue
        job_queue.run_daily(digest_job, time=at, data=zone, name=job_name(zone))
        log.info("digest armed for %s at %s", zone, f"{at:%H:%M:%S}")
        await _queue(context, svc, zone)  # its time may have passed today: catch up (once, by the dedupe key)


async def digest_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The digest time came in one zone: queue its officers' digests."""
    assert context.job is not None
    await _queue(context, services_of(context), str(context.job.data))


async def _queue(context: ContextTypes.DEFAULT_TYPE, svc: Services, zone: str) -> None:
    try:
        queued = await queue_digests(svc.sessions, svc.settings, svc.clock.now(), zone=zone)
    except Exception:  # the database is away; the next arming (or tomorrow's job) tries again
        log.warning("could not queue the digests of %s", zone, exc_info=True)
        return
    if queued:
        log.info("queued %d digest(s) for %s", len(queued), zone)
        kick(context.application)
