"""What an officer may choose in the core: the script (and its channel), and only the outcomes the
visit's current step offers; a call-back time is read in the borrower's own zone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from bot.desk import Actor, FixedClock, VisitDesk
from bot.desk.choices import (
    NotOffered,
    cancel_offer,
    channel_for,
    offered_outcomes,
    outcome_for_word,
    read_cancel,
    script_for_word,
    scripts_for,
)
from dialogs.answers import Reply
from dialogs.catalog import ScriptCatalog
from dialogs.engine import Back, Cancel, Submit
from dialogs.schema import Outcome
from storage import repositories as repo
from storage.models import Borrower, Loan, Visit
from storage.visit_picks import pick_list
from tests.desks import demo_desk, statements_seen, visit_row

OFFICER = Actor("officer", 1)
MORNING = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
"""10:00 in Beijing: inside the contact window."""


@pytest.fixture
async def desk(sqlite_url: str) -> AsyncIterator[VisitDesk]:
    async with demo_desk(sqlite_url, clock=FixedClock(MORNING)) as made:
        yield made


async def test_wrong_party_and_unreachable_only_before_identity_is_answered(desk: VisitDesk) -> None:
    """At 'who is on the line' every staff outcome is offered; once the borrower is confirmed only
    refused and call-back; /back to the identity question offers the others again."""
    started = await desk.begin("B001", actor=OFFICER, officer_id=1)
    first = await cancel_offer(desk, started.visit_id, OFFICER)
    assert first.outcomes == (Outcome.REFUSED, Outcome.UNREACHABLE, Outcome.WRONG_PARTY, Outcome.CALLBACK)
    await desk.act(started.visit_id, Submit(Reply(option="self")), actor=OFFICER, said="是本人")
    after = await cancel_offer(desk, started.visit_id, OFFICER)
    assert after.outcomes == (Outcome.REFUSED, Outcome.CALLBACK)

    refused = await desk.act(started.visit_id, Cancel(Outcome.WRONG_PARTY), actor=OFFICER, said="x:1:wrong_party")
    assert not refused.turn.finished and refused.turn.error is not None
    assert "非本人" in refused.turn.error and "拒绝" in refused.turn.error and "约定再回访" in refused.turn.error
    assert (await visit_row(desk, started.visit_id)).status == "open"

    await desk.act(started.visit_id, Back(), actor=OFFICER, said="/back")
    again = await cancel_offer(desk, started.visit_id, OFFICER)
    assert Outcome.WRONG_PARTY in again.outcomes
    ended = await desk.act(started.visit_id, Cancel(Outcome.UNREACHABLE), actor=OFFICER, said="/cancel 无法联系")
    assert ended.turn.finished and ended.turn.state.outcome == "unreachable"


async def test_opted_out_is_never_a_bare_command_and_says_what_to_do(desk: VisitDesk) -> None:
    """`/cancel opted_out` is refused at every step, pointing at the opt-out form for this borrower."""
    started = await desk.begin("B001", actor=OFFICER, officer_id=1)
    offer = await cancel_offer(desk, started.visit_id, OFFICER)
    with pytest.raises(NotOffered) as refused:
        read_cancel("不想回访", offer, now=MORNING, locale="zh-CN")
    assert "/visit B001 refusal" in refused.value.text and "拒绝（refused）" in refused.value.text
    reply = await desk.act(started.visit_id, Cancel(Outcome.OPTED_OUT), actor=OFFICER, said="x:1:opted_out")
    assert reply.turn.error is not None and "/visit B001 refusal" in reply.turn.error
    with pytest.raises(NotOffered) as completed:
        read_cancel("completed", offer, now=MORNING, locale="en")
    assert "questions are done" in completed.value.text


async def test_a_script_without_identity_step_offers_unreachable_until_the_first_answer(desk: VisitDesk) -> None:
    started = await desk.begin("B001", actor=OFFICER, officer_id=1, script_id="onsite_visit")
    assert (await cancel_offer(desk, started.visit_id, OFFICER)).outcomes[1] is Outcome.UNREACHABLE
    await desk.act(started.visit_id, Submit(Reply(option="yes")), actor=OFFICER, said="是")
    assert (await cancel_offer(desk, started.visit_id, OFFICER)).outcomes == (Outcome.REFUSED, Outcome.CALLBACK)


def test_borrowers_are_offered_nothing_and_without_a_state_staff_everything() -> None:
    assert offered_outcomes("borrower") == ()
    assert set(offered_outcomes("officer")) == {
        Outcome.REFUSED, Outcome.UNREACHABLE, Outcome.WRONG_PARTY, Outcome.CALLBACK,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("typed", "outcome", "rest"),
    [
        ("拒绝", Outcome.REFUSED, ""),
        ("refused", Outcome.REFUSED, ""),
        ("Refused", Outcome.REFUSED, ""),
        ("无法联系", Outcome.UNREACHABLE, ""),
        ("非本人", Outcome.WRONG_PARTY, ""),
        ("wrong party", Outcome.WRONG_PARTY, ""),
        ("wrong_party", Outcome.WRONG_PARTY, ""),
        ("再约 明天下午三点", Outcome.CALLBACK, "明天下午三点"),
        ("再约明天下午三点", Outcome.CALLBACK, "明天下午三点"),
        ("约定再回访 明天下午三点", Outcome.CALLBACK, "明天下午三点"),
        ("callback tomorrow 3pm", Outcome.CALLBACK, "tomorrow 3pm"),
        ("call back later tomorrow 3pm", Outcome.CALLBACK, "tomorrow 3pm"),
        ("不想回访", Outcome.OPTED_OUT, ""),
    ],
)
def test_outcome_words(typed: str, outcome: Outcome, rest: str) -> None:
    """An outcome is typed as its id, its label in either language or a common word."""
    assert outcome_for_word(typed) == (outcome, rest)


def test_an_unknown_outcome_word_lists_what_is_offered() -> None:
    assert outcome_for_word("refusedx") is None and outcome_for_word("好") is None


async def test_a_call_back_time_is_read_in_the_borrowers_zone(desk: VisitDesk) -> None:
    """At 15:30 UTC it is 23:30 in Beijing (the deployment's zone) but 10:30 in New York, where this
    borrower lives: 明天下午三点 is 2 December 15:00 New York time, 20:00 UTC — not 07:00 UTC."""
    async with desk.sessions() as session, session.begin():
        await session.execute(update(Borrower).where(Borrower.code == "B001").values(timezone="America/New_York"))
    at = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)
    assert isinstance(desk.clock, FixedClock)
    desk.clock.set(at)
    started = await desk.begin("B001", actor=OFFICER, officer_id=1)
    offer = await cancel_offer(desk, started.visit_id, OFFICER)
    assert offer.zone == "America/New_York"
    cancel = read_cancel("再约 明天下午三点", offer, now=desk.clock.now(), locale="zh-CN")
    assert cancel.callback_at is not None
    assert cancel.callback_at.astimezone(UTC) == datetime(2026, 12, 2, 20, 0, tzinfo=UTC)
    # 今天下午三点 is still ahead in New York (it is past in Beijing).
    today = read_cancel("callback 今天下午三点", offer, now=desk.clock.now(), locale="zh-CN")
    assert today.callback_at is not None and today.callback_at.astimezone(UTC) == datetime(
        2026, 12, 1, 20, 0, tzinfo=UTC
    )
    ended = await desk.act(started.visit_id, cancel, actor=OFFICER, said="/cancel 再约 明天下午三点")
    assert ended.turn.finished
    visit = await visit_row(desk, started.visit_id)
    assert visit.callback_at is not None and visit.callback_at.astimezone(UTC) == datetime(
        2026, 12, 2, 20, 0, tzinfo=UTC
    )


async def test_a_typed_call_back_may_say_the_borrower_asked_for_the_time(desk: VisitDesk) -> None:
    """``/cancel 再约 明天凌晨3点 客户要求``: the borrower-asked words are not part of the time (the
    core reads them from what was said and keeps the time even outside the contact window)."""
    started = await desk.begin("B001", actor=OFFICER, officer_id=1)
    offer = await cancel_offer(desk, started.visit_id, OFFICER)
    plain = read_cancel("再约 明天凌晨3点", offer, now=desk.clock.now(), locale="zh-CN")
    asked = read_cancel("再约 明天凌晨3点 客户要求", offer, now=desk.clock.now(), locale="zh-CN")
    english = read_cancel("callback tomorrow 3am borrower asked", offer, now=desk.clock.now(), locale="en")
    assert asked.callback_at is not None and asked.callback_at == plain.callback_at
    assert english.callback_at is not None


async def test_a_call_back_needs_a_readable_future_time(desk: VisitDesk) -> None:
    started = await desk.begin("B001", actor=OFFICER, officer_id=1)
    offer = await cancel_offer(desk, started.visit_id, OFFICER)
    with pytest.raises(NotOffered, match="时间"):
        read_cancel("再约", offer, now=MORNING, locale="zh-CN")
    with pytest.raises(NotOffered, match="没看懂"):
        read_cancel("callback 某个时候", offer, now=MORNING, locale="zh-CN")
    with pytest.raises(NotOffered) as unknown:
        read_cancel("挂了", offer, now=MORNING, locale="zh-CN")
    assert "挂了" in unknown.value.text and "无法联系（unreachable）" in unknown.value.text


async def test_each_visit_is_recorded_with_its_scripts_channel(desk: VisitDesk) -> None:
    onsite = await desk.begin("B001", actor=OFFICER, officer_id=1, script_id="onsite_visit")
    phone = await desk.begin("B003", actor=OFFICER, officer_id=1)
    assert (await visit_row(desk, onsite.visit_id)).channel == "onsite"
    assert (await visit_row(desk, phone.visit_id)).channel == "phone"
    loaded = await _loaded(desk, onsite.visit_id)
    assert desk.facts_of(loaded).visit.channel == "onsite", "the script sees the visit's real channel"


async def _loaded(desk: VisitDesk, visit_id: int) -> Visit:
    async with desk.sessions() as session:
        visit = await repo.load_visit(session, visit_id)
        assert visit is not None
        return visit


def test_script_words_and_channels() -> None:
    catalog = ScriptCatalog()
    for word in ("onsite", "ONSITE", "现场", "onsite_visit", "对公现场回访", "Corporate on-site visit"):
        found = script_for_word(catalog, word)
        assert found is not None and found.id == "onsite_visit", word
    overdue = script_for_word(catalog, "逾期")
    assert overdue is not None and overdue.id == "overdue_reminder"
    assert script_for_word(catalog, "self_checkin") is None, "a borrower's own check-in is not an officer's call"
    assert script_for_word(catalog, "nonsense") is None
    channels = {s: channel_for(catalog.latest(s).script) for s in catalog.ids}
    assert channels == {
        "officer_phone_visit": "phone", "onsite_visit": "onsite", "overdue_reminder": "phone",
        "self_checkin": "self", "visit_refusal": "phone", "promise_checkin": "self",
    }  # fmt: skip


def test_scripts_that_apply() -> None:
    """A borrower who is not overdue gets the routine phone visit at once; an overdue one a choice,
    the overdue reminder first."""
    catalog = ScriptCatalog()
    routine = scripts_for(catalog, overdue_days=0, default="officer_phone_visit")
    assert [s.id for s in routine] == ["officer_phone_visit"]
    overdue = [s.id for s in scripts_for(catalog, overdue_days=5, default="officer_phone_visit")]
    assert overdue[:2] == ["overdue_reminder", "officer_phone_visit"]
    assert set(overdue) == {"overdue_reminder", "officer_phone_visit", "onsite_visit", "visit_refusal"}


@pytest.fixture
async def any_desk(database_url: str) -> AsyncIterator[VisitDesk]:
    async with demo_desk(database_url, clock=FixedClock(MORNING)) as made:
        yield made


async def test_the_pick_list_is_one_query_that_never_scans_every_visit(any_desk: VisitDesk) -> None:
    """The officer's borrowers with their open visit and last visit: one statement (plus the loans'
    eager load), whatever the number of visits; other officers' visits do not mark anyone open."""
    desk = any_desk
    own = await desk.begin("B001", actor=OFFICER, officer_id=1, script_id="onsite_visit")
    finished = await desk.begin("B003", actor=OFFICER, officer_id=1)
    await desk.act(finished.visit_id, Cancel(Outcome.REFUSED), actor=OFFICER, said="/cancel refused")
    await desk.begin("B002", actor=Actor("officer", 2), officer_id=2)  # 陈静's borrower
    with statements_seen(desk.sessions) as statements:
        async with desk.sessions() as session:
            rows = await pick_list(session, officer_id=1)
    assert [r.borrower.code for r in rows] == ["B001", "B007", "B005", "B003"]  # open, unvisited (risky first), seen
    marks = {r.borrower.code: (r.open_visit_id, r.open_script_id, r.last_started is not None) for r in rows}
    assert marks["B001"] == (own.visit_id, "onsite_visit", True)
    assert marks["B003"] == (None, None, True)
    assert marks["B005"] == (None, None, False)
    assert len(statements) <= 2, statements
    assert "FROM loans" in statements[-1] or len(statements) == 1
    async with desk.sessions() as session:
        found = await pick_list(session, officer_id=1, text="b001")
        everyone = await pick_list(session)
    assert [r.borrower.code for r in found] == ["B001"]
    assert {r.borrower.code for r in everyone if r.open_visit_id} == {"B001", "B002"}
    loans = {r.borrower.code: r.borrower.loans for r in everyone}
    assert all(isinstance(loan, Loan) for loan in loans["B001"])
    async with desk.sessions() as session:
        assert await session.scalar(select(Visit.channel).where(Visit.id == own.visit_id)) == "onsite"


async def test_back_says_where_the_withdrawn_answers_question_was_shown(desk: VisitDesk) -> None:
    """The message that showed a question is kept with its answer, so ``/back`` can edit that message
    from any bot process, after any restart (not from one process's memory)."""
    started = await desk.begin("B001", actor=OFFICER, officer_id=1)
    await desk.act(started.visit_id, Submit(Reply(option="self")), actor=OFFICER, said="是本人", shown_in="41")
    back = await desk.act(started.visit_id, Back(), actor=OFFICER, said="/back", shown_in="42")
    assert [(w.step, w.shown_in) for w in back.withdrawn] == [("identity", "41")]
    assert back.withdrawn[0].question and back.withdrawn[0].shown
    async with desk.sessions() as session:
        answers = await repo.visit_answers(session, started.visit_id, include_undone=True)
    assert [(a.shown_in, a.undone_at is not None) for a in answers] == [("41", True)]
