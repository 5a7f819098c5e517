"""One answer, at most one Bot API call that Telegram's ~30 messages a second applies to (issue 13): a
press edits the pressed question to show its answer and the next question; a typed answer (it shows in
the officer's own message) gets the next question in a new message; a stale press costs none."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bot.telegram.render import visible_length
from tests.bot.telegram.harness import OFFICER_ID, OTHER_BORROWING_TO_END, Turn, running
from tests.botapi import BotApiDouble, BotMessage, FakeUser
from tests.botapi.people import prompt_of

STALE = "之前的问题"

VISIT: list[Turn] = [
    ("请问您是", "press:是本人"),
    ("还记得吗", "press:记得"),
    ("经营状况", "press:好"),
    *OTHER_BORROWING_TO_END,  # a refused amount, typed answers, /skip and presses, to the end
]


def labels(shown: BotMessage) -> list[str]:
    return [text for row in shown.buttons for text, _ in row]


async def shown(user: FakeUser, text: str) -> BotMessage:
    """The next send or edit showing ``text``."""
    return await user.wait_for_message(text, timeout=30)


async def test_each_answer_costs_one_rate_limited_call(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    officer = double.user(OFFICER_ID, "王磊")
    per_input: list[tuple[str, list[str]]] = []  # (what the officer did, the chat_id calls it cost)
    async with running(env, tmp_path / "bot.log") as bot:
        await officer.send("/visit B001")
        question = await shown(officer, "请问您是")
        for (_, act), (after, _) in zip(VISIT, [*VISIT[1:], ("回访结束", "")], strict=True):
            since = len(double.requests)
            if act.startswith("press:"):
                query = await officer.press(act.removeprefix("press:"))
                await officer.wait_for_answer(query)
            else:
                await officer.send(act)
            question = await shown(officer, after)  # (after the refused amount: the error, asking for it again)
            await asyncio.sleep(0.3)  # anything the input still causes comes now
            per_input.append((act, [r.method for r in double.chat_calls(since)]))

            if act == "5万":  # the amount was typed: its question keeps its buttons, which are stale now
                amount = next(m for m in reversed(officer.messages) if "借了多少" in (m.text or ""))
                since = len(double.requests)
                stale = await officer.press("↩ 撤回上一题", amount)
                assert STALE in ((await officer.wait_for_answer(stale)).text or "")
                await asyncio.sleep(0.3)
                assert not double.chat_calls(since), "a stale press records nothing and shows nothing new"
        await asyncio.to_thread(bot.stop)
    assert "Traceback" not in bot.output(), bot.output()

    assert all(len(calls) == 1 for _, calls in per_input), per_input
    presses = [calls for act, calls in per_input if act.startswith("press:")]
    assert all(calls == ["editMessageText"] for calls in presses), per_input
    assert all(calls == ["sendMessage"] for act, calls in per_input if not act.startswith("press:")), per_input
    # The last press showed the visit's end in the pressed message, no buttons left.
    assert "✅ 否" in (question.text or "") and "回访结束" in (question.text or "") and not question.buttons


def rename_officer(env: dict[str, str], name: str) -> None:
    path = env["VISITBOT_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE users SET name = ? WHERE telegram_id = ?", (name, OFFICER_ID))


async def test_an_answer_too_long_to_show_with_the_next_question_goes_the_two_message_way(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    """The pressed question with its answer and the next question would pass Telegram's 4,096 characters
    together: the pressed question shows its answer, and the next question comes in a new message."""
    # The introduction names the officer: about 4,090 characters, over 4,096 with the answer above it.
    rename_officer(env, "王" * 4040)
    officer = double.user(OFFICER_ID, "王磊")
    async with running(env, tmp_path / "bot.log") as bot:
        await officer.send("/visit B001")
        identity = await shown(officer, "请问您是")
        await officer.press("是本人", identity)
        intro = await officer.wait_for_message(lambda m: "还记得吗" in (prompt_of(m) or ""), timeout=30)
        assert intro.message_id > identity.message_id and not intro.edits and "记得" in labels(intro)
        answered = await officer.wait_for_message(lambda m: m.message_id == identity.message_id and bool(m.edits))
        assert (answered.text or "").endswith("请问您是张健吗？\n✅ 是本人") and not answered.buttons
        await officer.press("记得", intro)  # the chat took the new message as its question's: it goes on
        business = await officer.wait_for_message(lambda m: "经营状况" in (prompt_of(m) or ""))
        assert business.message_id > intro.message_id, "too long with the introduction above it, too"
        await officer.press("好", business)
        await officer.wait_for_message(lambda m: "另外筹借资金" in (prompt_of(m) or ""))
        await asyncio.to_thread(bot.stop)
    assert "Traceback" not in bot.output(), bot.output()
    for message in officer.messages:
        assert all(visible_length(v.source or "") <= 4096 for v in message.versions)


async def test_a_pressed_question_that_cannot_be_edited_goes_on_in_a_new_message(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    """The pressed question cannot be edited (deleted, too old): a new message shows the answer and the
    next question, and the visit goes on there."""
    officer = double.user(OFFICER_ID, "王磊")
    async with running(env, tmp_path / "bot.log") as bot:
        await officer.send("/visit B001")
        identity = await shown(officer, "请问您是")
        double.fail_next("editMessageText", status=400, description="Bad Request: message to edit not found")
        await officer.press("是本人", identity)
        intro = await officer.wait_for_message(lambda m: "还记得吗" in (prompt_of(m) or ""))
        assert intro.message_id > identity.message_id and "请问您是张健吗？\n✅ 是本人" in (intro.text or "")
        await officer.press("记得", intro)
        business = await officer.wait_for_message(lambda m: "经营状况" in (prompt_of(m) or ""))
        assert business.message_id == intro.message_id, "the chat took the new message as its question's"
        await asyncio.to_thread(bot.stop)
    assert "Traceback" not in bot.output(), bot.output()
    assert [f.method for f in double.faults_fired] == ["editMessageText"]
