"""The monthly plan against a small loan book that exercises each rule (SQLite and PostgreSQL).

The clock stands on Wednesday 2 December 2026, 10:00 in Shanghai; the plan is December's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk import Actor, FixedClock, NotFound, VisitDesk
from bot.desk.planning import (
    PlanInputError,
    PlanLine,
    flag_borrower,
    fulfil_plan,
    make_plan,
    parse_month,
    plan_lines,
    progress,
)
from bot.settings import Settings
from dialogs.catalog import ScriptCatalog
from dialogs.engine import Cancel
from dialogs.schema import Outcome
from storage.db import make_engine, make_sessionmaker
from storage.models import Borrower, Dispute, Loan, OutboxMessage, PlanEntry, Repayment, User, Visit, WatchFlag

CLOCK = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
"""Wednesday 2 December 2026, 10:00 in Shanghai."""
MONTH = "2026-12"


@dataclass
class Book:
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    officers: dict[str, User]


async def _visit(session: AsyncSession, borrower: Borrower, on: date, outcome: str = "completed") -> Visit:
    at = datetime(on.year, on.month, on.day, 3, 0, tzinfo=UTC)
    visit = Visit(
        borrower_id=borrower.id, officer_id=borrower.officer_id, script_id="officer_phone_visit", script_version=1,
        state={}, status="finished", outcome=outcome, started_at=at - timedelta(minutes=10), finished_at=at,
    )  # fmt: skip
    session.add(visit)
    await session.flush()
    return visit


async def _borrower(
    session: AsyncSession,
    code: str,
    officer: User,
    tier: str,
    *,
    visited: date | None = None,
    disbursed: date = date(2025, 6, 1),
    unpaid_due: date | None = None,
    opted_out: bool = False,
    telegram_id: int | None = None,
) -> Borrower:
    """A borrower with one open loan; ``visited``: a completed visit that day; ``unpaid_due``: an instalment missed."""
    borrower = Borrower(
        code=code, name=f"借款人{code}", officer_id=officer.id, risk_tier=tier, telegram_id=telegram_id,
        opted_out_at=CLOCK - timedelta(days=30) if opted_out else None,
        opt_out_reason="busy" if opted_out else None,
    )  # fmt: skip
    session.add(borrower)
    await session.flush()
    loan = Loan(
        borrower_id=borrower.id, contract_no=f"DK-{code}", product="个人经营贷", amount=Decimal(50000),
        disbursed_on=disbursed, purpose="进货备货",
    )  # fmt: skip
    session.add(loan)
    await session.flush()
    if unpaid_due is not None:
        session.add(Repayment(loan_id=loan.id, due_on=unpaid_due, amount_due=Decimal(3000), amount_paid=Decimal(0)))
    if visited is not None:
        await _visit(session, borrower, visited)
    return borrower


async def _build(sessions: async_sessionmaker[AsyncSession]) -> dict[str, User]:
    """The loan book: officer 王磊's borrowers each meet one rule (or all); 陈静's are a pool for the sample."""
    async with sessions() as session, session.begin():
        wang = User(name="王磊", role="officer", team="城东支行", telegram_id=9001)
        chen = User(name="陈静", role="officer", team="城东支行", telegram_id=9002)
        zhao = User(name="赵强", role="officer", team="城西支行", telegram_id=9003)
        boss = User(name="刘主管", role="supervisor", team="城东支行", telegram_id=9004)
        session.add_all([wang, chen, zhao, boss])
        await session.flush()
        b = _borrower
        await b(session, "N01", wang, "low", visited=date(2026, 10, 20), disbursed=date(2026, 11, 15))
        await b(session, "H01", wang, "high", visited=date(2026, 11, 20))
        await b(session, "M01", wang, "medium", visited=date(2026, 9, 15))
        await b(session, "M02", wang, "medium", visited=date(2026, 10, 5))
        await b(session, "L01", wang, "low")
        await b(session, "L02", wang, "low", visited=date(2026, 8, 1))
        flagged = await b(session, "F01", wang, "low", visited=date(2026, 11, 1))
        await b(session, "D01", wang, "medium", visited=date(2026, 11, 25), unpaid_due=date(2026, 11, 28))
        await b(session, "O01", wang, "low", opted_out=True, telegram_id=7001)
        await b(session, "O02", wang, "low", opted_out=True)
        await b(session, "O03", wang, "high", opted_out=True, visited=date(2026, 11, 3))
        every = await b(session, "A01", wang, "high", disbursed=date(2026, 11, 10), unpaid_due=date(2026, 11, 30))
        disputed = await b(session, "X01", wang, "low", visited=date(2026, 11, 2), unpaid_due=date(2026, 11, 20))
        await b(session, "C01", wang, "low", visited=date(2026, 12, 1), disbursed=date(2026, 11, 5))  # done already
        for index in range(10):
            await b(session, f"S{index:02d}", chen, "low", visited=date(2026, 11, 1))
        await b(session, "Z01", zhao, "high")
        session.add(Dispute(borrower_id=disputed.id, note="金额不对", raised_at=CLOCK - timedelta(days=3)))
        for target in (flagged, every):
            at = CLOCK - timedelta(days=2)
            session.add(WatchFlag(borrower_id=target.id, user_id=wang.id, reason="生意变差", flagged_at=at))
        return {"wang": wang, "chen": chen, "zhao": zhao, "boss": boss}


@pytest.fixture
async def book(database_url: str) -> AsyncIterator[Book]:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    officers = await _build(sessions)
    settings = Settings(database_url=database_url, plan_sample_size=3, timezone="Asia/Shanghai", locale="en")
    try:
        yield Book(sessions, settings, officers)
    finally:
        await engine.dispose()


def by_code(lines: list[PlanLine]) -> dict[str, PlanLine]:
    return {line.borrower_code: line for line in lines}


async def test_the_plan_follows_every_rule(book: Book) -> None:
    """Each borrower is in December's plan for the reasons the rules give, once, with the right action."""
    summary = await make_plan(book.sessions, book.settings, FixedClock(CLOCK), MONTH, seed=7)
    plan = by_code(await plan_lines(book.sessions, MONTH))
    wang = {code: line for code, line in plan.items() if line.officer_name == "王磊"}
    assert {code: line.reasons for code, line in wang.items() if "sample" not in line.reasons} == {
        "N01": ("new_loan",),
        "H01": ("policy",),  # high: every month
        "M01": ("policy",),  # medium, last seen in September: due again in December
        "L01": ("policy",),  # never visited
        "F01": ("flagged",),
        "D01": ("overdue",),
        "O01": ("policy",),
        "O02": ("policy",),
        "O03": ("policy",),
        "A01": ("overdue", "new_loan", "policy", "flagged"),  # once, with all its reasons
        "X01": ("overdue",),
        "C01": ("new_loan", "policy"),  # first visited on 1 December: nothing before the month
    }
    # medium seen in October and low seen in August are not due: they are the only candidates of the sample
    assert {code for code, line in wang.items() if line.reasons == ("sample",)} == {"M02", "L02"}
    assert sum(line.reasons == ("sample",) for line in plan.values() if line.officer_name == "陈静") == 3
    assert plan["Z01"].reasons == ("policy",)
    # overdue: the reminder today, due within 7 days of the missed instalment (28 November -> 5 December)
    overdue = plan["D01"]
    assert (overdue.script_id, overdue.action, overdue.planned_on) == ("overdue_reminder", "call", date(2026, 12, 2))
    assert overdue.due_on == date(2026, 12, 5)
    assert plan["A01"].due_on == date(2026, 12, 7) and plan["A01"].script_id == "overdue_reminder"
    # opted out: low risk gets the self-service invite, high risk stays a call and says why
    assert (plan["O01"].action, plan["O01"].script_id) == ("invite", "self_checkin")
    assert "self-service invite instead of a call" in plan["O01"].note
    assert "/invite O02" in plan["O02"].note and plan["O02"].action == "invite"
    assert (plan["O03"].action, plan["O03"].note) == ("call", "opted out; high risk: visit kept")
    # an open dispute holds the overdue reminder; the entry stays in the plan
    assert plan["X01"].action == "hold" and "dispute" in plan["X01"].note
    # a visit completed on 1 December already fulfils its entry
    assert plan["C01"].done and plan["C01"].visit_id is not None
    # days: never before today, on working days, by the month's end; due first
    rest = [line for line in plan.values() if "overdue" not in line.reasons]
    assert all(date(2026, 12, 2) <= line.planned_on <= date(2026, 12, 31) for line in rest)
    assert all(line.planned_on.weekday() < 5 and line.due_on == date(2026, 12, 31) for line in rest)
    assert len({line.planned_on for line in rest if line.officer_name == "王磊"}) > 5  # spread, not piled up
    assert [line.borrower_code for line in (await plan_lines(book.sessions, MONTH))[:3]] == ["X01", "D01", "A01"]
    assert summary.added == len(plan) and summary.kept_done == 0 and summary.done_now == 1
    assert summary.by_reason["overdue"] == 3 and summary.by_reason["flagged"] == 2 and summary.seed == 7


