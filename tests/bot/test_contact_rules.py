"""The rules of contact in the core, with a frozen clock: window, caps, opt-out, disputes, call-backs, refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from bot.desk import Actor, FixedClock, NotFound, VisitDesk
from bot.desk import contact as rules
from bot.desk import contact_record as record
from bot.desk.contact import ContactRefused, ContactWindow
from bot.settings import Settings
from dialogs.answers import Reply
from dialogs.engine import Cancel, Submit
from dialogs.schema import Outcome
from storage.models import (
    Answer,
    AuditEntry,
    Borrower,
    ContactRefusal,
    Dispute,
    Loan,
    Task,
    TranscriptMessage,
    User,
    Visit,
)
from tests.desks import demo_desk

SHANGHAI = ZoneInfo("Asia/Shanghai")
WANG = Actor("officer", 1)  # 王磊: B001, B003, B005, B007
CHEN = Actor("officer", 2)  # 陈静: B002, B004, B006, B008
BORROWER = Actor("borrower")
WINDOW = {"contact_window_start": time(8), "contact_window_end": time(21)}
"""The industry's window, set here: the rest of the suite runs with it off (tests/conftest.py)."""


def local(day: int, hour: int, minute: int = 0, second: int = 0, zone: ZoneInfo = SHANGHAI) -> datetime:
    """A moment of December 2026 in ``zone``."""
    return datetime(2026, 12, day, hour, minute, second, tzinfo=zone)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(local(1, 10))


@pytest.fixture
async def desk(sqlite_url: str, clock: FixedClock) -> AsyncIterator[VisitDesk]:
    async with demo_desk(sqlite_url, clock=clock, **WINDOW) as made:
        yield made


async def add_borrower(desk: VisitDesk, code: str, zone: str, *, tier: str = "low", officer_id: int = 1) -> None:
    """A borrower of another time zone, with a loan."""
    async with desk.sessions() as session, session.begin():
        borrower = Borrower(code=code, name="Li Lei", timezone=zone, officer_id=officer_id, risk_tier=tier)
        session.add(borrower)
        await session.flush()
        session.add(
            Loan(
                borrower_id=borrower.id, contract_no=f"DK-{code}", product="个人经营贷", amount=Decimal(50000),
                disbursed_on=date(2026, 6, 1), purpose="进货备货",
            )
        )  # fmt: skip


async def refusals(desk: VisitDesk) -> list[ContactRefusal]:
    async with desk.sessions() as session:
        return list((await session.scalars(select(ContactRefusal).order_by(ContactRefusal.id))).all())


async def end(desk: VisitDesk, visit_id: int, outcome: Outcome, actor: Actor = WANG) -> None:
    reply = await desk.act(visit_id, Cancel(outcome), actor=actor, said=f"/cancel {outcome.value}")
    assert reply.turn.finished, reply.turn.error


# -- the contact window -----------------------------------------------------------------------------------


async def test_a_call_at_21_00_01_is_refused_and_at_08_00_allowed_in_the_borrowers_zone(
    desk: VisitDesk, clock: FixedClock
) -> None:
    """Two borrowers, Shanghai and London: the window follows each borrower's own clock."""
    await add_borrower(desk, "B901", "Europe/London")
    clock.set(local(1, 21, 0, 1))  # 13:00:01 in London
    with pytest.raises(ContactRefused) as refused:
        await desk.begin("B001", actor=WANG, officer_id=1)
    assert refused.value.rule == "window"
    assert refused.value.next_allowed == local(2, 8)
    text = refused.value.text
    assert "21:00:01" in text and "08:00–21:00" in text and "2026-12-02 08:00 Asia/Shanghai" in text
    london = await desk.begin("B901", actor=WANG, officer_id=1)
    assert london.turn.prompt is not None and london.turn.prompt.step == "identity"

    clock.set(local(2, 8))  # 00:00 in London
    allowed = await desk.begin("B001", actor=WANG, officer_id=1)
    assert allowed.turn.prompt is not None
    await end(desk, london.visit_id, Outcome.REFUSED)
    with pytest.raises(ContactRefused) as night:
        await desk.begin("B901", actor=WANG, officer_id=1, locale="en")
    assert night.value.next_allowed == local(2, 8, zone=ZoneInfo("Europe/London"))
    assert "Europe/London" in night.value.text and "outside the contact hours" in night.value.text
    kept = await refusals(desk)
    assert [(r.rule, r.user_id, r.channel) for r in kept] == [("window", 1, "phone"), ("window", 1, "phone")]
    assert kept[0].next_allowed_at == local(2, 8)
    async with desk.sessions() as session:  # a refused start leaves no visit behind
        assert await session.scalar(select(func.count()).select_from(Visit)) == 2


