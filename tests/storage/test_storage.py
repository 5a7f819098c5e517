"""Storage against SQLite and the local PostgreSQL: visits survive, answers keep raw and parsed values."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy import text as sql
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import NullPool

import storage.db
from bot.app import connections_for, make_services
from bot.desk import Actor, NotFound, VisitDesk
from bot.desk.records import visit_record
from bot.settings import Settings
from dialogs.answers import Reply
from dialogs.catalog import ScriptCatalog
from dialogs.engine import Back, Submit
from storage import repositories as repo
from storage.chats import leave_visit, set_chat
from storage.db import make_engine, make_sessionmaker
from storage.demo import load_demo
from storage.group_commit import POSTGRES_WRITERS
from storage.models import Answer, ChatSession, Loan, ProcessedUpdate, TranscriptMessage, Visit

OFFICER = Actor("officer", 1)


@pytest.fixture
async def desk(database_url: str) -> AsyncIterator[VisitDesk]:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        assert await load_demo(session)
    settings = Settings(database_url=database_url, institution="测试农商银行")
    yield VisitDesk(sessions, ScriptCatalog(), settings)
    await engine.dispose()


async def answer(desk: VisitDesk, visit_id: int, *texts: str) -> None:
    for text in texts:
        reply = await desk.act(visit_id, Submit(Reply(text=text)), actor=OFFICER, said=text)
        assert reply.turn.error is None, reply.turn.error


async def test_demo_data_is_loaded_once(desk: VisitDesk) -> None:
    async with desk.sessions() as session, session.begin():
        assert not await load_demo(session)
        borrowers = await repo.list_borrowers(session)
    assert [b.code for b in borrowers][:3] == ["B001", "B002", "B003"]
    assert all(b.loans and b.officer for b in borrowers)


async def test_a_visit_is_recorded_with_raw_and_parsed_answers(desk: VisitDesk) -> None:
    started = await desk.begin("b001", actor=OFFICER, officer_id=None)
    await answer(desk, started.visit_id, "1", "记得", "差", "1", "压力很大", "有", "5w", "民间借贷")
    async with desk.sessions() as session:
        visit = await repo.load_visit(session, started.visit_id)
        assert visit is not None
        record = await visit_record(session, visit)
    assert record["script"] == {"id": "officer_phone_visit", "version": 2}
    assert record["status"] == "open" and record["step"] == "changes"
    amount = next(a for a in record["answers"] if a["step"] == "other_borrowing_amount")
    assert amount["raw"] == "5w" and amount["value"] == "50000" and amount["display"] == "5万元"
    assert {(f["code"], f["severity"]) for f in record["flags"]} >= {
        ("repayment_pressure_high", "high"),
        ("other_debt", "high"),
    }
    ins = [m["text"] for m in record["transcript"] if m["direction"] == "in"]
    assert ins[:3] == ["1", "记得", "差"]
    assert any("测试农商银行" in m["text"] for m in record["transcript"] if m["direction"] == "out")
    assert all(m["at"].endswith("+00:00") for m in record["transcript"])


async def test_an_open_visit_resumes_from_the_database(desk: VisitDesk) -> None:
    first = await desk.begin("B002", actor=OFFICER, officer_id=None)
    await answer(desk, first.visit_id, "1", "1")
    fresh = VisitDesk(desk.sessions, ScriptCatalog(), desk.settings)  # as after a restart
    again = await fresh.begin("B002", actor=OFFICER, officer_id=None)
    assert again.resumed and again.visit_id == first.visit_id
    assert again.turn.prompt is not None and again.turn.prompt.step == "business_status"
    assert again.turn.state.answers == {"identity": "self", "introduction": "remembers"}


async def test_back_keeps_the_undone_answer_for_audit(desk: VisitDesk) -> None:
    started = await desk.begin("B003", actor=OFFICER, officer_id=None)
    await answer(desk, started.visit_id, "1", "1", "差")
    await desk.act(started.visit_id, Back(), actor=OFFICER, said="/back")
    async with desk.sessions() as session:
        live = await repo.visit_answers(session, started.visit_id)
        every = await repo.visit_answers(session, started.visit_id, include_undone=True)
        flags = await repo.visit_flags(session, started.visit_id)
    assert [a.step_id for a in live] == ["identity", "introduction"]
    assert len(every) == 3 and every[-1].undone_at is not None
    assert not flags


async def test_a_redelivered_update_is_applied_once(desk: VisitDesk) -> None:
    started = await desk.begin("B004", actor=OFFICER, officer_id=None)
    event = Submit(Reply(text="1"))
    first = await desk.act(started.visit_id, event, actor=OFFICER, said="1", update_key="tg:42")
    second = await desk.act(started.visit_id, event, actor=OFFICER, said="1", update_key="tg:42")
    assert not first.duplicate and second.duplicate
    async with desk.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Answer).where(Answer.visit_id == started.visit_id)
        )
    assert count == 1


async def test_an_answer_is_its_updates_claim(desk: VisitDesk) -> None:
    """The update that gave an answer is kept on the answer (no claim row of its own: one statement less
    per answer). Redelivered once the visit moved on, the same text would answer the next question: it is
    found on the answer and recorded nowhere, the transcript included."""
    started = await desk.begin("B004", actor=OFFICER, officer_id=None)
    await desk.act(started.visit_id, Submit(Reply(text="1")), actor=OFFICER, said="1", update_key="tg:7:1")
    first = await desk.act(started.visit_id, Submit(Reply(text="1")), actor=OFFICER, said="1", update_key="tg:7:2")
    again = await desk.act(started.visit_id, Submit(Reply(text="1")), actor=OFFICER, said="1", update_key="tg:7:2")
    assert not first.duplicate and again.duplicate
    assert again.turn.prompt is not None and again.turn.prompt.step == first.turn.state.step
    async with desk.sessions() as session:
        kept = (await session.execute(select(Answer.step_id, Answer.update_key).order_by(Answer.id))).all()
        claims = (await session.scalars(select(ProcessedUpdate.key))).all()
        said = await session.scalar(
            select(func.count()).select_from(TranscriptMessage).where(TranscriptMessage.direction == "in")
        )
    assert [key for _, key in kept] == ["tg:7:1", "tg:7:2"] and len({step for step, _ in kept}) == 2
    assert list(claims) == [] and said == 2


async def test_an_update_that_answers_nothing_is_claimed_apart(desk: VisitDesk) -> None:
    """``/back`` records no answer: its update is claimed in processed_updates, and its redelivery does
    not take a second answer back. An update an answer holds is not applied as a ``/back`` either."""
    started = await desk.begin("B004", actor=OFFICER, officer_id=None)
    await answer(desk, started.visit_id, "1", "1")
    back = await desk.act(started.visit_id, Back(), actor=OFFICER, said="/back", update_key="tg:8:1")
    again = await desk.act(started.visit_id, Back(), actor=OFFICER, said="/back", update_key="tg:8:1")
    assert not back.duplicate and again.duplicate and back.withdrawn and not again.withdrawn
    await desk.act(started.visit_id, Submit(Reply(text="1")), actor=OFFICER, said="1", update_key="tg:8:2")
    misread = await desk.act(started.visit_id, Back(), actor=OFFICER, said="/back", update_key="tg:8:2")
    assert misread.duplicate and not misread.withdrawn
    async with desk.sessions() as session:
        claims = (await session.scalars(select(ProcessedUpdate.key))).all()
        visit = await repo.load_visit(session, started.visit_id)
    assert list(claims) == ["tg:8:1"]
    assert again.turn.state.step == "introduction"  # one answer taken back, not two
    assert visit is not None and visit.step == misread.turn.state.step == "business_status"


async def test_concurrent_answers_to_one_visit_are_serialised(desk: VisitDesk) -> None:
    started = await desk.begin("B005", actor=OFFICER, officer_id=None)
    await answer(desk, started.visit_id, "1", "1")
    # two updates race for the same question: exactly one is recorded for it, the other answers the next
    results = await asyncio.gather(
        desk.act(started.visit_id, Submit(Reply(text="好")), actor=OFFICER, said="好", update_key="u1"),
        desk.act(started.visit_id, Submit(Reply(text="没有")), actor=OFFICER, said="没有", update_key="u2"),
    )
    assert all(not r.duplicate for r in results)
    async with desk.sessions() as session:
        answers = await repo.visit_answers(session, started.visit_id)
        visit = await repo.load_visit(session, started.visit_id)
    assert visit is not None
    steps = [a.step_id for a in answers]
    assert steps.count("business_status") == 1 and len(steps) == len(set(steps))
    assert visit.revision >= 4


async def test_an_answer_never_overwrites_a_visit_changed_meanwhile(desk: VisitDesk) -> None:
    """The answer's one UPDATE of the visit is guarded by its revision, as every ORM write of a visit is:
    a visit another process changed after it was loaded is not overwritten (the write fails, nothing kept)."""
    started = await desk.begin("B001", actor=OFFICER, officer_id=None)
    async with desk.sessions() as session, session.begin():
        visit = await repo.load_visit(session, started.visit_id)
        assert visit is not None
        # another process's write lands after this one loaded the visit: a remark, a new revision
        bumped = "UPDATE visits SET remark = '已核实', revision = revision + 1 WHERE id = :id"
        await session.execute(sql(bumped), {"id": visit.id})
        with pytest.raises(StaleDataError):
            await repo.save_visit_progress(session, visit, state={}, step="gone", respondent_id=None)
    async with desk.sessions() as session:
        kept = await repo.load_visit(session, started.visit_id)
        assert kept is not None and kept.step != "gone" and kept.remark == "已核实"
    await answer(desk, started.visit_id, "1")  # and the visit goes on
    async with desk.sessions() as session:
        moved = await repo.load_visit(session, started.visit_id)
        assert moved is not None and moved.step != kept.step and moved.revision == kept.revision + 1


async def test_unknown_borrower_is_a_clear_message(desk: VisitDesk) -> None:
    with pytest.raises(NotFound, match="B999"):
        await desk.begin("B999", actor=OFFICER, officer_id=None)


async def test_money_is_exact(desk: VisitDesk) -> None:
    async with desk.sessions() as session:
        amount = await session.scalar(select(Loan.amount).limit(1))
        assert isinstance(amount, Decimal)
        assert await session.scalar(select(func.count()).select_from(Visit)) == 0


async def test_two_starts_at_once_share_one_visit(desk: VisitDesk) -> None:
    first, second = await asyncio.gather(
        desk.begin("B006", actor=OFFICER, officer_id=None), desk.begin("B006", actor=OFFICER, officer_id=None)
    )
    assert first.visit_id == second.visit_id
    async with desk.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Visit)) == 1


async def test_a_transcript_line_with_control_characters_is_stored(database_url: str) -> None:
    """PostgreSQL refuses NUL in text: a typed message carrying one is kept without it, the visit goes on."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as session, session.begin():
            await load_demo(session)
            borrower = await repo.borrower_by_code(session, "B001")
            assert borrower is not None
            visit = Visit(borrower_id=borrower.id, script_id="s", script_version=1, state={}, revision=1)
            session.add(visit)
            await session.flush()
            await repo.add_transcript(session, visit.id, "in", "好\x00的\x07\n第二行", actor="officer")
        async with sessions() as session:
            lines = await repo.visit_transcript(session, visit.id)
        assert [line.text for line in lines] == ["好的\n第二行"]
    finally:
        await engine.dispose()


