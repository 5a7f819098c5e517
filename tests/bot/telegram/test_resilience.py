"""The chat never falls out of step with the visit: failed sends, flood waits, floods and a hung database."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.desk import Actor, VisitDesk
from bot.settings import Settings
from dialogs.answers import Reply
from dialogs.catalog import ScriptCatalog
from dialogs.engine import Submit
from storage.db import make_engine, make_sessionmaker
from tests.bot.telegram.harness import OFFICER_ID, cli, running
from tests.botapi import BotApiDouble, BotMessage, FakeUser
from tests.botapi.people import prompt_of

BORROWER_ID = 8301
RESHOWN = "上一条消息没有记录"
ERROR = "出了点问题"


def text_has(fragment: str) -> Callable[[dict[str, Any]], bool]:
    """A `when` filter for the double: the call's text contains ``fragment``."""
    return lambda params: fragment in str(params.get("text", ""))


async def record(env: dict[str, str], visit_id: int) -> dict[str, object]:
    return dict(json.loads(await asyncio.to_thread(cli, env, "visits", "show", str(visit_id), "--json")))


async def answers(env: dict[str, str], visit_id: int) -> list[tuple[str, str]]:
    found = (await record(env, visit_id))["answers"]
    assert isinstance(found, list)
    return [(a["step"], a["raw"]) for a in found]


async def question(user: FakeUser, text: str, timeout: float = 10.0) -> BotMessage:  # noqa: ASYNC109
    """The next message asking a question containing ``text``: a new one, or the pressed question edited to
    show its answer and then this question (not a message that only shows an answer)."""
    return await user.wait_for_message(lambda m: text in (prompt_of(m) or ""), timeout=timeout)


async def invite(env: dict[str, str], code: str) -> str:
    link = (await asyncio.to_thread(cli, env, "invite", code)).strip()
    return link.split("start=", 1)[1]


async def officer_to_products(officer: FakeUser) -> None:
    await officer.send("/visit B001")
    for shown, choice in (
        ("请问您是", "是本人"), ("还记得吗", "记得"), ("经营状况", "好"), ("另外筹借资金", "否"), ("主营业务", "否"),
        ("用在哪儿", "按约定用途使用"),
    ):  # fmt: skip
        await question(officer, shown, timeout=30)
        await officer.press(choice)
    await question(officer, "信贷业务种类")