async def test_the_borrowers_own_check_in_and_a_resumed_visit_are_never_refused(
    desk: VisitDesk, clock: FixedClock
) -> None:
    started = await desk.begin("B001", actor=WANG, officer_id=1)
    clock.set(local(1, 23))
    resumed = await desk.begin("B001", actor=WANG, officer_id=1)
    assert resumed.resumed and resumed.visit_id == started.visit_id
    own = await desk.begin("B005", actor=BORROWER, officer_id=None, script_id="self_checkin", channel="self")
    assert own.turn.prompt is not None and own.turn.prompt.step == "consent"
    assert await refusals(desk) == []


async def test_the_window_is_configurable(sqlite_url: str) -> None:
    clock = FixedClock(local(1, 21, 30))
    async with demo_desk(sqlite_url, clock=clock, **(WINDOW | {"contact_window_end": time(22, 0)})) as desk:
        assert (await desk.begin("B001", actor=WANG, officer_id=1)).turn.prompt is not None


def test_window_edges_and_switching_it_off() -> None:
    window = ContactWindow()
    zone = "Asia/Shanghai"
    assert window.contains(local(1, 21), zone) and not window.contains(local(1, 21, 0, 1), zone)
    assert window.next_open(local(1, 7, 59), zone) == local(1, 8)
    assert window.next_open(local(1, 22), zone) == local(2, 8)
    assert window.last_close(local(2, 3), zone) == local(1, 21)
    assert window.last_close(local(1, 23), zone) == local(1, 21)
    always = ContactWindow(time(0), time(0))
    assert always.always and always.contains(local(1, 3), zone) and always.next_open(local(1, 3), zone) == local(1, 3)
    assert rules.window_opens(local(1, 22), zone) == local(2, 8)


def test_settings_name_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("START", "END"):
        monkeypatch.delenv(f"VISITBOT_CONTACT_WINDOW_{name}", raising=False)
    settings = Settings(contact_opt_out_tiers="low", contact_weekly_cap=5, contact_attempt_scripts="a, b")
    made = rules.ContactRules.of(settings)
    assert made.opt_out_tiers == ("low",) and made.weekly_cap == 5 and made.attempt_scripts == ("a", "b")
    assert rules.ContactRules.of(Settings()) == rules.ContactRules()
    with pytest.raises(ValidationError, match="CONTACT_WINDOW_END"):
        Settings(contact_window_start=time(9), contact_window_end=time(8))


# -- frequency caps ---------------------------------------------------------------------------------------


async def test_the_fourth_connected_call_of_a_day_is_refused_across_two_officers(
    desk: VisitDesk, clock: FixedClock
) -> None:
    """Unreachable calls do not count, an open one does; the refusal names tomorrow's opening."""
    first = await desk.begin("B001", actor=WANG, officer_id=1)
    await end(desk, first.visit_id, Outcome.REFUSED)
    clock.advance(minutes=5)
    missed = await desk.begin("B001", actor=CHEN, officer_id=2)
    await end(desk, missed.visit_id, Outcome.UNREACHABLE, CHEN)
    clock.advance(minutes=5)
    second = await desk.begin("B001", actor=CHEN, officer_id=2, channel="onsite", script_id="onsite_visit")
    await end(desk, second.visit_id, Outcome.REFUSED, CHEN)
    clock.advance(minutes=5)
    third = await desk.begin("B001", actor=WANG, officer_id=1)  # still open: it counts
    clock.advance(minutes=5)
    again = await desk.begin("B001", actor=WANG, officer_id=1)
    assert again.resumed and again.visit_id == third.visit_id
    with pytest.raises(ContactRefused) as refused:
        await desk.begin("B001", actor=CHEN, officer_id=2, script_id="visit_refusal")
    assert refused.value.rule == "daily_cap" and refused.value.next_allowed == local(2, 8)
    assert "3" in refused.value.text and "2026-12-02 08:00 Asia/Shanghai" in refused.value.text
    assert [(r.rule, r.user_id, r.script_id) for r in await refusals(desk)] == [("daily_cap", 2, "visit_refusal")]
    clock.set(local(2, 8))
    await end(desk, third.visit_id, Outcome.REFUSED)
    assert (await desk.begin("B001", actor=CHEN, officer_id=2, script_id="visit_refusal")).turn.prompt is not None


