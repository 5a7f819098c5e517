"""The outbox in the core: what an input tells whom is written with the input, or not at all; each row
is claimed by one worker; payloads render in the recipient's language and zone; reminders wait for the
borrower's contact window."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

import bot.desk.visits as desk_visits
from bot.desk import Actor, FixedClock, VisitDesk
from bot.desk.alerts import contact_hold
from bot.desk.contact import ContactWindow
from bot.desk.outbox import enqueue, label_of, msg, on_queued, payload, render, when
from bot.desk.records import visit_record
from bot.desk.report import render_report
from dialogs.answers import Reply
from dialogs.engine import Submit
from storage import outbox as store
from storage import repositories as repo
from storage.models import Answer, OutboxMessage, Task, User
from tests.desks import demo_desk

OFFICER = Actor("officer", 1)
MORNING = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
"""11:00 in Shanghai: inside every demo borrower's contact window."""
RISKY = ["是本人", "记得", "差", "销量下滑", "压力很大"]
"""The phone visit up to the answer that raises the high flag ``repayment_pressure_high``."""


@pytest.fixture
async def desk(database_url: str) -> AsyncIterator[VisitDesk]:
    async with demo_desk(database_url, clock=FixedClock(MORNING)) as made:
        yield made


async def answer(desk: VisitDesk, visit_id: int, said: str) -> Any:
    """Answer the current question: the option with this label, else typed text."""
    current = await desk.current(visit_id)
    prompt = current.turn.prompt
    assert prompt is not None
    picked = next((option for option, label in prompt.options or [] if label == said), None)
    event = Submit(Reply(option=picked) if picked is not None else Reply(text=said))
    return await desk.act(visit_id, event, actor=OFFICER, said=said)


async def rows(desk: VisitDesk, **where: Any) -> list[OutboxMessage]:
    async with desk.sessions() as session:
        query = select(OutboxMessage).filter_by(**where).order_by(OutboxMessage.id)
        return list((await session.scalars(query)).all())


async def test_a_high_flag_queues_an_alert_for_the_teams_supervisor_with_the_answer(desk: VisitDesk) -> None:
    started = await desk.begin("B001", actor=OFFICER, officer_id=1)
    for said in RISKY[:-1]:
        await answer(desk, started.visit_id, said)
    assert await rows(desk, kind="alert") == []
    await answer(desk, started.visit_id, RISKY[-1])
    alerts = await rows(desk, kind="alert")
    async with desk.sessions() as session:
        supervisor = await session.scalar(select(User).where(User.role == "supervisor"))
    assert supervisor is not None
    assert [(a.user_id, a.visit_id, a.not_before, a.sent_at) for a in alerts] == [
        (supervisor.id, started.visit_id, MORNING, None)
    ]
    shown = render(alerts[0].payload, "en", "Asia/Shanghai")
    assert "Risk alert (high)" in shown.text and "B001" in shown.text and "repayment_pressure_high" not in shown.text
    assert shown.buttons == [[("Open transcript", f"s:tr:{started.visit_id}")]]


