"""Corrections after the fact: a finished visit's answer changed with a reason, on SQLite and PostgreSQL.

The history (old, new, who, why, when) in ``visits show --json``, the transcript and an export that
says which version it shows; step flags judged again (one cleared, one raised with its alert, the
review rank moved); who may (an officer until approval, the team's supervisor any time); a bad value
gets the parser's message and changes nothing; each correction in the audit log.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner

from bot.desk import Actor, FixedClock, VisitDesk
from bot.desk.access import cli_admin
from bot.desk.corrections import CORRECTED, CorrectionDesk, CorrectionRefused
from bot.desk.export import export_visits
from bot.desk.records import visit_record
from bot.desk.review import ReviewDesk
from dialogs.answers import Reply
from dialogs.engine import Cancel, Submit
from dialogs.schema import Outcome
from storage import repositories as repo
from storage.models import AuditEntry, OutboxMessage, RiskFlag, User
from tests.desks import CALM, RISKY, demo_desk, visit_row

NOW = "2026-12-01T10:30:00+08:00"


@pytest.fixture
async def desk(database_url: str) -> AsyncIterator[VisitDesk]:
    async with demo_desk(database_url, clock=FixedClock(NOW)) as made:
        yield made


async def finished(desk: VisitDesk, code: str, answers: list[str], officer_id: int) -> int:
    """A phone visit walked to its end by its officer."""
    actor = Actor("officer", officer_id)
    reply = await desk.begin(code, actor=actor, officer_id=None)
    for text in answers:
        event = Cancel(Outcome.REFUSED) if text == "/cancel refused" else Submit(Reply(text=text))
        reply = await desk.act(reply.visit_id, event, actor=actor, said=text)
        assert reply.turn.error is None, reply.turn.error
    assert reply.turn.finished
    return reply.visit_id


async def staff(desk: VisitDesk) -> dict[str, User]:
    async with desk.sessions() as session:
        return {u.name: u for u in (await session.scalars(select(User))).all()}


async def live_flags(desk: VisitDesk, visit_id: int) -> set[str]:
    async with desk.sessions() as session:
        return {f.code for f in await repo.visit_flags(session, visit_id)}


async def record_of(desk: VisitDesk, visit_id: int) -> dict[str, Any]:
    async with desk.sessions() as session:
        visit = await repo.load_visit(session, visit_id)
        assert visit is not None
        return await visit_record(session, visit)


async def test_a_correction_that_stops_a_rule_clears_its_flag_and_one_that_starts_one_raises_it(
    desk: VisitDesk,
) -> None:
    people = await staff(desk)
    wang = people["王磊"]
    visit_id = await finished(desk, "B001", RISKY, wang.id)
    assert "repayment_pressure_high" in await live_flags(desk, visit_id)
    high_rank = (await visit_row(desk, visit_id)).review_rank
    corrections = CorrectionDesk(desk)

    done = await corrections.correct(
        visit_id, "repayment_pressure", "有点压力", reason="听错了，客户说有点压力", user=wang, locale="zh-CN"
    )
    assert (done.version, done.old, done.new, done.cleared) == (2, "压力很大", "有点压力", ("repayment_pressure_high",))
    assert "repayment_pressure_high" not in await live_flags(desk, visit_id)
    calmer_rank = (await visit_row(desk, visit_id)).review_rank
    assert high_rank is not None and calmer_rank is not None and calmer_rank > high_rank  # later in the queue
    state = (await visit_row(desk, visit_id)).state
    assert state["answers"]["repayment_pressure"] == "some"
    assert all(f["flag"] != "repayment_pressure_high" for f in state["flags"])

    supervisor = people["刘主管"]
    again = await corrections.correct(
        visit_id, "loan_use", "用于其他用途", reason="回访后核实：资金用于购房", user=supervisor
    )
    assert again.version == 3 and "funds_diverted" in again.raised
    assert "funds_diverted" in await live_flags(desk, visit_id)
    assert (await visit_row(desk, visit_id)).review_rank == high_rank
    async with desk.sessions() as session:
        alerts = (await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "alert"))).all()
        diverted = [a for a in alerts if "funds_diverted" in json.dumps(a.payload, ensure_ascii=False)]
        assert {a.user_id for a in diverted} == {supervisor.id}  # the new high flag alerts the team's supervisor
        cleared = await session.scalar(select(RiskFlag).where(RiskFlag.code == "repayment_pressure_high"))
        assert cleared is not None and cleared.cleared_at is not None  # kept, cleared

    record = await record_of(desk, visit_id)
    assert record["version"] == 3
    history = record["corrections"]
    assert isinstance(history, list)
    assert [(c["version"], c["step"], c["old"]["display"], c["new"]["display"], c["by"]["name"]) for c in history] == [
        (2, "repayment_pressure", "压力很大", "有点压力", "王磊"),
        (3, "loan_use", "按约定用途使用", "用于其他用途", "刘主管"),
    ]
    assert history[1]["reason"] == "回访后核实：资金用于购房" and history[1]["new"]["value"] == "elsewhere"
    notes = [m["text"] for m in record["transcript"] if m["direction"] == "note"]
    assert any("“压力很大” → “有点压力”" in n and "王磊" in n and "听错了" in n for n in notes)


async def test_an_officer_corrects_until_the_visit_is_approved_the_supervisor_after(desk: VisitDesk) -> None:
    people = await staff(desk)
    wang, chen, supervisor = people["王磊"], people["陈静"], people["刘主管"]
    visit_id = await finished(desk, "B001", CALM, wang.id)
    corrections = CorrectionDesk(desk)
    with pytest.raises(CorrectionRefused) as other:
        await corrections.correct(visit_id, "rapport", "是", reason="x", user=chen, locale="en")
    assert other.value.reason == "not_found" and "not yours to see" in other.value.text

    await ReviewDesk(desk.sessions, desk.settings, desk.clock).approve(visit_id, supervisor)
    with pytest.raises(CorrectionRefused) as late:
        await corrections.correct(visit_id, "rapport", "是", reason="记错了", user=wang, locale="zh-CN")
    assert late.value.reason == "not_allowed" and "审核通过前" in late.value.text
    done = await corrections.correct(visit_id, "rapport", "是", reason="记错了", user=supervisor)
    assert done.version == 2
    done = await corrections.correct(visit_id, "rapport", "否", reason="改回", user=cli_admin(), actor="cli")
    assert done.version == 3

    async with desk.sessions() as session:
        entries = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == CORRECTED).order_by(AuditEntry.id))
        ).all()
    assert [(e.user_id, e.actor, e.visit_id) for e in entries] == [
        (supervisor.id, "supervisor", visit_id),
        (None, "cli", visit_id),
    ]
    assert entries[0].detail == {"step": "rapport", "old": "否", "new": "是", "reason": "记错了", "version": 2}


async def test_a_bad_value_or_step_is_refused_with_a_clear_message_and_changes_nothing(desk: VisitDesk) -> None:
    people = await staff(desk)
    wang = people["王磊"]
    visit_id = await finished(desk, "B001", CALM, wang.id)
    corrections = CorrectionDesk(desk)
    refusals = {}
    for step, value, reason in (
        ("loan_use", "乱写", "看错"),  # no such option: the parser's own message
        ("rapport", "否", "同一个"),  # the same answer again
        ("staff_total", "5", "没问过"),  # not asked in this visit
        ("rapport", "是", "   "),  # no reason
    ):
        with pytest.raises(CorrectionRefused) as refused:
            await corrections.correct(visit_id, step, value, reason=reason, user=wang, locale="zh-CN")
        refusals[refused.value.reason] = refused.value.text
    assert refusals.keys() == {"bad_value", "same", "no_step", "reason"}
    assert refusals["bad_value"].startswith("新的回答无效：") and "没有这个选项" in refusals["bad_value"]
    assert "loan_use" in refusals["no_step"] and "rapport" in refusals["no_step"]
    record = await record_of(desk, visit_id)
    assert record["version"] == 1 and record["corrections"] == []
    async with desk.sessions() as session:
        assert (await session.scalars(select(AuditEntry).where(AuditEntry.action == CORRECTED))).all() == []


def test_visits_correct_then_visits_show_json_shows_version_two_and_the_history(database_url: str) -> None:
    import asyncio

    from bot.cli import app

    async def plant() -> int:
        async with demo_desk(database_url, clock=FixedClock(NOW)) as made:
            people = await staff(made)
            async with made.sessions() as session, session.begin():
                wang = await session.get(User, people["王磊"].id)
                assert wang is not None
                wang.telegram_id = 9101
            return await finished(made, "B001", RISKY, people["王磊"].id)

    visit_id = asyncio.run(plant())
    runner = CliRunner()
    env = {"VISITBOT_DATABASE_URL": database_url, "VISITBOT_LOCALE": "zh-CN"}
    args = ["visits", "correct", str(visit_id), "repayment_pressure", "有点压力", "--reason", "听错了", "--as", "9101"]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert f"回访 #{visit_id} 已更正（第 2 版）" in result.stdout and "不再成立的风险提示" in result.stdout

    bad = runner.invoke(app, [*args[:4], "很多很多", "--reason", "x", "--as", "9101"], env=env)
    assert bad.exit_code == 1 and "新的回答无效" in bad.stderr

    shown = runner.invoke(app, ["visits", "show", str(visit_id), "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    record = json.loads(shown.stdout)
    assert record["version"] == 2
    (change,) = record["corrections"]
    assert (change["step"], change["old"]["display"], change["new"]["display"], change["reason"]) == (
        "repayment_pressure", "压力很大", "有点压力", "听错了",
    )  # fmt: skip
    assert change["by"]["name"] == "王磊" and datetime.fromisoformat(change["at"]).tzinfo is not None
    answer = next(a for a in record["answers"] if a["step"] == "repayment_pressure")
    assert answer["display"] == "有点压力" and answer["corrected"]["original"]["display"] == "压力很大"
    assert answer["corrected"]["version"] == 2 and answer["corrected"]["by"] == "王磊"
    assert "repayment_pressure_high" not in {f["code"] for f in record["flags"]}
    assert any("更正（第 2 版）" in m["text"] for m in record["transcript"])


async def test_an_export_says_which_version_it_shows_and_keeps_the_old_and_new_values(desk: VisitDesk) -> None:
    people = await staff(desk)
    wang, supervisor = people["王磊"], people["刘主管"]
    corrected = await finished(desk, "B001", RISKY, wang.id)
    untouched = await finished(desk, "B002", CALM, people["陈静"].id)
    await CorrectionDesk(desk).correct(corrected, "repayment_pressure", "有点压力", reason="听错了", user=wang)
    async with desk.sessions() as session, session.begin():
        file = await export_visits(
            session, supervisor, repo.VisitFilter(), kind="xlsx", now=datetime(2026, 12, 1, 3, tzinfo=UTC),
            zone="Asia/Shanghai", catalog=desk.catalog,
        )  # fmt: skip
    book = load_workbook(io.BytesIO(file.data))
    rows = list(book["visits"].iter_rows(values_only=True))
    header = list(rows[0])
    by_id = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert by_id[corrected]["record_version"] == 2 and by_id[untouched]["record_version"] == 1
    assert by_id[corrected]["repayment_pressure"] == "有点压力"  # the corrected value: version 2
    assert "压力很大 → 有点压力" in by_id[corrected]["corrections"]
    history = list(book["corrections"].iter_rows(values_only=True))
    assert history[0][:9] == (
        "visit_id", "borrower_code", "version", "step", "question", "old", "new", "reason", "by",
    )  # fmt: skip
    assert history[1][:9] == (
        corrected, "B001", 2, "repayment_pressure", history[1][4], "压力很大", "有点压力", "听错了", "王磊",
    )  # fmt: skip

    async with desk.sessions() as session, session.begin():
        text = await export_visits(
            session, supervisor, repo.VisitFilter(), kind="csv", now=datetime(2026, 12, 1, 3, tzinfo=UTC),
            zone="Asia/Shanghai",
        )  # fmt: skip
    table = list(csv.DictReader(io.StringIO(text.data.decode("utf-8-sig"))))
    row = next(r for r in table if r["visit_id"] == str(corrected))
    assert row["record_version"] == "2" and "压力很大 → 有点压力" in row["corrections"]


async def test_the_review_rank_kept_at_a_visits_end_and_after_corrections_is_the_one_its_live_flags_give(
    desk: VisitDesk,
) -> None:
    """The rank is worked out from the flags the judging holds (no query of its own): it must equal what
    ``rank_for_review`` reads from the stored flags, for a visit with high flags, one with none, and after
    corrections that clear and raise flags."""
    from storage.web import rank_for_review, rank_parts

    async def stored_rank(visit_id: int) -> tuple[int | None, int]:
        async with desk.sessions() as session:
            return (await visit_row(desk, visit_id)).review_rank, await rank_for_review(session, visit_id)

    people = await staff(desk)
    wang = people["王磊"]
    risky = await finished(desk, "B001", RISKY, wang.id)
    kept, read = await stored_rank(risky)
    assert kept == read and rank_parts(kept)[0] == "high"
    calm = await finished(desk, "B002", CALM, wang.id)
    kept, read = await stored_rank(calm)
    assert kept == read and rank_parts(kept) == (None, 0)
    corrections = CorrectionDesk(desk)
    await corrections.correct(risky, "repayment_pressure", "有点压力", reason="听错了", user=wang, locale="zh-CN")
    kept, read = await stored_rank(risky)
    assert kept == read
    await corrections.correct(risky, "loan_use", "用于其他用途", reason="核实：资金用于购房", user=people["刘主管"])
    kept, read = await stored_rank(risky)
    assert kept == read and rank_parts(kept)[0] == "high"
