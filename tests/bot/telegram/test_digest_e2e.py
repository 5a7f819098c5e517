"""The morning digest end to end: two ``visitbot bot`` processes on one PostgreSQL database, the digest
time a few seconds ahead in the officer's zone; the officer's chat receives exactly one digest."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from storage.db import make_engine, make_sessionmaker
from storage.demo import link_demo_user, load_demo
from storage.models import Borrower, Loan, OutboxMessage, Task, User
from tests.bot.telegram.harness import OFFICER_ID, bot_env, running, until
from tests.botapi import BotApiDouble

ZONES = ("Asia/Shanghai", "Europe/London", "America/New_York", "Pacific/Auckland")
AHEAD = timedelta(seconds=20)
"""The digest time is set this far ahead: both processes are up and armed by then (each takes ~5 s to
start on a busy 2-core machine); if they are not, the catch-up at start sends it, still once."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def webhook(port: int) -> tuple[str, ...]:
    return ("--webhook", "--listen", "127.0.0.1", "--port", str(port), "--path", "telegram")


def zone_far_from_midnight() -> str:
    """A zone where the digest time (a few seconds from now) falls on today, not tomorrow."""
    now = datetime.now(UTC)
    return next(zone for zone in ZONES if 1 <= now.astimezone(ZoneInfo(zone)).hour < 23)


@pytest.fixture
def pg_env(postgres_url: str, double: BotApiDouble) -> dict[str, str]:
    """A fresh, migrated PostgreSQL database (dropped after the test), for the bot processes."""
    return bot_env(postgres_url, double.base_url, VISITBOT_WEBHOOK_SECRET="digest-test-secret", VISITBOT_DIGEST="true")