async def test_a_lost_question_is_shown_again_and_a_retyped_answer_never_lands_on_it(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    """The answer is committed, the next question's send fails for good: the officer's retyped answer is
    not recorded against the question they never saw; the question is shown again and then answered."""
    officer = double.user(OFFICER_ID, "王磊")
    async with running(env, tmp_path / "bot.log") as bot:
        await officer_to_products(officer)
        double.fail_next("sendMessage", status=502, times=4, when=text_has("需要"))  # every retry of one send
        await officer.send("知道经营贷")
        await officer.wait_for_message(ERROR)  # every retry failed: the officer is told answers are safe
        await officer.send("知道经营贷")  # retyped, as a person would
        again = await question(officer, "需要")
        assert RESHOWN in (again.text or "") and "<b>" in (again.source or ""), again
        await officer.send("想要续贷")
        await question(officer, "续贷的打算")
        await asyncio.to_thread(bot.stop)
    assert [raw for step, raw in await answers(env, 1) if step in ("products", "needs")] == ["知道经营贷", "想要续贷"]


async def test_a_borrower_gets_their_check_in_back_after_lost_questions(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    """The first question of a check-in is lost: the link opened again shows it (not 'already used');
    a later lost question comes back with /resume, /start or any input."""
    token = await invite(env, "B006")
    borrower = double.user(BORROWER_ID, "客户")
    async with running(env, tmp_path / "bot.log") as bot:
        double.fail_next("sendMessage", status=500, times=4, when=text_has("您同意开始吗"))
        await borrower.send(f"/start {token}")
        await borrower.wait_for_message(ERROR, timeout=30)
        await borrower.send(f"/start {token}")
        consent = await question(borrower, "您同意开始吗")
        await borrower.press("同意，开始", consent)
        await question(borrower, "经营得怎么样")
        for method in ("editMessageText", "sendMessage"):  # the pressed question's edit, then a new message
            double.fail_next(method, status=502, times=4, when=text_has("压力大吗"))
        await borrower.press("好")
        await borrower.wait_for_message(ERROR)
        for recover in ("没有压力", "/resume", "/start", f"/start {token}"):  # typed, as a person would, first
            await borrower.send(recover)
            shown = await question(borrower, "压力大吗")
        await borrower.press("没有压力", shown)
        await question(borrower, "最近有变动吗")
        await asyncio.to_thread(bot.stop)
    assert "Traceback" not in bot.output(), bot.output()
    assert not any("已经使用过" in (m.text or "") for m in borrower.messages)
    given = await answers(env, 1)
    assert len(given) == 3 and given[0][0] == "consent", given
    assert "没有压力" not in [raw for _, raw in given[:2]], "the typed 没有压力 was never recorded"


async def test_a_flood_wait_delays_only_its_chat_and_a_flooding_chat_delays_no_one(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    """A 429 retry_after=5 for the borrower's chat, then 300 messages from the officer's chat: the other
    person's questions keep coming within a second."""
    token = await invite(env, "B006")
    borrower = double.user(BORROWER_ID, "客户")
    officer = double.user(OFFICER_ID, "王磊")
    loop = asyncio.get_running_loop()
    async with running(env, tmp_path / "bot.log") as bot:
        await borrower.send(f"/start {token}")
        await borrower.press("同意，开始", await question(borrower, "您同意开始吗", timeout=30))
        business = await question(borrower, "经营得怎么样")
        await officer.send("/visit B001")
        await question(officer, "请问您是")

        # The borrower's chat is under a flood wait: their next question waits 5 s, the officer's do not.
        double.fail_next("editMessageText", status=429, retry_after=5, chat_id=borrower.chat_id)  # shows it
        flooded_at = loop.time()
        await borrower.press("好", business)
        waits = []
        for choice, shown in (("是本人", "还记得吗"), ("记得", "经营状况"), ("好", "另外筹借资金")):
            started = loop.time()
            await officer.press(choice)
            await question(officer, shown)
            waits.append(loop.time() - started)
        await question(borrower, "压力大吗", timeout=20)
        borrower_wait = loop.time() - flooded_at
        assert max(waits) < 1.0 and borrower_wait >= 5, (waits, borrower_wait)

        # The officer's chat floods the bot with 300 answers the amount question refuses.
        await officer.press("是")
        await question(officer, "借了多少")
        for _ in range(300):
            await officer.send("很多")
        waits = []
        for choice, shown in (("没有压力", "最近有变动吗"), ("否", "联系电话有变化")):
            started = loop.time()
            await borrower.press(choice)
            await question(borrower, shown)
            waits.append(loop.time() - started)
        assert max(waits) < 1.0, waits
        await officer.send("5万")
        await question(officer, "从哪里借", timeout=60)
        await asyncio.to_thread(bot.stop)
    assert "Traceback" not in bot.output(), bot.output()
    refusals = [m for m in officer.messages if "⚠️" in (m.text or "")]
    assert len(refusals) == 300, "every one of the officer's messages was answered, in order"
    assert ("other_borrowing_amount", "5万") in await answers(env, 2)


async def test_a_hung_database_times_out_and_nothing_is_half_recorded(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    """The database stops answering writes: after the update's time limit the press is answered and the
    officer told their answers are safe; once it is back, the same press records once."""
    officer = double.user(OFFICER_ID, "王磊")
    path = env["VISITBOT_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///")
    async with running({**env, "VISITBOT_UPDATE_TIMEOUT": "3"}, tmp_path / "bot.log") as bot:
        await officer.send("/visit B001")
        identity = await question(officer, "请问您是", timeout=30)
        await asyncio.sleep(0.5)  # the bot notes the question's message id
        lock = sqlite3.connect(path, isolation_level=None)
        try:
            lock.execute("BEGIN EXCLUSIVE")
            pressed = await officer.press("是本人", identity)
            timed_out = await officer.wait_for_message("超时", timeout=15)
            assert "安全保存" in (timed_out.text or "")
            await officer.wait_for_answer(pressed)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        await officer.press("是本人", identity)
        await question(officer, "还记得吗", timeout=40)
        await asyncio.to_thread(bot.stop)
    assert [step for step, _ in await answers(env, 1)] == ["identity"]


async def answer_elsewhere(database_url: str, visit_id: int, step: str, text: str) -> None:
    """Answer the visit's current question as another front-end would (the console, on the same database)."""
    engine = make_engine(database_url)
    try:
        desk = VisitDesk(make_sessionmaker(engine), ScriptCatalog(), Settings(database_url=database_url))
        reply = await desk.act(
            visit_id, Submit(Reply(text=text)), actor=Actor("officer", None), said=text, expect_step=step
        )
        assert not reply.stale and not reply.turn.error, reply
    finally:
        await engine.dispose()


async def test_a_visit_moved_on_elsewhere_takes_no_typed_answer_for_a_question_not_shown(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    """The chat shows the products question; the visit is answered elsewhere meanwhile: the officer's typed
    answer is not recorded against the next question, which the chat never showed; that one is shown, and
    then answered."""
    officer = double.user(OFFICER_ID, "王磊")
    async with running(env, tmp_path / "bot.log") as bot:
        await officer_to_products(officer)
        await answer_elsewhere(env["VISITBOT_DATABASE_URL"], 1, "products", "知道经营贷")
        await officer.send("只做经营贷")  # for the products question still on screen
        again = await question(officer, "需要")
        assert RESHOWN in (again.text or ""), again
        await officer.send("想要续贷")
        await question(officer, "续贷的打算")
        await asyncio.to_thread(bot.stop)
    assert [raw for step, raw in await answers(env, 1) if step in ("products", "needs")] == ["知道经营贷", "想要续贷"]
