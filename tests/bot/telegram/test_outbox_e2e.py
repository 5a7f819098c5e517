"""The outbox end to end: an alert queued with the answer survives a bot killed mid-send and arrives
once; two bot processes on one database deliver every message once; Telegram's refusals, a recipient
without Telegram and flaky sends each end as they should."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from bot.desk.outbox import MAX_ATTEMPTS, enqueue, payload
from storage.db import make_engine, make_sessionmaker
from storage.models import Borrower, OutboxMessage, User
from tests.bot.telegram.harness import (
    OFFICER_ID,
    OTHER_SUPERVISOR_ID,
    SUPERVISOR_ID,
    BotProcess,
    running,
    until,
)
from tests.botapi import BotApiDouble, BotMessage, FakeUser

RISKY = ["是本人", "记得", "差", "销量下滑", "压力很大"]
"""The phone visit up to the answer that raises a high flag (repayment_pressure_high)."""
FAST = {"VISITBOT_TELEGRAM_TIMEOUT": "1.5", "VISITBOT_REMINDER_INTERVAL": "0.3"}
"""Short Bot API timeouts (so a claim's lease is 3 s) and polls every 0.3 s."""
LAST_CHANCE_ID = 7005
NOTICES = 12
"""Notices raced for by two processes, all to one supervisor: Telegram's 1 message/s per chat paces them."""
ZONES = ("Asia/Shanghai", "Europe/London", "America/New_York", "America/Los_Angeles", "Pacific/Auckland")


def daytime_zone() -> str:
    """A zone where it is between 10:00 and 18:00 now: the bot runs on the real clock and keeps the
    borrower's contact window."""
    now = datetime.now(UTC)
    return next(zone for zone in ZONES if 10 <= now.astimezone(ZoneInfo(zone)).hour < 18)


async def outbox(url: str, **where: Any) -> list[OutboxMessage]:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            query = select(OutboxMessage).filter_by(**where).order_by(OutboxMessage.id)
            return list((await session.scalars(query)).all())
    finally:
        await engine.dispose()


async def in_daytime(url: str, code: str) -> None:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await session.execute(update(Borrower).where(Borrower.code == code).values(timezone=daytime_zone()))
    finally:
        await engine.dispose()


async def up_to_the_high_flag(officer: FakeUser, code: str, visit: int) -> float:
    """Run a phone visit (its questions told by their buttons' data) to the answer that raises the high
    flag; returns when that answer was pressed."""

    def asks(message: BotMessage) -> bool:
        return any(data.startswith(f"a:{visit}:") for row in message.buttons for _, data in row)

    await officer.send(f"/visit {code}")
    for said in RISKY[:-1]:
        await officer.press(said, await officer.wait_for_message(asks, timeout=30))
    question = await officer.wait_for_message(asks, timeout=30)
    pressed = time.monotonic()
    await officer.press(RISKY[-1], question)
    return pressed


def alerts_about(user: FakeUser, visit: int) -> list[str]:
    return [m.text or "" for m in user.messages if "风险预警" in (m.text or "") and f"回访 #{visit} " in (m.text or "")]


async def test_an_alert_outlives_a_bot_killed_while_sending_it_and_arrives_once(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    url = env["VISITBOT_DATABASE_URL"]
    await in_daytime(url, "B001")
    await in_daytime(url, "B003")
    officer = double.user(OFFICER_ID, "王磊")
    supervisor = double.user(SUPERVISOR_ID, "刘主管")
    double.hang("sendMessage", 60, times=50, chat_id=SUPERVISOR_ID)  # every send to the supervisor hangs
    first = BotProcess({**env, **FAST}, tmp_path / "first.log")
    try:
        await up_to_the_high_flag(officer, "B001", 1)
        await until(lambda: any(f.fault == "hang" and f.chat_id == SUPERVISOR_ID for f in double.faults_fired), 15)
        (queued,) = await outbox(url, kind="alert")
        assert queued.sent_at is None  # committed with the answer, not sent yet
    finally:
        await asyncio.to_thread(first.kill)  # SIGKILL mid-send: nothing cleaned up, the claim stays
    double.clear_failures()
    assert alerts_about(supervisor, 1) == []
    async with running({**env, **FAST}, tmp_path / "second.log"):
        await supervisor.wait_for_message("回访 #1 ", timeout=30)  # the restarted bot delivers it
        pressed = await up_to_the_high_flag(officer, "B003", 2)  # and a new alert goes out at once
        alert = await supervisor.wait_for_message("回访 #2 ", timeout=5)
        latency = time.monotonic() - pressed
        print(f"alert latency: {latency:.2f}s (press to the supervisor's chat)")
        assert latency < 5
        assert "还款压力大" in (alert.text or "") and [t for row in alert.buttons for t, _ in row] == ["查看记录"]
        await asyncio.sleep(1.5)  # several more polls: nothing is sent twice
    assert len(alerts_about(supervisor, 1)) == 1 and len(alerts_about(supervisor, 2)) == 1
    sent = await outbox(url, kind="alert")
    assert [(row.visit_id, row.sent_at is not None) for row in sent] == [(1, True), (2, True)]
    assert sent[0].attempts >= 2 and sent[1].attempts == 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def webhook(port: int) -> tuple[str, ...]:
    return ("--webhook", "--listen", "127.0.0.1", "--port", str(port), "--path", "telegram")


async def test_two_bot_processes_deliver_every_message_once_and_give_up_what_cannot_go(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    both = {**env, **FAST, "VISITBOT_WEBHOOK_SECRET": "outbox-test-secret"}
    url = both["VISITBOT_DATABASE_URL"]
    supervisor = double.user(SUPERVISOR_ID, "刘主管")
    officer = double.user(OFFICER_ID, "王磊")
    double.user(OTHER_SUPERVISOR_ID, "赵主管").blocked = True
    double.user(LAST_CHANCE_ID, "孙主管")
    double.fail_next("sendMessage", status=502, times=4, chat_id=OFFICER_ID)  # one whole attempt fails on the way
    double.fail_next("sendMessage", status=502, times=4, chat_id=LAST_CHANCE_ID)  # its last attempt fails too
    async with (
        running(both, tmp_path / "a.log", *webhook(free_port())),
        running(both, tmp_path / "b.log", *webhook(free_port())),
    ):
        await until(lambda: len(double.calls("setWebhook")) >= 2, 30)
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                session.add(User(telegram_id=LAST_CHANCE_ID, name="孙主管", role="supervisor", team="城西支行"))
                await session.flush()
                users = {u.name: u for u in (await session.scalars(select(User))).all()}
                now = datetime.now(UTC)
                for n in range(NOTICES):
                    body = payload("alert_due", {"at": f"#{n}#"})
                    await enqueue(session, "notice", body, now=now, user_id=users["刘主管"].id)
                worn = await enqueue(
                    session, "notice", payload("alert_due", {"at": "孙主管"}), now=now, user_id=users["孙主管"].id
                )
                worn.attempts = MAX_ATTEMPTS - 1  # tried often before: this attempt is its last
                for name in ("王磊", "陈静", "赵主管"):  # flaky; no Telegram id; blocked the bot
                    await enqueue(
                        session, "notice", payload("alert_due", {"at": name}), now=now, user_id=users[name].id
                    )
        finally:
            await engine.dispose()
        await until(lambda: len(supervisor.messages) >= NOTICES, 30)
        await officer.wait_for_message("王磊", timeout=30)
        await asyncio.sleep(1.5)
    delivered = [int(found) for m in supervisor.messages for found in re.findall(r"#(\d+)#", m.text or "")]
    assert sorted(delivered) == list(range(NOTICES))  # each once, though two processes raced for them
    rows = {row.payload["params"]["at"]: row for row in await outbox(url)}
    assert all(rows[f"#{n}#"].sent_at is not None for n in range(NOTICES))
    assert rows["王磊"].sent_at is not None and rows["王磊"].attempts >= 2
    assert rows["陈静"].failed_at is not None and "no Telegram id" in (rows["陈静"].error or "")
    assert rows["赵主管"].failed_at is not None and "blocked" in (rows["赵主管"].error or "")
    assert rows["孙主管"].failed_at is not None and f"given up after {MAX_ATTEMPTS} attempts" in (
        rows["孙主管"].error or ""
    )