async def test_overdue_reminder_attempts_count_even_when_unreachable(desk: VisitDesk, clock: FixedClock) -> None:
    for _ in range(3):
        attempt = await desk.begin("B008", actor=CHEN, officer_id=2, script_id="overdue_reminder")
        await end(desk, attempt.visit_id, Outcome.UNREACHABLE, CHEN)
        clock.advance(minutes=30)
    with pytest.raises(ContactRefused) as refused:
        await desk.begin("B008", actor=CHEN, officer_id=2, script_id="overdue_reminder")
    assert refused.value.rule == "daily_cap"


async def test_the_weekly_cap_names_the_day_the_oldest_call_drops_out(sqlite_url: str) -> None:
    clock = FixedClock(local(1, 10))
    async with demo_desk(sqlite_url, clock=clock, contact_weekly_cap=4, **WINDOW) as desk:
        for day in (1, 1, 1, 2):
            clock.set(local(day, 10) + timedelta(minutes=len(await refusals(desk))))
            visit = await desk.begin("B001", actor=WANG, officer_id=1)
            await end(desk, visit.visit_id, Outcome.REFUSED)
            clock.advance(minutes=1)
        clock.set(local(3, 9))
        with pytest.raises(ContactRefused) as refused:
            await desk.begin("B001", actor=WANG, officer_id=1)
    assert refused.value.rule == "weekly_cap"
    assert refused.value.next_allowed == local(8, 8)  # the three calls of 1 December leave the 7 days


# -- opt-out ----------------------------------------------------------------------------------------------


async def opt_out(desk: VisitDesk, code: str) -> None:
    """The borrower says 不想回访 on a call: reason busy, prefers the self-service check-in."""
    visit = await desk.begin(code, actor=WANG, officer_id=1, script_id="visit_refusal")
    for text in ("1", "2", "1"):
        reply = await desk.act(visit.visit_id, Submit(Reply(text=text)), actor=WANG, said=text)
    assert reply.opted_out


async def test_an_opted_out_low_risk_borrower_is_offered_self_service_instead(desk: VisitDesk) -> None:
    await opt_out(desk, "B001")
    with pytest.raises(ContactRefused) as refused:
        await desk.begin("B001", actor=WANG, officer_id=1)
    assert refused.value.rule == "opted_out" and refused.value.next_allowed is None
    text = refused.value.text
    assert "不想回访" in text and "线上自助回访" in text and "/invite B001" in text and "visitbot invite B001" in text
    assert "busy" not in text and "工作太忙" in text  # labels, never codes
    with pytest.raises(ContactRefused, match="/invite B001"):
        await desk.begin("B001", actor=WANG, officer_id=1, locale="en")
    kept = await refusals(desk)
    assert [r.rule for r in kept] == ["opted_out", "opted_out"]
    assert kept[0].detail["self_service"] == "/invite B001"
    own = await desk.begin("B001", actor=BORROWER, officer_id=None, script_id="self_checkin", channel="self")
    assert own.turn.prompt is not None  # their preferred channel stays open


async def test_a_high_risk_borrower_stays_on_required_visits_and_the_officer_sees_why(desk: VisitDesk) -> None:
    await opt_out(desk, "B003")
    reply = await desk.begin("B003", actor=WANG, officer_id=1)
    assert reply.turn.notice is not None and "高风险" in reply.turn.notice and "按规定仍需回访" in reply.turn.notice
    async with desk.sessions() as session:
        lines = (await session.scalars(select(TranscriptMessage.text).where(TranscriptMessage.visit_id == 2))).all()
    assert any("按规定仍需回访" in line for line in lines)


