"""An officer runs a visit on Telegram against the local Bot API double, the bot a real subprocess."""

from __future__ import annotations

from pathlib import Path

from tests.bot.telegram.harness import OFFICER_ID, OTHER_BORROWING_TO_END, STRANGER_ID, cli, converse, running
from tests.botapi import BotApiDouble, BotMessage


def labels(shown: BotMessage) -> list[str]:
    return [text for row in shown.buttons for text, _ in row]


async def test_officer_completes_a_visit_with_buttons_and_typing(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    officer = double.user(OFFICER_ID, "王磊")
    async with running(env, tmp_path / "bot.log") as bot:
        await officer.send("/start")
        await officer.wait_for_message("/visit", timeout=30)
        await officer.send("/visit")
        await officer.wait_for_message("请选择要回访的借款人")
        await officer.press("v:B001")
        question = await officer.wait_for_message("请问您是")
        assert "示例农商银行" not in (question.text or "")
        await officer.press("是本人")
        # The pressed question shows the answer and, under it, the next question with its own buttons.
        intro = await officer.wait_for_message("信贷经理王磊")
        assert "万元" in (intro.text or "")
        assert intro.message_id == question.message_id and "请问您是张健吗？\n✅ 是本人" in (intro.text or "")
        assert "是本人" not in labels(intro) and "记得" in labels(intro), "the answered question's buttons are gone"
        await officer.press("记得")
        await officer.wait_for_message("经营状况")
        await officer.press("好")
        await converse(officer, OTHER_BORROWING_TO_END)
        done = await officer.wait_for_message("回访结束")
        assert "祝您生意兴隆" in (done.text or "") and "已完成" in (done.text or "")
        assert bot.proc.poll() is None
    record = cli(env, "visits", "show", "1", "--json")
    assert '"outcome": "completed"' in record and '"raw": "5万"' in record and '"value": "50000"' in record


async def test_wrong_party_discloses_nothing(double: BotApiDouble, env: dict[str, str], tmp_path: Path) -> None:
    officer = double.user(OFFICER_ID, "王磊")
    async with running(env, tmp_path / "bot.log"):
        await officer.send("/visit B003")
        await officer.wait_for_message("请问您是", timeout=30)
        await officer.press("不是本人")
        await officer.wait_for_message("回访结束")
    shown = "\n".join((m.text or "") for m in officer.messages)
    for secret in ("示例农商银行", "万元", "贷款"):
        assert secret not in shown


async def test_a_stranger_is_refused(double: BotApiDouble, env: dict[str, str], tmp_path: Path) -> None:
    stranger = double.user(STRANGER_ID, "路人", language_code="en")
    async with running(env, tmp_path / "bot.log"):
        await stranger.send("/visit")
        reply = await stranger.wait_for_message(timeout=30)
        assert "loan officers" in (reply.text or "") and str(STRANGER_ID) in (reply.text or "")
        await stranger.send("B001")
        again = await stranger.wait_for_message()
        assert "B001" not in (again.text or "") and "loan officers" in (again.text or "")
