"""The monthly briefing (简报) and the overview of November 2026, figure by figure (SQLite and PostgreSQL).

The month is generated: team 东's officers 甲 and 乙 and team 西's 丙 each have borrowers with visits
through November in Shanghai (one ends at 00:30 on 1 November local time, one at 00:30 on 1 December:
in and out of the month), flags (one cleared), earlier visits to compare with, reviews, a relief
request (declined with a reason), a dispute raised and resolved, a watch flag, overdue loans and opt-outs.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from bot.cli import app
from bot.desk import FixedClock, NotFound
from bot.desk.briefing import Briefing, briefing_scope, make_briefing
from bot.desk.briefing_xlsx import briefing_xlsx
from bot.desk.overview import make_overview, month_weeks
from bot.desk.worse import WORSE_RULES, got_worse
from storage.models import (
    Answer,
    AuditEntry,
    Borrower,
    Dispute,
    Loan,
    PlanEntry,
    ReliefRequest,
    RiskFlag,
    User,
    Visit,
    WatchFlag,
)
from tests.bot import planted

MONTH = "2026-11"
ZONE = "Asia/Shanghai"
NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
"""Wednesday 2 December 2026, 10:00 in Shanghai: overdue loans and opt-outs stand as of then."""
TELEGRAM = {"admin": 8001, "supervisor": 8002, "officer": 8003, "colleague": 8004, "stranger": 8005,
            "west_supervisor": 8006}  # fmt: skip


def at(day: str, hour: int = 3, minute: int = 0) -> datetime:
    """A UTC instant (03:00 UTC is 11:00 in Shanghai)."""
    return datetime.fromisoformat(f"{day}T{hour:02d}:{minute:02d}:00+00:00")


@dataclass
class Month:
    sessions: async_sessionmaker[AsyncSession]
    staff: dict[str, User]
    visits: dict[str, int]


async def _visit(
    session: AsyncSession,
    borrower: Borrower,
    officer: User,
    finished: datetime,
    outcome: str = "completed",
    answers: dict[str, tuple[Any, str]] | None = None,
    flags: tuple[tuple[str, str], ...] = (),
    cleared: tuple[tuple[str, str], ...] = (),
) -> Visit:
    visit = Visit(
        borrower_id=borrower.id, officer_id=officer.id, script_id="officer_phone_visit", script_version=1, state={},
        status="finished", outcome=outcome, started_at=finished - timedelta(minutes=12), finished_at=finished,
        review_status="pending",
    )  # fmt: skip
    session.add(visit)
    await session.flush()
    for step, (value, shown) in (answers or {}).items():
        session.add(Answer(visit_id=visit.id, step_id=step, question=step, raw=shown, value=value, display=shown,
                           answered_at=finished - timedelta(minutes=5)))  # fmt: skip
    for code, severity in flags:
        session.add(RiskFlag(visit_id=visit.id, code=code, severity=severity, note=code, raised_at=finished))
    for code, severity in cleared:
        session.add(RiskFlag(visit_id=visit.id, code=code, severity=severity, raised_at=finished, cleared_at=finished))
    await session.flush()
    return visit


async def _borrower(session: AsyncSession, code: str, officer: User, overdue_days: int = 0) -> Borrower:
    borrower = await planted.borrower(session, code, officer)
    session.add(Loan(borrower_id=borrower.id, contract_no=f"DK-{code}", product="经营贷", amount=Decimal(50000),
                     disbursed_on=date(2025, 6, 1), purpose="进货", status="overdue" if overdue_days else "active",
                     overdue_days=overdue_days, overdue_amount=Decimal(3000 if overdue_days else 0)))  # fmt: skip
    await session.flush()
    return borrower


def _entry(borrower: Borrower, reasons: list[str], done: Visit | None = None) -> PlanEntry:
    return PlanEntry(
        month=MONTH, borrower_id=borrower.id, officer_id=borrower.officer_id, script_id="officer_phone_visit",
        reasons=reasons, detail={}, action="call", note="", planned_on=date(2026, 11, 2), due_on=date(2026, 11, 30),
        visit_id=done.id if done else None, done_at=done.finished_at if done else None,
    )  # fmt: skip


async def plant(session: AsyncSession, staff: dict[str, User]) -> dict[str, int]:
    """November 2026 (see the module's docstring); the visits of interest by name."""
    for key, user in staff.items():
        user.telegram_id = TELEGRAM[key]
    jia, yi, bing = staff["officer"], staff["colleague"], staff["stranger"]
    b01, b02, b03, b04 = (await _borrower(session, "B01", jia), await _borrower(session, "B02", jia),
                          await _borrower(session, "B03", jia, overdue_days=20), await _borrower(session, "B04", jia))
    b05, b06 = await _borrower(session, "B05", yi), await _borrower(session, "B06", yi, overdue_days=5)
    w01, w02 = await _borrower(session, "W01", bing), await _borrower(session, "W02", bing, overdue_days=3)
    good, fair, poor = ("good", "好"), ("fair", "一般"), ("poor", "差")
    # B01 got worse since October (business poor, staff 10 -> 7); August's poor is not what it is compared with
    await _visit(session, b01, jia, at("2026-08-10"), answers={"business_status": poor, "staff_total": (4, "4")})
    await _visit(session, b01, jia, at("2026-10-10"),
                 answers={"business_status": good, "staff_total": (10, "10"), "repayment_pressure": ("none", "没有")})
    now = {"business_status": poor, "staff_total": (7, "7"), "repayment_pressure": ("none", "没有")}
    v_b01 = await _visit(session, b01, jia, at("2026-11-05"), flags=(("business_worse", "medium"),), answers=now)
    # B02 answered as in September: compared, not worse
    same = {"business_status": fair, "staff_total": (5, "5")}
    await _visit(session, b02, jia, at("2026-09-01"), answers=same)
    v_b02 = await _visit(session, b02, jia, at("2026-11-12"), answers=same,
                         flags=(("funds_diverted", "high"),), cleared=(("other_debt", "medium"),))
    v_b03 = await _visit(session, b03, jia, at("2026-11-20"), "unreachable")
    await _visit(session, b04, jia, at("2026-10-31", 16, 30), "refused")  # 1 November 00:30 in Shanghai
    await _visit(session, b04, jia, at("2026-11-30", 16, 30))  # 1 December 00:30: not November's
    v_b05 = await _visit(session, b05, yi, at("2026-11-18"), flags=(("repayment_pressure_high", "high"),),
                         answers={"repayment_pressure": ("heavy", "压力很大")})
    await _visit(session, b06, yi, at("2026-11-25"), "callback")
    await _visit(session, w01, bing, at("2026-10-08"), answers={"business_status": good})
    v_w01 = await _visit(session, w01, bing, at("2026-11-10"), answers={"business_status": poor},
                         flags=(("business_worse", "medium"),))
    await _visit(session, w02, bing, at("2026-11-11"), "wrong_party")
    session.add_all([
        _entry(b01, ["policy"], v_b01), _entry(b02, ["policy", "flagged"], v_b02), _entry(b03, ["overdue"]),
        _entry(b05, ["sample"], v_b05), _entry(w01, ["policy"], v_w01), _entry(w02, ["new_loan"]),
    ])  # fmt: skip
    boss, west = staff["supervisor"], staff["west_supervisor"]
    session.add_all([
        AuditEntry(at=at("2026-11-06"), user_id=boss.id, actor="supervisor", action="review_returned",
                   visit_id=v_b01.id, detail={"from": "pending", "to": "returned", "text": "补充照片"}),
        AuditEntry(at=at("2026-11-07"), user_id=jia.id, actor="officer", action="review_replied",
                   visit_id=v_b01.id, detail={"from": "returned", "to": "answered", "text": "已补充"}),
        AuditEntry(at=at("2026-11-13"), user_id=boss.id, actor="supervisor", action="review_approved",
                   visit_id=v_b02.id, detail={"from": "pending", "to": "approved"}),
        AuditEntry(at=at("2026-11-11"), user_id=west.id, actor="supervisor", action="review_approved",
                   visit_id=v_w01.id, detail={"from": "pending", "to": "approved"}),
        AuditEntry(at=at("2026-10-30"), user_id=boss.id, actor="supervisor", action="review_approved",
                   visit_id=v_b01.id, detail={}),  # October's: not in the briefing
        ReliefRequest(officer_id=yi.id, borrower_id=b05.id, visit_id=v_b05.id, kind="extension", terms="6个月",
                      requested_at=at("2026-11-18"), status="declined", decided_by=boss.id,
                      decided_at=at("2026-11-20"), reason="已展期过一次"),
        Dispute(borrower_id=b03.id, visit_id=v_b03.id, note="金额不对", raised_at=at("2026-11-19"),
                resolved_at=at("2026-11-28"), resolved_by=boss.id, resolution="核实无误"),
        WatchFlag(borrower_id=b06.id, user_id=yi.id, reason="生意变差", flagged_at=at("2026-11-26")),
    ])  # fmt: skip
    b04.opted_out_at, b04.opt_out_reason = at("2026-11-15"), "busy"
    w02.opted_out_at = at("2026-10-01")
    await session.flush()
    return {"b01": v_b01.id, "b02": v_b02.id, "w01": v_w01.id}


@pytest.fixture
async def month(sessions: async_sessionmaker[AsyncSession], staff: dict[str, User]) -> Month:
    async with sessions() as session, session.begin():
        people = {key: await session.get(User, user.id) for key, user in staff.items()}
        visits = await plant(session, {k: u for k, u in people.items() if u is not None})
    async with sessions() as session:
        fresh = {key: await session.get(User, user.id) for key, user in staff.items()}
    return Month(sessions, {k: u for k, u in fresh.items() if u is not None}, visits)


async def brief(m: Month, viewer: str | None = None, team_of: str | None = None) -> Briefing:
    scope = await briefing_scope(
        m.sessions, MONTH, zone=ZONE, viewer=m.staff[viewer] if viewer else None,
        team_of=m.staff[team_of].id if team_of else None,
    )  # fmt: skip
    return await make_briefing(m.sessions, scope)


async def test_the_institution_month_figure_by_figure(month: Month) -> None:
    """Plan vs done, outcomes, officers, flags by rule with their borrowers, worsened, actions: every figure."""
    b = await brief(month)
    assert b.scope.kind == "institution" and b.scope.since == at("2026-10-31", 16)
    assert (b.planned, b.planned_done, b.visits) == (6, 4, 8)
    assert b.outcomes == {"completed": 4, "wrong_party": 1, "callback": 1, "refused": 1, "unreachable": 1,
                          "opted_out": 0}  # fmt: skip
    officers = {o.officer_name: o for o in b.officers}
    assert list(officers) == ["信贷员丙", "信贷员乙", "信贷员甲"]
    jia = officers["信贷员甲"]
    assert (jia.planned, jia.planned_done, jia.visits, jia.flags, jia.high_flags) == (3, 2, 4, 2, 1)
    assert (jia.outcomes["completed"], jia.outcomes["refused"], jia.outcomes["unreachable"]) == (2, 1, 1)
    assert (officers["信贷员乙"].planned, officers["信贷员乙"].visits, officers["信贷员乙"].high_flags) == (1, 2, 1)
    assert (officers["信贷员丙"].planned, officers["信贷员丙"].planned_done, officers["信贷员丙"].flags) == (2, 1, 1)
    by_reason = {(r.officer_name, r.reason): (r.planned, r.done) for r in b.progress}
    assert by_reason[("信贷员甲", "overdue")] == (1, 0) and by_reason[("信贷员甲", "flagged")] == (1, 1)
    flags = {k.code: k for k in b.flags}
    assert set(flags) == {"funds_diverted", "repayment_pressure_high", "business_worse"}  # the cleared one is out
    assert [k.code for k in b.flags][2] == "business_worse"  # high first
    assert (flags["business_worse"].count, flags["business_worse"].borrowers) == (2, 2)
    assert {h.borrower_code for h in flags["business_worse"].hits} == {"B01", "W01"}
    assert [h.borrower_code for h in flags["funds_diverted"].hits] == ["B02"]
    assert flags["funds_diverted"].by_severity == {"high": 1, "medium": 0, "low": 0}
    assert (b.flag_count, b.flagged_borrowers) == (4, 4)
    assert b.compared == 3  # B01, B02, W01: B05 has one completed visit only
    assert b.action_counts == {"review_returned": 1, "review_approved": 2, "review_replied": 1,
                               "relief_requested": 1, "relief_approved": 0, "relief_declined": 1,
                               "dispute_raised": 1, "dispute_resolved": 1,
                               "watch_flagged": 1}  # fmt: skip
    returned = next(a for a in b.actions if a.kind == "review_returned")
    assert (returned.borrower_code, returned.by_name, returned.detail, returned.visit_id) == (
        "B01", "主管", "补充照片", month.visits["b01"])
    relief = next(a for a in b.actions if a.kind == "relief_requested")
    assert (relief.borrower_code, relief.detail, relief.officer_name) == ("B05", "extension: 6个月", "信贷员乙")
    declined = next(a for a in b.actions if a.kind == "relief_declined")
    assert (declined.borrower_code, declined.by_name, declined.detail, declined.at) == (
        "B05", "主管", "已展期过一次", at("2026-11-20"))
    resolved = next(a for a in b.actions if a.kind == "dispute_resolved")
    assert (resolved.by_name, resolved.detail) == ("主管", "核实无误")
    assert [a.at for a in b.actions] == sorted(a.at for a in b.actions)


async def test_a_borrower_worse_than_last_time_and_one_unchanged(month: Month) -> None:
    """B01 and W01 answered worse than at their previous completed visit; B02 answered the same: not listed."""
    b = await brief(month)
    worse = {w.borrower_code: w for w in b.worsened}
    assert set(worse) == {"B01", "W01"}
    b01 = worse["B01"]
    assert b01.visit_id == month.visits["b01"] and b01.previous_finished_at == at("2026-10-10")
    assert [(c.step_id, c.before, c.after) for c in b01.changes] == [
        ("business_status", "good", "poor"), ("staff_total", 10, 7)]  # repayment pressure stayed "none"
    assert (b01.changes[0].before_text, b01.changes[0].after_text) == ("好", "差")
    assert [c.step_id for c in worse["W01"].changes] == ["business_status"]
    assert b.worsened[0].borrower_code == "B01"  # most changes first


def test_what_worse_means_is_data() -> None:
    """Each kind of rule: a later option, a fall or rise of 20 %, no turned yes; a year-to-date figure per month."""
    rules = {rule.step: rule for rule in WORSE_RULES}
    when = {"before_at": datetime(2026, 6, 30, tzinfo=UTC), "after_at": datetime(2026, 12, 1, tzinfo=UTC)}
    assert got_worse(rules["repayment_pressure"], "some", "heavy", **when)
    assert not got_worse(rules["repayment_pressure"], "heavy", "some", **when)
    assert not got_worse(rules["collateral"], "no_collateral", "damaged", **when)  # off the scale
    assert got_worse(rules["staff_total"], 10, 8, **when) and not got_worse(rules["staff_total"], 10, 9, **when)
    assert got_worse(rules["other_borrowing"], False, True, **when)
    assert not got_worse(rules["other_borrowing"], None, True, **when)
    assert got_worse(rules["guarantees_amount"], "10000", "20000", **when)
    # 600,000 by June is 100,000 a month; 1,100,000 by December is ~91,700: not 20 % less
    assert not got_worse(rules["revenue_this_year"], "600000", "1100000", **when)
    assert got_worse(rules["revenue_this_year"], "600000", "700000", **when)


async def test_a_team_sees_its_own_and_the_institution_everything(month: Month) -> None:
    """东's supervisor (or an admin asking for that team) sees team 东's figures only; 西's supervisor is refused."""
    team = await brief(month, viewer="supervisor")
    asked = await brief(month, team_of="supervisor")
    for b in (team, asked):
        assert b.scope.kind == "team" and b.scope.team == "东"
        assert (b.planned, b.planned_done, b.visits, b.outcomes["completed"]) == (4, 3, 6, 3)
        assert {o.officer_name for o in b.officers} == {"信贷员甲", "信贷员乙"}
        assert (b.flag_count, [w.borrower_code for w in b.worsened], b.compared) == (3, ["B01"], 2)
        assert b.action_counts["review_approved"] == 1 and b.action_counts["dispute_resolved"] == 1
    west = await brief(month, viewer="west_supervisor")
    assert (west.visits, west.planned, [w.borrower_code for w in west.worsened]) == (2, 2, ["W01"])
    own = await brief(month, viewer="officer")
    assert (own.scope.kind, own.visits, own.planned) == ("officer", 4, 3)
    with pytest.raises(NotFound):
        await briefing_scope(month.sessions, MONTH, zone=ZONE, viewer=month.staff["west_supervisor"],
                             team_of=month.staff["supervisor"].id)  # fmt: skip
    with pytest.raises(NotFound):
        await briefing_scope(month.sessions, MONTH, zone=ZONE, team_of=month.staff["officer"].id)


async def test_the_workbook_reads_back_the_same_figures(month: Month) -> None:
    """openpyxl reads the five sheets back, headers in the reader's language, numbers and dates typed."""
    from openpyxl import load_workbook

    b = await brief(month)
    book = load_workbook(io.BytesIO(briefing_xlsx(b, "zh-CN")))
    assert book.sheetnames == ["汇总", "信贷员", "风险预警", "情况变差", "采取措施"]
    summary = {row[0]: row[1] for row in book["汇总"].iter_rows(min_row=2, values_only=True)}
    assert (summary["计划回访"], summary["计划已完成"], summary["本月结束的回访"]) == (6, 4, 8)
    assert (summary["结果：已完成"], summary["风险预警"], summary["情况变差的借款人"]) == (4, 4, 2)
    assert summary["措施：审核通过"] == 2
    officers = list(book["信贷员"].iter_rows(values_only=True))
    assert officers[0][:4] == ("信贷员", "计划", "计划完成", "回访数")
    jia = next(row for row in officers if row[0] == "信贷员甲")
    assert jia[1:4] == (3, 2, 4) and jia[officers[0].index("高风险预警")] == 1
    reasons = dict(zip(officers[0], jia, strict=True))
    assert (reasons["逾期提醒：计划"], reasons["逾期提醒：完成"], reasons["客户经理标记：完成"]) == (1, 0, 1)
    flags = list(book["风险预警"].iter_rows(min_row=2, values_only=True))
    assert len(flags) == 4 and {row[3] for row in flags} == {"B01", "B02", "B05", "W01"}
    b01 = next(row for row in flags if row[3] == "B01")
    assert b01[6] == month.visits["b01"] and b01[7] == datetime(2026, 11, 5, 11, 0)  # Shanghai time
    worse = list(book["情况变差"].iter_rows(min_row=2, values_only=True))
    assert [(row[0], row[7], row[9], row[10]) for row in worse] == [
        ("B01", "经营状况", "好", "差"), ("B01", "员工人数", 10, 7), ("W01", "经营状况", "好", "差")]
    english = load_workbook(io.BytesIO(briefing_xlsx(b, "en")))
    assert english.sheetnames == ["summary", "officers", "flags", "worsened", "actions"]
    actions = list(english["actions"].iter_rows(values_only=True))
    assert actions[0] == ("action", "when", "borrower code", "borrower", "officer", "visit", "by", "detail")
    assert len(actions) == 1 + 9 and actions[1][0] == "review sent back"
    assert ("relief requested", "B05", "term extension: 6个月") in {(row[0], row[2], row[7]) for row in actions}
    assert ("relief declined", "B05", "主管", "已展期过一次") in {(row[0], row[2], row[6], row[7]) for row in actions}


async def test_the_overview_by_week_overdue_and_opt_outs(month: Month) -> None:
    """November's six ISO weeks, the overdue loans nobody called since, and who opted out (in the month or before)."""
    scope = await briefing_scope(month.sessions, MONTH, zone=ZONE)
    view = await make_overview(month.sessions, scope, FixedClock(NOW))
    assert [w.week for w in view.weeks] == ["2026-W44", "2026-W45", "2026-W46", "2026-W47", "2026-W48", "2026-W49"]
    assert month_weeks(MONTH)[0][1:] == (date(2026, 11, 1), date(2026, 11, 1))
    assert [w.visits for w in view.weeks] == [1, 1, 3, 2, 1, 0]
    assert view.weeks[0].outcomes == {"refused": 1}
    assert [w.flags["high"] for w in view.weeks] == [0, 0, 1, 1, 0, 0]
    assert [w.flags["medium"] for w in view.weeks] == [0, 1, 1, 0, 0, 0]
    # B03 (20 days, called on 20 November) was called; B06 (since 27 November) and W02 (since 29th) were not
    assert [(o.borrower_code, o.overdue_since) for o in view.overdue_uncalled] == [
        ("B06", date(2026, 11, 27)), ("W02", date(2026, 11, 29))]
    assert [(o.borrower_code, o.in_month) for o in view.opt_outs] == [("B04", True), ("W02", False)]
    assert view.opted_out_this_month == 1
    team = await make_overview(
        month.sessions, await briefing_scope(month.sessions, MONTH, zone=ZONE, viewer=month.staff["supervisor"]),
        FixedClock(NOW),
    )
    assert [o.borrower_code for o in team.overdue_uncalled] == ["B06"] and len(team.opt_outs) == 1
    assert sum(w.visits for w in team.weeks) == 6


@pytest.fixture
def cli_env(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    return {"VISITBOT_DATABASE_URL": sqlite_url, "VISITBOT_LOCALE": "en", "VISITBOT_TIMEZONE": ZONE, "COLUMNS": "220"}


async def _plant_at(url: str) -> None:
    async with planted.transaction(url) as session:
        await plant(session, await planted.staff(session))


def test_the_command_line_in_both_languages(cli_env: dict[str, str], tmp_path: Path) -> None:
    """``visitbot briefing``: tables in English and Chinese, --team and --as, --xlsx written, bad input exit 2."""
    asyncio.run(_plant_at(cli_env["VISITBOT_DATABASE_URL"]))
    runner = CliRunner()
    target = tmp_path / "brief.xlsx"
    made = runner.invoke(app, ["briefing", MONTH, "--xlsx", str(target)], env=cli_env)
    assert made.exit_code == 0, made.output
    assert "Visit briefing 2026-11 — the institution" in made.output
    assert "6 planned, 4 done; 8 visits ended this month; 4 risk flag(s) on 4 borrower(s)" in made.output
    assert "3 borrower(s) compared with their last visit, 2 worse" in made.output
    assert "business condition" in made.output and "review sent back" in made.output and "补充照片" in made.output
    assert "Plan by reason (done / planned)" in made.output
    [jia_row] = [line for line in made.output.splitlines() if "信贷员甲" in line and "0/1" in line]
    assert "1/1" in jia_row  # overdue 0/1, policy 1/1, flagged 1/1
    assert "Briefing written to" in made.output and target.stat().st_size > 0
    chinese = runner.invoke(app, ["briefing", MONTH, "--team", "主管"], env={**cli_env, "VISITBOT_LOCALE": "zh-CN"})
    assert chinese.exit_code == 0, chinese.output
    assert "2026-11 回访工作简报 — 东团队（主管：主管）" in chinese.output
    assert "计划 4 项，已完成 3 项；本月结束回访 6 次" in chinese.output and "W01" not in chinese.output
    assert "经营状况" in chinese.output and "退回补充" in chinese.output and "展期：6个月" in chinese.output
    west = runner.invoke(app, ["briefing", MONTH, "--as", "8006"], env=cli_env)
    assert west.exit_code == 0 and "team 西" in west.output and "B01" not in west.output
    for args, said in (
        (["briefing", "2026-13"], "is not a month"),
        (["briefing", MONTH, "--as", "8006", "--team", "主管"], "your own team"),
        (["briefing", MONTH, "--as", "424242"], "424242"),
        (["briefing", MONTH, "--team", "nobody"], "nobody"),
    ):
        result = runner.invoke(app, args, env=cli_env)
        assert result.exit_code == 2 and said in result.output, (args, result.output)


async def test_the_briefing_reads_a_fixed_number_of_statements(month: Month, database_url: str) -> None:
    """No query per visit or borrower: thirty more borrowers with visits, flags and answers cost no statement more."""
    from sqlalchemy import event

    from storage.db import make_engine, make_sessionmaker

    async def statements() -> int:
        engine = make_engine(database_url)
        count = [0]

        def counted(*_: object) -> None:
            count[0] += 1

        event.listen(engine.sync_engine, "before_cursor_execute", counted)
        try:
            scope = await briefing_scope(make_sessionmaker(engine), MONTH, zone=ZONE)
            count[0] = 0
            await make_briefing(make_sessionmaker(engine), scope)
            await make_overview(make_sessionmaker(engine), scope, FixedClock(NOW))
        finally:
            await engine.dispose()
        return count[0]

    before = await statements()
    async with month.sessions() as session, session.begin():
        jia = await session.get(User, month.staff["officer"].id)
        assert jia is not None
        for n in range(30):
            more = await _borrower(session, f"M{n:02d}", jia, overdue_days=n % 3)
            await _visit(session, more, jia, at("2026-10-03"), answers={"business_status": ("good", "好")})
            await _visit(session, more, jia, at("2026-11-03"), answers={"business_status": ("poor", "差")},
                         flags=(("business_worse", "medium"),))  # fmt: skip
    after = await statements()
    assert after == before and before < 30
    assert len((await brief(month)).worsened) == 2 + 30


async def test_a_borrower_of_nobody_counts_in_the_institution_total(month: Month) -> None:
    """A plan entry of a borrower without an officer: in the institution's plan total, in no team's."""
    async with month.sessions() as session, session.begin():
        nobody = await planted.borrower(session, "U01", None)
        session.add(_entry(nobody, ["policy"]))
    b = await brief(month)
    assert (b.planned, b.planned_done) == (7, 4)
    assert (await brief(month, viewer="supervisor")).planned == 4
