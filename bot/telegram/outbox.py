"""Delivering the outbox on Telegram: alerts, notices and reminders that any process wrote.

A repeating job polls for due messages every few seconds, and a commit that queued one in this
process wakes it at once (:func:`bot.desk.outbox.on_queued`), so a risk alert reaches a supervisor
within a second or two. Each pass claims its rows (:func:`storage.outbox.claim_due`: one process per
row, a lease so a killed process's claims come back), renders each payload in the recipient's
language and zone, sends it through :func:`bot.telegram.common.send` (which retries flaky calls and
flood waits) and marks it sent. A failure on the way is tried again later with backoff; a refusal
(blocked bot, unknown chat), a recipient without Telegram or too many attempts gives the row up with
the reason in ``error``. Messages to one recipient go out in order; recipients are served at once.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, InvalidToken, TelegramError
from telegram.ext import Application, ContextTypes

from bot.app import Services
from bot.desk.alerts import contact_hold
from bot.desk.contact import ContactWindow
from bot.desk.outbox import MAX_ATTEMPTS, UnknownMessage, on_queued, render, retry_delay
from bot.telegram.common import send, services_of
from storage import outbox as store
from storage.models import Borrower, OutboxMessage, Task, User

__all__ = ["deliver_due", "install", "kick", "lease_of", "poll_interval"]

log = logging.getLogger(__name__)

POLL_AT_MOST = 5.0
"""Seconds between polls at most (messages other processes queued: the console, a second bot)."""
BATCH = 50
KICK_PENDING = "outbox_kick_pending"


def poll_interval(svc: Services) -> float:
    """Seconds between polls: the reminder interval, at most :data:`POLL_AT_MOST`."""
    return min(svc.settings.reminder_interval, POLL_AT_MOST)


def lease_of(svc: Services) -> timedelta:
    """How long a claim holds unless renewed: a process renews its claims every third of it while it
    sends (however long a flood wait takes), so a killed process's rows come back this soon."""
    return timedelta(seconds=max(3.0, 2 * svc.settings.telegram_timeout))


def install(application: Application) -> None:  # type: ignore[type-arg]
    """Start delivering: the repeating poll, and a wake-up after every commit that queued a message."""
    svc: Services = application.bot_data["services"]
    if application.job_queue is None:
        raise ValueError("the outbox needs PTB's job queue (python-telegram-bot[job-queue])")
    application.job_queue.run_repeating(deliver_job, interval=poll_interval(svc), first=0.2, name="outbox")
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)  # no two lines per poll
    loop = asyncio.get_running_loop()

    def wake() -> None:
        loop.call_soon_threadsafe(kick, application)

    application.bot_data["outbox_unhook"] = on_queued(wake)


def kick(application: Application) -> None:  # type: ignore[type-arg]
    """Deliver now (after an update queued something); kicks before the pass starts make one pass."""
    if application.job_queue is None or application.bot_data.get(KICK_PENDING):
        return
    application.bot_data[KICK_PENDING] = True
    application.job_queue.run_once(deliver_job, 0, name="outbox-kick")


async def deliver_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """One pass (a job): claim what is due and deliver it in the background, so no hung send holds the poll."""
    context.application.bot_data[KICK_PENDING] = False
    groups = await _claim(context)
    for group in groups:
        context.application.create_task(_deliver_group(context, group), name="outbox-delivery")


async def deliver_due(context: ContextTypes.DEFAULT_TYPE) -> int:
    """Claim and deliver what is due, waiting for the sends; returns how many rows were claimed."""
    groups = await _claim(context)
    await asyncio.gather(*(_deliver_group(context, group) for group in groups))
    return sum(len(group) for group in groups)


async def _claim(context: ContextTypes.DEFAULT_TYPE) -> list[list[OutboxMessage]]:
    """This process's claim on due rows, grouped by recipient (in order within each)."""
    svc = services_of(context)
    try:
        async with svc.sessions() as session, session.begin():
            rows = await store.claim_due(session, now=svc.clock.now(), lease=lease_of(svc), limit=BATCH)
    except Exception:  # the database is away: the next pass tries again
        log.warning("could not claim outbox messages", exc_info=True)
        return []
    groups: dict[tuple[int | None, int | None], list[OutboxMessage]] = {}
    for row in rows:
        groups.setdefault((row.user_id, row.chat_id), []).append(row)
    return list(groups.values())


async def _deliver_group(context: ContextTypes.DEFAULT_TYPE, rows: Sequence[OutboxMessage]) -> None:
    """One recipient's rows in order, the claims on those not done yet renewed meanwhile."""
    left = {row.id for row in rows}
    heartbeat = asyncio.ensure_future(_keep_claims(services_of(context), left))
    try:
        for row in rows:
            try:
                await _deliver(context, row)
            except Exception:  # one row's trouble never stops the others; its lease brings it back
                log.exception("outbox message %s could not be handled", row.id)
            left.discard(row.id)
    finally:
        heartbeat.cancel()


