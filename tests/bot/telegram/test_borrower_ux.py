"""The borrower's side as borrowers (and officers checking their links) try it: their own menu and
/help only, a closing message that says what happens next, a link an officer opened still theirs.
One bot process serves the module.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from bot.desk import DeskReply
from bot.telegram.borrower import closing_text
from dialogs.engine import Turn, VisitState
from tests.bot.telegram.harness import OFFICER_ID, TOKEN, BotProcess, bot_env, cli, prepare
from tests.botapi import BotApiDouble, FakeUser

pytestmark = pytest.mark.asyncio(loop_scope="module")

BORROWER_IDS = (8301, 8302)
BORROWER_MENU = {"start", "help", "resume", "back", "skip"}
STAFF_ONLY = {"visit", "cancel", "note", "invite", "reply", "review", "transcript", "export", "comment"}


@dataclass
class Stack:
    """The double, the prepared database and the one bot process of this module."""

    double: BotApiDouble
    env: dict[str, str]
    bot: BotProcess

    async def invite(self, code: str) -> str:
        """A fresh invite token (the CLI asks the double for the bot's name: run it off the loop)."""
        link = (await asyncio.to_thread(cli, self.env, "invite", code)).strip()
        return link.split("start=", 1)[1]

    def visit_of(self, code: str) -> int:
        """The id of the borrower's latest visit."""
        db = sqlite3.connect(self.env["VISITBOT_DATABASE_URL"].split("///", 1)[1])
        try:
            query = "select v.id from visits v join borrowers b on b.id = v.borrower_id where b.code = ?"
            return int(db.execute(f"{query} order by v.id desc limit 1", (code,)).fetchone()[0])
        finally:
            db.close()

    async def record(self, visit_id: int) -> dict[str, object]:
        shown = await asyncio.to_thread(cli, self.env, "visits", "show", str(visit_id), "--json")
        return dict(json.loads(shown))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp("borrower_ux")
    async with BotApiDouble(token=TOKEN, bot_username="visit_test_bot") as double:
        env = bot_env(
            f"sqlite+aiosqlite:///{folder / 'bot.db'}", double.base_url, VISITBOT_FILES_DIR=str(folder / "files")
        )
        await asyncio.to_thread(prepare, env)
        since = len(double.requests)
        bot = BotProcess(env, folder / "bot.log")
        try:
            await double.wait_for_request("getUpdates", since=since, timeout=60)
            yield Stack(double, env, bot)
        finally:
            await asyncio.to_thread(bot.stop)
        assert "Traceback" not in bot.output(), bot.output()


def menu_of(double: BotApiDouble, user: FakeUser) -> set[str]:
    return {name for name, _ in double.commands({"type": "chat", "chat_id": user.chat_id})}


async def press_through(user: FakeUser, steps: list[tuple[str, str]]) -> None:
    for shown, button in steps:
        await user.wait_for_message(shown, timeout=15)
        await user.press(button)


async def test_an_officer_opening_the_link_leaves_it_to_the_borrower_who_sees_only_their_commands(
    stack: Stack,
) -> None:
    token = await stack.invite("B001")
    officer = stack.double.user(OFFICER_ID, "王磊")
    await officer.send(f"/start {token}")
    told = await officer.wait_for_message("不会用掉", timeout=30)
    assert "借款人仍然可以使用" in (told.text or "")
    assert not [m for m in officer.messages if "您同意开始吗" in (m.text or "")]

    borrower = stack.double.user(BORROWER_IDS[0], "张健")
    await borrower.send(f"/start {token}")
    await borrower.wait_for_message("您同意开始吗", timeout=30)  # the link still works for the borrower
    menu = menu_of(stack.double, borrower)
    assert menu == BORROWER_MENU and not menu & STAFF_ONLY

    await borrower.send("/help")
    helped = await borrower.wait_for_message("可用的命令", timeout=15)
    text = helped.text or ""
    assert "/resume" in text and "/back" in text
    assert not [c for c in STAFF_ONLY if f"/{c}" in text], text


async def test_a_finished_check_in_ends_with_thanks_and_what_happens_next(stack: Stack) -> None:
    token = await stack.invite("B005")
    borrower = stack.double.user(BORROWER_IDS[1], "易颖")
    await borrower.send(f"/start {token}")
    await press_through(borrower, [("您同意开始吗", "同意，开始"), ("经营得怎么样", "好"), ("压力大吗", "没有压力")])
    await press_through(borrower, [("最近有变动吗", "否"), ("联系电话有变化", "否")])
    await borrower.wait_for_message("有什么需要", timeout=15)
    await borrower.send("/skip")
    await press_through(borrower, [("续贷的打算", "是"), ("回个电话", "是")])
    await borrower.wait_for_message("方便接电话", timeout=15)
    await borrower.send("明天下午三点")
    closing = await borrower.wait_for_message("感谢您抽空填写", timeout=15)
    text = closing.text or ""
    assert "给您回电" in text and "15:00" in text, text  # what happens next, at the time they gave
    assert "记录 #" not in text and "已完成" not in text  # no record number, no outcome code words
    data = await stack.record(stack.visit_of("B005"))
    assert data["outcome"] == "completed"
    answers = data["answers"]
    assert isinstance(answers, list) and {a["answered_by"] for a in answers} == {"borrower"}


def _ended(outcome: str, **state: object) -> DeskReply:
    done = VisitState("self_checkin", 1, "zh-CN", "closing", outcome=outcome, **state)  # type: ignore[arg-type]
    return DeskReply(1, Turn(state=done))


async def test_the_closing_message_says_what_happens_next() -> None:
    """Without a bot: each way a check-in ends gets its own next step, in the borrower's zone."""
    assert "客户经理会在 2026-12-02 15:00 Asia/Urumqi 给您回电" in closing_text(
        _ended("completed", callback_at="2026-12-02T09:00:00+00:00"), "Asia/Urumqi"
    )
    assert "尽快给您回电" in closing_text(_ended("completed", answers={"wants_call": True}), "Asia/Shanghai")
    worrying = [{"flag": "repayment_pressure_high", "severity": "high", "step": "repayment_pressure"}]
    assert "尽快给您回电" in closing_text(_ended("completed", flags=worrying), "Asia/Shanghai")
    assert "认真查看" in closing_text(_ended("completed"), "Asia/Shanghai")
    assert "按您的意愿" in closing_text(_ended("opted_out"), "Asia/Shanghai")
