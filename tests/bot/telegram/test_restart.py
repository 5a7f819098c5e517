"""The bot is SIGKILLed mid-visit; restarted, it resumes with nothing lost and applies redelivered updates once."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

from sqlalchemy import func, select

from storage.db import make_engine
from storage.models import Answer, TranscriptMessage
from tests.bot.telegram.harness import CHANGES_TO_END, OFFICER_ID, BotProcess, cli, converse, running, until
from tests.botapi import ApiRequest, BotApiDouble

PRESSED_BEFORE_KILL = ("identity", "introduction", "business_status", "other_borrowing", "other_borrowing_amount")


async def answer_rows(database_url: str, visit_id: int) -> dict[str, int]:
    """Answer rows per step straight from the database, taken-back ones included."""
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(Answer.step_id, func.count()).where(Answer.visit_id == visit_id).group_by(Answer.step_id)
            )
            return {step: count for step, count in rows}
    finally:
        await engine.dispose()


async def typed_in(database_url: str, visit_id: int, text: str) -> int:
    """How many times the transcript records this input."""
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            query = select(func.count()).where(
                TranscriptMessage.visit_id == visit_id,
                TranscriptMessage.direction == "in",
                TranscriptMessage.text == text,
            )
            return int((await conn.execute(query)).scalar_one())
    finally:
        await engine.dispose()


async def record(env: dict[str, str], visit_id: int) -> dict[str, object]:
    """``visits show <id> --json``, run off the event loop so the double keeps serving."""
    return dict(json.loads(await asyncio.to_thread(cli, env, "visits", "show", str(visit_id), "--json")))


async def idle_in_long_poll(double: BotApiDouble, since: int = 0) -> ApiRequest:
    """Wait until the bot (started after request ``since``) waits in getUpdates; returns that open poll."""
    return await double.wait_for_request("getUpdates", lambda r: r.status is None, since=since)


async def test_sigkill_mid_visit_loses_nothing_and_applies_redelivered_updates_once(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    officer = double.user(OFFICER_ID, "王磊")
    first = BotProcess(env, tmp_path / "first.log")
    try:
        await officer.send("/visit B001")
        await officer.wait_for_message("请问您是", timeout=30)
        await officer.press("是本人")
        await officer.wait_for_message("还记得吗")
        await officer.press("记得")
        await officer.wait_for_message("经营状况")
        await officer.press("好")
        await officer.wait_for_message("另外筹借资金")
        borrowed = await officer.press("是")
        await officer.wait_for_message("借了多少")
        applied = await officer.send("5万")  # applied, and confirmed by the bot's next poll...
        lender_question = await officer.wait_for_message("从哪里借")
        poll = await idle_in_long_poll(double)
        # ...the next press reaches the bot, which is frozen and then killed before it can act on it.
        first.proc.send_signal(signal.SIGSTOP)
        press = await officer.press("银行", message=lender_question)
        await double.wait_for_request("getUpdates", lambda r: r is poll and r.status is not None)
        first.kill()
    finally:
        await asyncio.to_thread(first.stop)
    assert double.pending_updates == 1, "the press was handed to the bot but never confirmed"
    assert press not in {r.params.get("callback_query_id") for r in double.calls("answerCallbackQuery")}

    # Everything answered before the kill is in the record.
    before = await record(env, 1)
    assert before["status"] == "open" and before["step"] == "other_borrowing_lender"
    answers = before["answers"]
    assert isinstance(answers, list)
    assert [a["step"] for a in answers] == list(PRESSED_BEFORE_KILL)
    assert answers[-1]["raw"] == "5万" and answers[-1]["value"] == "50000"

    # Telegram never saw the confirmation of the last press and the typed amount either: they come
    # again, before the new press. (Update ids count up from 1 in the double; `press` returns the
    # callback query id, so the press before the typed amount is update `applied - 1`.)
    double.redeliver(applied - 1)
    double.redeliver(applied)
    assert double.pending_updates == 3
    restarted_at = len(double.requests)
    async with running(env, tmp_path / "second.log") as second:
        again = await officer.wait_for_message("从哪里借", timeout=30)  # the redelivered amount: where we stand
        assert again.message_id != lender_question.message_id
        answer = await officer.wait_for_answer(press)
        assert answer.text == "已记录"
        await officer.wait_for_message("主营业务")
        await idle_in_long_poll(double, restarted_at)
        assert double.pending_updates == 0
        middle = await record(env, 1)
        assert [a["step"] for a in middle["answers"]] == [*PRESSED_BEFORE_KILL, "other_borrowing_lender"]  # type: ignore[union-attr]
        # The officer carries on from there to the end.
        await officer.press("否")
        last = await converse(officer, CHANGES_TO_END[1:])
        await officer.wait_for_message("回访结束")
        assert last is not None
        await officer.wait_for_answer(last)
        await asyncio.to_thread(second.stop)
    assert "Traceback" not in second.output(), second.output()
    assert not [m for m in officer.messages if "出了点问题" in (m.text or "")], "a redelivery is no error"

    done = await record(env, 1)
    assert done["status"] == "finished" and done["outcome"] == "completed"
    steps = [a["step"] for a in done["answers"]]  # type: ignore[union-attr]
    assert len(steps) == len(set(steps)), steps
    rows = await answer_rows(env["VISITBOT_DATABASE_URL"], 1)
    assert rows == dict.fromkeys(rows, 1), rows
    assert set(PRESSED_BEFORE_KILL) | {"other_borrowing_lender"} <= set(rows)
    assert await typed_in(env["VISITBOT_DATABASE_URL"], 1, "5万") == 1
    # Every press got its answer, so no button spins; only the redelivered one, answered before the
    # kill, was refused by Telegram as too old (and the bot shrugged that off).
    calls = double.calls("answerCallbackQuery")
    assert {r.params["callback_query_id"] for r in calls if r.status != 200} == {borrowed}
    assert press in {r.params["callback_query_id"] for r in calls if r.status == 200}


async def test_a_question_left_unedited_by_a_kill_is_shown_where_it_was_pressed(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    """SIGKILL after a press's answer committed but before the edit showing the next question: the pressed
    message still shows the answered question, its buttons live. Restarted, a press on it records nothing
    twice and turns that message into the visit's question, whose buttons then record (it used to say
    only 'an earlier question's button', leaving the officer to guess /resume)."""
    officer = double.user(OFFICER_ID, "王磊")
    first = BotProcess(env, tmp_path / "bot.log")
    try:
        await officer.send("/visit B001")
        identity = await officer.wait_for_message("请问您是", timeout=30)
        double.hang("editMessageText", 60.0, chat_id=officer.chat_id, when=lambda p: "还记得吗" in str(p.get("text")))
        await officer.press("是本人", identity)
        await until(lambda: any(r.method == "editMessageText" and r.status is None for r in double.requests), 30)
        first.kill()  # the answer is committed (the edit comes after the commit), the edit never lands
    finally:
        await asyncio.to_thread(first.stop)
    double.clear_failures()
    since = len(double.requests)
    async with running(env, tmp_path / "restarted.log"):
        await idle_in_long_poll(double, since)
        assert "请问您是" in (officer.messages[-1].text or ""), "the pressed message still shows the question"
        again = await officer.wait_for_answer(await officer.press("是本人", identity.message_id))
        assert again.text is not None and "未重复记录" in again.text
        shown = await officer.wait_for_message("还记得吗", timeout=15)
        assert shown.message_id == identity.message_id, "shown where it was pressed, not in a new message"
        recorded = await officer.wait_for_answer(await officer.press("记得", shown))
        assert recorded.text == "已记录"
        await officer.wait_for_message("经营状况", timeout=15)
    visit_id = int(json.loads(await asyncio.to_thread(cli, env, "visits", "list", "--json"))[0]["id"])
    assert await answer_rows(env["VISITBOT_DATABASE_URL"], visit_id) == {"identity": 1, "introduction": 1}
