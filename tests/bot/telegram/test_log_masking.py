"""The bot's log over a whole Telegram check-in with failing updates holds no raw phone or ID number.

The borrower's phone is in the data and typed as an answer, an ID number is typed into a free-text
answer, PostgreSQL refuses that answer once with an error that quotes it (an injected fault: the
message, the traceback and SQLAlchemy's parameter dump all carry the text, as real database errors
do), and a forged button press carries a phone number.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.db import make_engine
from tests.bot.telegram.harness import OFFICER_ID, bot_env, cli, prepare, running
from tests.botapi import BotApiDouble, FakeUser
from tests.conftest import drop_postgres_database, new_postgres_database

PHONE = "13812345678"
ID_NUMBER = "110101199003071234"
NEEDS = f"身份证号{ID_NUMBER}，有事打{PHONE}"
FAULT = "injected fault: answers refused"
ERROR_TEXT = "出了点问题"


@pytest.fixture
def pg_env(postgres_server: str, double: BotApiDouble) -> Iterator[dict[str, str]]:
    """A prepared PostgreSQL database for the bot (dropped afterwards)."""
    name, url = new_postgres_database(postgres_server)
    try:
        environ = bot_env(url, double.base_url)
        prepare(environ)
        yield environ
    finally:
        drop_postgres_database(name)


async def execute(env: dict[str, str], *statements: str) -> None:
    """Run SQL on the bot's database from the test (the bot keeps running)."""
    engine = make_engine(env["VISITBOT_DATABASE_URL"])
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def refuse_answers_containing(env: dict[str, str], needle: str) -> None:
    """Make the database reject, quoting it, any answer whose raw text holds `needle`."""
    await execute(
        env,
        "CREATE FUNCTION inject_fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF NEW.raw LIKE '%{needle}%' THEN RAISE EXCEPTION '{FAULT}: %', NEW.raw; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER inject_fault BEFORE INSERT ON answers FOR EACH ROW EXECUTE FUNCTION inject_fault()",
    )


async def accept_answers(env: dict[str, str]) -> None:
    await execute(env, "DROP TRIGGER inject_fault ON answers", "DROP FUNCTION inject_fault()")


async def step(user: FakeUser, shown: str, act: str) -> None:
    """Wait for a question, then press (``press:<label>``) or type."""
    await user.wait_for_message(shown, timeout=30)
    if act.startswith("press:"):
        await user.press(act.removeprefix("press:"))
    else:
        await user.send(act)


def unmasked(log: str, secret: str) -> list[str]:
    """Log lines holding `secret` in full, also when written with spaces or dashes between digits."""
    joined = re.compile(r"[\s-]?".join(secret))
    return [line for line in log.splitlines() if joined.search(line)]


async def test_no_raw_phone_or_id_number_in_the_log_of_a_check_in_with_failing_updates(
    double: BotApiDouble, pg_env: dict[str, str], tmp_path: Path
) -> None:
    env = pg_env
    await execute(env, f"UPDATE borrowers SET phone = '+86{PHONE}' WHERE code = 'B001'")
    link = (await asyncio.to_thread(cli, env, "invite", "B001")).strip()
    token = link.split("start=", 1)[1]
    borrower = double.user(8301, "张健")
    officer = double.user(OFFICER_ID, "王磊")
    async with running(env, tmp_path / "bot.log") as bot:
        await borrower.send(f"/start {token}")
        for shown, act in (
            ("您同意开始吗", "press:同意，开始"),
            ("经营得怎么样", "press:一般"),
            ("压力大吗", "press:没有压力"),
            ("最近有变动吗", "press:否"),
            ("联系电话有变化", "press:是"),
            ("新电话号码", PHONE),
        ):
            await step(borrower, shown, act)
        await borrower.wait_for_message("有什么需要", timeout=30)
        await refuse_answers_containing(env, ID_NUMBER)
        await borrower.send(NEEDS)
        await borrower.wait_for_message(ERROR_TEXT, timeout=30)
        await accept_answers(env)
        await borrower.send(NEEDS)  # the borrower tries again, as the error message asks
        for shown, act in (("续贷的打算", "press:是"), ("回个电话", "press:是"), ("方便接电话", "明天下午三点")):
            await step(borrower, shown, act)
        await borrower.wait_for_message("回访结束", timeout=30)
        await officer.wait_for_message("请回电", timeout=30)
        # A forged press whose data carries a phone number, as a malformed update would.
        await borrower.wait_for_answer(await borrower.press_data(f"x:{PHONE}abc:done", 1))
        await asyncio.to_thread(bot.stop)
    log = bot.output()
    assert FAULT in log, f"the injected database fault was not logged, so the test proves nothing:\n{log}"
    leaks = unmasked(log, PHONE) + unmasked(log, ID_NUMBER)
    assert not leaks, "raw personal data in the bot's log:\n" + "\n".join(leaks)
    record = await asyncio.to_thread(cli, env, "visits", "show", "1", "--json")
    assert ID_NUMBER in record, "the answer itself is kept in full; only the log is masked"
