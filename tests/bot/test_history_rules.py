"""Risk that remembers (跨次回访): each cross-visit rule firing on a history of visits walked through the desk, with
its rule, both values and both visits in the visit's record; the same history without the change raises nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.desk import Actor, FixedClock, VisitDesk
from bot.desk.evidence import evidence_lines
from bot.desk.records import visit_record
from dialogs.answers import Reply
from dialogs.engine import Event, Skip, Submit
from dialogs.schema import AnswerKind
from storage import repositories as repo
from storage.models import Borrower, Loan
from tests.desks import demo_desk

WANG = Actor("officer", 1)  # 王磊: B001 is his


def phone(business: str = "好", debt: str | None = None) -> list[str]:
    """The phone visit's answers: the business as said, other borrowing of ``debt`` (none when None)."""
    borrowed = ["是", debt, "银行"] if debt else ["否"]
    return ["是本人", "记得", business, *borrowed, "否", "按约定用途使用", "/skip", "/skip", "否", "否", "否"]


@pytest.fixture
async def clock() -> FixedClock:
    return FixedClock("2026-10-05T10:00:00+08:00")


@pytest.fixture
async def desk(database_url: str, clock: FixedClock) -> AsyncIterator[VisitDesk]:
    async with demo_desk(database_url, clock=clock) as made:
        yield made


async def overdue(desk: VisitDesk, code: str, days: int) -> None:
    """The loan book says the borrower's loan is ``days`` overdue now."""
    async with desk.sessions() as session, session.begin():
        borrower = await session.scalar(select(Borrower).where(Borrower.code == code))
        assert borrower is not None
        await session.execute(update(Loan).where(Loan.borrower_id == borrower.id).values(overdue_days=days))


async def walk(
    desk: VisitDesk, clock: FixedClock, code: str, answers: list[str], *, script: str | None = None
) -> dict[str, dict[str, Any]]:
    """A phone visit a month after the last; its live history flags by code (their record entries)."""
    clock.advance(days=30)
    reply = await desk.begin(code, actor=WANG, officer_id=1, script_id=script)
    for text in answers:
        event: Event = Skip() if text == "/skip" else Submit(Reply(text=text))
        reply = await desk.act(reply.visit_id, event, actor=WANG, said=text)
        assert reply.turn.error is None, (text, reply.turn.error)
    assert reply.turn.finished
    return await history_flags(desk, reply.visit_id)


async def history_flags(desk: VisitDesk, visit_id: int) -> dict[str, dict[str, Any]]:
    async with desk.sessions() as session:
        visit = await repo.load_visit(session, visit_id)
        assert visit is not None
        record = await visit_record(session, visit)
    found = {f["code"]: f for f in record["flags"] if f["kind"] == "history"}
    for flag in found.values():
        flag["visit"] = visit_id
    return found


def ids(flag: dict[str, Any]) -> list[int]:
    return [b["visit"] for b in flag["evidence"]["before"]]


async def test_business_fine_while_overdue_grows(desk: VisitDesk, clock: FixedClock) -> None:
    await overdue(desk, "B001", 5)
    first = await walk(desk, clock, "B001", phone())
    assert first == {}
    await overdue(desk, "B001", 35)
    flags = await walk(desk, clock, "B001", phone("一般"))
    flag = flags["fine_while_overdue_grows"]
    evidence = flag["evidence"]
    assert evidence["rule"] == "fine_while_overdue_grows" and flag["severity"] == "medium"
    assert evidence["before"][0]["values"] == {"business": "good", "overdue_days": 5}
    assert evidence["now"]["values"] == {"business": "fair", "overdue_days": 35}
    assert evidence["now"]["visit"] == flag["visit"] and len(ids(flag)) == 1
    lines = evidence_lines("history", "fine_while_overdue_grows", evidence, "zh-CN")
    assert f"逾期天数：#{ids(flag)[0]}（2026-11-04）5 → 本次 35" in lines
    assert "经营状况" in lines[0] and "好 → 本次 一般" in lines[0]
    assert "Days overdue" in evidence_lines("history", "fine_while_overdue_grows", evidence, "en")[1]


