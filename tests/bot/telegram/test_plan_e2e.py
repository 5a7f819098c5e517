"""The month's plan on Telegram, the bot a real subprocess against the Bot API double: /plan, /flag, /progress.

The demo book: 王磊 (the test officer) has B001 B003 B005 B007, 陈静 B002 B004 B006 B008 (B008 overdue),
刘主管 supervises both, 赵主管 another team; B003 (high risk) and B005 (low risk) opted out of visits.
The plan of the current month (the deployment's zone, as the bot reckons it) is made through the core
before the bot starts. One bot process serves the module.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from sqlalchemy import update

from bot.app import services
from bot.desk import planning
from bot.settings import Settings
from bot.telegram.plan import plan_text
from bot.telegram.render import split_text, visible_length
from storage.models import Borrower, User
from tests.bot.telegram.harness import (
    OFFICER_ID,
    OTHER_SUPERVISOR_ID,
    STRANGER_ID,
    SUPERVISOR_ID,
    TOKEN,
    BotProcess,
    bot_env,
    prepare,
)
from tests.botapi import BotApiDouble, BotMessage, FakeUser

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHEN_ID = 7004
"""陈静, the demo's second officer, given a Telegram id here; she reads English."""
ADMIN_ID = 7005
PLAN_HEADER = re.compile(r"^(\d{4}-\d{2} 回访计划：|Visit plan \d{4}-\d{2}:)")
"""The first line of a /plan table, in zh-CN or en (a digest or alert is not a plan)."""
CALM = ["是本人", "记得", "好", "否", "否", "按约定用途使用", "/skip", "/skip", "否", "否", "否"]
"""A phone visit without risk, answer by answer (a button's label, else typed)."""


@dataclass
class Stack:
    """The double, the prepared database, the month planned and the one bot process of this module."""

    double: BotApiDouble
    env: dict[str, str]
    settings: Settings
    month: str
    bot: BotProcess


