"""10,000 bot-sent invites through the outbox at Telegram's limits, against the Bot API double.

The invites are queued as the plan queues them (:func:`bot.desk.invites.queue_invite`; one borrower
with a Telegram id per ``--per-chat`` invites, queued one after the other), then the real bot
(``visitbot bot``, a subprocess) delivers them to the project's Bot API double with its flood control
on (30 calls/s per bot, 1/s per chat, a sliding 1 s window: beyond them it answers 429). Printed:
queued, delivered, lost (rows not sent), failed, the 429s the double gave, the 429s that surfaced
(rows retried or given up), seconds, messages/s and the ratio to Telegram's 30/s; and a baseline:
the same kind of sends from a bot without the rate limiter (64 at once), which the flood control
refuses in large part.

Run with ``make bench`` or ``python -m bench.outbox_flood [--count N] [--per-chat K]``. The contact
window is switched off for the run (the invites would otherwise wait for the borrowers' daytime).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import func, insert, select
from telegram import Bot
from telegram.error import RetryAfter

from bot.desk.invites import queue_invite
from bot.telegram.delivery import PER_BOT
from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade
from storage.models import Borrower, Loan, OutboxMessage
from tests.bot.telegram.harness import TOKEN, BotProcess, bot_env
from tests.botapi import BotApiDouble

FIRST_ID = 810_000_000
"""The first invitee's Telegram id (and chat id)."""
BATCH = 500
BASELINE = 1_000
"""Sends of the baseline without the limiter (at most ``--count``)."""
WINDOW_OFF = {"VISITBOT_CONTACT_WINDOW_START": "00:00", "VISITBOT_CONTACT_WINDOW_END": "00:00"}


