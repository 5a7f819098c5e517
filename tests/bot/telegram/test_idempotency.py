"""Updates are applied once per bot: a new token on the same database records its presses, old keys
expire, and a redelivered update says where the visit stands instead of claiming 'recorded'."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select

from storage.db import make_engine
from storage.models import Answer, ProcessedUpdate, utcnow
from tests.bot.telegram.harness import OFFICER_ID, cli, running
from tests.botapi import BotApiDouble

RECORDED = "已记录"
OTHER_TOKEN = "5151:OTHERtoken"


async def record(env: dict[str, str], visit_id: int) -> dict[str, object]:
    return dict(json.loads(await asyncio.to_thread(cli, env, "visits", "show", str(visit_id), "--json")))


async def steps_of(env: dict[str, str], visit_id: int) -> list[str]:
    answers = (await record(env, visit_id))["answers"]
    assert isinstance(answers, list)
    return [a["step"] for a in answers]


async def update_keys(database_url: str) -> set[str]:
    """The updates the bot knows it applied: those its answers hold, and the others it claimed apart."""
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            answered = (await conn.scalars(select(Answer.update_key).where(Answer.update_key.is_not(None)))).all()
            return set((await conn.scalars(select(ProcessedUpdate.key))).all()) | {str(key) for key in answered}
    finally:
        await engine.dispose()


async def add_old_key(database_url: str, key: str, age: timedelta) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(ProcessedUpdate).values(key=key, at=utcnow() - age))
    finally:
        await engine.dispose()


async def test_a_new_bot_token_on_the_same_database_records_its_presses(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    """Update ids start again with a new bot (or when Telegram restarts them): nothing is taken for a redelivery."""
    officer = double.user(OFFICER_ID, "王磊")
    async with running(env, tmp_path / "first.log"):
        await officer.send("/visit B001")  # update 1
        await officer.wait_for_message("请问您是", timeout=30)
        await officer.press("是本人")  # update 2
        await officer.wait_for_message("还记得吗")
        await officer.press("记得")  # update 3
        await officer.wait_for_message("经营状况")
    assert await steps_of(env, 1) == ["identity", "introduction"]
    url = env["VISITBOT_DATABASE_URL"]
    await add_old_key(url, "tg:4242:999999", timedelta(days=3))
    first_keys = await update_keys(url)
    assert {"tg:4242:2", "tg:4242:3"} <= first_keys

    async with BotApiDouble(token=OTHER_TOKEN, bot_username="visit_other_bot") as second:
        other_env = dict(env)
        other_env.update(
            VISITBOT_TELEGRAM_TOKEN=OTHER_TOKEN,
            VISITBOT_TELEGRAM_API_URL=second.base_url,
            VISITBOT_TELEGRAM_FILE_URL=second.base_file_url,
        )
        same_officer = second.user(OFFICER_ID, "王磊")
        async with running(other_env, tmp_path / "second.log") as bot:
            await same_officer.send("/resume")  # update 1 of the new bot
            await same_officer.wait_for_message("未完成的回访", timeout=30)
            await same_officer.press("r:1")  # update 2: /resume's button for visit #1
            await same_officer.wait_for_message("经营状况")
            press = await same_officer.press("好")  # update 3: the first bot's 3 was 记得
            assert (await same_officer.wait_for_answer(press)).text == RECORDED
            await same_officer.wait_for_message("另外筹借资金")
            await asyncio.to_thread(bot.stop)
        assert "Traceback" not in bot.output(), bot.output()
    assert await steps_of(env, 1) == ["identity", "introduction", "business_status"]
    keys = await update_keys(url)
    assert "tg:5151:3" in keys and first_keys - {"tg:4242:999999"} <= keys
    assert "tg:4242:999999" not in keys, "keys older than Telegram's redelivery window are forgotten"


async def test_redelivered_updates_say_where_the_visit_stands(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    """The same updates again (Telegram sends them again after a lost confirmation): nothing is
    recorded twice, no press is answered 'recorded', and the current question is shown."""
    officer = double.user(OFFICER_ID, "王磊")
    async with running(env, tmp_path / "first.log"):
        await officer.send("/visit B001")
        for question, choice in (("请问您是", "是本人"), ("还记得吗", "记得"), ("经营状况", "好")):
            await officer.wait_for_message(question, timeout=30)
            await officer.press(choice)  # updates 2, 3, 4
        await officer.wait_for_message("另外筹借资金")
        borrowed = await officer.press("是")  # update 5
        await officer.wait_for_message("借了多少")
        await officer.send("5万")  # update 6
        await officer.wait_for_message("从哪里借")
    double.redeliver(5)
    double.redeliver(6)
    async with running(env, tmp_path / "second.log") as bot:
        again = await officer.wait_for_message("之前已经处理过了", timeout=30)
        assert "从哪里借" in (again.text or "") and again.buttons, "the current question, ready to answer"
        await double.wait_for_request(
            "answerCallbackQuery", lambda r: r.params.get("callback_query_id") == borrowed and r.status != 200
        )
        texts = [r.params.get("text") for r in double.calls("answerCallbackQuery")]
        assert texts.count(RECORDED) == 4, f"only the four first presses say recorded: {texts}"
        press = await officer.press("银行", again)
        assert (await officer.wait_for_answer(press)).text == RECORDED
        await officer.wait_for_message("主营业务")
        await asyncio.to_thread(bot.stop)
    assert "Traceback" not in bot.output(), bot.output()
    steps = await steps_of(env, 1)
    assert steps == [
        "identity", "introduction", "business_status", "other_borrowing", "other_borrowing_amount",
        "other_borrowing_lender",
    ]  # fmt: skip
