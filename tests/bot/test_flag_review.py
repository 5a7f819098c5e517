"""Explaining a flag (SQLite and PostgreSQL): reviewers only, with a reason, once; kept in the audit log,
the visit's review rank recomputed; the flags listed with their evidence; the briefing counts them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk.briefing import briefing_scope, make_briefing
from bot.desk.briefing_xlsx import sheet_rows
from bot.desk.flag_review import EXPLAINED, FlagRefused, evidence_text, explain_flag, flags_of, linked_visits
from dialogs.engine import FlagRaised
from dialogs.schema import Severity
from storage import repositories as repo
from storage.models import AuditEntry, RiskFlag, User, Visit
from storage.web import rank_for_review, rank_parts
from tests.bot import planted

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
FINISHED = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


@dataclass
class Flagged:
    sessions: async_sessionmaker[AsyncSession]
    staff: dict[str, User]
    visit: int
    earlier: int
    quality: int
    """A medium ``copied_previous`` quality flag whose evidence names the earlier visit."""
    answer: int
    """The low ``phone_changed`` flag on an answer."""


@pytest.fixture
async def flagged(sessions: async_sessionmaker[AsyncSession], staff: dict[str, User]) -> Flagged:
    async with sessions() as session, session.begin():
        borrower = await planted.borrower(session, "Q01", staff["officer"])
        earlier = await planted.visit(
            session, borrower, staff["officer"], finished_at=datetime(2026, 10, 5, tzinfo=UTC)
        )
        visit = await planted.visit(session, borrower, staff["officer"], finished_at=FINISHED)
        evidence = {"answers": 9, "free_form": 2, "previous": {"visit": earlier.id, "date": "2026-10-05"}}
        quality = await repo.add_flag(
            session, visit.id, FlagRaised("copied_previous", Severity.MEDIUM, "", "回答与上次相同"), at=FINISHED,
            kind="quality", evidence=evidence,
        )  # fmt: skip
        await session.flush()
        visit.review_rank = await rank_for_review(session, visit.id)
        answer = await session.scalar(
            select(RiskFlag.id).where(RiskFlag.visit_id == visit.id, RiskFlag.kind == "answer")
        )
        assert answer is not None
    return Flagged(sessions, staff, visit.id, earlier.id, quality.id, answer)


async def _rank(f: Flagged) -> tuple[str | None, int]:
    async with f.sessions() as session:
        visit = await session.get(Visit, f.visit)
        assert visit is not None
        return rank_parts(visit.review_rank)


async def _audit(f: Flagged) -> list[AuditEntry]:
    async with f.sessions() as session:
        return list((await session.scalars(select(AuditEntry).where(AuditEntry.action == EXPLAINED))).all())


async def test_a_supervisor_explains_a_quality_flag(flagged: Flagged) -> None:
    f = flagged
    assert await _rank(f) == ("medium", 0)
    done = await explain_flag(f.sessions, f.staff["supervisor"], f.quality, "  已电话核实，\n借款人当时在店 ", now=NOW,
                              locale="zh-CN")  # fmt: skip
    assert (
        done.explained_at is not None
        and done.explained_by == "主管"
        and done.explanation == "已电话核实， 借款人当时在店"
    )
    assert await _rank(f) == ("low", 0), "an explained flag no longer counts in the queue"
    [entry] = await _audit(f)
    assert entry.visit_id == f.visit and entry.user_id == f.staff["supervisor"].id and entry.actor == "supervisor"
    assert entry.detail == {
        "flag_id": f.quality,
        "kind": "quality",
        "code": "copied_previous",
        "reason": "已电话核实， 借款人当时在店",
    }

    shown = await flags_of(f.sessions, f.staff["supervisor"], visit_id=f.visit)
    assert [(x.code, x.kind, x.open) for x in shown] == [
        ("phone_changed", "answer", True),
        ("copied_previous", "quality", False),
    ]
    assert [x.may_explain for x in shown] == [True, False]
    assert await flags_of(f.sessions, f.staff["supervisor"], kind="quality", open_only=True) == []


async def test_an_admin_explains_any_team_flag(flagged: Flagged) -> None:
    done = await explain_flag(
        flagged.sessions, flagged.staff["admin"], flagged.answer, "号码已核实", now=NOW, locale="en"
    )
    assert done.explained_by == "管理员"
    assert await _rank(flagged) == ("medium", 0)


@pytest.mark.parametrize(
    ("who", "reason", "words"),
    [
        ("officer", "not_reviewer", "Only a supervisor or an admin"),
        ("colleague", "not_found", "There is no flag"),
        ("stranger", "not_found", "There is no flag"),
        ("west_supervisor", "not_found", "There is no flag"),
    ],
)
async def test_who_is_no_reviewer_of_the_visit_is_refused(flagged: Flagged, who: str, reason: str, words: str) -> None:
    with pytest.raises(FlagRefused) as refused:
        await explain_flag(flagged.sessions, flagged.staff[who], flagged.quality, "我觉得没问题", now=NOW, locale="en")
    assert refused.value.reason == reason and words in refused.value.text
    assert await _rank(flagged) == ("medium", 0) and await _audit(flagged) == []


async def test_a_flag_of_another_visit_or_none_is_not_found(flagged: Flagged) -> None:
    supervisor = flagged.staff["supervisor"]
    for flag_id, visit_id in ((flagged.quality, flagged.earlier), (999_999, None)):
        with pytest.raises(FlagRefused) as refused:
            await explain_flag(
                flagged.sessions, supervisor, flag_id, "原因", now=NOW, locale="zh-CN", visit_id=visit_id
            )
        assert refused.value.reason == "not_found" and "没有编号为" in refused.value.text


@pytest.mark.parametrize("reason", ["", "   \n ", "长" * 501])
async def test_a_reason_is_required(flagged: Flagged, reason: str) -> None:
    with pytest.raises(FlagRefused) as refused:
        await explain_flag(
            flagged.sessions, flagged.staff["supervisor"], flagged.quality, reason, now=NOW, locale="zh-CN"
        )
    assert refused.value.reason == "no_reason" and "请写明原因" in refused.value.text
    assert await _rank(flagged) == ("medium", 0) and await _audit(flagged) == []


async def test_a_flag_is_explained_once(flagged: Flagged) -> None:
    f = flagged
    await explain_flag(f.sessions, f.staff["supervisor"], f.quality, "已核实", now=NOW, locale="zh-CN")
    with pytest.raises(FlagRefused) as refused:
        await explain_flag(f.sessions, f.staff["admin"], f.quality, "再说明一次", now=NOW, locale="zh-CN")
    assert refused.value.reason == "already"
    assert "主管" in refused.value.text and "已核实" in refused.value.text and "2026-11-25 11:00" in refused.value.text
    assert len(await _audit(f)) == 1


async def test_the_evidence_reads_with_the_visits_it_names(flagged: Flagged) -> None:
    [flag] = await flags_of(flagged.sessions, flagged.staff["admin"], kind="quality")
    assert linked_visits(flag.evidence, own=flag.visit_id) == [flagged.earlier]
    assert linked_visits({"visits": [flagged.visit, 7, 7], "before": {"visit_id": 9}}, own=flagged.visit) == [7, 9]
    history = {"rule": "staff_collapse", "now": {"visit": 14, "values": {"visits": 3}},
               "before": [{"visit": 12, "values": {"staff": 8}}, {"visit": 11, "values": {"staff": 9}}]}  # fmt: skip
    assert linked_visits(history, own=14) == [12, 11], "both visits of a cross-visit flag, never a figure"
    [line] = evidence_text(flag.kind, flag.code, flag.evidence, "zh-CN")
    assert f"#{flagged.earlier}" in line and "2026-10-05" in line
    assert evidence_text("quality", "too_fast", {"old": 1}, "en") == ["old: 1"], "evidence of another shape: as it is"
    assert evidence_text("answer", "phone_changed", None, "zh-CN") == []


async def test_officers_see_their_own_flags_only(flagged: Flagged) -> None:
    mine = await flags_of(flagged.sessions, flagged.staff["officer"], visit_id=flagged.visit)
    assert {x.code for x in mine} == {"phone_changed", "copied_previous"} and not any(x.may_explain for x in mine)
    assert await flags_of(flagged.sessions, flagged.staff["colleague"]) == []
    assert await flags_of(flagged.sessions, flagged.staff["west_supervisor"]) == []


async def test_the_briefing_counts_quality_flags_raised_and_explained(flagged: Flagged) -> None:
    f = flagged
    async with f.sessions() as session, session.begin():
        other = await planted.borrower(session, "Q02", f.staff["colleague"])
        visit = await planted.visit(session, other, f.staff["colleague"], finished_at=FINISHED)
        for code in ("copied_previous", "all_first"):
            await repo.add_flag(session, visit.id, FlagRaised(code, Severity.MEDIUM, "", ""), at=FINISHED,
                                kind="quality", evidence={})  # fmt: skip
    await explain_flag(f.sessions, f.staff["supervisor"], f.quality, "已核实", now=NOW, locale="zh-CN")
    scope = await briefing_scope(f.sessions, "2026-11", zone="Asia/Shanghai")
    b = await make_briefing(f.sessions, scope)
    assert [(q.code, q.raised, q.explained) for q in b.quality] == [("copied_previous", 2, 1), ("all_first", 1, 0)]
    summary = {row[0]: row[1] for row in sheet_rows(b, "zh-CN")["summary"]}
    assert (summary["形式化预警"], summary["形式化预警已说明"]) == (3, 1)
    assert (summary["形式化：与上次相同"], summary["形式化已说明：与上次相同"], summary["形式化：全选第一项"]) == (
        2,
        1,
        1,
    )
    west = await briefing_scope(f.sessions, "2026-11", zone="Asia/Shanghai", viewer=f.staff["west_supervisor"])
    assert (await make_briefing(f.sessions, west)).quality == ()
