"""The morning digest in the core: fired with a frozen clock in two time zones, each officer's day is
queued once at 08:30 in their own zone, holds what they must do that day, and reads right in zh-CN and
en; two processes (two engines on one PostgreSQL) queueing at once still write one digest each."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk.clock import FixedClock
from bot.desk.digest import LIST_CAP, digest_zones, queue_digests
from bot.desk.outbox import render
from bot.settings import Settings
from storage.db import make_engine, make_sessionmaker
from storage.digest import enqueue_once
from storage.models import Borrower, Loan, OutboxMessage, PlanEntry, Task, User
from tests.bot import planted

SHANGHAI, LONDON = "Asia/Shanghai", "Europe/London"
DAY = date(2026, 12, 2)
AT_0830_SHANGHAI = datetime(2026, 12, 2, 8, 30, tzinfo=ZoneInfo(SHANGHAI))
AT_0830_LONDON = datetime(2026, 12, 2, 8, 30, tzinfo=ZoneInfo(LONDON))


def local(hour: int, minute: int = 0, *, zone: str = SHANGHAI, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def settings_for(url: str) -> Settings:
    """The deployment: digest at 08:30, contact window 08:00–21:00 (the suite turns it off by default)."""
    return Settings(
        database_url=url, timezone=SHANGHAI, contact_window_start=time(8, 0), contact_window_end=time(21, 0)
    )


@dataclass
class Desk:
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    users: dict[str, int]


async def staff(session: AsyncSession, name: str, role: str, telegram_id: int | None, zone: str | None) -> User:
    person = await planted.user(session, name, role, "城东支行", telegram_id)
    person.timezone = zone
    return person


async def client(session: AsyncSession, code: str, officer: User, zone: str = SHANGHAI) -> Borrower:
    found = await planted.borrower(session, code, officer)
    found.timezone = zone
    return found


def entry(borrower: Borrower, officer: User, reasons: list[str], planned: date, **extra: object) -> PlanEntry:
    return PlanEntry(
        month=f"{planned:%Y-%m}", borrower_id=borrower.id, officer_id=officer.id, script_id="officer_phone_visit",
        reasons=reasons, detail={}, action=extra.pop("action", "call"), planned_on=planned,
        due_on=extra.pop("due_on", planned + timedelta(days=7)), **extra,
    )  # fmt: skip


def loan(borrower: Borrower, days: int) -> Loan:
    return Loan(
        borrower_id=borrower.id, contract_no=f"DK{borrower.code}", product="个人经营贷", amount=Decimal(50000),
        disbursed_on=date(2026, 5, 1), purpose="进货备货", status="overdue" if days else "active",
        overdue_amount=Decimal("4500.00") if days else Decimal(0), overdue_days=days,
    )  # fmt: skip


def callback(borrower: Borrower, officer: User, at: datetime, **extra: object) -> Task:
    return Task(kind="callback", officer_id=officer.id, borrower_id=borrower.id, due_at=at, note="callback", **extra)


async def plant(session: AsyncSession) -> dict[str, int]:
    """Officer A in Shanghai and B in London, each with a day of work; people who get no digest."""
    a = await staff(session, "甲信贷员", "officer", 8101, SHANGHAI)
    b = await staff(session, "乙信贷员", "officer", 8102, LONDON)
    idle = await staff(session, "丙信贷员", "officer", 8103, None)  # nothing to do: no digest
    gone = await staff(session, "丁信贷员", "officer", 8104, None)
    gone.active = False
    console_only = await staff(session, "戊信贷员", "officer", None, None)  # no Telegram: no digest
    boss = await staff(session, "刘主管", "supervisor", 8105, None)
    a1, a2, a3, a4 = [await client(session, f"A0{n}", a) for n in (1, 2, 3, 4)]
    a5, a6, a7 = [await client(session, f"A0{n}", a) for n in (5, 6, 7)]
    b1 = await client(session, "B01", b, LONDON)
    for who in (gone, console_only, boss):
        extra = await client(session, f"X{who.id}", who)
        session.add(callback(extra, who, local(10)))
    session.add_all([
        entry(a1, a, ["new_loan", "policy"], DAY),
        entry(a2, a, ["overdue"], date(2026, 11, 28), due_on=date(2026, 12, 5)),  # left from an earlier day
        entry(a3, a, ["sample"], DAY, done_at=local(8)),  # done already
        entry(a4, a, ["flagged"], DAY + timedelta(days=1)),  # tomorrow
        entry(a5, a, ["policy"], DAY, action="invite"),  # a self-service invite, no visit
        entry(b1, b, ["flagged"], DAY),
        callback(a1, a, local(10)),  # inside the window
        callback(a2, a, local(22, 30)),  # outside: the earliest allowed is tomorrow 08:00
        callback(a3, a, local(22, 30), borrower_asked=True),  # outside, but the borrower asked for it
        callback(a4, a, local(9, day=DAY + timedelta(days=1))),  # tomorrow
        callback(a4, a, local(9), done_at=local(9, 5)),  # done
        loan(a5, 9),  # overdue 9 days, never called
        loan(a6, 9),  # overdue 9 days, called two days ago
        loan(a7, 5),  # overdue 5 days: not past day 5
    ])  # fmt: skip
    await planted.visit(session, a6, a, finished_at=local(11) - timedelta(days=2))
    returned = await planted.visit(session, a7, a, finished_at=local(11) - timedelta(days=1))
    returned.review_status, returned.review_comment = "returned", "请补充门店照片"
    returned_b = await planted.visit(session, b1, b, finished_at=local(11) - timedelta(days=1))
    returned_b.review_status = "returned"
    await session.flush()
    return {"A": a.id, "B": b.id, "idle": idle.id, "visit_a": returned.id, "visit_b": returned_b.id}


@pytest.fixture
async def desk(database_url: str) -> AsyncIterator[Desk]:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        users = await plant(session)
    try:
        yield Desk(sessions, settings_for(database_url), users)
    finally:
        await engine.dispose()


async def digests(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    async with sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.kind == "digest").order_by(OutboxMessage.id)
        return list((await session.scalars(query)).all())


async def test_each_officer_gets_their_day_at_0830_in_their_own_zone_once(desk: Desk) -> None:
    clock = FixedClock(AT_0830_SHANGHAI - timedelta(minutes=5))
    assert await queue_digests(desk.sessions, desk.settings, clock.now()) == []  # 08:25 in Shanghai: not yet
    clock.set(AT_0830_SHANGHAI)
    assert await queue_digests(desk.sessions, desk.settings, clock.now(), zone=LONDON) == []  # 00:30 there
    assert len(await queue_digests(desk.sessions, desk.settings, clock.now())) == 1
    (first,) = await digests(desk.sessions)
    assert (first.user_id, first.dedupe_key) == (desk.users["A"], f"digest:{desk.users['A']}:2026-12-02")

    zh = render(first.payload, "zh-CN", SHANGHAI).text
    assert zh == "\n".join([
        "每日工作清单（2026-12-02）",
        "",
        "今日计划回访 2 户：",
        "• A02 借款人A02：逾期提醒（原定 2026-11-28，最晚 2026-12-05）",
        "• A01 借款人A01：上月新放款、按风险等级定期回访",
        "",
        "待回电 3 个：",
        "• 2026-12-02 10:00 Asia/Shanghai A01 借款人A01：约定的回电",
        "• 2026-12-02 22:30 Asia/Shanghai A02 借款人A02：约定的回电"
        "（不在借款人可联系时段，最早 2026-12-03 08:00 Asia/Shanghai）",
        "• 2026-12-02 22:30 Asia/Shanghai A03 借款人A03：约定的回电（借款人要求的时间）",
        "",
        "逾期超过 5 天仍未联系 1 笔：",
        "• A05 借款人A05：DKA05 逾期 9 天，逾期金额 4,500.00 元",
        "",
        "被退回、待您答复的回访 1 条：",
        f"• 回访 #{desk.users['visit_a']} A07 借款人A07：请补充门店照片",
    ])  # fmt: skip
    en = render(first.payload, "en", LONDON).text  # the same row read in English, in another zone
    assert en.splitlines()[0] == "Your day (2026-12-02)"
    assert "Planned visits today: 2" in en
    assert "• A02 借款人A02: Overdue reminder (planned for 2026-11-28, due by 2026-12-05)" in en
    assert "• A01 借款人A01: Disbursed last month, Required by policy (tier)" in en
    assert (
        "• 2026-12-02 14:30 Europe/London A02 借款人A02: call-back booked (outside the borrower's contact hours; "
        "earliest 2026-12-03 00:00 Europe/London)" in en
    )
    assert "A03 借款人A03: call-back booked (the time the borrower asked for)" in en
    assert "Overdue more than 5 days, no call yet: 1\n• A05 借款人A05: DKA05 9 days overdue, 4,500.00 yuan" in en
    assert f"Visits sent back, waiting for your answer: 1\n• Visit #{desk.users['visit_a']} A07" in en

    assert await queue_digests(desk.sessions, desk.settings, clock.now()) == []  # fired again: nothing new
    clock.set(AT_0830_LONDON)  # 16:30 in Shanghai: A has theirs; B's morning
    (second_id,) = await queue_digests(desk.sessions, desk.settings, clock.now())
    first_again, second = await digests(desk.sessions)
    assert first_again.id == first.id and second.id == second_id and second.user_id == desk.users["B"]
    assert render(second.payload, "en", LONDON).text == "\n".join([
        "Your day (2026-12-02)",
        "",
        "Planned visits today: 1",
        "• B01 借款人B01: Flagged by the officer",
        "",
        "Visits sent back, waiting for your answer: 1",
        f"• Visit #{desk.users['visit_b']} B01 借款人B01: (no comment)",
    ])  # fmt: skip
    assert "• B01 借款人B01：客户经理标记" in render(second.payload, "zh-CN", LONDON).text
    assert set(await digest_zones(desk.sessions, desk.settings)) == {SHANGHAI, LONDON}


async def test_long_lists_are_cut_at_ten_lines_with_the_rest_counted(desk: Desk) -> None:
    async with desk.sessions() as session, session.begin():
        officer = await session.get(User, desk.users["idle"])
        assert officer is not None
        for n in range(LIST_CAP + 3):
            found = await client(session, f"C{n:02d}", officer)
            session.add(callback(found, officer, local(9) + timedelta(minutes=n)))
    await queue_digests(desk.sessions, desk.settings, AT_0830_SHANGHAI)
    (row,) = [r for r in await digests(desk.sessions) if r.user_id == desk.users["idle"]]
    text = render(row.payload, "zh-CN", SHANGHAI).text
    assert "待回电 13 个：" in text and text.count("• ") == LIST_CAP and text.endswith("…另有 3 条")
    assert "…and 3 more" in render(row.payload, "en", SHANGHAI).text


async def test_a_once_only_message_is_written_once(desk: Desk) -> None:
    now = AT_0830_SHANGHAI
    async with desk.sessions() as session, session.begin():
        body = {"key": "digest_more", "params": {"count": 1}, "buttons": []}
        first = await enqueue_once(session, "k:1", "digest", body, now=now, user_id=desk.users["A"])
        again = await enqueue_once(session, "k:1", "digest", body, now=now, user_id=desk.users["A"])
    assert first is not None and again is None
    assert [r.dedupe_key for r in await digests(desk.sessions)] == ["k:1"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_processes_queueing_at_once_write_one_digest_per_officer(desk: Desk, database_url: str) -> None:
    """Two engines (two bot processes) on one PostgreSQL, each firing twice at the same moment."""
    other = make_engine(database_url)
    try:
        both = [desk.sessions, make_sessionmaker(other)]
        now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # 17:00 in Shanghai, 09:00 in London
        fired = await asyncio.gather(*(queue_digests(s, desk.settings, now) for s in both * 2))
    finally:
        await other.dispose()
    rows = await digests(desk.sessions)
    assert sorted(r.user_id or 0 for r in rows) == sorted([desk.users["A"], desk.users["B"]])
    assert sorted(i for ids in fired for i in ids) == sorted(r.id for r in rows)  # each written by one caller


async def test_an_admin_who_looks_after_borrowers_gets_one_an_admin_without_none(desk: Desk) -> None:
    async with desk.sessions() as session, session.begin():
        keeper = await staff(session, "管理员甲", "admin", 8201, SHANGHAI)
        found = await client(session, "K01", keeper)
        session.add(callback(found, keeper, local(9)))
        plain = await staff(session, "管理员乙", "admin", 8202, SHANGHAI)  # no borrowers of their own
        keeper_id, plain_id = keeper.id, plain.id
    await queue_digests(desk.sessions, desk.settings, AT_0830_SHANGHAI)
    got = {row.user_id for row in await digests(desk.sessions)}
    assert keeper_id in got and plain_id not in got and got == {desk.users["A"], keeper_id}
