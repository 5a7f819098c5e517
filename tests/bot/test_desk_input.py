"""The desk takes only what the current step offers the person giving input; the rest is refused unrecorded."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from bot.desk import Actor, VisitDesk, cancel_outcomes
from dialogs.answers import Reply
from dialogs.engine import Cancel, Submit
from dialogs.schema import Outcome
from storage.models import Borrower, Consent
from tests.desks import demo_desk, visit_row

OFFICER = Actor("officer", 1)
BORROWER = Actor("borrower")


@pytest.fixture
async def desk(sqlite_url: str) -> AsyncIterator[VisitDesk]:
    async with demo_desk(sqlite_url) as made:
        yield made


async def test_an_officer_cannot_opt_a_borrower_out_by_hand(desk: VisitDesk) -> None:
    """`/cancel opted_out` (or a forged `x:<visit>:opted_out`) before identity: refused, nothing kept."""
    started = await desk.begin("B001", actor=OFFICER, officer_id=1)
    reply = await desk.act(started.visit_id, Cancel(Outcome.OPTED_OUT), actor=OFFICER, said="/cancel opted_out")
    assert reply.turn.error is not None and "不能" in reply.turn.error
    assert not reply.turn.finished and not reply.opted_out
    assert reply.turn.prompt is not None and reply.turn.prompt.step == "identity"
    visit = await visit_row(desk, started.visit_id)
    assert visit.status == "open" and visit.outcome is None
    async with desk.sessions() as session:
        borrower = await session.scalar(select(Borrower).where(Borrower.code == "B001"))
        consents = await session.scalar(select(func.count()).select_from(Consent))
    assert borrower is not None and borrower.opted_out_at is None
    assert consents == 0
    # What an officer is offered still works.
    ended = await desk.act(started.visit_id, Cancel(Outcome.WRONG_PARTY), actor=OFFICER, said="/cancel wrong_party")
    assert ended.turn.finished and ended.turn.state.outcome == "wrong_party"


async def test_a_borrower_cannot_end_their_check_in_by_hand(desk: VisitDesk) -> None:
    """A borrower's forged cancel button (`x:<visit>:wrong_party`) records nothing; answering still works."""
    started = await desk.begin("B005", actor=BORROWER, officer_id=None, script_id="self_checkin", channel="self")
    for outcome in Outcome:
        reply = await desk.act(started.visit_id, Cancel(outcome), actor=BORROWER, said=f"/cancel {outcome}")
        assert reply.turn.error is not None and not reply.turn.finished, outcome
    assert (await visit_row(desk, started.visit_id)).status == "open"
    reply = await desk.act(started.visit_id, Submit(Reply(text="1")), actor=BORROWER, said="1")
    assert reply.turn.error is None


def test_what_each_actor_is_offered() -> None:
    """Staff end a visit as refused, unreachable, wrong party or call-back; borrowers never by hand."""
    assert set(cancel_outcomes(OFFICER)) == {
        Outcome.REFUSED, Outcome.UNREACHABLE, Outcome.WRONG_PARTY, Outcome.CALLBACK,
    }  # fmt: skip
    assert cancel_outcomes(BORROWER) == ()