async def test_nothing_is_queued_when_the_inputs_transaction_rolls_back(
    desk: VisitDesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = await desk.begin("B001", actor=OFFICER, officer_id=1)
    for said in RISKY[:-1]:
        await answer(desk, started.visit_id, said)
    real = desk_visits.queue_effects

    async def queued_then_crash(*args: Any, **kwargs: Any) -> list[OutboxMessage]:
        queued = await real(*args, **kwargs)
        assert queued, "the alert was queued before the crash"
        raise RuntimeError("the process dies before the commit")

    monkeypatch.setattr(desk_visits, "queue_effects", queued_then_crash)
    with pytest.raises(RuntimeError):
        await answer(desk, started.visit_id, RISKY[-1])
    assert await rows(desk) == []
    async with desk.sessions() as session:  # and the answer itself is not kept either
        query = select(func.count()).select_from(Answer).where(Answer.step_id == "repayment_pressure")
        kept = await session.scalar(query)
    assert kept == 0
    monkeypatch.setattr(desk_visits, "queue_effects", real)
    await answer(desk, started.visit_id, RISKY[-1])  # given again: answer and alert, together
    assert len(await rows(desk, kind="alert")) == 1


async def test_two_workers_claiming_at_once_get_each_row_once(desk: VisitDesk) -> None:
    async with desk.sessions() as session, session.begin():
        for n in range(40):
            await enqueue(session, "notice", payload("alert_due", {"at": n}), now=MORNING, user_id=1)

    async def worker() -> list[int]:
        mine: list[int] = []
        while True:
            async with desk.sessions() as session, session.begin():
                claimed = await store.claim_due(session, now=MORNING, lease=timedelta(minutes=1), limit=7)
            if not claimed:
                return mine
            mine += [row.id for row in claimed]
            await asyncio.sleep(0)

    first, second = await asyncio.gather(worker(), worker())
    assert not set(first) & set(second)
    assert sorted(first + second) == [row.id for row in await rows(desk)]
    assert {row.attempts for row in await rows(desk)} == {1}


async def test_a_claim_is_a_lease_a_dead_workers_rows_come_back(desk: VisitDesk) -> None:
    lease = timedelta(seconds=60)
    async with desk.sessions() as session, session.begin():
        await enqueue(session, "notice", payload("alert_due", {"at": 1}), now=MORNING, user_id=1)
    async with desk.sessions() as session, session.begin():
        assert len(await store.claim_due(session, now=MORNING, lease=lease)) == 1
    async with desk.sessions() as session, session.begin():  # the claimer is sending (or was killed)
        assert await store.claim_due(session, now=MORNING + timedelta(seconds=59), lease=lease) == []
    async with desk.sessions() as session, session.begin():  # its lease is over: another worker takes it
        again = await store.claim_due(session, now=MORNING + timedelta(seconds=61), lease=lease)
    assert [row.attempts for row in again] == [2]
    async with desk.sessions() as session, session.begin():
        await store.mark_sent(session, again[0].id, at=MORNING + timedelta(seconds=62))
    async with desk.sessions() as session, session.begin():
        assert await store.claim_due(session, now=MORNING + timedelta(hours=1), lease=lease) == []


async def test_a_call_back_reminder_waits_for_the_agreed_time_inside_the_borrowers_window(desk: VisitDesk) -> None:
    started = await desk.begin("B001", actor=OFFICER, officer_id=1)
    reply = await desk.act(started.visit_id, Submit(Reply(text="是本人")), actor=OFFICER, said="是本人")
    assert reply is not None
    async with desk.sessions() as session, session.begin():
        visit = await repo.load_visit(session, started.visit_id)
        assert visit is not None
        late = datetime(2026, 12, 2, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai: after the window closes
        asked = datetime(2026, 12, 2, 13, 30, tzinfo=UTC)  # 21:30, the borrower's own wish
        for due, borrower_asked in ((late, False), (asked, True)):
            task = Task(
                kind="callback", borrower_id=visit.borrower_id, officer_id=1, visit_id=visit.id, note="callback",
                due_at=due, borrower_asked=borrower_asked,
            )  # fmt: skip
            session.add(task)
            await session.flush()
            await desk_visits.queue_effects(
                session, visit, raised=[], opted_out=False, tasks=[task.id], now=MORNING, window=ContactWindow()
            )
    reminders = await rows(desk, kind="reminder")
    assert [r.not_before for r in reminders] == [datetime(2026, 12, 3, 0, 0, tzinfo=UTC), asked]
    assert "2026-12-02 22:30 Asia/Shanghai" in render(reminders[0].payload, "zh-CN", "Asia/Shanghai").text
    assert [r.not_before for r in await rows(desk, kind="task")] == [MORNING, MORNING]  # the officer knows at once


def test_only_bot_initiated_contact_waits_for_the_window() -> None:
    night = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai, 15:00 in London
    window = ContactWindow()
    assert contact_hold("alert", night, "Asia/Shanghai", window) is None
    assert contact_hold("reminder", night, "Asia/Shanghai", window) == datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
    assert contact_hold("reminder", night, "Asia/Shanghai", window, borrower_asked=True) is None
    assert contact_hold("reminder", night, "Europe/London", window) is None


def test_any_registered_key_renders_with_its_markers_in_the_recipients_language_and_zone() -> None:
    body = payload(
        "alert_task_callback",
        {"code": "B001", "name": "张健", "visit": 3, "note": label_of("flag", "funds_diverted"),
         "due": msg("alert_due", at=when(datetime(2026, 12, 1, 18, 48, tzinfo=UTC)))},
        [[{"key": "alert_open_transcript", "data": "s:tr:3"}, {"text": "#3", "data": "s:tr:3"}]],
    )  # fmt: skip
    zh = render(body, "zh-CN", "Asia/Shanghai")
    assert "2026-12-02 02:48 Asia/Shanghai" in zh.text and "funds_diverted" not in zh.text
    en = render(body, "en", "Europe/London")
    assert "agreed time 2026-12-01 18:48 Europe/London" in en.text
    assert en.buttons == [[("Open transcript", "s:tr:3"), ("#3", "s:tr:3")]]


async def test_the_report_says_whom_an_alert_reached_and_when_only_once_it_did(desk: VisitDesk) -> None:
    started = await desk.begin("B001", actor=OFFICER, officer_id=1)
    for said in RISKY:
        await answer(desk, started.visit_id, said)

    async def report() -> str:
        async with desk.sessions() as session:
            visit = await repo.load_visit(session, started.visit_id)
            assert visit is not None
            record = await visit_record(session, visit)
        return render_report(record, "zh-CN", timezone="Asia/Shanghai")

    pending = await report()
    assert "已即时预警主管" not in pending and "尚未送达" in pending
    (alert,) = await rows(desk, kind="alert")
    async with desk.sessions() as session, session.begin():
        await store.mark_sent(session, alert.id, at=MORNING + timedelta(seconds=2))
    sent = await report()
    assert "已即时预警主管" in sent and "刘主管" in sent and "2026-12-02 11:00 Asia/Shanghai" in sent


async def test_a_commit_that_queued_a_message_wakes_the_delivery_worker_and_a_rollback_does_not(
    desk: VisitDesk,
) -> None:
    woken: list[int] = []
    stop = on_queued(lambda: woken.append(1))
    try:
        async with desk.sessions() as session, session.begin():
            await repo.load_visit(session, 1)  # a commit that queued nothing wakes nobody
        assert woken == []

        async def queued_then_rolled_back() -> None:
            async with desk.sessions() as session, session.begin():
                await enqueue(session, "notice", payload("alert_due", {"at": 1}), now=MORNING, user_id=1)
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            await queued_then_rolled_back()
        assert woken == [] and await rows(desk) == []
        async with desk.sessions() as session, session.begin():
            await enqueue(session, "notice", payload("alert_due", {"at": 1}), now=MORNING, user_id=1)
            await enqueue(session, "notice", payload("alert_due", {"at": 2}), now=MORNING, user_id=1)
        assert woken == [1]  # once per commit
    finally:
        stop()
