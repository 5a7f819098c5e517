"""The staff sender's read, Core made into entities by hand, leaves exactly what the ORM's read left: the
same columns, the same relationships loaded, the same objects shared — should a model grow a relationship
the ORM loads with it, this fails until the read loads it too."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect

from bench.statement_floor import _ORM_READ
from storage import repositories as repo
from storage.db import make_engine, make_read_engine, make_sessionmaker
from tests.desks import officer_on_a_visit

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
