"""The rules of contact on Telegram, the bot a real subprocess with the industry's window (08:00–21:00).

A frozen clock does not reach the bot process: each borrower gets a zone in which the real time now is
midday (B001, B005, B007) or the middle of the night (B003). One bot process serves the module.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from sqlalchemy import update

from bot.app import services
from bot.desk import Actor
from bot.settings import Settings
from storage.models import Borrower
from tests.bot.telegram.harness import OFFICER_ID, SUPERVISOR_ID, TOKEN, BotProcess, bot_env, cli, prepare
from tests.botapi import BotApiDouble
from tests.desks import walk

pytestmark = pytest.mark.asyncio(loop_scope="module")

WANG = Actor("officer", 1)
CHEN = Actor("officer", 2)


def zone_where_it_is(hour: int) -> str:
    """A fixed-offset zone in which the local hour now is ``hour`` (``Etc/GMT-8`` is UTC+8)."""
    offset = (hour - datetime.now(UTC).hour) % 24
    offset = offset - 24 if offset > 14 else offset
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


@dataclass
class Stack:
    """The double, the prepared database and the one bot process of this module."""

    double: BotApiDouble
    env: dict[str, str]
    bot: BotProcess
    zones: dict[str, str]


async def set_up(url: str) -> dict[str, str]:
    """Zones by borrower; B001 has had three connected calls today, B005 opted out, B007 disputes a debt."""
    zones = {"B001": zone_where_it_is(12), "B003": zone_where_it_is(3), "B005": zone_where_it_is(12)}
    zones["B007"] = zones["B001"]
    settings = Settings(database_url=url)
    async with services(settings) as svc, svc.sessions() as session, session.begin():
        for code, zone in zones.items():
            await session.execute(update(Borrower).where(Borrower.code == code).values(timezone=zone))
    for actor in (WANG, CHEN, WANG):  # two officers
        await walk(settings, "B001", None, ["/cancel refused"], actor)
    await walk(settings, "B005", "visit_refusal", ["1", "2", "1"], WANG)  # 不想回访: busy, prefers self-service
    await walk(settings, "B007", "overdue_reminder", ["1", "3", "这笔钱我上个月已经还了"], WANG)
    return zones


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp("contact_e2e")
    async with BotApiDouble(token=TOKEN, bot_username="visit_test_bot") as double:
        env = bot_env(
            f"sqlite+aiosqlite:///{folder / 'bot.db'}", double.base_url,
            VISITBOT_CONTACT_WINDOW_START="08:00", VISITBOT_CONTACT_WINDOW_END="21:00",
        )  # fmt: skip
        await asyncio.to_thread(prepare, env)
        zones = await set_up(env["VISITBOT_DATABASE_URL"])
        since = len(double.requests)
        bot = BotProcess(env, folder / "bot.log")
        try:
            await double.wait_for_request("getUpdates", since=since, timeout=60)
            yield Stack(double, env, bot, zones)
        finally:
            await asyncio.to_thread(bot.stop)
        assert "Traceback" not in bot.output(), bot.output()


async def test_an_officer_is_refused_by_the_cap_the_window_and_an_opt_out(stack: Stack) -> None:
    officer = stack.double.user(OFFICER_ID, "王磊")
    await officer.send("/visit B001")
    capped = await officer.wait_for_message("每日上限", timeout=30)
    assert (
        "B001" in (capped.text or "") and "每日上限 3 次" in (capped.text or "") and "下次可联系" in (capped.text or "")
    )
    await officer.send("/visit B003")
    night = await officer.wait_for_message("可联系时段", timeout=15)
    assert "B003" in (night.text or "") and "不在可联系时段（08:00–21:00）" in (night.text or "")
    assert stack.zones["B003"] in (night.text or "")
    await officer.send("/visit B005")
    opted = await officer.wait_for_message("/invite B005", timeout=15)
    assert "不想回访" in (opted.text or "") and "visitbot invite B005" in (opted.text or ""), opted.text
    await officer.send("/visit")
    pick = await officer.wait_for_message(lambda m: "B005" in str(m.buttons), timeout=15)
    labels = [text for row in pick.buttons for text, _ in row]
    assert any("B005" in label and "（不想回访）" in label for label in labels), labels
    assert not any("B001" in label and "不想回访" in label for label in labels), labels


async def test_refusals_are_shown_to_the_supervisor_not_the_officer(stack: Stack) -> None:
    officer = stack.double.user(OFFICER_ID, "王磊")
    await officer.send("/refusals")
    assert "没有权限" in ((await officer.wait_for_message("权限", timeout=30)).text or "")
    supervisor = stack.double.user(SUPERVISOR_ID, "刘主管")
    await supervisor.send("/refusals")
    listed = (await supervisor.wait_for_message("被联系规则拒绝的联系", timeout=30)).text or ""
    for code, rule in (("B001", "超过每日次数上限"), ("B003", "可联系时段外"), ("B005", "借款人不想回访")):
        assert any(code in line and rule in line for line in listed.splitlines()), listed


async def test_a_supervisor_resolves_a_dispute_on_telegram(stack: Stack) -> None:
    officer = stack.double.user(OFFICER_ID, "王磊")
    await officer.send("/resolve B007 已核实")
    assert "没有权限" in ((await officer.wait_for_message("权限", timeout=30)).text or "")
    supervisor = stack.double.user(SUPERVISOR_ID, "刘主管")
    await supervisor.send("/resolve B007")
    assert "用法" in ((await supervisor.wait_for_message("/resolve", timeout=30)).text or "")
    await supervisor.send("/resolve B007 已核实：上月2000元已入账")
    done = await supervisor.wait_for_message("已解除", timeout=15)
    assert "B007" in (done.text or "") and "已核实" in (done.text or "")
    rows = json.loads(await asyncio.to_thread(cli, stack.env, "disputes", "list", "--all", "--json"))
    assert [(r["borrower"], r["resolution"], r["resolved_by"]) for r in rows] == [
        ("B007", "已核实：上月2000元已入账", 3)
    ]
