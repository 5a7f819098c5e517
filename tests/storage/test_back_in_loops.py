"""/back takes back one answer in the database too: the newest of its step, with the flags it raised."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.desk import Actor, VisitDesk
from dialogs.answers import Reply
from dialogs.engine import Back, Submit
from storage import repositories as repo
from storage.models import Answer
from tests.desks import demo_desk

OFFICER = Actor("officer", 1)


@pytest.fixture
async def desk(database_url: str) -> AsyncIterator[VisitDesk]:
    async with demo_desk(database_url) as made:
        yield made


async def answer(desk: VisitDesk, visit_id: int, *texts: str) -> None:
    for text in texts:
        reply = await desk.act(visit_id, Submit(Reply(text=text)), actor=OFFICER, said=text)
        assert reply.turn.error is None, reply.turn.error


async def test_back_in_the_can_pay_loop_undoes_only_the_second_round(desk: VisitDesk) -> None:
    started = await desk.begin("B008", actor=OFFICER, officer_id=1, script_id="overdue_reminder")
    visit_id = started.visit_id
    await answer(desk, visit_id, "1", "1", "3", "3", "1")  # can_pay: cannot, then within a week
    back = await desk.act(visit_id, Back(), actor=OFFICER, said="/back")
    assert back.turn.prompt is not None and back.turn.prompt.step == "can_pay"
    async with desk.sessions() as session:
        live = [(a.step_id, a.value) for a in await repo.visit_answers(session, visit_id)]
        undone = (await session.scalars(select(Answer).where(Answer.undone_at.is_not(None)))).all()
    assert live == [
        ("identity", "self"),
        ("overdue_reason", "forgot"),
        ("can_pay", "cannot"),
        ("relief_request", "neither"),
    ]
    assert [(a.step_id, a.value) for a in undone] == [("can_pay", "within_week")]


async def test_back_clears_the_flag_the_undone_answer_raised(desk: VisitDesk) -> None:
    started = await desk.begin("B008", actor=OFFICER, officer_id=1, script_id="overdue_reminder")
    await answer(desk, started.visit_id, "1", "4", "生病住院")  # hardship: a high repayment-pressure flag
    async with desk.sessions() as session:
        assert [f.code for f in await repo.visit_flags(session, started.visit_id)] == ["repayment_pressure_high"]
    await desk.act(started.visit_id, Back(), actor=OFFICER, said="/back")
    async with desk.sessions() as session:
        assert list(await repo.visit_flags(session, started.visit_id)) == []
        assert [a.step_id for a in await repo.visit_answers(session, started.visit_id)] == [
            "identity",
            "overdue_reason",
        ]