async def queue_invites(url: str, count: int, per_chat: int = 1) -> list[int]:
    """Make ``count / per_chat`` borrowers with Telegram ids and queue ``count`` invites to them, each
    chat's one after the other (so its 1 message/s binds); returns the chat ids. Every tenth borrower
    reads English."""
    chats = [FIRST_ID + n for n in range(-(-count // per_chat))]
    engine = make_engine(url)
    try:
        sessions = make_sessionmaker(engine)
        async with sessions() as session, session.begin():
            people = [
                {
                    "code": f"FL{n:07d}",
                    "name": f"客户{n}",
                    "telegram_id": chat,
                    "locale": "en" if n % 10 == 0 else "zh-CN",
                }
                for n, chat in enumerate(chats)
            ]
            for start in range(0, len(people), BATCH):
                await session.execute(insert(Borrower), people[start : start + BATCH])
        async with sessions() as session:
            query = select(Borrower).where(Borrower.code.like("FL%")).order_by(Borrower.id)
            borrowers = list((await session.scalars(query)).all())
        async with sessions() as session, session.begin():  # a loan each: the check-in asks about it
            loans = [
                {"borrower_id": b.id, "contract_no": f"FLDK{n:07d}", "product": "个人经营贷", "amount": 50_000}
                | {"disbursed_on": date(2026, 6, 1), "purpose": "进货备货"}
                for n, b in enumerate(borrowers)
            ]
            for start in range(0, len(loans), BATCH):
                await session.execute(insert(Loan), loans[start : start + BATCH])
        invitees = [borrower for borrower in borrowers for _ in range(per_chat)][:count]
        now = datetime.now(UTC)
        for start in range(0, count, BATCH):
            async with sessions() as session, session.begin():
                for borrower in invitees[start : start + BATCH]:
                    await queue_invite(session, borrower, script_id="self_checkin", now=now, created_by=None)
    finally:
        await engine.dispose()
    return chats


@dataclass(frozen=True)
class Tally:
    """How the outbox rows ended."""

    queued: int
    sent: int
    failed: int
    retried: int

    @property
    def lost(self) -> int:
        return self.queued - self.sent


async def tally(url: str) -> Tally:
    """Count the outbox's rows: all, sent, given up, tried more than once (or with an error kept)."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = OutboxMessage.__table__
            queued = await session.scalar(select(func.count()).select_from(rows))
            sent = await session.scalar(select(func.count()).where(OutboxMessage.sent_at.is_not(None)))
            failed = await session.scalar(select(func.count()).where(OutboxMessage.failed_at.is_not(None)))
            retried = await session.scalar(
                select(func.count()).where((OutboxMessage.attempts > 1) | OutboxMessage.error.is_not(None))
            )
    finally:
        await engine.dispose()
    return Tally(queued or 0, sent or 0, failed or 0, retried or 0)


async def until_settled(url: str, count: int, timeout: float, *, show: bool = False) -> Tally:  # noqa: ASYNC109
    """Wait until every row is sent or given up (or ``timeout`` seconds pass); the tally then."""
    deadline = time.monotonic() + timeout
    shown_at = time.monotonic()
    while True:
        now = await tally(url)
        if now.sent + now.failed >= count or time.monotonic() > deadline:
            return now
        if show and time.monotonic() - shown_at >= 30:
            print(f"  … {now.sent:,} sent", flush=True)
            shown_at = time.monotonic()
        await asyncio.sleep(0.5)


async def baseline(double: BotApiDouble, chats: list[int], count: int) -> tuple[int, int, float]:
    """The same kind of sends from a bot without the rate limiter, 64 at once: (sent, refused 429s, seconds)."""
    limits = double.flood_limits(per_bot=30, per_chat=1, window=1.0)
    gate = asyncio.Semaphore(64)
    refused = 0

    async def one(chat: int) -> None:
        nonlocal refused
        async with gate:
            try:
                await bot.send_message(chat, "您好！邀请您完成一次自助回访。")
            except RetryAfter:
                refused += 1

    started = time.monotonic()
    async with Bot(TOKEN, base_url=double.base_url) as bot:
        await asyncio.gather(*(one(chats[n % len(chats)]) for n in range(count)))
    assert limits.refused == refused
    return count - refused, refused, time.monotonic() - started


async def run(url: str, count: int, per_chat: int, folder: Path) -> None:
    """Queue, deliver through the bot, print the figures; then the baseline without the limiter."""
    started = time.monotonic()
    chats = await queue_invites(url, count, per_chat)
    print(f"queued {count:,} invites to {len(chats):,} chats in {time.monotonic() - started:.1f} s", flush=True)
    async with BotApiDouble(token=TOKEN) as double:
        for chat in chats:
            double.user(chat, f"客户{chat - FIRST_ID}")
        limits = double.flood_limits(per_bot=30, per_chat=1, window=1.0)
        env = {**bot_env(url, double.base_url), **WINDOW_OFF}
        process = BotProcess(env, folder / "bot.log")
        try:
            settled = await until_settled(url, count, timeout=count / 10 + 120, show=True)
        finally:
            await asyncio.to_thread(process.stop)
        sends = [at for at, _ in limits.calls]
        elapsed = sends[-1] - sends[0] if len(sends) > 1 else 0.0
        delivered = sum(len(double.user(chat).messages) for chat in chats)
        rate = (len(sends) - 1) / elapsed if elapsed else 0.0
        print(f"queued      {settled.queued:>8,}")
        print(f"delivered   {delivered:>8,}   (rows marked sent: {settled.sent:,})")
        print(f"lost        {settled.lost:>8,}")
        print(f"failed      {settled.failed:>8,}")
        print(f"429s given  {limits.refused:>8,}   (by the double's flood control)")
        print(f"429s surfaced {settled.retried:>6,}   (rows retried or given up)")
        print(f"elapsed     {elapsed:>8.1f} s  (first send to last)")
        print(f"rate        {rate:>8.1f} msgs/s = {rate / PER_BOT:.2f} × Telegram's {PER_BOT:.0f}/s")
        closest = limits.closest_in_a_chat() or 0.0
        print(f"busiest 1 s {limits.busiest_window():>8}   (sends tried); closest two to one chat: {closest:.3f} s")
        double.clear_failures()
        sent, refused, seconds = await baseline(double, chats, min(count, BASELINE))
        print(
            f"baseline without the limiter: {sent + refused:,} sends, {refused:,} refused with 429 "
            f"({refused / (sent + refused):.0%}), {seconds:.1f} s"
        )
    if settled.lost or settled.failed or settled.retried:
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000, help="invites to queue and deliver")
    parser.add_argument("--per-chat", type=int, default=2, help="invites per borrower's chat")
    args = parser.parse_args()
    if args.count < 1 or args.per_chat < 1:
        parser.error("--count and --per-chat must be at least 1")
    print(f"outbox flood: {args.count:,} invites, {args.per_chat} per chat; the double allows 30/s, 1/s per chat")
    os.environ.update(WINDOW_OFF)
    with tempfile.TemporaryDirectory(prefix="visitbot-flood-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'flood.db'}"
        upgrade(url)
        asyncio.run(run(url, args.count, args.per_chat, Path(folder)))


if __name__ == "__main__":
    main()
