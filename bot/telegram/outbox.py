"""Delivering the outbox on Telegram: alerts, notices, reminders and invites that any process wrote.

A repeating job polls for due messages every few seconds, and a commit that queued one in this
process wakes it at once (:func:`bot.desk.outbox.on_queued`), so a risk alert reaches a supervisor
within a second or two. A wake-up starts this process's :class:`Drain` (unless it is draining
already): it claims due rows (:func:`storage.outbox.claim_due`: one process per row, a lease so a
killed process's claims come back) and, whenever a claim came back full, claims the next batch as
soon as there is room — a backlog drains at Telegram's limits, not one batch per poll. Each
recipient's rows are sent in order by one task, at most :data:`MAX_IN_FLIGHT` recipients at once;
every claim held is renewed by one heartbeat. A row is rendered in the recipient's language and
zone, sent through the rate limiter as a bot-initiated message (:data:`bot.telegram.delivery.OUTBOUND`:
1 s apart per chat, ~30/s in all; flood waits and flaky calls ridden out there) and marked sent. A
failure on the way is tried again later with backoff; a refusal (blocked bot, unknown chat), a
recipient without Telegram or too many attempts gives the row up with the reason in ``error``.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections import deque
from datetime import datetime, timedelta
from typing import cast

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, TelegramError
from telegram.ext import Application, ContextTypes, ExtBot

from bot.app import Services
from bot.desk.alerts import contact_hold
from bot.desk.contact import ContactWindow
from bot.desk.outbox import MAX_ATTEMPTS, UnknownMessage, on_queued, render, retry_delay
from bot.telegram.delivery import OUTBOUND, ChatPace
from bot.telegram.render import split_text
from storage import outbox as store
from storage.models import Borrower, OutboxMessage, Task, User

__all__ = ["MAX_IN_FLIGHT", "Drain", "deliver_due", "install", "kick", "lease_of", "poll_interval", "quiet_job_log"]

log = logging.getLogger(__name__)

POLL_AT_MOST = 5.0
"""Seconds between polls at most (messages other processes queued: the console, a second bot)."""
BATCH = 50
"""Rows one claim takes at most."""
HELD_AT_MOST = 4 * BATCH
"""Rows this process holds claimed at once: the next batch is claimed when one batch's room is free.
Enough for ~30/s when each chat has a few messages waiting (each of those chats sends only 1/s)."""
MAX_IN_FLIGHT = 64
"""Recipients this process sends to at once (each one's rows in order, one at a time)."""
DRAIN = "outbox_drain"

Recipient = tuple[int | None, int | None]
"""A row's (user_id, chat_id): its rows go out in order."""


def poll_interval(svc: Services) -> float:
    """Seconds between polls: the reminder interval, at most :data:`POLL_AT_MOST`."""
    return min(svc.settings.reminder_interval, POLL_AT_MOST)


def lease_of(svc: Services) -> timedelta:
    """How long a claim holds unless renewed: a process renews its claims every third of it while it
    sends (however long a flood wait takes), so a killed process's rows come back this soon."""
    return timedelta(seconds=max(3.0, 2 * svc.settings.telegram_timeout))


class _CancelledAtShutdown(logging.Filter):
    """Drops APScheduler's error for a job it cancelled while shutting down: PTB waits for the jobs
    running when it stops, but a poll may start between that wait and the scheduler's shutdown, which
    cancels it. Nothing is lost: what a poll claimed goes back to the outbox when its lease runs out."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, asyncio.CancelledError)


def quiet_job_log() -> None:
    """APScheduler's job log: warnings only (no two lines per poll), and no error for a job cancelled
    at shutdown (:class:`_CancelledAtShutdown`)."""
    executor_log = logging.getLogger("apscheduler.executors.default")
    executor_log.setLevel(logging.WARNING)
    if not any(isinstance(f, _CancelledAtShutdown) for f in executor_log.filters):
        executor_log.addFilter(_CancelledAtShutdown())


def install(application: Application) -> None:  # type: ignore[type-arg]
    """Start delivering: the repeating poll, and a wake-up after every commit that queued a message."""
    svc: Services = application.bot_data["services"]
    if application.job_queue is None:
        raise ValueError("the outbox needs PTB's job queue (python-telegram-bot[job-queue])")
    application.bot_data[DRAIN] = Drain(application)
    application.job_queue.run_repeating(deliver_job, interval=poll_interval(svc), first=0.2, name="outbox")
    quiet_job_log()
    loop = asyncio.get_running_loop()

    def wake() -> None:
        loop.call_soon_threadsafe(kick, application)

    application.bot_data["outbox_unhook"] = on_queued(wake)


def kick(application: Application) -> None:  # type: ignore[type-arg]
    """Deliver now (after an update queued something); a kick while draining makes the drain look once more."""
    drain = application.bot_data.get(DRAIN)
    if isinstance(drain, Drain):
        drain.start()


async def deliver_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The poll (a job): start draining in the background, so no hung send holds the job queue."""
    kick(context.application)


async def deliver_due(context: ContextTypes.DEFAULT_TYPE) -> int:
    """Claim and deliver what is due (of a running application), waiting for the sends; returns how many
    rows were claimed."""
    drain = context.application.bot_data[DRAIN]
    assert isinstance(drain, Drain)
    before = drain.claimed
    drain.start()
    await drain.settled()
    return drain.claimed - before


class Drain:
    """This process's delivery: claims while a backlog lasts, each recipient's rows in order by one task."""

    def __init__(self, application: Application) -> None:  # type: ignore[type-arg]
        self.application = application
        self.svc: Services = application.bot_data["services"]
        self.claimed = 0
        self._queues: dict[Recipient, deque[OutboxMessage]] = {}
        self._held: set[int] = set()
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._emptied = asyncio.Event()  # nothing held: the heartbeat ends at once
        self._again = False
        self._task: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """False once the application stops: no more claims, rows not started are handed back."""
        return bool(self.application.running)

    def start(self) -> None:
        """Drain now, unless draining already (then the drain claims once more before it rests)."""
        if not self.running:
            return
        self._again = True
        if self._task is None or self._task.done():
            self._idle.clear()
            self._task = self.application.create_task(self._drain(), name="outbox-drain")

    async def settled(self) -> None:
        """Wait until nothing claimed is left and no drain is running."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})
        await self._idle.wait()

    async def _drain(self) -> None:
        """Claim batch after batch while they come back full (room permitting), then rest."""
        try:
            while self._again and self.running:
                self._again = False
                while self.running:
                    await self._room.wait()
                    rows = await self._claim(BATCH)
                    self._hand_out(rows)
                    if len(rows) < BATCH:
                        break
        finally:
            if not self._held:
                self._idle.set()

    async def _claim(self, limit: int) -> list[OutboxMessage]:
        """This process's claim on up to ``limit`` due rows (none when the database is away)."""
        svc = self.svc
        try:
            async with svc.sessions() as session, session.begin():
                rows = await store.claim_due(session, now=svc.clock.now(), lease=lease_of(svc), limit=limit)
        except Exception:  # the database is away: the next poll tries again
            log.warning("could not claim outbox messages", exc_info=True)
            return []
        self.claimed += len(rows)
        return list(rows)

    def _hand_out(self, rows: list[OutboxMessage]) -> None:
        """Queue each row behind its recipient's earlier ones; a recipient not being served gets a task."""
        for row in rows:
            self._held.add(row.id)
            key = (row.user_id, row.chat_id)
            queue = self._queues.get(key)
            if queue is not None:
                queue.append(row)
                continue
            self._queues[key] = deque([row])
            self.application.create_task(self._serve(key), name="outbox-delivery")
        if self._held:
            self._idle.clear()
            self._emptied.clear()
            if self._heartbeat is None or self._heartbeat.done():
                self._heartbeat = asyncio.ensure_future(self._keep_claims())
        if len(self._held) > HELD_AT_MOST - BATCH:
            self._room.clear()

    async def _serve(self, key: Recipient) -> None:
        """One recipient's rows in order, one at a time (rows claimed meanwhile join the queue)."""
        queue = self._queues[key]
        try:
            async with self._slots:
                while queue:
                    row = queue[0]
                    try:
                        if self.running:
                            await _deliver(self.svc, self.application.bot, row)
                        else:  # stopping: another process (or the next start) sends it at once
                            await _finish(self.svc, row, retry_at=self.svc.clock.now(), uncount=True)
                    except Exception:  # one row's trouble never stops the others; its lease brings it back
                        log.exception("outbox message %s could not be handled", row.id)
                    queue.popleft()
                    self._done(row.id)
        finally:
            for row in queue:  # cancelled: the leases bring them back
                self._done(row.id)
            del self._queues[key]

    def _done(self, row_id: int) -> None:
        self._held.discard(row_id)
        if len(self._held) <= HELD_AT_MOST - BATCH:
            self._room.set()
        if self._held:
            return
        self._emptied.set()
        if self._task is None or self._task.done():
            self._idle.set()

    async def _keep_claims(self) -> None:
        """Renew every claim this process holds, every third of the lease, while it holds any (it ends as
        soon as nothing is held; a claim meanwhile finds it still running, or done and starts another)."""
        svc = self.svc
        every = lease_of(svc).total_seconds() / 3
        while self._held:
            try:
                async with asyncio.timeout(every):
                    await self._emptied.wait()
            except TimeoutError:
                pass
            if not self._held:
                return
            try:
                async with svc.sessions() as session, session.begin():
                    await store.renew(session, sorted(self._held), at=svc.clock.now())
            except Exception:  # the database is busy or away: a claim may lapse, the row is sent at least once
                log.warning("could not renew outbox claims", exc_info=True)


async def _send(bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Send HTML text as a bot-initiated message (paced per chat), split to Telegram's length limit."""
    paced = cast("ExtBot[ChatPace]", bot)
    pieces = split_text(text)
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        await paced.send_message(
            chat_id, piece, parse_mode=ParseMode.HTML, reply_markup=markup if last else None, rate_limit_args=OUTBOUND
        )


async def _deliver(svc: Services, bot: Bot, row: OutboxMessage) -> None:
    """Send one claimed row, then mark it sent, held, retried later or given up."""
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
        await _send(bot, chat_id, html.escape(rendered.text), markup)
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