async def test_declining_the_check_ins_consent_is_no_opt_out(desk: VisitDesk) -> None:
    started = await desk.begin("B005", actor=BORROWER, officer_id=None, script_id="self_checkin", channel="self")
    reply = await desk.act(started.visit_id, Submit(Reply(text="2")), actor=BORROWER, said="2")
    assert reply.turn.finished and reply.turn.state.outcome == "opted_out" and not reply.opted_out
    async with desk.sessions() as session:
        borrower = await session.scalar(select(Borrower).where(Borrower.code == "B005"))
    assert borrower is not None and borrower.opted_out_at is None
    assert (await desk.begin("B005", actor=WANG, officer_id=1)).turn.prompt is not None


# -- disputes ---------------------------------------------------------------------------------------------


async def test_a_dispute_holds_collection_until_a_supervisor_resolves_it(desk: VisitDesk, clock: FixedClock) -> None:
    call = await desk.begin("B008", actor=CHEN, officer_id=2, script_id="overdue_reminder")
    for text in ("1", "3", "上个月已经还了2000元，金额不对"):
        reply = await desk.act(call.visit_id, Submit(Reply(text=text)), actor=CHEN, said=text)
    assert reply.turn.finished
    async with desk.sessions() as session:
        dispute = await session.scalar(select(Dispute))
    assert (
        dispute is not None and dispute.note == "上个月已经还了2000元，金额不对" and dispute.visit_id == call.visit_id
    )

    clock.advance(hours=1)
    with pytest.raises(ContactRefused) as refused:
        await desk.begin("B008", actor=CHEN, officer_id=2, script_id="overdue_reminder")
    assert refused.value.rule == "dispute"
    assert "/resolve B008" in refused.value.text and "visitbot disputes resolve B008" in refused.value.text
    visit = await desk.begin("B008", actor=CHEN, officer_id=2)  # other scripts go ahead
    await end(desk, visit.visit_id, Outcome.REFUSED, CHEN)

    async with desk.sessions() as session, session.begin():
        officer = await session.get(User, 2)
        supervisor = await session.get(User, 3)
        assert officer is not None and supervisor is not None
        with pytest.raises(NotFound, match="主管"):
            await record.resolve_disputes(session, "B008", by=officer, note="ok", now=clock.now(), locale="zh-CN")
        with pytest.raises(NotFound, match="核实结果"):
            await record.resolve_disputes(session, "B008", by=supervisor, note=" ", now=clock.now(), locale="zh-CN")
        open_ones = await record.list_disputes(session, supervisor, locale="zh-CN")
        assert [d.id for d in open_ones] == [dispute.id]
        done = await record.resolve_disputes(
            session, "B008", by=supervisor, note="已核实：2000元已入账，欠款调整", now=clock.now(), locale="zh-CN"
        )
    assert [d.id for d in done] == [dispute.id]
    async with desk.sessions() as session:
        kept = await session.get(Dispute, dispute.id)
        audit = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "dispute_resolved"))).all()
    assert kept is not None and kept.resolved_by == 3 and kept.resolved_at == clock.now()
    assert kept.resolution == "已核实：2000元已入账，欠款调整"
    assert [(a.user_id, a.detail["borrower"]) for a in audit] == [(3, "B008")]
    assert (await desk.begin("B008", actor=CHEN, officer_id=2, script_id="overdue_reminder")).turn.prompt


# -- call-backs -------------------------------------------------------------------------------------------


