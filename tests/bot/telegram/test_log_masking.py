"""The bot's log over a whole Telegram check-in with failing updates holds no raw phone or ID number.

The borrower's phone is in the data and typed as an answer, an ID number is typed into a free-text
answer, the database refuses that answer once (an injected fault: the traceback and SQLAlchemy's
parameter dump both carry the text), and a forged button press carries a phone number.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path

from tests.bot.telegram.harness import OFFICER_ID, cli, running
from tests.botapi import BotApiDouble, FakeUser

PHONE = "13812345678"
ID_NUMBER = "110101199003071234"
NEEDS = f"身份证号{ID_NUMBER}，有事打{PHONE}"
FAULT = "injected fault: answers refused"
ERROR_TEXT = "出了点问题"


def database_file(env: dict[str, str]) -> str:
    return env["VISITBOT_DATABASE_URL"].split("///", 1)[1]


def execute(env: dict[str, str], *statements: str) -> None:
    """Run SQL on the bot's SQLite database from the test (the bot keeps running)."""
    db = sqlite3.connect(database_file(env), timeout=30)
    try:
        for statement in statements:
            db.execute(statement)
        db.commit()
    finally:
        db.close()


def refuse_answers_containing(env: dict[str, str], text: str) -> None:
    """Make the database reject any answer whose raw text contains `text` (until `accept_answers`)."""
    execute(
        env,
        f"CREATE TRIGGER inject_fault BEFORE INSERT ON answers WHEN NEW.raw LIKE '%{text}%' "
        f"BEGIN SELECT RAISE(ABORT, '{FAULT}'); END",
    )


def accept_answers(env: dict[str, str]) -> None:
    execute(env, "DROP TRIGGER inject_fault")


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
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    execute(env, f"UPDATE borrowers SET phone = '+86{PHONE}' WHERE code = 'B001'")
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
        refuse_answers_containing(env, ID_NUMBER)
        await borrower.send(NEEDS)
        await borrower.wait_for_message(ERROR_TEXT, timeout=30)
        accept_answers(env)
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
