"""Hardship requests on Telegram, end to end through the Bot API double and a real ``visitbot bot``.

王磊's overdue call to B007 asks for an extension: the supervisor gets the notice with its buttons;
``/relief`` lists the request, 不批准 asks for the reason, the typed reason declines it; 王磊 and the
borrower are told; a second press is refused and the buttons go away; another team's supervisor
sees nothing waiting.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.desk import Actor, FixedClock, VisitDesk
from bot.settings import Settings
from dialogs.answers import Reply
from dialogs.catalog import ScriptCatalog
from dialogs.engine import Submit
from storage import repositories as repo
from storage.db import make_engine, make_sessionmaker
from storage.models import Borrower, ReliefRequest
from tests.bot.telegram.harness import OFFICER_ID, OTHER_SUPERVISOR_ID, SUPERVISOR_ID, running
from tests.botapi import BotApiDouble

BORROWER_ID = 8707
HARDSHIP = ["1", "4", "生意亏损，资金周转不开", "1", "六个月"]


async def seed(database_url: str) -> int:
    """王磊's finished overdue call to B007 (linked to a Telegram chat) with an extension asked for; the request."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as session, session.begin():
            officer = await repo.user_by_telegram_id(session, OFFICER_ID)
            assert officer is not None
            officer_id = officer.id
            borrower = await session.scalar(select(Borrower).where(Borrower.code == "B007"))
            assert borrower is not None and borrower.officer_id == officer_id
            borrower.telegram_id = BORROWER_ID
        now = datetime.now(ZoneInfo("Asia/Shanghai"))
        today = now.replace(hour=10, minute=30)  # within the contact window, and already past: the
        if today > now:  # request's notice is due now whatever the hour the suite runs at
            today -= timedelta(days=1)
        desk = VisitDesk(sessions, ScriptCatalog(), Settings(database_url=database_url), FixedClock(today))
        actor = Actor("officer", officer_id)
        visit = await desk.begin("B007", actor=actor, officer_id=officer_id, script_id="overdue_reminder")
        for text in HARDSHIP:
            reply = await desk.act(visit.visit_id, Submit(Reply(text=text)), actor=actor, said=text)
            assert reply.turn.error is None, reply.turn.error
        async with sessions() as session:
            request = await session.scalar(select(ReliefRequest).where(ReliefRequest.visit_id == visit.visit_id))
        assert request is not None
        return request.id
    finally:
        await engine.dispose()


async def request_row(database_url: str, request_id: int) -> ReliefRequest:
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            row = await session.get(ReliefRequest, request_id)
            assert row is not None
            return row
    finally:
        await engine.dispose()


async def test_a_supervisor_declines_on_telegram_with_a_reason(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    request_id = await seed(env["VISITBOT_DATABASE_URL"])
    supervisor = double.user(SUPERVISOR_ID, "刘主管")
    officer = double.user(OFFICER_ID, "王磊")
    borrower = double.user(BORROWER_ID, "借款人")
    other = double.user(OTHER_SUPERVISOR_ID, "赵主管")
    async with running(env, tmp_path / "bot.log") as bot:
        notice = await supervisor.wait_for_message(f"待审批的申请 #{request_id}", timeout=30)
        assert "B007" in (notice.text or "") and "展期（六个月）" in (notice.text or "")
        assert [d for row in notice.buttons for _, d in row][:2] == [f"rl:ok:{request_id}", f"rl:no:{request_id}"]

        await supervisor.send("/relief")
        await supervisor.wait_for_message("待审批的展期/分期申请")
        item = await supervisor.wait_for_message(lambda m: (m.text or "").startswith(f"申请 #{request_id}"))
        assert "信贷员 王磊" in (item.text or "")
        await supervisor.press("❌ 不批准", item)
        await supervisor.wait_for_message(f"请发送不批准申请 #{request_id} 的理由")
        await supervisor.send("近三个月已逾期两次，暂不同意展期")
        await supervisor.wait_for_message(f"申请 #{request_id} 未批准")

        told = await officer.wait_for_message("未批准客户 B007", timeout=15)
        assert "刘主管" in (told.text or "") and "近三个月已逾期两次" in (told.text or "")
        heard = await borrower.wait_for_message("暂未获批准", timeout=15)
        assert "王磊" in (heard.text or "") and "逾期两次" not in (heard.text or "")
        row = await request_row(env["VISITBOT_DATABASE_URL"], request_id)
        assert (row.status, row.reason) == ("declined", "近三个月已逾期两次，暂不同意展期")

        await supervisor.press(f"rl:ok:{request_id}", item)  # too late: decided already
        refused = await supervisor.wait_for_message("不能再次审批")
        assert "已由 刘主管" in (refused.text or "") and "⚠️" in (refused.text or "")
        await supervisor.wait_for_message(lambda m: m.message_id == item.message_id and not m.buttons)
        await other.send("/relief")
        await other.wait_for_message("没有待审批的展期/分期申请")
        await asyncio.to_thread(bot.stop)
    assert (await request_row(env["VISITBOT_DATABASE_URL"], request_id)).status == "declined"
    assert "Traceback" not in bot.output(), bot.output()
