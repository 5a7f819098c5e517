"""The command menu per role, and the officer's commands: /resume, /note, /back, /cancel."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from storage.db import make_engine, make_sessionmaker
from storage.models import utcnow
from storage.self_service import open_tasks
from tests.bot.telegram.harness import OFFICER_ID, STRANGER_ID, SUPERVISOR_ID, cli, running
from tests.botapi import BotApiDouble, BotMessage, FakeUser

VISIT_COMMANDS = {"visit", "resume", "back", "skip", "cancel", "note"}
SHANGHAI = ZoneInfo("Asia/Shanghai")


def chat_scope(chat_id: int) -> dict[str, object]:
    return {"type": "chat", "chat_id": chat_id}


async def question(user: FakeUser, text: str) -> BotMessage:
    """The next question message (with buttons) containing ``text``; edits of answered ones do not count."""
    return await user.wait_for_message(lambda m: text in (m.text or "") and bool(m.buttons), timeout=30)


async def record(env: dict[str, str], visit_id: int) -> dict[str, object]:
    return dict(json.loads(await asyncio.to_thread(cli, env, "visits", "show", str(visit_id), "--json")))


async def test_command_menu_is_registered_per_role(double: BotApiDouble, env: dict[str, str], tmp_path: Path) -> None:
    officer = double.user(OFFICER_ID, "王磊")
    supervisor = double.user(SUPERVISOR_ID, "刘主管")
    stranger = double.user(STRANGER_ID, "路人", language_code="en")
    async with running(env, tmp_path / "bot.log") as bot:
        await stranger.send("/start")
        await stranger.wait_for_message("loan officers", timeout=30)
        await asyncio.to_thread(bot.stop)
    assert "Traceback" not in bot.output(), bot.output()

    default = {name for name, _ in double.commands()}
    assert default == {"start", "help"}, "strangers see no staff commands"
    assert {name for name, _ in double.commands(language_code="en")} == default
    assert dict(double.commands(language_code="en"))["help"] == "Help"
    for chat in (stranger.chat_id,):
        assert {name for name, _ in double.commands(chat_scope(chat))} == default
    menu = dict(double.commands(chat_scope(officer.chat_id)))
    assert set(menu) >= VISIT_COMMANDS and {"start", "help"} <= set(menu)
    assert menu["visit"] == "开始回访（可加编号或姓名）", "in the officer's language"
    supervising = {name for name, _ in double.commands(chat_scope(supervisor.chat_id))}
    assert {"start", "help"} <= supervising and not supervising & {"visit", "back", "skip", "note"}


async def test_resume_note_back_and_cancel(double: BotApiDouble, env: dict[str, str], tmp_path: Path) -> None:
    officer = double.user(OFFICER_ID, "王磊")
    async with running(env, tmp_path / "bot.log") as bot:
        await officer.send("/cancel")
        await officer.wait_for_message("没有进行中的回访", timeout=30)
        await officer.send("/visit B001")
        await question(officer, "请问您是")
        await officer.press("是本人")
        introduction = await question(officer, "还记得吗")
        await officer.press("记得", introduction)
        business = await question(officer, "经营状况")

        # /back undoes the last answer: its own message says so, the question left loses its buttons,
        # the previous one comes again. (The answer pressed showed in the message that asked the question
        # left: that one edit says the answer is taken back, and the question left goes with its buttons.)
        assert business.message_id == introduction.message_id, "a press shows the next question in its message"
        await officer.send("/back")
        undone = await officer.wait_for_message(
            lambda m: m.message_id == business.message_id and "已撤回" in (m.text or "")
        )
        assert "记得" in (undone.text or "") and not undone.buttons
        assert "经营状况" not in (undone.text or ""), "the question left is not shown as if it were open"
        again = await officer.wait_for_message("已撤回上一个回答")
        assert "还记得吗" in (again.text or "")
        assert again.message_id != introduction.message_id
        # ... and so does the back button.
        await officer.press("不记得", again)
        reminder = await officer.wait_for_message("当时说是用于")  # the loan, then the greeting and question
        assert "经营状况" in (reminder.text or "")
        await officer.press("↩ 撤回上一题")
        await question(officer, "还记得吗")
        await officer.press("记得")
        await question(officer, "经营状况")

        # /note at any point; /resume shows where each open visit stands.
        await officer.send("/note 客户说<下月>回款 & 扩店")
        await officer.wait_for_message("备注已保存")
        await officer.send("/resume")
        listed = await officer.wait_for_message("未完成的回访")
        [shown] = [text for row in listed.buttons for text, _ in row]
        assert shown.startswith("#1 B001 张健 · ") and "business_status" not in shown, "the question, not its id"
        await officer.press("r:1")
        resumed = await question(officer, "经营状况")
        assert "回访 #1" in (resumed.text or "")
        await officer.press("好", resumed)
        await question(officer, "另外筹借资金")

        # /cancel offers the outcomes as buttons.
        await officer.send("/cancel")
        outcomes = await officer.wait_for_message("以什么结果结束")
        await officer.press("拒绝", outcomes)
        ended = await officer.wait_for_message("回访结束")
        assert "拒绝" in (ended.text or "")
        late = await officer.press("x:1:refused", outcomes.message_id)  # the same outcome once more
        assert "未重复记录" in ((await officer.wait_for_answer(late)).text or "")

        # /cancel callback <when> ends the next visit as a call-back with a time, and makes a task.
        await officer.send("/visit B003")
        await question(officer, "请问您是")
        await officer.press("是本人")
        await question(officer, "还记得吗")
        asked_at = utcnow()  # "明天" is the day after the bot's today, which may turn at midnight meanwhile
        await officer.send("/cancel callback 明天下午三点")
        ended = await officer.wait_for_message("回访结束")
        told_at = utcnow()
        assert "约定再回访" in (ended.text or "")
        await officer.send("/resume")
        await officer.wait_for_message("没有未完成的回访")
        await asyncio.to_thread(bot.stop)
    assert "Traceback" not in bot.output(), bot.output()

    first = await record(env, 1)
    assert first["status"] == "finished" and first["outcome"] == "refused"
    assert first["remark"] == "客户说<下月>回款 & 扩店"
    assert [a["step"] for a in first["answers"]] == ["identity", "introduction", "business_status"]  # type: ignore[union-attr]
    assert [a["value"] for a in first["answers"]][1] == "remembers"  # type: ignore[index]
    assert any(m["direction"] == "note" for m in first["transcript"])  # type: ignore[union-attr]

    second = await record(env, 2)
    assert second["outcome"] == "callback"
    callback_at = str(second["callback_at"])
    tomorrow_3pm = {
        (at.astimezone(SHANGHAI) + timedelta(days=1)).replace(hour=15, minute=0).astimezone(ZoneInfo("UTC"))
        for at in (asked_at, told_at)
    }
    assert callback_at[:16] in {at.strftime("%Y-%m-%dT%H:%M") for at in tomorrow_3pm}, callback_at
    engine = make_engine(env["VISITBOT_DATABASE_URL"])
    try:
        async with make_sessionmaker(engine)() as session:
            tasks = await open_tasks(session)
    finally:
        await engine.dispose()
    assert [(t.kind, t.visit_id, t.borrower.code) for t in tasks] == [("callback", 2, "B003")]
    assert tasks[0].due_at is not None and tasks[0].due_at.isoformat() == callback_at
