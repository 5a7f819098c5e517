"""Group commit: answers given at once share a transaction; each is answered only after its commit, and a
failing one fails only itself (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, func, inspect, select
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from bot.desk import Actor, NotFound, VisitDesk
from bot.settings import Settings
from dialogs.answers import Reply
from dialogs.catalog import ScriptCatalog
from dialogs.engine import Cancel, Submit
from dialogs.schema import Outcome
from storage import repositories as repo
from storage.db import make_engine, make_sessionmaker
from storage.demo import load_demo
from storage.group_commit import GroupCommit
from storage.models import Answer, ProcessedUpdate, Visit, utcnow

OFFICER = Actor("officer", 1)
CODES = [f"B{n:03d}" for n in range(1, 9)]


@pytest.fixture
async def desk(database_url: str) -> AsyncIterator[VisitDesk]:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        assert await load_demo(session)
    yield VisitDesk(sessions, ScriptCatalog(), Settings(database_url=database_url))
    await engine.dispose()


def count_commits(desk: VisitDesk) -> list[int]:
    """A list that grows by one at every commit on the desk's engine."""
    commits: list[int] = []
    engine = desk.sessions.kw["bind"]
    event.listen(engine.sync_engine, "commit", lambda _conn: commits.append(1))
    return commits


async def answers_of(desk: VisitDesk, visit_id: int) -> list[str]:
    """The steps answered, as a fresh session (another process) reads them: committed ones only."""
    async with desk.sessions() as session:
        rows = await session.scalars(select(Answer.step_id).where(Answer.visit_id == visit_id).order_by(Answer.id))
        return list(rows)


async def test_answers_given_at_once_share_commits_and_each_is_answered_after_its_own(desk: VisitDesk) -> None:
    visits = [(await desk.begin(code, actor=OFFICER, officer_id=None)).visit_id for code in CODES]
    commits = count_commits(desk)
    seen_committed: dict[int, list[str]] = {}

    async def answer(visit_id: int) -> None:
        reply = await desk.act(visit_id, Submit(Reply(text="1")), actor=OFFICER, said="1", update_key=f"tg:{visit_id}")
        assert reply.turn.error is None
        seen_committed[visit_id] = await answers_of(desk, visit_id)  # the moment the caller hears back

    await asyncio.gather(*(answer(v) for v in visits))
    assert all(seen_committed[v] == ["identity"] for v in visits)  # committed before its caller heard
    assert len(commits) < len(visits)  # shared: fewer commits than answers
    assert desk.writer.batches == len(commits)


async def test_a_failing_input_fails_only_itself(desk: VisitDesk) -> None:
    visits = [(await desk.begin(code, actor=OFFICER, officer_id=None)).visit_id for code in CODES[:4]]
    given = [*visits[:2], 999_999, *visits[2:]]  # a visit that does not exist, among good ones
    results = await asyncio.gather(
        *(desk.act(v, Submit(Reply(text="1")), actor=OFFICER, said="1", update_key=f"k{v}") for v in given),
        return_exceptions=True,
    )
    assert isinstance(results[2], NotFound)
    assert all(not isinstance(r, BaseException) for i, r in enumerate(results) if i != 2)
    for visit_id in visits:
        assert await answers_of(desk, visit_id) == ["identity"]  # recorded once, on the retry alone


async def test_a_database_error_in_a_batch_rolls_back_only_its_own_writes(database_url: str) -> None:
    engine = make_engine(database_url)
    writer = GroupCommit(make_sessionmaker(engine))

    def line(text: str) -> Any:
        async def unit(session: AsyncSession) -> str:
            session.add(ProcessedUpdate(key=text, at=utcnow()))
            await session.flush()
            if text == "bad":
                await session.execute(sql("SELECT * FROM no_such_table"))
            return text

        return unit

    try:
        results = await asyncio.gather(*(writer.run(line(t)) for t in ("a", "bad", "c")), return_exceptions=True)
        assert results[0] == "a" and results[2] == "c" and isinstance(results[1], Exception)
        async with make_sessionmaker(engine)() as session:
            kept = list(await session.scalars(select(ProcessedUpdate.key).order_by(ProcessedUpdate.key)))
        assert kept == ["a", "c"]
    finally:
        await engine.dispose()


