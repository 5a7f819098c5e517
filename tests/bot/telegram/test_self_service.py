"""Borrowers' self-service check-ins through invite links, end to end on the Bot API double."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from tests.bot.telegram.harness import OFFICER_ID, cli, running
from tests.botapi import BotApiDouble, FakeUser

BORROWER_ID = 8101


async def invite(env: dict[str, str], code: str, *extra: str) -> str:
    """A fresh invite token (the CLI asks the double's getMe for the bot's name, so run it off the loop)."""
    link = (await asyncio.to_thread(cli, env, "invite", code, *extra)).strip()
    assert link.startswith("https://t.me/visit_test_bot?start=")
    return link.split("start=", 1)[1]


def record(env: dict[str, str], visit_id: int) -> dict[str, object]:
    data = json.loads(cli(env, "visits", "show", str(visit_id), "--json"))
    assert isinstance(data, dict)
    return data


async def answer(user: FakeUser, steps: list[tuple[str, str]]) -> None:
    for expected, button in steps:
        await user.wait_for_message(expected)
        await user.press(button)


async def test_borrower_consents_and_completes_a_check_in(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    token = await invite(env, "B001")
    borrower = double.user(BORROWER_ID, "张健", language_code="zh-hans")
    officer = double.user(OFFICER_ID, "王磊")
    async with running(env, tmp_path / "bot.log"):
        await borrower.send(f"/start {token}")
        consent = await borrower.wait_for_message("您同意开始吗", timeout=30)
        assert "张健" in (consent.text or "")
        await borrower.press("同意，开始")
        await answer(borrower, [("经营得怎么样", "好"), ("压力大吗", "没有压力"), ("最近有变动吗", "否")])
        await answer(borrower, [("联系电话有变化", "否")])
        await borrower.wait_for_message("有什么需要")
        await borrower.send("希望利率低一点")
        await answer(borrower, [("续贷的打算", "是"), ("回个电话", "是")])
        await borrower.wait_for_message("方便接电话")
        await borrower.send("明天下午三点")
        await borrower.wait_for_message("回访结束")
        callback = await officer.wait_for_message("请回电")
        assert "B001" in (callback.text or "")
    data = record(env, 1)
    assert data["outcome"] == "completed" and data["channel"] == "self"
    answers = data["answers"]
    assert isinstance(answers, list)
    assert {a["answered_by"] for a in answers} == {"borrower"}
    assert next(a for a in answers if a["step"] == "needs")["raw"] == "希望利率低一点"


async def test_declining_consent_keeps_only_the_refusal(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    token = await invite(env, "B003")
    borrower = double.user(BORROWER_ID, "侯丹丹", language_code="en")
    async with running(env, tmp_path / "bot.log"):
        await borrower.send(f"/start {token}")
        await borrower.wait_for_message("Do you agree", timeout=30)
        await borrower.press("I do not agree")
        await borrower.wait_for_message("nothing else is kept")
    data = record(env, 1)
    assert data["outcome"] == "opted_out"
    assert [a["step"] for a in data["answers"]] == ["consent"]  # type: ignore[union-attr]
    db = sqlite3.connect(env["VISITBOT_DATABASE_URL"].split("///", 1)[1])
    assert db.execute("select granted, channel from consents").fetchall() == [(0, "self")]


async def test_reused_and_expired_links_are_refused(double: BotApiDouble, env: dict[str, str], tmp_path: Path) -> None:
    token = await invite(env, "B005")
    stale = await invite(env, "B007", "--days", "0")
    first = double.user(BORROWER_ID, "易颖")
    second = double.user(BORROWER_ID + 1, "某人")
    async with running(env, tmp_path / "bot.log"):
        await first.send(f"/start {token}")
        await first.wait_for_message("您同意开始吗", timeout=30)
        await second.send(f"/start {token}")
        used = await second.wait_for_message()
        assert "已经使用过" in (used.text or "") and "易颖" not in (used.text or "")
        await second.send(f"/start {stale}")
        expired = await second.wait_for_message()
        assert "已过期" in (expired.text or "")
        await second.send("/start not-a-token")
        assert "无效" in ((await second.wait_for_message()).text or "")


async def test_opting_out_tells_the_officer(double: BotApiDouble, env: dict[str, str], tmp_path: Path) -> None:
    token = await invite(env, "B001")
    borrower = double.user(BORROWER_ID, "张健")
    officer = double.user(OFFICER_ID, "王磊")
    async with running(env, tmp_path / "bot.log"):
        await borrower.send(f"/start {token}")
        await borrower.wait_for_message("您同意开始吗", timeout=30)
        await borrower.press("我不想再接受回访")
        await answer(borrower, [("主要原因", "工作太忙，没有时间"), ("哪种方式", "短信提醒")])
        await borrower.wait_for_message("回访结束")
        notice = await officer.wait_for_message("不想回访")
        text = notice.text or ""  # the reason and channel by their labels, not their codes (busy, sms)
        assert "B001" in text and "工作太忙" in text and "短信" in text and "busy" not in text
    assert record(env, 1)["outcome"] == "opted_out"
