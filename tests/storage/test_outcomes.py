"""What a finished visit leaves behind: call-back tasks, relief requests for supervisors, opt-outs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.desk import Actor, VisitDesk
from dialogs.answers import Reply
from dialogs.engine import Skip, Submit
from storage.models import Borrower, ReliefRequest, Task
from storage.self_service import open_tasks
from tests.desks import demo_desk

OFFICER = Actor("officer", 1)


@pytest.fixture
async def desk(sqlite_url: str) -> AsyncIterator[VisitDesk]:
    async with demo_desk(sqlite_url) as made:
        yield made


async def walk(desk: VisitDesk, code: str, script: str, answers: list[str], actor: Actor = OFFICER) -> int:
    started = await desk.begin(code, actor=actor, officer_id=None, script_id=script)
    for text in answers:
        reply = await desk.act(started.visit_id, Submit(Reply(text=text)), actor=actor, said=text)
        assert reply.turn.error is None, reply.turn.error
    assert reply.turn.finished
    return started.visit_id


async def test_a_callback_becomes_a_task_for_the_officer(desk: VisitDesk) -> None:
    visit_id = await walk(desk, "B001", "officer_phone_visit", ["3", "明天下午三点"])
    async with desk.sessions() as session:
        tasks = await open_tasks(session, officer_id=1)
    assert [(t.kind, t.visit_id) for t in tasks] == [("callback", visit_id)]
    assert tasks[0].due_at is not None and tasks[0].due_at.hour == 7  # 15:00 in Shanghai is 07:00 UTC


async def test_hardship_relief_becomes_a_request_to_approve(desk: VisitDesk) -> None:
    visit_id = await walk(desk, "B008", "overdue_reminder", ["1", "4", "生病住院", "1", "三个月"])
    async with desk.sessions() as session:
        tasks = (await session.scalars(select(Task))).all()
        requests = (await session.scalars(select(ReliefRequest))).all()
    assert tasks == []  # a request for a supervisor (bot.desk.relief), no officer task
    assert [(r.kind, r.terms, r.status, r.visit_id) for r in requests] == [("extension", "三个月", "pending", visit_id)]


async def test_opting_out_is_kept_on_the_borrower(desk: VisitDesk) -> None:
    await walk(desk, "B002", "visit_refusal", ["1", "2", "2"])
    async with desk.sessions() as session:
        borrower = await session.scalar(select(Borrower).where(Borrower.code == "B002"))
    assert borrower is not None and borrower.opted_out_at is not None
    assert (borrower.opt_out_reason, borrower.preferred_channel) == ("busy", "sms")


async def test_a_worrying_self_service_answer_asks_the_officer_to_call(desk: VisitDesk) -> None:
    borrower = Actor("borrower")
    answers = ["1", "3", "2", "3", "n", "n", "/skip", "n", "n"]
    started = await desk.begin("B003", actor=borrower, officer_id=None, script_id="self_checkin", channel="self")
    for text in answers:
        event = Skip() if text == "/skip" else Submit(Reply(text=text))
        reply = await desk.act(started.visit_id, event, actor=borrower, said=text)
        assert reply.turn.error is None, (text, reply.turn.error)
    assert reply.turn.finished and reply.tasks
    async with desk.sessions() as session:
        tasks = await open_tasks(session)
    assert tasks[0].kind == "callback" and "repayment_pressure_high" in tasks[0].note