async def test_the_invite_is_queued_once(book: Book) -> None:
    """A low-risk opted-out borrower on Telegram is sent the self-service invite through the outbox, once."""
    pytest.importorskip("bot.desk.invites")  # H4's queue_invite (issue 10)
    first = await make_plan(book.sessions, book.settings, FixedClock(CLOCK), MONTH, seed=7)
    again = await make_plan(book.sessions, book.settings, FixedClock(CLOCK + timedelta(hours=2)), MONTH, seed=7)
    assert (first.invites_queued, again.invites_queued) == (1, 0)
    async with book.sessions() as session:
        invites = (await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "invite"))).all()
    assert [message.chat_id for message in invites] == [7001]
    line = by_code(await plan_lines(book.sessions, MONTH))["O01"]
    assert "the bot has sent the invite" in line.note


async def test_the_sample_is_reproducible_with_its_seed(book: Book) -> None:
    """The same seed draws the same borrowers; another seed others; without one the month is the seed."""

    async def drawn(seed: int | None) -> tuple[set[str], int]:
        summary = await make_plan(book.sessions, book.settings, FixedClock(CLOCK), MONTH, seed=seed)
        picks = {line.borrower_code for line in await plan_lines(book.sessions, MONTH) if "sample" in line.reasons}
        async with book.sessions() as session, session.begin():
            await session.execute(delete(PlanEntry))
        return picks, summary.seed

    seven, _ = await drawn(7)
    assert len(seven) == 5  # 陈静: 3 of 10; 王磊: both of 2
    assert (await drawn(7))[0] == seven
    assert (await drawn(8))[0] != seven
    unseeded, seed = await drawn(None)
    assert seed == 202612 and (await drawn(202612))[0] == unseeded


