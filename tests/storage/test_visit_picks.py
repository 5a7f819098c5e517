"""The ``/visit`` pick list's order and marks (open visit, its script, last start), an admin's and an officer's,
as visits start, finish, move and go: always what the visits say, on both databases."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, event, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import repositories as repo
from storage.db import make_engine, make_sessionmaker
from storage.models import Borrower, User, Visit
from storage.visit_picks import TIER_RANK, pick_list

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
TIERS = ("high", "medium", "low", "watch")
"""``watch`` is no tier the list names: it comes after low."""


@dataclass(frozen=True)
class Expected:
    code: str
    open_visit_id: int | None
    open_script_id: str | None
    last_started: datetime | None


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


async def seed(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """Three officers with 8 borrowers each (tiers in turn); visits open and finished across them, with
    ties in start times, a borrower with two open visits, one whose finished visit started after their
    open one. Returns the borrowers' ids by code."""
    async with sessions() as session, session.begin():
        await session.execute(insert(User), [{"name": f"信贷员{n}", "role": "officer"} for n in range(3)])
        officers = list((await session.scalars(select(User.id).order_by(User.id))).all())
        await session.execute(
            insert(Borrower),
            [
                {"code": f"C{n:02d}", "name": f"客户{n}", "officer_id": officers[n % 3], "risk_tier": TIERS[n % 4]}
                for n in range(24)
            ],
        )
        ids = {c: b for b, c in (await session.execute(select(Borrower.id, Borrower.code))).all()}
        visits = [
            ("C00", "officer_phone_visit", "finished", 1),
            ("C01", "officer_phone_visit", "open", 5),
            ("C02", "officer_phone_visit", "open", 5),  # the same start as C01: tier, then code decide
            ("C03", "officer_phone_visit", "finished", 2),
            ("C03", "onsite_visit", "finished", 9),
            ("C04", "officer_phone_visit", "open", 3),
            ("C04", "onsite_visit", "open", 7),  # two open: the newest is the one shown
            ("C05", "onsite_visit", "open", 2),
            ("C05", "officer_phone_visit", "finished", 8),  # started after the open one: the last start
            ("C06", "officer_phone_visit", "cancelled", 1),
            ("C09", "officer_phone_visit", "finished", 1),
            ("C10", "officer_phone_visit", "finished", 4),
            ("C13", "overdue_reminder", "open", 1),
            ("C17", "officer_phone_visit", "finished", 4),
            ("C20", "officer_phone_visit", "open", 6),
        ]
        for code, script, status, hours in visits:
            await add_visit(session, ids[code], script, status, hours)
    return ids


async def add_visit(session: AsyncSession, borrower_id: int, script: str, status: str, hours: int) -> int:
    values = {"borrower_id": borrower_id, "script_id": script, "script_version": 1, "state": {}, "status": status,
              "started_at": at(hours), "updated_at": at(hours), "revision": 1}  # fmt: skip
    return int((await session.execute(insert(Visit).values(values).returning(Visit.id))).scalar_one())


async def expected(session: AsyncSession, officer_id: int | None = None) -> list[Expected]:
    """The list as the docstring of ``pick_list`` says, worked out in Python from every visit: open first, then
    the longest unvisited (never first), high before medium before low before any other tier, then by code."""
    borrowers = (
        await session.execute(select(Borrower.id, Borrower.code, Borrower.risk_tier, Borrower.officer_id))
    ).all()
    visits = (
        await session.execute(select(Visit.id, Visit.borrower_id, Visit.status, Visit.script_id, Visit.started_at))
    ).all()
    rows = []
    for b in borrowers:
        if officer_id is not None and b.officer_id != officer_id:
            continue
        own = [v for v in visits if v.borrower_id == b.id]
        newest_open = max((v for v in own if v.status == "open"), key=lambda v: v.id, default=None)
        last = max((v.started_at for v in own), default=None)
        key = (newest_open is None, last is not None, last or T0, TIER_RANK.get(b.risk_tier, len(TIER_RANK)), b.code)
        if newest_open is None:
            mark = Expected(b.code, None, None, last)
        else:
            mark = Expected(b.code, newest_open.id, newest_open.script_id, last)
        rows.append((key, mark))
    return [mark for _, mark in sorted(rows, key=lambda r: r[0])]


