"""``/explain`` on Telegram through the real bot and the Bot API double: an officer is refused, a supervisor
reads the flag with its evidence, explains it with a reason (once), and the flag is kept explained."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.desk import Actor, FixedClock, VisitDesk
from bot.settings import Settings
from dialogs.answers import Reply
from dialogs.catalog import ScriptCatalog
from dialogs.engine import Submit
from storage import repositories as repo
from storage.db import make_engine, make_sessionmaker
from storage.models import RiskFlag
from tests.bot.telegram.harness import OFFICER_ID, SUPERVISOR_ID, seeded_bot
from tests.botapi import BotApiDouble
from tests.desks import RISKY

IN_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Stack:
    double: BotApiDouble
    env: dict[str, str]
    flag_id: int


async def seed(database_url: str) -> int:
    """王磊's finished phone visit to B001: its high repayment-pressure flag's id."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as session:
            officer = await repo.user_by_telegram_id(session, OFFICER_ID)
            assert officer is not None
            officer_id = officer.id
        today = datetime.now(ZoneInfo("Asia/Shanghai")).replace(hour=10, minute=30)
        desk = VisitDesk(sessions, ScriptCatalog(), Settings(database_url=database_url), FixedClock(today))
        actor = Actor("officer", officer_id)
        reply = await desk.begin("B001", actor=actor, officer_id=officer_id)
        for text in RISKY:
            reply = await desk.act(reply.visit_id, Submit(Reply(text=text)), actor=actor, said=text)
        assert reply.turn.finished
        async with sessions() as session:
            query = select(RiskFlag.id).where(RiskFlag.visit_id == reply.visit_id, RiskFlag.severity == "high")
            flag_id = await session.scalar(query)
            assert flag_id is not None
            return flag_id
    finally:
        await engine.dispose()


async def explanation(env: dict[str, str], flag_id: int) -> str | None:
    engine = make_engine(env["VISITBOT_DATABASE_URL"])
    try:
        async with make_sessionmaker(engine)() as session:
            return await session.scalar(select(RiskFlag.explanation).where(RiskFlag.id == flag_id))
    finally:
        await engine.dispose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with seeded_bot(tmp_path_factory.mktemp("explain"), seed) as (double, env, flag_id):
        yield Stack(double, env, flag_id)


@IN_MODULE_LOOP
async def test_a_supervisor_explains_a_flag_on_telegram(stack: Stack) -> None:
    officer = stack.double.user(OFFICER_ID, "王磊")
    supervisor = stack.double.user(SUPERVISOR_ID, "刘主管")
    flag = stack.flag_id

    await officer.send(f"/explain {flag} 我觉得没问题")
    await officer.wait_for_message("没有权限", timeout=30)
    assert await explanation(stack.env, flag) is None

    await supervisor.send(f"/explain {flag}")
    shown = await supervisor.wait_for_message(f"预警 #{flag}", timeout=30)
    assert "还款压力大" in (shown.text or "") and "用法：/explain" in (shown.text or "")

    await supervisor.send(f"/explain {flag} 已电话核实：压力来自季节性备货，已约定下月再访")
    await supervisor.wait_for_message("已说明，不再计入排序")
    assert await explanation(stack.env, flag) == "已电话核实：压力来自季节性备货，已约定下月再访"

    await supervisor.send(f"/explain {flag} 再说一次")
    again = await supervisor.wait_for_message("已由 刘主管")
    assert "季节性备货" in (again.text or "")