async def test_replanning_a_half_done_month(book: Book) -> None:
    """Done entries stay as they were; open ones take new reasons; new borrowers are added; nothing twice."""
    clock = FixedClock(CLOCK)
    await make_plan(book.sessions, book.settings, clock, MONTH, seed=7)
    before = by_code(await plan_lines(book.sessions, MONTH))
    async with book.sessions() as session, session.begin():
        h01 = (await session.scalars(select(Borrower).where(Borrower.code == "H01"))).one()
        n01 = (await session.scalars(select(Borrower).where(Borrower.code == "N01"))).one()
        clock.set(CLOCK + timedelta(days=7))  # Wednesday 9 December
        visit = await _visit(session, h01, date(2026, 12, 8))
        visit.borrower = h01
        await fulfil_plan(session, visit, visit.finished_at or CLOCK, timezone="Asia/Shanghai")
        await _borrower(session, "L99", book.officers["wang"], "low")
        session.add(WatchFlag(borrower_id=n01.id, user_id=None, reason="换了店面", flagged_at=clock.now()))
    half_done = by_code(await plan_lines(book.sessions, MONTH))
    assert half_done["H01"].done and not before["H01"].done
    summary = await make_plan(book.sessions, book.settings, clock, MONTH, seed=7)
    after = by_code(await plan_lines(book.sessions, MONTH))
    assert after["H01"] == half_done["H01"] and after["C01"] == before["C01"]
    assert after["N01"].reasons == ("new_loan", "flagged") and after["N01"].planned_on == before["N01"].planned_on
    assert after["L99"].reasons == ("policy",) and after["L99"].planned_on >= date(2026, 12, 9)
    assert set(after) == set(before) | {"L99"}
    assert (summary.added, summary.kept_done) == (1, 2)  # L99; H01 and C01 done
    assert summary.updated == 1  # N01 only: nothing else changed
    async with book.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(PlanEntry)) == len(after)