async def test_sqlite_syncs_every_commit_to_disk(tmp_path: Path) -> None:
    """An acknowledged answer survives a power loss: SQLite runs WAL with synchronous=FULL, not NORMAL
    (which in WAL mode syncs only at checkpoints)."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'durable.db'}")
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(sql("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(sql("PRAGMA synchronous"))).scalar() == 2  # FULL
    finally:
        await engine.dispose()


async def _drop_other_sessions(url: str) -> None:
    """Kill every other server connection to this database (as a PostgreSQL restart would)."""
    engine = make_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            query = (
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            await conn.execute(sql(query))
    finally:
        await engine.dispose()


async def test_postgres_connection_lost_while_resting_is_replaced_unseen(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pooled PostgreSQL connection the server dropped while the bot was quiet (a restart) is pinged and
    replaced at its next checkout: the next answer goes through. A busy connection is not pinged at all
    (no round trip per checkout)."""
    engine = make_engine(postgres_url, pool_size=1, max_overflow=0)
    pings: list[object] = []
    real_ping = engine.dialect.do_ping

    def counted_ping(conn: Any) -> bool:
        pings.append(conn)
        return bool(real_ping(conn))

    monkeypatch.setattr(engine.dialect, "do_ping", counted_ping)
    try:
        for _ in range(3):  # checked out and back again and again: busy, never pinged
            async with engine.connect() as conn:
                assert (await conn.execute(sql("SELECT 1"))).scalar() == 1
        assert pings == []
        await _drop_other_sessions(postgres_url)
        monkeypatch.setattr(storage.db, "IDLE_PING", 0.0)  # it has rested long enough
        async with engine.connect() as conn:
            assert (await conn.execute(sql("SELECT 2"))).scalar() == 2
        assert len(pings) >= 1
    finally:
        await engine.dispose()