async def test_an_input_whose_caller_gave_up_before_its_turn_is_not_recorded(desk: VisitDesk) -> None:
    first, second = [(await desk.begin(code, actor=OFFICER, officer_id=None)).visit_id for code in CODES[:2]]
    gate = asyncio.Event()
    desk.writer = GroupCommit(desk.sessions, writers=1)  # one batch at a time: the other waits its turn

    async def slow(session: AsyncSession) -> None:  # holds the writer while the other caller gives up
        await gate.wait()

    held = asyncio.create_task(desk.writer.run(slow))
    await asyncio.sleep(0.05)
    waiting = asyncio.create_task(
        desk.act(second, Submit(Reply(text="1")), actor=OFFICER, said="1", update_key="gave-up")
    )
    await asyncio.sleep(0.05)
    waiting.cancel()  # the update's time limit
    gate.set()
    await held
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await desk.act(first, Submit(Reply(text="1")), actor=OFFICER, said="1", update_key="went-on")
    assert await answers_of(desk, second) == []
    assert await answers_of(desk, first) == ["identity"]
    async with desk.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(Answer))
    assert total == 1


async def test_a_slow_batch_does_not_hold_up_another_writer(desk: VisitDesk) -> None:
    """With two writers (PostgreSQL runs several), an input goes on while another batch waits."""
    visit = (await desk.begin(CODES[0], actor=OFFICER, officer_id=None)).visit_id
    desk.writer = GroupCommit(desk.sessions, writers=2)
    gate = asyncio.Event()

    async def slow(session: AsyncSession) -> None:
        await gate.wait()

    held = asyncio.create_task(desk.writer.run(slow))
    await asyncio.sleep(0.05)
    try:
        reply = await asyncio.wait_for(
            desk.act(visit, Submit(Reply(text="1")), actor=OFFICER, said="1", update_key="beside"), 30
        )
        assert reply.turn.error is None and await answers_of(desk, visit) == ["identity"]
    finally:
        gate.set()
        await held


async def test_a_unit_handed_in_just_as_the_writer_finishes_is_still_run(database_url: str) -> None:
    """The writer's last look at the queue and its leaving the lane are one step: a unit handed in between
    them used to wait for ever (seen in CI: a visit of the quality tests hung there)."""
    engine = make_engine(database_url)
    writer = GroupCommit(make_sessionmaker(engine))

    async def unit(session: AsyncSession) -> int:
        return 1

    try:
        for ticks in range(12):  # the gap falls at one of these scheduler steps after a caller hears back
            assert await asyncio.wait_for(writer.run(unit), 10) == 1
            for _ in range(ticks):
                await asyncio.sleep(0)
            assert await asyncio.wait_for(writer.run(unit), 10) == 1, f"stranded {ticks} steps after an answer"
    finally:
        await engine.dispose()


async def seen_now(desk: VisitDesk, visit_id: int) -> Visit:
    """The visit as a front-end reads it before its input's transaction (Telegram: with the sender)."""
    async with desk.sessions() as session:
        visit = await repo.load_visit(session, visit_id, loans=False)
    assert visit is not None
    return visit


async def test_an_input_given_with_the_visit_as_read_before_costs_no_read_of_it(desk: VisitDesk) -> None:
    visit_id = (await desk.begin(CODES[0], actor=OFFICER, officer_id=None)).visit_id
    seen = await seen_now(desk, visit_id)
    statements: list[str] = []
    engine = desk.sessions.kw["bind"]
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    reply = await desk.act(
        visit_id, Submit(Reply(text="1")), actor=OFFICER, said="1", update_key="k1", expect_step="identity", seen=seen
    )
    taken = list(statements)
    assert reply.turn.error is None and not reply.stale and await answers_of(desk, visit_id) == ["identity"]
    read = [s for s in taken if s.lstrip().upper().startswith("SELECT") and "FROM visits" in s]
    assert read == [], read  # the visit is written (the answer's progress), not read again
    assert any(s.lstrip().startswith("UPDATE visits") for s in taken)