async def test_a_visit_done_counts_against_its_entry(book: Book) -> None:
    """Ending an overdue reminder through the desk fulfils the entry; progress counts it per officer and reason."""
    await make_plan(book.sessions, book.settings, FixedClock(CLOCK), MONTH, seed=7)
    wang = book.officers["wang"]
    desk = VisitDesk(book.sessions, ScriptCatalog(), book.settings, FixedClock(CLOCK + timedelta(hours=1)))
    actor = Actor("officer", wang.id)
    started = await desk.begin("D01", actor=actor, officer_id=wang.id, script_id="overdue_reminder")
    ended = await desk.act(started.visit_id, Cancel(Outcome.REFUSED), actor=actor, said="拒绝")
    assert ended.turn.finished
    line = by_code(await plan_lines(book.sessions, MONTH))["D01"]
    assert line.done and line.visit_id == started.visit_id
    rows = {(row.officer_name, row.reason): (row.planned, row.done) for row in await progress(book.sessions, MONTH)}
    assert rows[("王磊", "overdue")] == (3, 1)
    assert rows[("王磊", "new_loan")] == (3, 1)  # C01, done on 1 December
    assert rows[("王磊", "total")] == (14, 2)
    assert rows[("", "total")] == (14 + 3 + 1, 2)
    # a supervisor sees their team, an officer their own
    team = await progress(book.sessions, MONTH, viewer=book.officers["boss"])
    assert {row.officer_name for row in team if row.officer_id} == {"王磊", "陈静"}
    own = await plan_lines(book.sessions, MONTH, viewer=book.officers["chen"])
    assert {line.officer_name for line in own} == {"陈静"} and len(own) == 3


async def test_flags_and_bad_input(book: Book) -> None:
    """An officer flags their own borrower (the flag is cleared when the entry is fulfilled), not another's."""
    clock = FixedClock(CLOCK)
    wang = book.officers["wang"]
    flag = await flag_borrower(book.sessions, clock, user=wang, code="m02", reason="  生意  变差 ")
    assert flag.reason == "生意 变差"
    with pytest.raises(NotFound, match="Z01"):
        await flag_borrower(book.sessions, clock, user=wang, code="Z01", reason="x")
    with pytest.raises(NotFound):
        await flag_borrower(book.sessions, clock, user=None, code="NOPE", reason="x")
    with pytest.raises(PlanInputError) as empty:
        await flag_borrower(book.sessions, clock, user=wang, code="M02", reason=" ")
    assert "Say why" in empty.value.text("en")
    await make_plan(book.sessions, book.settings, clock, MONTH, seed=7)
    async with book.sessions() as session, session.begin():
        m02 = (await session.scalars(select(Borrower).where(Borrower.code == "M02"))).one()
        visit = await _visit(session, m02, date(2026, 12, 3))
        visit.borrower = m02
        await fulfil_plan(session, visit, CLOCK + timedelta(days=1), timezone="Asia/Shanghai")
    async with book.sessions() as session:
        cleared = await session.scalar(select(WatchFlag.cleared_at).where(WatchFlag.id == flag.id))
    assert cleared is not None
    assert parse_month("2026/1") == "2026-01"
    for bad in ("2026-13", "december", ""):
        with pytest.raises(PlanInputError) as caught:
            parse_month(bad)
        assert "YYYY-MM" in caught.value.text("en")
    with pytest.raises(PlanInputError) as over:
        await make_plan(book.sessions, book.settings, clock, "2026-11")
    assert "2026-11 is over" in over.value.text("en")


async def test_next_months_plan_starts_on_its_first_working_day(book: Book) -> None:
    """Planned ahead (in December, for January): overdue first on 1 January, the rest spread over January."""
    summary = await make_plan(book.sessions, book.settings, FixedClock(CLOCK), "2027-01", seed=1)
    plan = by_code(await plan_lines(book.sessions, "2027-01"))
    assert plan["D01"].planned_on == date(2027, 1, 1) and plan["D01"].due_on == date(2027, 1, 1)  # late already
    assert all("new_loan" not in line.reasons for line in plan.values())  # November's loans were December's
    assert all(date(2027, 1, 1) <= line.planned_on <= date(2027, 1, 29) for line in plan.values())
    assert min(line.planned_on for line in plan.values() if "overdue" not in line.reasons) == date(2027, 1, 1)
    assert summary.month == "2027-01" and summary.done_now == 0  # December's visits count for December
