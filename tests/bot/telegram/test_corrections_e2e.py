"""``/correct`` on Telegram through the real bot and the Bot API double.

The officer lists what may be corrected, gets the parser's message for a bad value (nothing changed),
corrects the answer that raised the high flag (cleared); the supervisor corrects another that now
raises one, and the new high flag reaches them as a risk alert through the outbox.
"""

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
from storage.models import Correction, RiskFlag
from tests.bot.telegram.harness import OFFICER_ID, SUPERVISOR_ID, seeded_bot
from tests.botapi import BotApiDouble
from tests.desks import RISKY

IN_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Stack:
    double: BotApiDouble
    env: dict[str, str]
    visit_id: int


async def seed(database_url: str) -> int:
    """王磊's finished phone visit to B001 with the high repayment-pressure flag."""
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
        return reply.visit_id
    finally:
        await engine.dispose()


async def stored(env: dict[str, str], visit_id: int) -> tuple[list[int], set[str]]:
    """The visit's correction versions and live flag codes."""
    engine = make_engine(env["VISITBOT_DATABASE_URL"])
    try:
        async with make_sessionmaker(engine)() as session:
            versions = (await session.scalars(select(Correction.version).where(Correction.visit_id == visit_id))).all()
            flags = (
                await session.scalars(
                    select(RiskFlag.code).where(RiskFlag.visit_id == visit_id, RiskFlag.cleared_at.is_(None))
                )
            ).all()
            return sorted(versions), set(flags)
    finally:
        await engine.dispose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with seeded_bot(tmp_path_factory.mktemp("corrections"), seed) as (double, env, visit_id):
        yield Stack(double, env, visit_id)


@IN_MODULE_LOOP
async def test_correct_on_telegram_clears_one_flag_and_raises_another_with_its_alert(stack: Stack) -> None:
    officer = stack.double.user(OFFICER_ID, "王磊")
    supervisor = stack.double.user(SUPERVISOR_ID, "刘主管")
    visit_id = stack.visit_id

    await officer.send(f"/correct {visit_id}")
    listed = await officer.wait_for_message("可以更正的回答", timeout=30)
    assert "repayment_pressure" in (listed.text or "") and "压力很大" in (listed.text or "")

    await officer.send(f"/correct {visit_id} repayment_pressure 天晓得 -- 听错了")
    bad = await officer.wait_for_message("新的回答无效")
    assert "没有这个选项" in (bad.text or "")
    assert (await stored(stack.env, visit_id))[0] == []

    await officer.send(f"/correct {visit_id} repayment_pressure 有点压力 -- 听错了，客户说有点压力")
    done = await officer.wait_for_message("已更正（第 2 版）")
    assert "“压力很大” → “有点压力”" in (done.text or "") and "不再成立的风险提示" in (done.text or "")
    versions, flags = await stored(stack.env, visit_id)
    assert versions == [2] and "repayment_pressure_high" not in flags

    await supervisor.send(f"/correct {visit_id} loan_use 用于其他用途 -- 回访后核实：资金用于购房")
    await supervisor.wait_for_message("已更正（第 3 版）")
    alert = await supervisor.wait_for_message(
        lambda m: "风险预警" in (m.text or "") and "贷款资金挪用" in (m.text or ""), timeout=30
    )  # the new high flag, through the outbox
    assert f"#{visit_id}" in (alert.text or "")
    versions, flags = await stored(stack.env, visit_id)
    assert versions == [2, 3] and "funds_diverted" in flags
