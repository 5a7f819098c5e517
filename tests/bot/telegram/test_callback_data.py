"""Callback data is untrusted: forged presses and commands end nothing the current step does not offer."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from tests.bot.telegram.harness import OFFICER_ID, cli, running
from tests.botapi import BotApiDouble

BORROWER_ID = 8201
STALE = "未重复记录"
REFUSED = "不能以"


async def record(env: dict[str, str], visit_id: int) -> dict[str, object]:
    return dict(json.loads(await asyncio.to_thread(cli, env, "visits", "show", str(visit_id), "--json")))


def borrower_row(env: dict[str, str], code: str) -> tuple[object, object, int]:
    """(opted_out_at, opt_out_reason, consent rows) of a borrower, straight from the database."""
    path = env["VISITBOT_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as conn:
        opted, reason, borrower_id = conn.execute(
            "SELECT opted_out_at, opt_out_reason, id FROM borrowers WHERE code = ?", (code,)
        ).fetchone()
        (consents,) = conn.execute("SELECT count(*) FROM consents WHERE borrower_id = ?", (borrower_id,)).fetchone()
    return opted, reason, int(consents)


async def test_forged_presses_and_commands_record_nothing(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    officer = double.user(OFFICER_ID, "王磊")
    async with running(env, tmp_path / "bot.log") as bot:
        await officer.send("/visit B001")
        identity = await officer.wait_for_message("请问您是", timeout=30)
        # Garbled data: a polite stale answer each, never a traceback.
        for data in ("x:abc:def", "x:1:nothing", "x:²:refused", "s:tr:abc", "s:tr:" + "9" * 40, "r:x", "a:1"):
            refused = await officer.wait_for_answer(await officer.press_data(data, identity.message_id))
            assert refused.text is not None and STALE in refused.text, (data, refused)
        # Outcomes no one offers by hand, before identity is confirmed: refused, nothing kept.
        for outcome in ("opted_out", "completed"):
            answer = await officer.wait_for_answer(await officer.press_data(f"x:1:{outcome}", identity.message_id))
            assert answer.text is not None and REFUSED in answer.text and answer.show_alert, (outcome, answer)
        await officer.send("/cancel opted_out")
        typed = await officer.wait_for_message(REFUSED)
        assert "不想回访" in (typed.text or "")
        # An option the question does not have.
        answer = await officer.wait_for_answer(
            await officer.press_data("a:1:identity:paid_in_full", identity.message_id)
        )
        assert answer.show_alert
        # The visit goes on from the same question.
        await officer.press("是本人", identity)
        await officer.wait_for_message("还记得吗")
        await asyncio.to_thread(bot.stop)
    assert "Traceback" not in bot.output(), bot.output()
    visit = await record(env, 1)
    assert visit["status"] == "open" and visit["outcome"] is None
    answers = visit["answers"]
    assert isinstance(answers, list) and [a["step"] for a in answers] == ["identity"]
    assert borrower_row(env, "B001") == (None, None, 0)


async def test_a_borrower_cannot_end_their_check_in_with_forged_data(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    link = (await asyncio.to_thread(cli, env, "invite", "B005")).strip()
    token = link.split("start=", 1)[1]
    borrower = double.user(BORROWER_ID, "易颖")
    async with running(env, tmp_path / "bot.log") as bot:
        await borrower.send(f"/start {token}")
        consent = await borrower.wait_for_message("您同意开始吗", timeout=30)
        for outcome in ("wrong_party", "opted_out", "refused"):
            answer = await borrower.wait_for_answer(await borrower.press_data(f"x:1:{outcome}", consent.message_id))
            assert answer.text is not None and REFUSED in answer.text, (outcome, answer)
        await borrower.send("/cancel wrong_party")  # not a borrower's command
        assert "没有权限" in ((await borrower.wait_for_message("没有权限")).text or "")
        await borrower.press("同意，开始", consent)
        await borrower.wait_for_message("经营得怎么样")
        await asyncio.to_thread(bot.stop)
    assert "Traceback" not in bot.output(), bot.output()
    visit = await record(env, 1)
    assert visit["status"] == "open" and visit["outcome"] is None
    opted, reason, consents = borrower_row(env, "B005")
    assert opted is None and reason is None and consents == 1, "only the consent the borrower gave"