async def test_a_redelivered_refused_callback_is_refused_once(desk: VisitDesk) -> None:
    """A refused input records no answer, so its update is claimed on its own: Telegram's redelivery of
    it keeps no second refusal and says it was handled before."""
    visit = await desk.begin("B001", actor=WANG, officer_id=1)
    await desk.act(visit.visit_id, Submit(Reply(text="3")), actor=WANG, said="3", update_key="tg:1:1")
    again = Submit(Reply(text="明天凌晨3点"))
    first = await desk.act(visit.visit_id, again, actor=WANG, said="明天凌晨3点", update_key="tg:1:2")
    second = await desk.act(visit.visit_id, again, actor=WANG, said="明天凌晨3点", update_key="tg:1:2")
    assert first.turn.error and not first.duplicate
    assert second.duplicate and second.turn.prompt is not None and second.turn.prompt.step == "callback_time"
    assert [r.rule for r in await refusals(desk)] == ["callback_window"]


async def test_a_callback_outside_the_window_is_refused_with_the_nearest_times(desk: VisitDesk) -> None:
    visit = await desk.begin("B001", actor=WANG, officer_id=1)
    await desk.act(visit.visit_id, Submit(Reply(text="3")), actor=WANG, said="3")  # busy now → when?
    reply = await desk.act(visit.visit_id, Submit(Reply(text="明天凌晨3点")), actor=WANG, said="明天凌晨3点")
    assert reply.turn.prompt is not None and reply.turn.prompt.step == "callback_time"
    error = reply.turn.error or ""
    assert "2026-12-02 03:00 Asia/Shanghai" in error and "客户要求" in error
    assert "2026-12-01 21:00 Asia/Shanghai 之前" in error and "2026-12-02 08:00 Asia/Shanghai 之后" in error
    async with desk.sessions() as session:
        answers = (await session.scalars(select(Answer.step_id).where(Answer.visit_id == visit.visit_id))).all()
        said = (
            await session.scalars(
                select(TranscriptMessage.text).where(
                    TranscriptMessage.visit_id == visit.visit_id, TranscriptMessage.direction == "in"
                )
            )
        ).all()
    assert list(answers) == ["identity"] and list(said) == ["3"]
    assert [r.rule for r in await refusals(desk)] == ["callback_window"]

    asked = await desk.act(
        visit.visit_id, Submit(Reply(text="明天凌晨3点 客户要求")), actor=WANG, said="明天凌晨3点 客户要求"
    )
    assert asked.turn.finished and asked.turn.state.outcome == "callback", asked.turn.error
    async with desk.sessions() as session:
        task = await session.scalar(select(Task))
        notes = (
            await session.scalars(select(TranscriptMessage.text).where(TranscriptMessage.direction == "note"))
        ).all()
    assert task is not None and task.borrower_asked and task.due_at == local(2, 3)
    assert any("借款人本人要求" in note for note in notes)


async def test_cancel_callback_outside_the_window_is_refused_unless_the_borrower_asked(desk: VisitDesk) -> None:
    visit = await desk.begin("B001", actor=WANG, officer_id=1)
    at = local(2, 3)
    refused = await desk.act(visit.visit_id, Cancel(Outcome.CALLBACK, at), actor=WANG, said="/cancel callback 3am")
    assert not refused.turn.finished and refused.turn.error and "客户要求" in refused.turn.error
    inside = local(2, 15)
    fine = await desk.act(
        visit.visit_id, Cancel(Outcome.CALLBACK, at), actor=WANG, said="/cancel callback 明天凌晨3点 客户要求"
    )
    assert fine.turn.finished and fine.borrower_asked
    other = await desk.begin("B003", actor=WANG, officer_id=1)
    plain = await desk.act(other.visit_id, Cancel(Outcome.CALLBACK, inside), actor=WANG, said="/cancel callback 3pm")
    assert plain.turn.finished and not plain.borrower_asked


async def test_a_borrower_booking_their_own_callback_asked_for_it(desk: VisitDesk) -> None:
    started = await desk.begin("B005", actor=BORROWER, officer_id=None, script_id="self_checkin", channel="self")
    answers = ["1", "1", "1", "n", "n", "想续贷", "y", "y", "明天晚上11点"]
    for text in answers:
        reply = await desk.act(started.visit_id, Submit(Reply(text=text)), actor=BORROWER, said=text)
        assert reply.turn.error is None, (text, reply.turn.error)
    assert reply.turn.finished
    async with desk.sessions() as session:
        task = await session.scalar(select(Task))
    assert task is not None and task.borrower_asked and task.due_at == local(2, 23)


