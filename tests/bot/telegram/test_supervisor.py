"""Supervisors on Telegram: risk alerts within seconds, transcripts, review, export — and team walls."""

from __future__ import annotations

import io
import time
from pathlib import Path

from openpyxl import load_workbook

from tests.bot.telegram.harness import OFFICER_ID, OTHER_SUPERVISOR_ID, SUPERVISOR_ID, running
from tests.botapi import BotApiDouble, FakeUser
from tests.desks import CALM, RISKY


async def visit(officer: FakeUser, code: str, answers: list[str]) -> None:
    """Run a visit to its end by pressing buttons (or typing when a step has none)."""
    await officer.send(f"/visit {code}")
    for answer in answers:
        question = await officer.wait_for_message(lambda m: bool(m.buttons), timeout=30)
        labels = [text for row in question.buttons for text, _ in row]
        if answer in labels:
            await officer.press(answer, question)
        else:
            await officer.send(answer)
    await officer.wait_for_message("回访结束")


async def test_alert_review_and_export(double: BotApiDouble, env: dict[str, str], tmp_path: Path) -> None:
    officer = double.user(OFFICER_ID, "王磊")
    supervisor = double.user(SUPERVISOR_ID, "刘主管")
    outsider = double.user(OTHER_SUPERVISOR_ID, "赵主管")
    async with running(env, tmp_path / "bot.log"):
        await officer.send("/start")
        await officer.wait_for_message("/visit", timeout=30)
        await officer.send("/visit B001")
        for answer in RISKY[:4]:
            question = await officer.wait_for_message(lambda m: bool(m.buttons))
            await officer.press(answer, question)
        pressed = time.monotonic()
        await officer.press("压力很大", await officer.wait_for_message(lambda m: bool(m.buttons)))
        alert = await supervisor.wait_for_message("风险预警", timeout=5)
        assert time.monotonic() - pressed < 5
        assert "还款压力大" in (alert.text or "") and "B001" in (alert.text or "")  # the flag's label, not its code
        for answer in RISKY[5:]:
            question = await officer.wait_for_message(lambda m: bool(m.buttons))
            labels = [text for row in question.buttons for text, _ in row]
            await (officer.press(answer, question) if answer in labels else officer.send(answer))
        await officer.wait_for_message("回访结束")
        await visit(officer, "B003", CALM)

        await supervisor.press("s:tr:1", alert)
        shown = await supervisor.wait_for_message("#1 B001")
        assert "压力很大" in (shown.text or "") and [t for row in shown.buttons for t, _ in row] == [
            "✅ 通过",
            "↩ 退回",
        ]
        report = await supervisor.wait_for_message(lambda m: m.kind == "document")
        assert report.file is not None and "还款压力大" in report.file.data.decode()
        assert "repayment_pressure_high" not in report.file.data.decode()
        await supervisor.press("✅ 通过", shown)
        await supervisor.wait_for_message("已审核通过")

        await supervisor.send("/review")
        queue = await supervisor.wait_for_message("待审核")
        assert [data for row in queue.buttons for _, data in row] == ["s:tr:2"]
        await supervisor.press("s:tr:2", queue)
        second = await supervisor.wait_for_message("#2 B003")
        await supervisor.press("↩ 退回", second)
        await supervisor.wait_for_message("请发送退回")
        await supervisor.send("请补充客户的经营流水情况")
        await supervisor.wait_for_message("已退回")
        returned = await officer.wait_for_message("退回了回访 #2")
        assert "请补充客户的经营流水情况" in (returned.text or "")
        await officer.send("/reply 2 已补充，客户月流水约20万")
        await officer.wait_for_message("已发送给主管")
        answer = await supervisor.wait_for_message("回复了回访 #2")
        assert "月流水约20万" in (answer.text or "")

        await supervisor.send("/export risk=high")
        sheet = await supervisor.wait_for_message(lambda m: m.kind == "document" and "visits-" in str(m.file))
        assert sheet.file is not None
        book = load_workbook(io.BytesIO(sheet.file.data))
        rows = list(book["visits"].iter_rows(values_only=True))
        assert len(rows) == 2 and rows[1][1] == "B001"
        assert "repayment_pressure" in rows[0]
        assert {r[3] for r in list(book["risk_flags"].iter_rows(values_only=True))[1:]} >= {"repayment_pressure_high"}

        # the supervisor of another team gets no alert and sees nothing
        await outsider.send("/review")
        assert "没有待审核" in ((await outsider.wait_for_message()).text or "")
        await outsider.send("/transcript 1")
        assert "无权查看" in ((await outsider.wait_for_message()).text or "")
        await outsider.send("/export")
        empty = await outsider.wait_for_message(lambda m: m.kind == "document")
        assert empty.file is not None
        assert len(list(load_workbook(io.BytesIO(empty.file.data))["visits"].iter_rows())) == 1
        assert not any("风险预警" in (m.text or "") for m in outsider.messages)
