"""Reads of a visit's end run by the driver and made into entities by hand (``repositories.entities``) give
what the ORM's reads gave: the judges' read of a visit's answers (``given_answers``) the same answers in the
same order, every column as the ORM loads it, an answer taken back left out, the session's pending changes
seen (autoflush), an answer the session holds already as that very object; the live flags and the month's
plan entry as objects of the session, whose changes are written at the flush."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, select

from storage import repositories as repo
from storage.db import make_engine, make_sessionmaker
from storage.models import Answer, PlanEntry, RiskFlag, Visit, utcnow
from storage.planning import open_entry
from storage.quality import previous_visit
from tests.desks import officer_on_a_visit

TELEGRAM_ID = 7_100_031


def _columns(answer: Answer) -> dict[str, Any]:
    state = inspect(answer)
    return {attr.key: state.dict[attr.key] for attr in state.mapper.column_attrs}


def _kept(entity: Any) -> tuple[Any, ...]:
    """What the ORM keeps of an entity: its identity key, what it holds unloaded or expired, its history."""
    state = inspect(entity)
    return state.key, state.unloaded, state.expired_attributes, dict(state.committed_state), state.modified


def _answer(visit_id: int, step: str, value: Any, **extra: Any) -> Answer:
    return Answer(
        visit_id=visit_id, step_id=step, question=f"{step}?", raw=str(value), value=value, display=str(value),
        answered_at=utcnow(), **extra,
    )  # fmt: skip


async def test_the_judges_read_finds_what_the_orm_finds(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        visit_id = await officer_on_a_visit(sessions, database_url, TELEGRAM_ID)
        async with sessions() as session, session.begin():
            session.add_all(
                [
                    _answer(visit_id, "identity", "yes"),
                    _answer(visit_id, "business_status", {"picked": ["ok", "新店"]}),
                    _answer(visit_id, "loan_use", "进货", undone_at=utcnow()),  # taken back: not given
                    _answer(visit_id, "needs", None, skipped=True),
                ]
            )
        async with sessions() as session:
            ours = await repo.given_answers(session, visit_id)
            assert all(inspect(answer).detached for answer in ours)
        async with sessions() as session:
            orms = list(await repo.visit_answers(session, visit_id))
    finally:
        await engine.dispose()
    assert [a.step_id for a in ours] == ["identity", "business_status", "needs"]
    assert [_columns(a) for a in ours] == [_columns(a) for a in orms]
    assert [_kept(a) for a in ours] == [_kept(a) for a in orms]
    assert ours[1].value == {"picked": ["ok", "新店"]} and ours[0].answered_at.tzinfo is not None


async def test_pending_changes_are_seen_and_held_answers_are_the_sessions_own(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        visit_id = await officer_on_a_visit(sessions, database_url, TELEGRAM_ID)
        async with sessions() as session, session.begin():
            session.add(_answer(visit_id, "identity", "yes"))
        async with sessions() as session, session.begin():
            held = (await repo.visit_answers(session, visit_id))[0]
            held.value = "corrected"  # not flushed yet: the read's autoflush writes it first
            pending = _answer(visit_id, "introduction", "ok")
            session.add(pending)
            found = await repo.given_answers(session, visit_id)
            assert [a.step_id for a in found] == ["identity", "introduction"]
            assert found[0] is held and found[0].value == "corrected"
            assert found[1] is pending  # flushed by the read, and the session's own object too
            with session.no_autoflush:  # autoflush off: nothing written, as the ORM's read would leave it
                session.add(_answer(visit_id, "changes", "none"))
                assert [a.step_id for a in await repo.given_answers(session, visit_id)] == ["identity", "introduction"]
    finally:
        await engine.dispose()


async def test_the_visit_before_is_found_by_its_start(database_url: str) -> None:
    """The quality judge's read of the visit before (``storage.quality.previous_visit``): the same borrower's
    finished visit of the same script that started last before this one; none while there is none."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        visit_id = await officer_on_a_visit(sessions, database_url, TELEGRAM_ID)
        async with sessions() as session, session.begin():
            visit = await repo.load_visit(session, visit_id)
            assert visit is not None
            assert await previous_visit(session, visit) is None
            earlier = [
                Visit(
                    borrower_id=visit.borrower_id,
                    officer_id=visit.officer_id,
                    script_id=visit.script_id,
                    script_version=visit.script_version,
                    channel=visit.channel,
                    locale=visit.locale,
                    state={},
                    status="finished",
                    started_at=visit.started_at - timedelta(days=days),
                )
                for days in (3, 2, 0)
            ]
            earlier[2].script_id = "another_script"  # another script's visit is not the one before
            session.add_all(earlier)
            await session.flush()
            found = await previous_visit(session, visit)
        assert found is not None and found.id == earlier[1].id
        assert found.started_at == earlier[1].started_at
    finally:
        await engine.dispose()


async def test_live_flags_and_the_plan_entry_are_the_sessions_and_their_changes_are_written(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        visit_id = await officer_on_a_visit(sessions, database_url, TELEGRAM_ID)
        async with sessions() as session, session.begin():
            visit = await repo.load_visit(session, visit_id)
            assert visit is not None
            borrower_id, month = visit.borrower_id, "2026-12"
            session.add_all(
                [
                    RiskFlag(visit_id=visit_id, code="a", severity="high", kind="quality", evidence={"km": 3}),
                    RiskFlag(visit_id=visit_id, code="b", severity="low", cleared_at=utcnow()),  # not live
                    PlanEntry(
                        month=month, borrower_id=borrower_id, script_id="officer_phone_visit", reasons=["policy"],
                        planned_on=date(2026, 12, 3), due_on=date(2026, 12, 31),
                    ),
                ]
            )  # fmt: skip
        async with sessions() as session, session.begin():
            (flag,) = await repo.live_flags(session, visit_id)
            entry = await open_entry(session, month, borrower_id)
            assert flag in session and entry is not None and entry in session
            assert (flag.code, flag.kind, flag.evidence) == ("a", "quality", {"km": 3})
            flag.cleared_at, flag.evidence = utcnow(), {"km": 4}
            entry.visit_id, entry.done_at = visit_id, utcnow()
        async with sessions() as session:
            assert await repo.live_flags(session, visit_id) == []
            assert await open_entry(session, month, borrower_id) is None  # done: no longer open
            stored = (await session.scalars(select(RiskFlag).where(RiskFlag.code == "a"))).one()
            assert stored.evidence == {"km": 4}
    finally:
        await engine.dispose()


async def test_a_model_with_relationships_is_read_through_the_orm(database_url: str) -> None:
    """Entities made by hand would leave a relationship neither loaded nor known: refused, not half made."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as session:
            with pytest.raises(ValueError, match="relationships"):
                await repo.entities(session, Visit, repo._GIVEN_ANSWER_ROWS, {"b_visit": 1})
    finally:
        await engine.dispose()