async def _keep_claims(svc: Services, left: set[int]) -> None:
    """Renew the claims on ``left`` every third of the lease until cancelled."""
    every = lease_of(svc).total_seconds() / 3
    while True:
        await asyncio.sleep(every)
        try:
            async with svc.sessions() as session, session.begin():
                await store.renew(session, sorted(left), at=svc.clock.now())
        except Exception:  # the database is busy or away: the claim may lapse, the row is sent at least once
            log.warning("could not renew outbox claims", exc_info=True)


async def _deliver(context: ContextTypes.DEFAULT_TYPE, row: OutboxMessage) -> None:
    """Send one claimed row, then mark it sent, held, retried later or given up."""
    svc = services_of(context)
    settings = svc.settings
    async with svc.sessions() as session:
        user = await session.get(User, row.user_id) if row.user_id is not None else None
        borrower = await session.get(Borrower, row.borrower_id) if row.borrower_id is not None else None
        task = await session.get(Task, row.task_id) if row.task_id is not None else None
    if row.kind == "reminder" and task is not None and task.done_at is not None:
        await _finish(svc, row, failed="the task was done before its reminder was due")
        return
    window = ContactWindow(settings.contact_window_start, settings.contact_window_end)
    zone = borrower.timezone if borrower is not None else None
    asked = task is not None and task.borrower_asked
    hold = contact_hold(row.kind, svc.clock.now(), zone, window, borrower_asked=asked)
    if hold is not None:  # bot-initiated contact waits for the borrower's window
        await _finish(svc, row, retry_at=hold, uncount=True)
        return
    chat_id, locale, shown_zone = _recipient(row, user, borrower, svc)
    if chat_id is None:
        who = f"user {row.user_id}" if row.user_id is not None else "nobody"
        await _finish(svc, row, failed=f"{who} has no Telegram id")
        return
    try:
        rendered = render(row.payload, str(row.payload.get("locale") or locale), shown_zone)
    except (UnknownMessage, KeyError, ValueError, IndexError) as exc:
        await _finish(svc, row, failed=f"cannot render {row.payload.get('key')!r}: {exc}")
        return
    markup = None
    if rendered.buttons:
        markup = InlineKeyboardMarkup(
            [[InlineKeyboardButton(label, callback_data=data) for label, data in line] for line in rendered.buttons]
        )
    try:
        await send(context, chat_id, html.escape(rendered.text), markup)
    except (Forbidden, BadRequest, InvalidToken) as exc:  # Telegram refuses: trying again changes nothing
        log.warning("outbox message %s refused by Telegram: %s", row.id, exc)
        await _finish(svc, row, failed=f"refused by Telegram: {exc}")
        return
    except TelegramError as exc:  # a failure on the way (5xx, timeout, long flood wait): later, with backoff
        if row.attempts >= MAX_ATTEMPTS:
            log.warning("outbox message %s given up after %s attempts: %s", row.id, row.attempts, exc)
            await _finish(svc, row, failed=f"given up after {row.attempts} attempts: {exc}")
        else:
            log.info("outbox message %s not sent (attempt %s): %s", row.id, row.attempts, exc)
            await _finish(svc, row, retry_at=svc.clock.now() + retry_delay(row.attempts), error=str(exc))
        return
    await _finish(svc, row, sent=True)


def _recipient(
    row: OutboxMessage, user: User | None, borrower: Borrower | None, svc: Services
) -> tuple[int | None, str, str]:
    """The chat, language and zone a row goes to: a staff member's own, a borrower's own, else the deployment's."""
    settings = svc.settings
    if row.user_id is not None:
        if user is None or not user.active:
            return None, settings.locale, settings.timezone
        return user.telegram_id, user.locale or settings.locale, user.timezone or settings.timezone
    if borrower is not None and borrower.telegram_id == row.chat_id:
        return row.chat_id, borrower.locale or settings.locale, borrower.timezone
    return row.chat_id, settings.locale, settings.timezone


async def _finish(
    svc: Services,
    row: OutboxMessage,
    *,
    sent: bool = False,
    failed: str | None = None,
    retry_at: datetime | None = None,
    error: str | None = None,
    uncount: bool = False,
) -> None:
    """Record how a delivery ended, in its own transaction."""
    now = svc.clock.now()
    async with svc.sessions() as session, session.begin():
        if sent:
            await store.mark_sent(session, row.id, at=now)
        elif failed is not None:
            await store.mark_failed(session, row.id, at=now, error=failed)
        else:
            assert retry_at is not None
            await store.release(session, row.id, retry_at=retry_at, error=error, uncount=uncount)