async def shown(session: AsyncSession, officer_id: int | None = None, limit: int | None = None) -> list[Expected]:
    rows = await pick_list(session, officer_id=officer_id, limit=limit)
    return [Expected(r.borrower.code, r.open_visit_id, r.open_script_id, r.last_started) for r in rows]


async def check(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    """Everyone's list, each officer's, and cut to 5, against the visits; the admin's codes."""
    async with sessions() as session:
        everyone = await expected(session)
        assert await shown(session) == everyone
        assert await shown(session, limit=5) == everyone[:5]
        for officer in (await session.scalars(select(User.id))).all():
            assert await shown(session, officer_id=officer, limit=20) == await expected(session, officer)
    return [e.code for e in everyone]


async def test_an_admins_list_is_open_first_then_longest_unvisited(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Everyone's borrowers: those with an open visit (the oldest last start first; at the same start high before
    medium), then the never visited (by tier, then code), then the rest by last start."""
    await seed(sessions)
    codes = await check(sessions)
    assert codes[:6] == ["C13", "C01", "C02", "C20", "C04", "C05"]
    assert codes[6:9] == ["C08", "C12", "C16"]  # never visited, high first
    assert codes[-6:] == ["C00", "C09", "C06", "C17", "C10", "C03"]
    async with sessions() as session:
        marks = {e.code: e for e in await shown(session)}
    assert marks["C04"].open_script_id == "onsite_visit" and marks["C04"].last_started == at(7)
    assert marks["C05"].open_script_id == "onsite_visit" and marks["C05"].last_started == at(8)
    assert marks["C03"].open_visit_id is None and marks["C03"].last_started == at(9)
    assert marks["C08"] == Expected("C08", None, None, None)


async def test_the_list_follows_visits_started_finished_moved_and_deleted(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Each change to a visit shows in the next list: a start marks the borrower open, finishing the newest
    of two open visits shows the other, a visit moved to another borrower or deleted takes its marks along."""
    ids = await seed(sessions)
    async with sessions() as session, session.begin():
        started = await add_visit(session, ids["C08"], "officer_phone_visit", "open", 10)
    assert (await check(sessions))[:7] == ["C13", "C01", "C02", "C20", "C04", "C05", "C08"]

    async with sessions() as session, session.begin():
        newest = await session.scalar(
            select(Visit.id).where(
                Visit.borrower_id == ids["C04"], Visit.status == "open", Visit.script_id == "onsite_visit"
            )
        )
        await session.execute(update(Visit).where(Visit.id == newest).values(status="finished"))
        await session.execute(update(Visit).where(Visit.id == started).values(status="cancelled"))
    await check(sessions)
    async with sessions() as session:
        marks = {e.code: e for e in await shown(session)}
    assert marks["C04"].open_script_id == "officer_phone_visit" and marks["C04"].last_started == at(7)
    assert marks["C08"].open_visit_id is None and marks["C08"].last_started == at(10)

    async with sessions() as session, session.begin():
        await session.execute(update(Visit).where(Visit.borrower_id == ids["C20"]).values(borrower_id=ids["C21"]))
        await session.execute(update(Visit).where(Visit.borrower_id == ids["C01"]).values(started_at=at(0)))
        await session.execute(delete(Visit).where(Visit.borrower_id == ids["C03"], Visit.script_id == "onsite_visit"))
        await session.execute(update(Visit).where(Visit.borrower_id == ids["C13"]).values(remark="回电"))
    codes = await check(sessions)
    assert "C20" in codes[6:] and codes.index("C21") < 6 and codes[:2] == ["C01", "C13"]
    async with sessions() as session:
        marks = {e.code: e for e in await shown(session)}
    assert marks["C03"].last_started == at(2) and marks["C20"] == Expected("C20", None, None, None)


async def test_a_visit_started_while_another_ends_keeps_the_borrower_open(postgres_url: str) -> None:
    """PostgreSQL, two officers at once on one borrower: one starts a visit while the other ends theirs (the
    end waiting for the start's lock on the borrower). The borrower stays marked open, with the new visit."""
    engine = make_engine(postgres_url)
    sessions = make_sessionmaker(engine)
    try:
        ids = await seed(sessions)
        async with sessions() as session:
            ending = await session.scalar(select(Visit.id).where(Visit.borrower_id == ids["C01"]))
        async with engine.connect() as starter, engine.connect() as ender:
            await starter.begin()
            values = {"borrower_id": ids["C01"], "script_id": "onsite_visit", "script_version": 1, "state": {},
                      "status": "open", "started_at": at(11), "updated_at": at(11), "revision": 1}  # fmt: skip
            started = (await starter.execute(insert(Visit).values(values).returning(Visit.id))).scalar_one()
            await ender.begin()
            end = asyncio.create_task(ender.execute(update(Visit).where(Visit.id == ending).values(status="finished")))
            await waiting_for_a_lock(sessions)
            await starter.commit()
            await end
            await ender.commit()
        async with sessions() as session:
            marks = {e.code: e for e in await shown(session)}
            assert marks["C01"] == Expected("C01", started, "onsite_visit", at(11))
        await check(sessions)
    finally:
        await engine.dispose()


async def waiting_for_a_lock(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Until another connection of this database waits for a lock."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(500):
        async with sessions() as session:
            if await session.scalar(query):
                return
        await asyncio.sleep(0.01)
    raise AssertionError("nobody waits for the borrower's lock")


async def test_the_list_is_read_in_index_order_never_sorted(sqlite_url: str) -> None:
    """Everyone's list and an officer's are read from the index on the list's order (20 entries, whatever the
    size of the book), not sorted: the query's order is written as the index's (storage.models)."""
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    statements: list[tuple[str, tuple[object, ...]]] = []

    def seen(conn: object, cursor: object, statement: str, parameters: tuple[object, ...], *args: object) -> None:
        statements.append((statement, parameters))

    try:
        await seed(sessions)
        event.listen(engine.sync_engine, "before_cursor_execute", seen)
        async with sessions() as session:
            await pick_list(session, limit=20)
            await pick_list(session, officer_id=1, limit=20)
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
        lists = [s for s in statements if "FROM borrowers" in s[0]]
        plans = {}
        async with engine.connect() as conn:
            for who, (statement, parameters) in zip(("everyone", "officer"), lists, strict=True):
                found = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
                plans[who] = [str(row[-1]) for row in found]
    finally:
        await engine.dispose()
    assert "SCAN borrowers USING INDEX ix_borrowers_pick" in plans["everyone"], plans
    assert any("USING INDEX ix_borrowers_officer_pick (officer_id=?)" in step for step in plans["officer"]), plans
    assert not any("TEMP B-TREE" in step for plan in plans.values() for step in plan), plans


async def test_a_borrower_is_found_by_code_in_any_case_from_the_index(database_url: str) -> None:
    """``/visit c07`` finds C07 by the index on ``upper(code)``, not by reading every borrower of the book
    (PostgreSQL told to avoid a scan of the whole table where it can: on a small table it would rather read it)."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    statements: list[tuple[str, object]] = []

    def seen(conn: object, cursor: object, statement: str, parameters: object, *args: object) -> None:
        statements.append((statement, parameters))

    try:
        await seed(sessions)
        event.listen(engine.sync_engine, "before_cursor_execute", seen)
        async with sessions() as session:
            found = await repo.borrower_by_code(session, " c07 ")
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
        statement, parameters = next(s for s in statements if "upper(borrowers.code)" in s[0])
        async with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)  # type: ignore[arg-type]
                plan = [str(row[-1]) for row in rows]
            else:
                await conn.exec_driver_sql("SET enable_seqscan = off")
                rows = await conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)  # type: ignore[arg-type]
                plan = [str(row[0]) for row in rows]
    finally:
        await engine.dispose()
    assert found is not None and found.code == "C07"
    assert any("ix_borrowers_code_upper" in step for step in plan), plan
