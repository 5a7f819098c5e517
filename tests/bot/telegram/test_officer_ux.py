"""The officer's visit on Telegram as officers try it: choosing the script, ending a visit only as the
step offers (typed in words too), buttons that go away, /back that edits the withdrawn answer, and
/resume in words. One bot process for the whole walk (a bot start costs seconds)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from tests.bot.telegram.harness import OFFICER_ID, running
from tests.botapi import BotApiDouble, BotMessage, FakeUser


async def question(user: FakeUser, text: str) -> BotMessage:
    """The next question message (with buttons) containing ``text``."""
    return await user.wait_for_message(lambda m: text in (m.text or "") and bool(m.buttons), timeout=30)


async def edited(user: FakeUser, shown: BotMessage, check: object = None) -> BotMessage:
    """The next edit of ``shown`` (that passes ``check``, when given)."""

    def matches(m: BotMessage) -> bool:
        return m.message_id == shown.message_id and bool(m.edits) and (check is None or check(m))  # type: ignore[operator]

    return await user.wait_for_message(matches)


def labels(shown: BotMessage) -> list[str]:
    return [text for row in shown.buttons for text, _ in row]


def make_overdue(env: dict[str, str], code: str) -> None:
    """Give one of the officer's borrowers an overdue loan (the demo's overdue borrower is another officer's)."""
    path = env["VISITBOT_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE loans SET overdue_days = 12, overdue_amount = 3000, status = 'overdue' "
            "WHERE borrower_id = (SELECT id FROM borrowers WHERE code = ?)",
            (code,),
        )


async def test_an_officer_chooses_the_script_and_ends_visits_only_as_offered(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    make_overdue(env, "B005")
    officer = double.user(OFFICER_ID, "王磊")
    async with running(env, tmp_path / "bot.log") as bot:
        # `/visit B001 onsite`: the on-site script, named in the header.
        await officer.send("/visit B001 onsite")
        licence = await question(officer, "营业执照")
        assert "对公现场回访" in (licence.text or "")
        await officer.press("是", licence)
        court = await question(officer, "法院执行")

        # Past the first answer only refused and call-back are offered; the buttons say so.
        await officer.send("/cancel")
        offered = await officer.wait_for_message("以什么结果结束")
        assert labels(offered) == ["拒绝"]
        await officer.send("/cancel 非本人")
        refused = await officer.wait_for_message("不能以“非本人”结束")
        assert "拒绝（refused）" in (refused.text or "") and "约定再回访（callback）" in (refused.text or "")
        await officer.send("/cancel 不想回访")
        await officer.wait_for_message("/visit B001 refusal")
        await officer.send("/cancel 挂了")
        await officer.wait_for_message("不认识的结果“挂了”")

        # `/cancel 拒绝` works like `/cancel refused`; the open question's buttons go.
        await officer.send("/cancel 拒绝")
        ended = await officer.wait_for_message("回访结束")
        assert "拒绝" in (ended.text or "")
        await edited(officer, court, lambda m: not m.buttons)

        # An unknown script name is refused with the names that work.
        await officer.send("/visit B001 nonsense")
        unknown = await officer.wait_for_message("不认识的话术“nonsense”")
        assert "onsite" in (unknown.text or "") and "对公现场回访" in (unknown.text or "")

        # An overdue borrower: several scripts apply, so buttons, the overdue reminder first.
        await officer.send("/visit B005")
        scripts = await officer.wait_for_message("按哪个话术回访")
        assert labels(scripts)[:2] == ["逾期还款提醒", "小微客户电话回访"]
        assert set(labels(scripts)) == {"逾期还款提醒", "小微客户电话回访", "对公现场回访", "不想回访登记"}
        await officer.press("逾期还款提醒", scripts)
        identity = await question(officer, "请问您是")
        assert "逾期还款提醒" in (identity.text or "")
        await officer.send("/cancel")
        outcomes = await officer.wait_for_message("以什么结果结束")
        assert labels(outcomes) == ["拒绝", "无法联系", "非本人"]
        await officer.press("无法联系", outcomes)
        await officer.wait_for_message("回访结束")
        await edited(officer, outcomes, lambda m: not m.buttons)  # the outcome buttons are used up
        await edited(officer, identity, lambda m: not m.buttons)

        # /back strikes the withdrawn answer in its own message; the question left loses its buttons. A press
        # shows the next question in the pressed message, so both are one message: one edit strikes the answer
        # and takes the question left away with its buttons (it is asked again once the answer is).
        await officer.send("/visit B003")
        first = await question(officer, "请问您是")
        await officer.press("是本人", first)
        intro = await question(officer, "还记得吗")
        await officer.press("记得", intro)
        business = await question(officer, "经营状况")
        assert first.message_id == intro.message_id == business.message_id
        await officer.send("/back")
        struck = await edited(officer, business, lambda m: "已撤回" in (m.text or ""))
        assert "<s>记得</s>" in (struck.source or "") and not struck.buttons
        assert (struck.source or "").count("<s>") == 1 and "经营状况" not in (struck.text or ""), "only the answer"
        again = await question(officer, "还记得吗")
        assert again.message_id != intro.message_id

        # /resume names the question each visit waits on, never a step id.
        await officer.send("/resume")
        listed = await officer.wait_for_message("未完成的回访")
        assert len(labels(listed)) == 1
        assert "还记得吗" in labels(listed)[0] or "信贷经理" in labels(listed)[0], labels(listed)
        assert "introduction" not in labels(listed)[0]
        await asyncio.to_thread(bot.stop)
    assert "Traceback" not in bot.output(), bot.output()

    path = env["VISITBOT_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as db:  # read directly: a CLI run per record costs seconds
        visits = db.execute("SELECT id, script_id, channel, status, outcome FROM visits ORDER BY id").fetchall()
    assert visits == [
        (1, "onsite_visit", "onsite", "finished", "refused"),
        (2, "overdue_reminder", "phone", "finished", "unreachable"),
        (3, "officer_phone_visit", "phone", "open", None),
    ]
