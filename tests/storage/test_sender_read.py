"""The staff sender's read, Core made into entities by hand, leaves exactly what the ORM's read left: the
same columns, the same relationships loaded, the same objects shared — should a model grow a relationship
the ORM loads with it, this fails until the read loads it too."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, update

from bench.statement_floor import _ORM_READ
from storage import repositories as repo
from storage.chats import chat_view
from storage.db import make_engine, make_read_engine, make_sessionmaker
from storage.models import Visit
from tests.desks import officer_on_a_visit, point_chat_at

TELEGRAM_ID = 7_100_002
ORM_READ = _ORM_READ  # the ORM's read as the bot ran it before, kept as bench.statement_floor's baseline


def _shown(entity: Any) -> tuple[Any, ...]:
    """An entity's loaded column values, the names of its loaded relationships, whether it is detached, and
    what the ORM keeps of it: its identity key, what it holds unloaded or expired, its history."""
    state = inspect(entity)
    mapper = state.mapper
    columns = {attr.key: state.dict[attr.key] for attr in mapper.column_attrs if attr.key in state.dict}
    relationships = {rel.key for rel in mapper.relationships if rel.key in state.dict}
    kept = (state.key, state.unloaded, state.expired_attributes, dict(state.committed_state), state.modified)
    return columns, relationships, state.detached, kept


async def test_the_read_leaves_what_the_orms_read_left(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        await officer_on_a_visit(sessions, database_url, TELEGRAM_ID, message_id=5)
        async with engine.connect() as connection:  # as Telegram reads who sent an answer
            ours = await repo.sender_and_chat(connection, TELEGRAM_ID, TELEGRAM_ID)
        async with sessions() as session:
            row = (await session.execute(ORM_READ, {"b_telegram": TELEGRAM_ID, "b_chat": TELEGRAM_ID})).one()
        orms = repo.SenderRows(row[0], None, row[1], row[2])
    finally:
        await engine.dispose()
    assert ours.visit is not None and orms.visit is not None
    pairs = [
        (ours.staff, orms.staff),
        (ours.chat, orms.chat),
        (ours.visit, orms.visit),
        (ours.visit.borrower, orms.visit.borrower),
        (ours.visit.borrower.officer, orms.visit.borrower.officer),
        (ours.visit.loan, orms.visit.loan),
        (ours.visit.officer, orms.visit.officer),
    ]
    for mine, theirs in pairs:
        assert _shown(mine) == _shown(theirs)
    assert (ours.visit.officer is ours.staff) == (orms.visit.officer is orms.staff)  # one object per identity
    assert inspect(ours.visit).key == inspect(orms.visit).key


async def test_a_borrower_and_a_stranger_are_read_on_the_same_connection(database_url: str) -> None:
    """Who is not staff: the linked borrower (through the ORM, on the read's connection, in no transaction of
    its own), else no one; the connection stays usable for the next read."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        await officer_on_a_visit(sessions, database_url, TELEGRAM_ID)
        async with sessions() as session, session.begin():
            borrower = await repo.borrower_by_code(session, "B002")
            assert borrower is not None
            borrower.telegram_id = TELEGRAM_ID + 1
        async with make_read_engine(engine).connect() as connection:
            linked = await repo.sender_and_chat(connection, TELEGRAM_ID + 1, TELEGRAM_ID + 1)
            nobody = await repo.sender_and_chat(connection, TELEGRAM_ID + 2, TELEGRAM_ID + 2)
            staff = await repo.sender_and_chat(connection, TELEGRAM_ID, TELEGRAM_ID)
    finally:
        await engine.dispose()
    assert linked.borrower is not None and linked.borrower.code == "B002" and linked.staff is None
    assert linked.chat is None and linked.visit is None  # the borrower's chat is on no visit
    assert nobody == repo.SenderRows()
    assert staff.staff is not None and staff.visit is not None


async def test_a_chat_still_pointing_at_an_ended_visit_is_on_no_visit(database_url: str) -> None:
    """The reads join a chat's visit by its id alone and leave one that is not open out themselves: a chat
    whose row still names a visit that ended (another front-end ended it) shows no visit and no step, for
    staff, for a borrower, and in the chat's own view."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        visit_id = await officer_on_a_visit(sessions, database_url, TELEGRAM_ID, message_id=5)
        async with sessions() as session, session.begin():
            borrower = await repo.borrower_by_code(session, "B001")
            assert borrower is not None
            borrower.telegram_id = TELEGRAM_ID + 1
            await point_chat_at(session, TELEGRAM_ID + 1, visit_id=visit_id)  # the borrower's chat too
        async with engine.connect() as connection:
            before = await repo.sender_and_chat(connection, TELEGRAM_ID, TELEGRAM_ID)
        assert before.visit is not None and before.visit.id == visit_id
        async with sessions() as session, session.begin():
            await session.execute(update(Visit).where(Visit.id == visit_id).values(status="finished"))
        async with engine.connect() as connection:
            staff = await repo.sender_and_chat(connection, TELEGRAM_ID, TELEGRAM_ID)
            linked = await repo.sender_and_chat(connection, TELEGRAM_ID + 1, TELEGRAM_ID + 1)
        async with sessions() as session:
            view = await chat_view(session, TELEGRAM_ID)
    finally:
        await engine.dispose()
    assert staff.staff is not None and staff.chat is not None and staff.chat.visit_id == visit_id
    assert staff.visit is None
    assert linked.borrower is not None and linked.chat is not None and linked.visit is None
    assert view is not None and view.visit_id == visit_id and view.step is None and view.message_id is None


async def test_postgresqls_generic_plan_finds_the_chats_visit_by_its_key(postgres_url: str) -> None:
    """PostgreSQL plans a prepared statement once for any parameters after a few runs (a generic plan), and
    may do it while the tables are small: the sender's read must then still find the chat's visit by its
    primary key, never by scanning the open visits (the partial index of open visits: every open visit with
    its borrower and officer for each answer, 8.7 ms at the median with 1,000 of them)."""
    engine = make_engine(postgres_url)
    try:
        plan = repo._STAFF_AND_CHAT.plan(engine.dialect, ("b_telegram", "b_chat"))
        async with engine.connect() as connection:
            await connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
            await connection.exec_driver_sql(f"PREPARE sender AS {plan.sql}")
            shown = (await connection.exec_driver_sql("EXPLAIN EXECUTE sender(1, 1)")).scalars().all()
    finally:
        await engine.dispose()
    plan_text = "\n".join(shown)
    assert "pk_visits" in plan_text and "uq_visits_one_open" not in plan_text, plan_text