def next_month(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    return f"{year + number // 12}-{number % 12 + 1:02d}"


async def make_plan(settings: Settings, month: str) -> None:
    async with services(settings) as svc:
        await planning.make_plan(svc.sessions, svc.settings, svc.clock, month, seed=7)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp("plan_e2e")
    async with BotApiDouble(token=TOKEN, bot_username="visit_test_bot") as double:
        env = bot_env(f"sqlite+aiosqlite:///{folder / 'bot.db'}", double.base_url)
        await asyncio.to_thread(prepare, env)
        settings = Settings(database_url=env["VISITBOT_DATABASE_URL"])
        async with services(settings) as svc, svc.sessions() as session, session.begin():
            await session.execute(update(User).where(User.name == "陈静").values(telegram_id=CHEN_ID, locale="en"))
            session.add(User(name="管理员", role="admin", telegram_id=ADMIN_ID))
            opted = update(Borrower).where(Borrower.code.in_(("B003", "B005")))  # high risk and low risk
            await session.execute(opted.values(opted_out_at=svc.clock.now(), opt_out_reason="busy"))
            month = svc.clock.now().astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m")
        await make_plan(settings, month)
        since = len(double.requests)
        bot = BotProcess(env, folder / "bot.log")
        try:
            await double.wait_for_request("getUpdates", since=since, timeout=60)
            yield Stack(double, env, settings, month, bot)
        finally:
            await asyncio.to_thread(bot.stop)
        assert "Traceback" not in bot.output(), bot.output()


def rows_of(shown: BotMessage) -> list[str]:
    """The table rows of a /plan message: one per borrower (``B001 …``)."""
    return [line for line in (shown.text or "").splitlines() if line.startswith("B0")]


def cells(row: str) -> list[str]:
    return row.split()


def due_days(rows: list[str], month: str) -> list[date]:
    """The due-by column (``MM-DD``, the fourth cell) of each row, as dates around ``month``."""
    year = int(month[:4])
    days = []
    for row in rows:
        mm, dd = (int(part) for part in cells(row)[3].split("-"))
        days.append(date(year + (1 if mm < int(month[5:]) else 0), mm, dd))
    return days


async def plan_of(user: FakeUser, command: str = "/plan") -> BotMessage:
    await user.send(command)
    return await user.wait_for_message(
        lambda m: "<pre>" in (m.source or "") and bool(PLAN_HEADER.search(m.text or "")), timeout=30
    )


async def test_an_officer_sees_their_month_due_first_with_reasons_in_words(stack: Stack) -> None:
    officer = stack.double.user(OFFICER_ID, "王磊")
    shown = await plan_of(officer)
    text = shown.text or ""
    assert stack.month in text.splitlines()[0] and "共 4 条" in text and "已完成 0" in text, text
    rows = rows_of(shown)
    assert sorted(cells(row)[0] for row in rows) == ["B001", "B003", "B005", "B007"], "王磊's borrowers only"
    assert due_days(rows, stack.month) == sorted(due_days(rows, stack.month)), "due first"
    assert "按风险等级定期回访" in text and "电话回访" in text and "policy" not in text, text
    lines = text.splitlines()
    b003 = next(index for index, line in enumerate(lines) if line.startswith("B003"))
    assert "电话回访" in lines[b003] and "高风险：保留回访" in lines[b003 + 1], "the note under its row"
    b005 = next(index for index, line in enumerate(lines) if line.startswith("B005"))
    assert "客户自助回访" in lines[b005] and "/invite B005" in lines[b005 + 1], text
    starts = [label for row in shown.buttons for label, _ in row]
    assert starts == ["开始回访 B001", "开始回访 B003", "开始回访 B007"], "calls only, due first"

    chen = stack.double.user(CHEN_ID, "Chen", language_code="en")
    english = await plan_of(chen)
    assert "Visit plan" in (english.text or "") and "Overdue reminder" in (english.text or ""), english.text
    first = rows_of(english)[0]
    assert cells(first)[0] == "B008" and "Overdue reminder" in first, "the overdue call is due first"
    assert {cells(row)[0] for row in rows_of(english)} == {"B002", "B004", "B006", "B008"}

    admin = stack.double.user(ADMIN_ID, "管理员")
    everyone = (await plan_of(admin)).text or ""
    assert "共 8 条" in everyone and "— 王磊 —" in everyone and "— 陈静 —" in everyone, everyone
    heads = [line for line in everyone.splitlines() if line.startswith("— ")]
    assert sorted(heads) == ["— 王磊 —", "— 陈静 —"], "each officer's entries together, under their name"


async def test_a_long_plan_is_split_over_messages_each_piece_monospace() -> None:
    day, due = date(2026, 12, 2), date(2026, 12, 9)
    reasons, note = ("overdue", "policy", "sample"), "客户已表示不想回访；高风险：保留回访"
    lines = [
        planning.PlanLine(
            n, "2026-12", n, f"B{n:04d}", "欧阳志明", 1, "王磊", reasons, "call", note, "", day, due, False, None
        )
        for n in range(1, 181)
    ]
    pieces = split_text(plan_text(lines, "2026-12", "zh-CN"))
    assert len(pieces) > 1 and all(visible_length(piece) <= 4096 for piece in pieces)
    assert all(piece.count("<pre>") == 1 and piece.endswith("</pre>") for piece in pieces), pieces[1][:200]
    assert sum(len(re.findall(r"(?m)^(?:<pre>)?B0", piece)) for piece in pieces) == 180, "no row lost or cut"


async def test_the_menus_name_the_plan_commands(stack: Stack) -> None:
    for user_id, name, greeting in (
        (OFFICER_ID, "王磊", "/visit"),
        (CHEN_ID, "Chen", "/visit"),
        (SUPERVISOR_ID, "刘主管", "预警"),
    ):
        user = stack.double.user(user_id, name)
        await user.send("/start")  # sets the chat's menu, then greets
        await user.wait_for_message(greeting, timeout=30)
    officer = dict(stack.double.commands({"type": "chat", "chat_id": OFFICER_ID}))
    assert officer["plan"] == "本月回访计划（可加月份）" and "flag" in officer and "progress" not in officer
    chen = dict(stack.double.commands({"type": "chat", "chat_id": CHEN_ID}))
    assert chen["flag"] == "Flag a borrower for next month (code why)", chen
    supervisor = dict(stack.double.commands({"type": "chat", "chat_id": SUPERVISOR_ID}))
    assert supervisor["progress"] == "回访计划完成情况" and "plan" not in supervisor


async def test_bad_month_stranger_and_supervisor_are_told(stack: Stack) -> None:
    officer = stack.double.user(OFFICER_ID, "王磊")
    await officer.send("/plan 2026-13")
    with pytest.raises(planning.PlanInputError) as bad:
        planning.parse_month("2026-13")
    assert (await officer.wait_for_message("2026-13", timeout=30)).text == bad.value.text("zh-CN")
    await officer.send(f"/plan {next_month(next_month(stack.month))}")
    assert "visitbot plan" in ((await officer.wait_for_message("还没有", timeout=30)).text or "")
    stranger = stack.double.user(STRANGER_ID, "路人")
    await stranger.send("/plan")
    assert "仅供本机构" in ((await stranger.wait_for_message("您好", timeout=30)).text or "")
    await officer.send("/progress")
    await officer.wait_for_message("没有权限", timeout=30)


async def test_a_flag_puts_the_borrower_in_the_next_plan(stack: Stack) -> None:
    officer = stack.double.user(OFFICER_ID, "王磊")
    await officer.send("/flag")
    assert "/flag B003 生意变差" in ((await officer.wait_for_message("用法", timeout=30)).text or "")
    await officer.send("/flag B003")
    with pytest.raises(planning.PlanInputError) as empty:
        async with services(stack.settings) as svc:
            await planning.flag_borrower(svc.sessions, svc.clock, user=None, code="B003", reason=" ")
    await officer.wait_for_message(lambda m: m.text == empty.value.text("zh-CN"), timeout=30)
    await officer.send("/flag B002 生意变差")  # 陈静's borrower
    refused = (await officer.wait_for_message("B002", timeout=30)).text or ""
    assert "已标记" not in refused and "不归您负责" in refused, refused
    await officer.send("/flag B003 生意变差")
    done = await officer.wait_for_message("已标记", timeout=30)
    assert done.text == "已标记 B003：生意变差，下月计划会包含该客户"
    chen = stack.double.user(CHEN_ID, "Chen", language_code="en")
    await chen.send("/flag b006 lost her main customer")
    said = await chen.wait_for_message("Flagged", timeout=30)
    assert said.text == "Flagged B006: lost her main customer. Next month's plan will include them."

    later = next_month(stack.month)
    await make_plan(stack.settings, later)
    rows = rows_of(await plan_of(officer, f"/plan {later}"))
    flagged = [row for row in rows if "客户经理标记" in row]
    assert [cells(row)[0] for row in flagged] == ["B003"], rows
    english = rows_of(await plan_of(chen, f"/plan {later}"))
    assert [cells(row)[0] for row in english if "Flagged by the officer" in row] == ["B006"], english


async def test_progress_counts_a_visit_done_against_its_entry(stack: Stack) -> None:
    supervisor = stack.double.user(SUPERVISOR_ID, "刘主管")
    before = await progress_of(supervisor)
    assert "王磊" in before and "陈静" in before and "按风险等级定期回访" in before, before
    assert total_row(before) == ["8", "0", "0%"], before

    officer = stack.double.user(OFFICER_ID, "王磊")
    shown = await plan_of(officer)
    first = shown.buttons[0][0][0]
    await officer.press(first, shown)
    for answer in CALM:
        question = await officer.wait_for_message(is_question, timeout=30)
        labels = [text for row in question.buttons for text, _ in row]
        await (officer.press(answer, question) if answer in labels else officer.send(answer))
    await officer.wait_for_message("回访结束", timeout=30)

    after = await progress_of(supervisor)
    assert total_row(after) == ["8", "1", "12%"], after
    replan = await plan_of(officer)
    done = [row for row in rows_of(replan) if "✓" in row]
    assert [cells(row)[0] for row in done] == [first.removeprefix("开始回访 ")], rows_of(replan)
    assert "已完成 1" in (replan.text or "")

    outsider = stack.double.user(OTHER_SUPERVISOR_ID, "赵主管")
    await outsider.send("/progress")
    other = (await outsider.wait_for_message("回访计划", timeout=30)).text or ""
    assert "王磊" not in other and "陈静" not in other and "没有回访计划" in other, other


def is_question(shown: BotMessage) -> bool:
    """A visit's question: its buttons answer (``a:``, ``m:``) or steer (``c:``) the visit (a digest's do not)."""
    return any(data[:2] in ("a:", "m:", "c:") for row in shown.buttons for _, data in row)


async def progress_of(user: FakeUser) -> str:
    await user.send("/progress")
    return (await user.wait_for_message("完成情况", timeout=30)).text or ""


def total_row(text: str) -> list[str]:
    """Planned, done and % of the last row (合计, everything the viewer sees)."""
    return text.splitlines()[-1].split()[-3:]