async def test_an_input_given_with_the_visit_as_read_before_writes_it_and_ends_it(desk: VisitDesk) -> None:
    """The visit as the front-end read it is written as it is, never taken into the session's identity map;
    an input that ends it ends it through the ORM (its status, outcome and review rank, in one UPDATE), and
    the front-end's copy stays its own."""
    visit_id = (await desk.begin(CODES[0], actor=OFFICER, officer_id=None)).visit_id
    seen = await seen_now(desk, visit_id)
    answered = await desk.act(visit_id, Submit(Reply(text="1")), actor=OFFICER, said="1", seen=seen)
    assert answered.turn.error is None and inspect(seen).detached
    assert seen.revision == (await seen_now(desk, visit_id)).revision  # brought up to date with its write
    ended = await desk.act(visit_id, Cancel(Outcome.REFUSED), actor=OFFICER, said="/cancel refused", seen=seen)
    assert ended.turn.finished and inspect(seen).detached
    row = await seen_now(desk, visit_id)
    assert (row.status, row.outcome, row.step) == ("finished", "refused", None) and row.review_rank is not None
    assert await answers_of(desk, visit_id) == ["identity"]


async def test_an_input_given_with_the_visit_as_it_was_before_a_change_sees_the_change(desk: VisitDesk) -> None:
    """Another input (another bot process) moved the visit on after the front-end read it: the input is
    not applied to the visit as read. Its write finds the visit's revision changed, and it runs again on
    the visit as it is: an earlier question's input records nothing; one with no question named answers
    the current question, once."""
    visit_id = (await desk.begin(CODES[0], actor=OFFICER, officer_id=None)).visit_id
    before = await seen_now(desk, visit_id)
    moved = await desk.act(visit_id, Submit(Reply(text="1")), actor=OFFICER, said="1", update_key="other-process")
    second_step = moved.turn.state.step
    assert second_step != "identity"

    late = await desk.act(
        visit_id, Submit(Reply(text="1")), actor=OFFICER, said="1", update_key="late", expect_step="identity",
        seen=before,
    )  # fmt: skip
    assert late.stale and late.turn.state.step == second_step
    assert await answers_of(desk, visit_id) == ["identity"]  # nothing recorded twice

    stale_again = await seen_now(desk, visit_id)
    await desk.act(visit_id, Submit(Reply(text="1")), actor=OFFICER, said="1", update_key="other-2")
    applied = await desk.act(visit_id, Submit(Reply(text="1")), actor=OFFICER, said="1", update_key="k", seen=before)
    assert applied.turn.error is None and not applied.stale and not applied.duplicate
    steps = await answers_of(desk, visit_id)
    assert len(steps) == 3 and steps[:2] == ["identity", second_step] and steps[2] not in steps[:2]
    assert stale_again.revision < (await seen_now(desk, visit_id)).revision


async def test_a_unit_that_met_a_changed_row_runs_once_more(database_url: str) -> None:
    """Alone in its batch too: a unit relying on a read made before its transaction finds the row changed
    (StaleDataError) and runs again; a second time, its caller hears of it."""
    engine = make_engine(database_url)
    writer = GroupCommit(make_sessionmaker(engine))
    runs: list[int] = []

    def unit(fails: int) -> Any:
        async def run(session: AsyncSession) -> int:
            runs.append(1)
            session.add(ProcessedUpdate(key=f"run-{fails}-{len(runs)}", at=utcnow()))
            await session.flush()
            if len(runs) <= fails:
                raise StaleDataError("changed meanwhile")
            return len(runs)

        return run

    try:
        assert await writer.run(unit(1)) == 2
        async with make_sessionmaker(engine)() as session:
            kept = list(await session.scalars(select(ProcessedUpdate.key)))
        assert kept == ["run-1-2"]  # the first run's write was rolled back
        runs.clear()
        with pytest.raises(StaleDataError):
            await writer.run(unit(2))
    finally:
        await engine.dispose()
