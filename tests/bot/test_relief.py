"""Hardship requests (展期 / 分期) through the core, on SQLite and PostgreSQL.

An overdue call's hardship branch walked through the visit desk leaves a pending request and tells the
team's supervisors; a supervisor approves or declines it once, with a reason: the officer and the
borrower are told (the borrower inside their contact window), the audit log keeps it; a second
decision, another team's supervisor, the officer and an empty reason are refused, nothing changed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.desk import Actor, FixedClock, VisitDesk
from bot.desk.outbox import render
from bot.desk.relief import Decision, ReliefDesk, ReliefRefused
from dialogs.answers import Reply
from dialogs.engine import Submit
from storage.models import AuditEntry, Borrower, ChatSession, OutboxMessage, ReliefRequest, Task, User
from tests.desks import demo_desk

SHANGHAI = ZoneInfo("Asia/Shanghai")
MORNING = "2026-12-01T10:30:00+08:00"
HARDSHIP = ["1", "4", "生病住院", "1", "三个月"]
"""The overdue reminder: identity confirmed, hardship, its detail, an extension of three months."""
BORROWER_CHAT = 8808


@dataclass
class World:
    desk: VisitDesk
    relief: ReliefDesk
    clock: FixedClock
    people: dict[str, User]


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    clock = FixedClock(MORNING)
    window = {"contact_window_start": "08:00", "contact_window_end": "21:00"}  # the suite's default is always open
    async with demo_desk(database_url, clock=clock, **window) as desk:
        async with desk.sessions() as session, session.begin():
            other_team = User(name="赵主管", role="supervisor", team="城西支行")
            session.add_all([User(name="管理员", role="admin"), other_team])
            borrower = await session.scalar(select(Borrower).where(Borrower.code == "B008"))
            assert borrower is not None
            borrower.telegram_id = BORROWER_CHAT
        async with desk.sessions() as session:
            people = {u.name: u for u in (await session.scalars(select(User))).all()}
        yield World(desk, ReliefDesk(desk.sessions, desk.settings, clock), clock, people)


async def hardship_visit(world: World) -> int:
    """陈静's overdue call to B008 (her borrower) asking for an extension; the request's id."""
    actor = Actor("officer", world.people["陈静"].id)
    started = await world.desk.begin("B008", actor=actor, officer_id=None, script_id="overdue_reminder")
    for text in HARDSHIP:
        reply = await world.desk.act(started.visit_id, Submit(Reply(text=text)), actor=actor, said=text)
        assert reply.turn.error is None, reply.turn.error
    assert reply.turn.finished
    async with world.desk.sessions() as session:
        request = await session.scalar(select(ReliefRequest).where(ReliefRequest.visit_id == started.visit_id))
    assert request is not None
    return request.id


async def outbox(world: World, key: str) -> list[OutboxMessage]:
    async with world.desk.sessions() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    return [row for row in rows if row.payload["key"] == key]


async def audit(world: World, action: str) -> list[AuditEntry]:
    async with world.desk.sessions() as session:
        return list((await session.scalars(select(AuditEntry).where(AuditEntry.action == action))).all())


async def test_a_hardship_visit_leaves_a_request_the_teams_supervisors_are_told_of(world: World) -> None:
    request_id = await hardship_visit(world)
    async with world.desk.sessions() as session:
        request = await session.get(ReliefRequest, request_id)
        relief_tasks = (await session.scalars(select(Task).where(Task.kind == "relief"))).all()
    assert request is not None and not relief_tasks
    assert (request.kind, request.terms, request.status, request.officer_id) == (
        "extension", "三个月", "pending", world.people["陈静"].id,
    )  # fmt: skip
    told = await outbox(world, "relief_to_decide")
    assert sorted(row.user_id for row in told if row.user_id) == sorted(
        [world.people["刘主管"].id, world.people["管理员"].id]
    )  # 赵主管 is of another team
    shown = render(told[0].payload, "zh-CN", "Asia/Shanghai")
    assert f"申请 #{request_id}" in shown.text and "B008" in shown.text and "展期（三个月）" in shown.text
    assert shown.buttons[0] == [("✅ 批准", f"rl:ok:{request_id}"), ("❌ 不批准", f"rl:no:{request_id}")]

    pending = await world.relief.visible(world.people["刘主管"])
    assert [(v.id, v.status, v.can_decide) for v in pending] == [(request_id, "pending", True)]
    assert [v.can_decide for v in await world.relief.visible(world.people["陈静"])] == [False]  # her own, to read
    assert await world.relief.visible(world.people["赵主管"]) == []
    assert [v.id for v in await world.relief.visible(world.people["管理员"])] == [request_id]


async def test_an_approval_with_a_reason_tells_the_officer_and_the_borrower(world: World) -> None:
    request_id = await hardship_visit(world)
    supervisor = world.people["刘主管"]
    decided = await world.relief.decide(supervisor, request_id, "approve", "  住院证明已核实，同意展期三个月 ")
    assert (decided.status, decided.officer_told, decided.borrower_told) == ("approved", True, True)
    async with world.desk.sessions() as session:
        request = await session.get(ReliefRequest, request_id)
    assert request is not None
    assert (request.status, request.decided_by) == ("approved", supervisor.id)
    assert request.reason == "住院证明已核实，同意展期三个月"
    assert request.decided_at == world.clock.now()

    (officer_notice,) = await outbox(world, "relief_decided_approved")
    assert officer_notice.user_id == world.people["陈静"].id and officer_notice.visit_id == decided.visit_id
    text = render(officer_notice.payload, "zh-CN", "Asia/Shanghai").text
    assert "刘主管 批准了" in text and "住院证明已核实" in text and "B008" in text
    (borrower_notice,) = await outbox(world, "relief_borrower_approved")
    assert (borrower_notice.chat_id, borrower_notice.kind) == (BORROWER_CHAT, "relief_decided")
    assert borrower_notice.not_before == world.clock.now()  # 10:30 in Shanghai: inside the window
    words = render(borrower_notice.payload, "zh-CN", "Asia/Shanghai").text
    assert "展期申请已获批准" in words and "陈静" in words and "住院" not in words  # the reason stays internal

    (entry,) = await audit(world, "relief_approved")
    assert entry.user_id == supervisor.id and entry.visit_id == decided.visit_id
    assert entry.detail["reason"] == "住院证明已核实，同意展期三个月" and entry.detail["request"] == request_id
    (view,) = await world.relief.visible(supervisor)
    assert (view.status, view.decided_by, view.can_decide) == ("approved", "刘主管", False)


async def test_a_decline_is_final_a_second_decision_is_refused(world: World) -> None:
    request_id = await hardship_visit(world)
    world.clock.set(datetime(2026, 12, 1, 22, 30, tzinfo=SHANGHAI))  # after the borrower's window
    await world.relief.decide(world.people["管理员"], request_id, "decline", "已有两次展期记录")
    (notice,) = await outbox(world, "relief_borrower_declined")
    assert notice.not_before == datetime(2026, 12, 2, 8, 0, tzinfo=SHANGHAI)  # held until the window opens
    (officer_notice,) = await outbox(world, "relief_decided_declined")
    assert "已有两次展期记录" in render(officer_notice.payload, "en", "Asia/Shanghai").text

    with pytest.raises(ReliefRefused) as refused:
        await world.relief.decide(world.people["刘主管"], request_id, "approve", "改为同意")
    assert refused.value.reason == "declined"
    assert "已由 管理员 于 2026-12-01 22:30" in refused.value.text and "不能再次审批" in refused.value.text
    async with world.desk.sessions() as session:
        request = await session.get(ReliefRequest, request_id)
    assert request is not None and (request.status, request.reason) == ("declined", "已有两次展期记录")
    assert len(await audit(world, "relief_declined")) == 1 and not await audit(world, "relief_approved")
    assert not await outbox(world, "relief_decided_approved")


async def test_only_the_teams_supervisors_and_admins_decide_and_only_with_a_reason(world: World) -> None:
    request_id = await hardship_visit(world)
    cases = [
        (world.people["赵主管"], "approve", "同意", "not_found", "找不到申请"),
        (world.people["陈静"], "approve", "同意", "not_allowed", "只有该团队的主管或管理员"),
        (world.people["刘主管"], "approve", "   ", "empty", "请写明审批理由"),
        (world.people["刘主管"], "maybe", "同意", "bad_decision", "approve"),
    ]
    for user, decision, reason, why, words in cases:
        with pytest.raises(ReliefRefused) as refused:
            await world.relief.decide(user, request_id, decision, reason)
        assert refused.value.reason == why and words in refused.value.text, (user.name, refused.value.text)
    with pytest.raises(ReliefRefused) as missing:
        await world.relief.decide(world.people["管理员"], 999_999, "approve", "同意")
    assert missing.value.reason == "not_found"
    english = world.people["陈静"]
    with pytest.raises(ReliefRefused) as refused:
        await world.relief.decide(english, request_id, "decline", "no", locale="en")
    assert "Only a supervisor of the team or an admin" in refused.value.text
    async with world.desk.sessions() as session:
        request = await session.get(ReliefRequest, request_id)
    assert request is not None and request.status == "pending" and request.decided_by is None
    assert not [row for row in await outbox(world, "relief_decided_approved")]
    assert not await audit(world, "relief_approved") and not await audit(world, "relief_declined")


async def test_the_reason_mode_takes_only_a_reply_while_a_visit_is_open(world: World) -> None:
    request_id = await hardship_visit(world)
    supervisor, chat = world.people["刘主管"], 9002
    await world.relief.ask_reason(chat, request_id, Decision.DECLINE, prompt_message_id=41)
    assert await world.relief.leave_reason(chat) == request_id  # /cancel
    assert await world.relief.take_reason(chat, supervisor, "晚了", replying_to=None) is None
    await world.relief.ask_reason(chat, request_id, Decision.DECLINE, prompt_message_id=42)
    async with world.desk.sessions() as session, session.begin():  # the chat is on a visit meanwhile
        row = await session.get(ChatSession, chat)
        assert row is not None and row.mode == "relief_decline" and row.mode_ref == request_id
        row.visit_id = (await session.get(ReliefRequest, request_id)).visit_id  # type: ignore[union-attr]
    assert await world.relief.take_reason(chat, supervisor, "是本人", replying_to=None) is None  # the visit's
    with pytest.raises(ReliefRefused):
        await world.relief.take_reason(chat, supervisor, "  ", replying_to=42)
    done = await world.relief.take_reason(chat, supervisor, "已有两次展期记录", replying_to=42)
    assert done is not None and (done.request_id, done.status) == (request_id, "declined")
    async with world.desk.sessions() as session:
        row = await session.get(ChatSession, chat)
    assert row is not None and row.mode is None and row.mode_ref is None and row.visit_id is not None
    assert await world.relief.leave_reason(chat) is None
