"""The facts a script sees are made once per distinct set of values, and anew as soon as one changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import update

from bot.desk import Actor, VisitDesk
from bot.desk.facts import FactSources, VisitFacts, facts_context
from dialogs.answers import Reply
from dialogs.engine import Submit
from storage.models import Borrower, Loan, User
from tests.desks import demo_desk

OFFICER = Actor("officer", 1)


@pytest.fixture
async def desk(sqlite_url: str) -> AsyncIterator[VisitDesk]:
    async with demo_desk(sqlite_url) as made:
        yield made


def _people() -> tuple[Borrower, Loan, User]:
    borrower = Borrower(code="B9", name="王五", phone=None, business="餐饮", risk_tier=None, timezone="Asia/Shanghai")
    loan = Loan(amount=Decimal(50_000), disbursed_on=date(2026, 6, 1), purpose="进货", product="经营贷")
    return borrower, loan, User(name="李四", phone="138")


def test_the_mapping_is_the_typed_facts_and_the_callers_own() -> None:
    borrower, loan, officer = _people()
    now = datetime(2026, 12, 6, 17, 0, tzinfo=UTC)  # 01:00 on the 7th in Shanghai: the borrower's own day
    sources = FactSources(
        borrower=borrower, loan=loan, officer=officer, institution="某银行", now=now, visit_id=7, channel="phone"
    )
    made = facts_context(sources)
    expected = VisitFacts.of(**sources).context()
    assert made == expected and made["today"] == date(2026, 12, 7) and made["borrower"]["risk_tier"] == "low"
    made["institution"] = "changed by a caller"
    again = facts_context(sources)
    assert again == expected
    loan.overdue_days = 12  # any value the facts are made of makes them anew
    assert facts_context(sources)["loan"]["overdue_days"] == 12


async def test_an_officer_renamed_mid_visit_is_named_so_at_the_next_question(desk: VisitDesk) -> None:
    """The facts of a visit are remembered between its answers only while nothing they show changed."""
    started = await desk.begin("B001", actor=OFFICER, officer_id=1)
    assert started.turn.prompt is not None and started.turn.prompt.step == "identity"
    async with desk.sessions() as session, session.begin():
        await session.execute(update(User).where(User.id == 1).values(name="赵新名"))
    reply = await desk.act(started.visit_id, Submit(Reply(text="是本人")), actor=OFFICER, said="是本人")
    assert reply.turn.prompt is not None and reply.turn.prompt.step == "introduction"
    assert "赵新名" in reply.turn.prompt.text