async def give_the_officer_a_day(url: str, zone: str) -> None:
    """The demo data (in-process: quicker than the CLI); 王磊 (Telegram, in ``zone``) has a call-back
    due within the hour and a loan of B003 overdue 9 days without a call."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await load_demo(session)
            officer = await link_demo_user(session, OFFICER_ID, "officer")
            officer.timezone = zone
            b001 = await session.scalar(select(Borrower).where(Borrower.code == "B001"))
            b003 = await session.scalar(select(Borrower).where(Borrower.code == "B003"))
            assert b001 is not None and b003 is not None
            due = datetime.now(UTC) + timedelta(minutes=30)
            session.add(Task(kind="callback", officer_id=officer.id, borrower_id=b001.id, due_at=due, note="callback"))
            await session.execute(
                update(Loan).where(Loan.borrower_id == b003.id).values(overdue_days=9, overdue_amount=4500)
            )
    finally:
        await engine.dispose()


async def digest_rows(url: str) -> list[OutboxMessage]:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            query = select(OutboxMessage).where(OutboxMessage.kind == "digest")
            return list((await session.scalars(query)).all())
    finally:
        await engine.dispose()


async def test_two_bot_processes_send_the_officer_one_digest_at_its_time(
    double: BotApiDouble, pg_env: dict[str, str], tmp_path: Path
) -> None:
    url = pg_env["VISITBOT_DATABASE_URL"]
    zone = zone_far_from_midnight()
    await give_the_officer_a_day(url, zone)
    officer = double.user(OFFICER_ID, "王磊")
    fires = (datetime.now(ZoneInfo(zone)) + AHEAD).replace(microsecond=0)
    both = {**pg_env, "VISITBOT_DIGEST_TIME": f"{fires:%H:%M:%S}", "VISITBOT_REMINDER_INTERVAL": "0.5"}
    async with (
        running(both, tmp_path / "a.log", *webhook(free_port())) as first,
        running(both, tmp_path / "b.log", *webhook(free_port())) as second,
    ):
        await until(lambda: len(double.calls("setWebhook")) >= 2, 30)
        assert [m for m in officer.messages if "每日工作清单" in (m.text or "")] == []  # not before its time
        digest = await officer.wait_for_message("每日工作清单", timeout=AHEAD.total_seconds() + 15)
        arrived = datetime.now(ZoneInfo(zone))
        await asyncio.sleep(2.0)  # both processes fired and polled again: nothing more arrives
        logs = first.output() + second.output()
    text = digest.text or ""
    assert arrived >= fires, f"sent at {arrived:%H:%M:%S}, due at {fires:%H:%M:%S}"
    assert "待回电 1 个" in text and "B001" in text and "约定的回电" in text
    assert "逾期超过 5 天仍未联系 1 笔" in text and "逾期 9 天，逾期金额 4,500.00 元" in text and "B003" in text
    assert len([m for m in officer.messages if "每日工作清单" in (m.text or "")]) == 1
    (row,) = await digest_rows(url)
    assert row.sent_at is not None and row.dedupe_key == f"digest:{row.user_id}:{arrived.date().isoformat()}"
    assert logs.count(f"digest armed for {zone}") == 2  # each process armed the zone
    path = "the daily job" if digest_fired_by_the_job(logs, fires) else "the catch-up at start"
    print(f"digest sent by {path}, {(arrived - fires).total_seconds():.2f} s after its time")


def digest_fired_by_the_job(logs: str, fires: datetime) -> bool:
    """Whether both processes armed the zone before the digest time (so the job, not the catch-up, sent it)."""
    armed = [line[:23] for line in logs.splitlines() if "digest armed for" in line]
    stamps = [datetime.strptime(at, "%Y-%m-%d %H:%M:%S,%f").astimezone() for at in armed]
    return all(stamp < fires for stamp in stamps)


async def test_arming_again_adds_no_second_job_a_new_zone_gets_one_and_a_past_time_is_caught_up(
    sqlite_url: str,
) -> None:
    """In process (no Bot API): the hourly re-arm keeps one job per zone and arms a new zone; arming
    at 09:00 in Shanghai queues the Shanghai officer's digest of that day at once, London's not (01:00
    there); New York, armed later, is caught up for its own day (still 1 December there)."""
    from types import SimpleNamespace

    from telegram.ext import ApplicationBuilder

    from bot.app import services
    from bot.desk.clock import FixedClock
    from bot.settings import Settings
    from bot.telegram.digest import arm_job
    from tests.bot.telegram.harness import TOKEN

    clock = FixedClock(datetime(2026, 12, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    async with services(Settings(database_url=sqlite_url, telegram_token=TOKEN), clock) as svc:

        async def officer(name: str, telegram_id: int, zone: str) -> None:
            async with svc.sessions() as session, session.begin():
                person = User(name=name, role="officer", telegram_id=telegram_id, timezone=zone)
                session.add(person)
                await session.flush()
                borrower = Borrower(code=f"Z{telegram_id}", name="借款人", officer_id=person.id, timezone=zone)
                session.add(borrower)
                await session.flush()
                due = clock.now() + timedelta(hours=1)
                session.add(Task(kind="callback", officer_id=person.id, borrower_id=borrower.id, due_at=due))

        await officer("上海信贷员", 9101, "Asia/Shanghai")
        await officer("伦敦信贷员", 9102, "Europe/London")
        application = ApplicationBuilder().token(TOKEN).build()
        application.bot_data["services"] = svc
        context: Any = SimpleNamespace(application=application)
        job_queue = application.job_queue
        assert job_queue is not None

        def armed() -> list[str]:
            return sorted(str(job.name) for job in job_queue.jobs() if str(job.name).startswith("digest:"))

        await arm_job(context)
        await arm_job(context)  # the hourly re-arm: nothing doubles
        assert armed() == ["digest:Asia/Shanghai", "digest:Europe/London"]
        (london,) = job_queue.get_jobs_by_name("digest:Europe/London")
        trigger = london.job.trigger  # at 08:30 in London, every day
        assert str(trigger.timezone) == "Europe/London" and "hour='8', minute='30', second='0'" in str(trigger)
        rows = await digest_rows(sqlite_url)
        assert [row.dedupe_key for row in rows] == [f"digest:{rows[0].user_id}:2026-12-02"]  # Shanghai's, caught up
        await officer("纽约信贷员", 9103, "America/New_York")
        await arm_job(context)
        assert armed() == ["digest:America/New_York", "digest:Asia/Shanghai", "digest:Europe/London"]
        rows = await digest_rows(sqlite_url)  # 20:00 on 1 December in New York: that day's, caught up
        assert sorted(str(row.dedupe_key)[-10:] for row in rows) == ["2026-12-01", "2026-12-02"]
        await arm_job(context)
        assert len(await digest_rows(sqlite_url)) == 2