async def test_a_busy_bot_keeps_its_postgresql_connections_open(postgres_url: str) -> None:
    """A bot whose every update worker and group-commit batch holds a connection at once keeps them all open
    between answers: no login to PostgreSQL per answer (on SQLAlchemy's default pool of 5, the connections
    beyond it were made for each use and closed after: 633 logins in 2,730 answers of bench.telegram_path)."""
    settings = Settings(database_url=postgres_url, update_workers=16)
    svc = make_services(settings)
    logins: list[object] = []
    event.listen(svc.engine.sync_engine, "connect", lambda conn, record: logins.append(conn))
    at_once = settings.update_workers + POSTGRES_WRITERS

    async def answer_read() -> None:
        async with svc.reading.connect() as conn:
            await conn.execute(sql("SELECT 1"))
            await asyncio.sleep(0.02)  # held as a read and a batch hold theirs, all at the same time

    try:
        for _ in range(5):  # five rounds of answers, every worker busy
            await asyncio.gather(*(answer_read() for _ in range(at_once)))
    finally:
        await svc.engine.dispose()
    assert at_once <= connections_for(settings)
    assert len(logins) == at_once  # one each, the first time; reused after


async def test_a_chat_leaves_only_the_visit_that_ended(desk: VisitDesk) -> None:
    """The end of a visit detaches the chat from it, unless the chat is on another visit by now (another
    process started one between the end and its message)."""
    ended = (await desk.begin("B001", actor=Actor("officer", 1), officer_id=None)).visit_id
    other = (await desk.begin("B002", actor=Actor("officer", 1), officer_id=None)).visit_id
    async with desk.sessions() as session, session.begin():
        await set_chat(session, 7001, visit_id=other, picked=["a"])
        await set_chat(session, 7002, visit_id=ended, picked=["b"])
    async with desk.sessions() as session, session.begin():
        await leave_visit(session, 7001, ended)
        await leave_visit(session, 7002, ended)
    async with desk.sessions() as session:
        moved_on, left = await session.get(ChatSession, 7001), await session.get(ChatSession, 7002)
    assert moved_on is not None and (moved_on.visit_id, moved_on.picked) == (other, ["a"])
    assert left is not None and (left.visit_id, left.picked) == (None, None)