def test_the_borrower_asked_words_are_taken_off_the_time() -> None:
    event, asked = rules.asked_by_borrower(Submit(Reply(text="明天凌晨3点（客户要求）")), "", "officer")
    assert asked and isinstance(event, Submit) and event.reply.text == "明天凌晨3点"
    event, asked = rules.asked_by_borrower(Submit(Reply(text="tomorrow 3am, Borrower asked")), "", "officer")
    assert asked and isinstance(event, Submit) and event.reply.text == "tomorrow 3am"
    assert rules.asked_by_borrower(Submit(Reply(text="明天凌晨3点")), "", "officer")[1] is False
    assert rules.without_marker("明天凌晨3点 客户要求") == "明天凌晨3点"


# -- who sees the refusals --------------------------------------------------------------------------------


async def test_refusals_are_listed_for_supervisors_and_admins_not_officers(desk: VisitDesk, clock: FixedClock) -> None:
    clock.set(local(1, 22))
    for code, actor in (("B001", WANG), ("B002", CHEN)):
        with pytest.raises(ContactRefused):
            await desk.begin(code, actor=actor, officer_id=actor.user_id)
    async with desk.sessions() as session, session.begin():
        session.add_all([User(name="管理员", role="admin"), User(name="赵主管", role="supervisor", team="城西支行")])
    async with desk.sessions() as session:
        officer, supervisor, admin, other = (await session.scalars(select(User).order_by(User.id))).all()[1:]
        with pytest.raises(NotFound, match="主管"):
            await record.list_refusals(session, officer, locale="zh-CN")
        team = await record.list_refusals(session, supervisor, locale="zh-CN")
        assert [row.borrower_code for row in team] == ["B002", "B001"]
        assert [row.borrower_code for row in await record.list_refusals(session, admin, code="B001", locale="en")] == [
            "B001"
        ]
        assert await record.list_refusals(session, other, locale="zh-CN") == []
        with pytest.raises(NotFound):
            await record.list_refusals(session, other, code="B001", locale="zh-CN")
    line = record.refusal_line(team[0], "zh-CN", "Asia/Shanghai")
    assert "B002" in line and "陈静" in line and "可联系时段外" in line and "2026-12-02 08:00 Asia/Shanghai" in line


async def test_counting_runs_on_postgresql_too(postgres_url: str) -> None:
    clock = FixedClock(local(1, 10))
    async with demo_desk(postgres_url, clock=clock, contact_daily_cap=1, **WINDOW) as desk:
        first = await desk.begin("B001", actor=WANG, officer_id=1)
        await end(desk, first.visit_id, Outcome.REFUSED)
        with pytest.raises(ContactRefused):
            await desk.begin("B001", actor=CHEN, officer_id=2)
        async with desk.sessions() as session:
            rows = await record.list_refusals(session, User(name="x", role="admin"), locale="zh-CN")
    assert [(r.refusal.rule, r.refusal.at) for r in rows] == [("daily_cap", local(1, 10).astimezone(UTC))]


async def test_a_dispute_is_kept_and_resolved_on_postgresql(postgres_url: str) -> None:
    clock = FixedClock(local(1, 10))
    async with demo_desk(postgres_url, clock=clock, **WINDOW) as desk:
        call = await desk.begin("B008", actor=CHEN, officer_id=2, script_id="overdue_reminder")
        for text in ("1", "3", "金额不对"):
            await desk.act(call.visit_id, Submit(Reply(text=text)), actor=CHEN, said=text)
        with pytest.raises(ContactRefused):
            await desk.begin("B008", actor=CHEN, officer_id=2, script_id="overdue_reminder")
        async with desk.sessions() as session, session.begin():
            supervisor = await session.get(User, 3)
            assert supervisor is not None
            assert [d.note for d in await record.list_disputes(session, supervisor, code="B008", locale="en")] == [
                "金额不对"
            ]
            done = await record.resolve_disputes(
                session, "B008", by=supervisor, note="checked", now=clock.now(), locale="en"
            )
        assert len(done) == 1
        assert (await desk.begin("B008", actor=CHEN, officer_id=2, script_id="overdue_reminder")).turn.prompt