async def test_overdue_unchanged_raises_nothing(desk: VisitDesk, clock: FixedClock) -> None:
    await overdue(desk, "B001", 5)
    await walk(desk, clock, "B001", phone())
    assert await walk(desk, clock, "B001", phone()) == {}


async def test_other_borrowing_growing(desk: VisitDesk, clock: FixedClock) -> None:
    await walk(desk, clock, "B001", phone(debt="10000"))
    same = await walk(desk, clock, "B001", phone(debt="10000"))
    assert "other_debt_growing" not in same
    flags = await walk(desk, clock, "B001", phone(debt="3万"))
    evidence = flags["other_debt_growing"]["evidence"]
    assert evidence["before"][0]["values"] == {"other_debt": 10000}
    assert evidence["now"]["values"] == {"other_debt": 30000}
    assert evidence_lines("history", "other_debt_growing", evidence, "en")[0].endswith("10000 → this visit 30000")


async def test_three_wrong_party_or_unreachable_calls_in_a_row(desk: VisitDesk, clock: FixedClock) -> None:
    nobody = ["无人接听/号码无效"]
    assert await walk(desk, clock, "B001", ["不是本人"]) == {}
    assert await walk(desk, clock, "B001", nobody, script="overdue_reminder") == {}
    flags = await walk(desk, clock, "B001", nobody)
    flag = flags["wrong_party_repeated"]
    assert len(ids(flag)) == 2 and flag["evidence"]["now"]["values"] == {"outcome": "unreachable"}
    assert [b["values"]["outcome"] for b in flag["evidence"]["before"]] == ["unreachable", "wrong_party"]
    assert "非本人接听" in flag["note"] or "号码" in flag["note"]


async def test_a_reached_call_breaks_the_row(desk: VisitDesk, clock: FixedClock) -> None:
    await walk(desk, clock, "B001", ["不是本人"])
    await walk(desk, clock, "B001", phone())
    await walk(desk, clock, "B001", ["无人接听/号码无效"])
    assert await walk(desk, clock, "B001", ["无人接听/号码无效"]) == {}


async def checkin(desk: VisitDesk, clock: FixedClock, code: str, telegram_id: int) -> dict[str, dict[str, Any]]:
    """The borrower's own check-in from Telegram account ``telegram_id``, the first option of every question."""
    clock.advance(days=30)
    actor = Actor("borrower", telegram_id=telegram_id)
    reply = await desk.begin(code, actor=actor, officer_id=None, script_id="self_checkin", channel="self")
    while not reply.turn.finished:
        prompt = reply.turn.prompt
        assert prompt is not None
        if prompt.kind in (AnswerKind.CHOICE, AnswerKind.MULTI):
            event: Event = Submit(Reply(option=prompt.options[0][0]))
        elif prompt.kind is AnswerKind.YESNO:
            event = Submit(Reply(text="否"))
        else:
            event = Skip() if prompt.can_skip else Submit(Reply(text="无"))
        reply = await desk.act(reply.visit_id, event, actor=actor, said="x")
        assert reply.turn.error is None, reply.turn.error
    return await history_flags(desk, reply.visit_id)


async def test_self_service_answered_from_another_telegram_account(desk: VisitDesk, clock: FixedClock) -> None:
    assert await checkin(desk, clock, "B001", 7001) == {}
    assert await checkin(desk, clock, "B001", 7001) == {}
    flags = await checkin(desk, clock, "B001", 7002)
    evidence = flags["respondent_changed"]["evidence"]
    assert flags["respondent_changed"]["severity"] == "high"
    assert evidence["before"][0]["values"] == {"respondent": 7001}
    assert evidence["now"]["values"] == {"respondent": 7002}
