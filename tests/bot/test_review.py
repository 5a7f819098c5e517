"""The review workflow and the comment mode, at the core: every transition, every refusal."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from bot.desk import Actor, FixedClock, VisitDesk
from bot.desk.review import (
    INITIAL_REVIEW,
    ReviewAction,
    ReviewDesk,
    ReviewRefused,
    ReviewState,
    actions_for,
    comment_target,
    next_state,
)
from bot.settings import Settings
from dialogs.catalog import ScriptCatalog
from dialogs.engine import Cancel
from dialogs.schema import Outcome
from storage.chats import set_chat
from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade
from storage.models import AuditEntry, ChatSession, OutboxMessage, RiskFlag, TranscriptMessage, User, Visit
from tests.desks import demo_desk, visit_row

CLOCK_AT = "2026-12-01T10:30:00+08:00"  # inside the contact window
OFFICER, OTHER_OFFICER, SUPERVISOR = 1, 2, 3  # the demo's 王磊, 陈静 (both 城东支行) and 刘主管


@dataclass
class World:
    desk: VisitDesk
    reviews: ReviewDesk
    clock: FixedClock
    users: dict[str, User]


async def add_reviewers(desk: VisitDesk) -> None:
    """An admin and the supervisor of another team, next to the demo's people."""
    async with desk.sessions() as session, session.begin():
        session.add_all(
            [User(name="管理员", role="admin", team=None), User(name="赵主管", role="supervisor", team="城西支行")]
        )


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database with the demo people, made once; each test gets a copy (no migration per test)."""
    path = tmp_path_factory.mktemp("review") / "template.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)

    async def fill() -> None:
        async with demo_desk(url) as desk:
            await add_reviewers(desk)

    asyncio.run(fill())
    return path


@pytest.fixture(scope="module")
def catalog() -> ScriptCatalog:
    """The shipped scripts, compiled once for the module."""
    return ScriptCatalog()


@pytest.fixture
async def world(template: Path, tmp_path: Path, catalog: ScriptCatalog) -> AsyncIterator[World]:
    clock = FixedClock(CLOCK_AT)
    copy = tmp_path / "visits.db"
    shutil.copyfile(template, copy)
    url = f"sqlite+aiosqlite:///{copy}"
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        desk = VisitDesk(sessions, catalog, Settings(database_url=url), clock)
        async with sessions() as session:
            users = {u.name: u for u in (await session.scalars(select(User))).all()}
        yield World(desk, ReviewDesk(sessions, desk.settings, clock), clock, users)
    finally:
        await engine.dispose()


def by(world: World, name: str) -> User:
    return world.users[name]


async def finished(world: World, code: str = "B001") -> int:
    """A visit of the borrower's officer, ended by hand (refused): finished, waiting for review."""
    started = await world.desk.begin(code, actor=Actor("officer", OFFICER), officer_id=None)
    await world.desk.act(started.visit_id, Cancel(Outcome.REFUSED), actor=Actor("officer", OFFICER), said="/cancel")
    return started.visit_id


async def rows(world: World, model: Any, visit_id: int) -> list[Any]:
    async with world.desk.sessions() as session:
        return list((await session.scalars(select(model).where(model.visit_id == visit_id).order_by(model.id))).all())


async def audit_actions(world: World, visit_id: int) -> list[str]:
    return [e.action for e in await rows(world, AuditEntry, visit_id) if e.action.startswith("review_")]


async def notes(world: World, visit_id: int) -> list[str]:
    return [m.text for m in await rows(world, TranscriptMessage, visit_id) if m.direction == "note"]


async def drive(world: World, visit_id: int, state: ReviewState) -> None:
    """Bring a pending visit to ``state`` through the workflow itself."""
    supervisor, officer = by(world, "刘主管"), by(world, "王磊")
    if state is ReviewState.APPROVED:
        await world.reviews.approve(visit_id, supervisor)
    if state in (ReviewState.RETURNED, ReviewState.ANSWERED):
        await world.reviews.send_back(visit_id, supervisor, "请补充经营流水")
    if state is ReviewState.ANSWERED:
        await world.reviews.reply(visit_id, officer, "已补充")


# -- the machine -------------------------------------------------------------------------------

TRANSITIONS = {
    (ReviewState.PENDING, ReviewAction.APPROVE): ReviewState.APPROVED,
    (ReviewState.PENDING, ReviewAction.SEND_BACK): ReviewState.RETURNED,
    (ReviewState.RETURNED, ReviewAction.REPLY): ReviewState.ANSWERED,
    (ReviewState.ANSWERED, ReviewAction.APPROVE): ReviewState.APPROVED,
    (ReviewState.ANSWERED, ReviewAction.SEND_BACK): ReviewState.RETURNED,
}


@pytest.mark.parametrize("state", list(ReviewState))
@pytest.mark.parametrize("action", list(ReviewAction))
def test_the_machine_allows_exactly_the_workflow(state: ReviewState, action: ReviewAction) -> None:
    assert next_state(state, action) == TRANSITIONS.get((state, action))


async def test_a_finished_visit_waits_for_review(world: World) -> None:
    visit = await visit_row(world.desk, await finished(world))
    assert visit.status == "finished" and visit.review_status == INITIAL_REVIEW == "pending"


# -- every accepted transition -------------------------------------------------------------------

ACTOR_OF = {ReviewAction.APPROVE: "刘主管", ReviewAction.SEND_BACK: "刘主管", ReviewAction.REPLY: "王磊"}
RECIPIENT_OF = {ReviewAction.APPROVE: "王磊", ReviewAction.SEND_BACK: "王磊", ReviewAction.REPLY: "刘主管"}
KEY_OF = {
    ReviewAction.APPROVE: "review_approved_to_officer",
    ReviewAction.SEND_BACK: "review_returned_to_officer",
    ReviewAction.REPLY: "review_officer_replied",
}


@pytest.mark.parametrize(("start", "action"), list(TRANSITIONS))
async def test_every_transition_writes_fields_note_audit_and_notice(
    world: World, start: ReviewState, action: ReviewAction
) -> None:
    visit_id = await finished(world)
    await drive(world, visit_id, start)
    audits, outbox, notes_before = (
        len(await audit_actions(world, visit_id)),
        len(await rows(world, OutboxMessage, visit_id)),
        len(await notes(world, visit_id)),
    )
    world.clock.advance(minutes=5)
    user = by(world, ACTOR_OF[action])
    text = "客户月流水约20万" if action is not ReviewAction.APPROVE else ""
    change: Callable[..., Any] = {
        ReviewAction.APPROVE: lambda: world.reviews.approve(visit_id, user),
        ReviewAction.SEND_BACK: lambda: world.reviews.send_back(visit_id, user, text),
        ReviewAction.REPLY: lambda: world.reviews.reply(visit_id, user, text),
    }[action]
    done = await change()
    expected = TRANSITIONS[(start, action)]
    assert (done.before, done.state) == (start, expected)
    visit = await visit_row(world.desk, visit_id)
    assert visit.review_status == expected.value
    if action is not ReviewAction.REPLY:
        assert visit.reviewed_by == user.id and visit.reviewed_at == world.clock.now()
        assert visit.review_comment == (text or None)
    else:  # the reply keeps who reviewed and their comment
        assert visit.reviewed_by == by(world, "刘主管").id and visit.review_comment == "请补充经营流水"
    assert (await notes(world, visit_id))[notes_before:] == [f"[review {expected.value}] {text}".strip()]
    entries = [e for e in await rows(world, AuditEntry, visit_id) if e.action.startswith("review_")]
    assert len(entries) == audits + 1
    last = entries[-1]
    assert last.user_id == user.id and last.at == world.clock.now()
    assert last.detail["from"] == start.value and last.detail["to"] == expected.value
    queued = (await rows(world, OutboxMessage, visit_id))[outbox:]
    assert [m.user_id for m in queued] == [by(world, RECIPIENT_OF[action]).id] == list(done.notified)
    assert queued[0].payload["key"] == KEY_OF[action]
    assert queued[0].payload["params"]["id"] == visit_id
    if text:
        assert text in str(queued[0].payload["params"])


async def test_a_reply_without_a_known_reviewer_goes_to_the_team_and_admins(world: World) -> None:
    visit_id = await finished(world)
    await world.reviews.send_back(visit_id, by(world, "刘主管"), "补充")
    async with world.desk.sessions() as session, session.begin():
        visit = await session.get(Visit, visit_id)
        assert visit is not None
        visit.reviewed_by = None
    done = await world.reviews.reply(visit_id, by(world, "王磊"), "已补充")
    assert set(done.notified) == {by(world, "刘主管").id, by(world, "管理员").id}  # not 城西支行's 赵主管


# -- every refusal ------------------------------------------------------------------------------

REFUSALS = [
    # (review state or "open", action, who, reason, words of the refusal)
    ("approved", ReviewAction.APPROVE, "刘主管", "approved", "已审核通过"),
    ("approved", ReviewAction.SEND_BACK, "刘主管", "approved", "已审核通过"),
    ("approved", ReviewAction.REPLY, "王磊", "reply_approved", "无需回复"),
    ("pending", ReviewAction.REPLY, "王磊", "reply_pending", "等待审核"),
    ("answered", ReviewAction.REPLY, "王磊", "reply_answered", "已回复过"),
    ("returned", ReviewAction.APPROVE, "刘主管", "returned", "等待信贷员回复"),
    ("returned", ReviewAction.SEND_BACK, "刘主管", "returned", "等待信贷员回复"),
    ("open", ReviewAction.SEND_BACK, "刘主管", "unfinished", "还没有结束"),
    ("open", ReviewAction.APPROVE, "管理员", "unfinished", "还没有结束"),
    ("pending", ReviewAction.APPROVE, "王磊", "not_allowed", "只有主管或管理员"),
    ("pending", ReviewAction.SEND_BACK, "王磊", "not_allowed", "只有主管或管理员"),
    ("returned", ReviewAction.REPLY, "陈静", "not_found", "无权查看"),  # another officer's visit
    ("returned", ReviewAction.REPLY, "刘主管", "not_allowed", "只有负责"),  # a supervisor cannot /reply
    ("pending", ReviewAction.APPROVE, "赵主管", "not_found", "无权查看"),  # another team
    ("pending", ReviewAction.SEND_BACK, "刘主管", "empty", "需要填写意见"),
]


@pytest.mark.parametrize(("state", "action", "who", "reason", "words"), REFUSALS)
async def test_every_refusal_changes_nothing(
    world: World, state: str, action: ReviewAction, who: str, reason: str, words: str
) -> None:
    if state == "open":
        visit_id = (await world.desk.begin("B001", actor=Actor("officer", OFFICER), officer_id=OFFICER)).visit_id
    else:
        visit_id = await finished(world)
        await drive(world, visit_id, ReviewState(state))
    before = await visit_row(world.desk, visit_id)
    audits, outbox, said = (
        await audit_actions(world, visit_id),
        await rows(world, OutboxMessage, visit_id),
        await notes(world, visit_id),
    )
    text = "" if reason == "empty" else "说明"
    user = by(world, who)
    change = {
        ReviewAction.APPROVE: lambda: world.reviews.approve(visit_id, user),
        ReviewAction.SEND_BACK: lambda: world.reviews.send_back(visit_id, user, text),
        ReviewAction.REPLY: lambda: world.reviews.reply(visit_id, user, text),
    }[action]
    with pytest.raises(ReviewRefused) as refused:
        await change()
    assert refused.value.reason == reason
    assert words in refused.value.text and f"#{visit_id}" in refused.value.text
    after = await visit_row(world.desk, visit_id)
    assert (after.review_status, after.review_comment, after.reviewed_by, after.reviewed_at, after.revision) == (
        before.review_status, before.review_comment, before.reviewed_by, before.reviewed_at, before.revision,
    )  # fmt: skip
    assert await audit_actions(world, visit_id) == audits
    assert len(await rows(world, OutboxMessage, visit_id)) == len(outbox)
    assert await notes(world, visit_id) == said


async def test_approving_twice_writes_one_audit_row(world: World) -> None:
    visit_id = await finished(world)
    await world.reviews.approve(visit_id, by(world, "刘主管"))
    with pytest.raises(ReviewRefused):
        await world.reviews.approve(visit_id, by(world, "管理员"))
    assert await audit_actions(world, visit_id) == ["review_approved"]
    assert (await visit_row(world.desk, visit_id)).reviewed_by == by(world, "刘主管").id


async def test_reply_on_an_approved_visit_does_not_reopen_it(world: World) -> None:
    """Before: /reply on an approved visit silently put it back to pending."""
    visit_id = await finished(world)
    await world.reviews.approve(visit_id, by(world, "刘主管"))
    with pytest.raises(ReviewRefused):
        await world.reviews.reply(visit_id, by(world, "王磊"), "补充一句")
    assert (await visit_row(world.desk, visit_id)).review_status == "approved"


async def test_a_refusal_speaks_the_persons_language(world: World) -> None:
    visit_id = await finished(world)
    await world.reviews.approve(visit_id, by(world, "刘主管"))
    with pytest.raises(ReviewRefused) as refused:
        await world.reviews.approve(visit_id, by(world, "刘主管"), locale="en")
    assert "already approved" in refused.value.text


async def test_check_refuses_without_writing(world: World) -> None:
    visit_id = await finished(world)
    await world.reviews.check(visit_id, by(world, "刘主管"), ReviewAction.SEND_BACK)
    await world.reviews.approve(visit_id, by(world, "刘主管"))
    with pytest.raises(ReviewRefused):
        await world.reviews.check(visit_id, by(world, "刘主管"), ReviewAction.SEND_BACK)
    assert await audit_actions(world, visit_id) == ["review_approved"]


# -- what people are offered ---------------------------------------------------------------------


async def test_buttons_follow_the_state(world: World) -> None:
    visit_id = await finished(world)
    supervisor, officer = by(world, "刘主管"), by(world, "王磊")
    async with world.desk.sessions() as session:
        visit = await session.get(Visit, visit_id)
        assert visit is not None
        assert actions_for(supervisor, visit) == (ReviewAction.APPROVE, ReviewAction.SEND_BACK)
        assert actions_for(officer, visit) == ()
        assert actions_for(by(world, "赵主管"), visit) == ()
    await world.reviews.send_back(visit_id, supervisor, "补充")
    async with world.desk.sessions() as session:
        visit = await session.get(Visit, visit_id)
        assert visit is not None
        assert actions_for(supervisor, visit) == ()
        assert actions_for(officer, visit) == (ReviewAction.REPLY,)
    await world.reviews.reply(visit_id, officer, "好")
    await world.reviews.approve(visit_id, supervisor)
    async with world.desk.sessions() as session:
        visit = await session.get(Visit, visit_id)
        assert visit is not None
        assert actions_for(supervisor, visit) == () and actions_for(by(world, "管理员"), visit) == ()


# -- the queue and the history ------------------------------------------------------------------


async def test_the_queue_is_highest_risk_first_in_one_query(world: World) -> None:
    calm, risky, medium, approved, returned, answered = [await finished(world, c) for c in
                                                          ("B001", "B003", "B005", "B007", "B002", "B004")]  # fmt: skip
    async with world.desk.sessions() as session, session.begin():
        session.add_all(
            [
                RiskFlag(visit_id=risky, code="funds_diverted", severity="high", note=""),
                RiskFlag(visit_id=medium, code="sales_down", severity="medium", note=""),
                RiskFlag(visit_id=answered, code="repayment_pressure_high", severity="high", note=""),
                RiskFlag(visit_id=calm, code="old", severity="high", note="", cleared_at=world.clock.now()),
            ]
        )
    supervisor = by(world, "刘主管")
    await world.reviews.approve(approved, supervisor)
    await world.reviews.send_back(returned, supervisor, "补充")
    await world.reviews.send_back(answered, supervisor, "补充")
    await world.reviews.reply(answered, by(world, "陈静"), "已补充")  # B004 is 陈静's
    selects: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    engine = world.desk.sessions.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        queue = await world.reviews.queue(supervisor)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert sum("risk_flags" in s for s in selects) == 1 and len(selects) <= 2  # no query per visit (+ loans)
    assert [e.visit.id for e in queue] == [risky, answered, medium, calm]
    assert [e.worst for e in queue] == ["high", "high", "medium", None]
    assert [e.state for e in queue] == ["pending", "answered", "pending", "pending"]
    assert queue[0].visit.borrower.code == "B003"  # loaded with the visit
    assert await world.reviews.queue(by(world, "赵主管")) == []
    assert len(await world.reviews.queue(by(world, "管理员"))) == 4


async def test_the_history_comes_from_the_audit_log(world: World) -> None:
    visit_id = await finished(world)
    await world.reviews.send_back(visit_id, by(world, "刘主管"), "请补充经营流水")
    world.clock.advance(minutes=1)
    await world.reviews.reply(visit_id, by(world, "王磊"), "已补充")
    world.clock.advance(minutes=1)
    await world.reviews.approve(visit_id, by(world, "管理员"))
    events = await world.reviews.history(visit_id)
    assert [(e.action, e.name, e.text) for e in events] == [
        ("review_returned", "刘主管", "请补充经营流水"),
        ("review_replied", "王磊", "已补充"),
        ("review_approved", "管理员", ""),
    ]
    assert events[0].at < events[1].at < events[2].at


# -- the comment mode ----------------------------------------------------------------------------

CHAT = 9001


def chat(*, mode: str | None, visit_id: int | None, mode_visit_id: int | None = 5, message: int = 77) -> ChatSession:
    return ChatSession(chat_id=CHAT, visit_id=visit_id, mode=mode, mode_visit_id=mode_visit_id, mode_message_id=message)


def test_with_a_visit_open_only_a_reply_to_the_prompt_is_the_comment() -> None:
    """Before: an admin mid-visit who pressed 退回 had the borrower's next answer sent as the comment."""
    on_visit = chat(mode="commenting", visit_id=12)
    assert comment_target(on_visit, replying_to=None, explicit=False) is None
    assert comment_target(on_visit, replying_to=76, explicit=False) is None
    assert comment_target(on_visit, replying_to=77, explicit=False) == 5
    assert comment_target(on_visit, replying_to=None, explicit=True) == 5


def test_with_no_visit_open_the_next_text_is_the_comment() -> None:
    assert comment_target(chat(mode="commenting", visit_id=None), replying_to=None, explicit=False) == 5
    assert comment_target(chat(mode=None, visit_id=None, mode_visit_id=None), replying_to=None, explicit=True) is None
    assert comment_target(None, replying_to=None, explicit=False) is None


async def test_asking_for_a_comment_keeps_the_chats_visit(world: World) -> None:
    open_visit = (await world.desk.begin("B003", actor=Actor("admin", 9), officer_id=OFFICER)).visit_id
    returned = await finished(world, "B001")
    async with world.desk.sessions() as session, session.begin():
        await set_chat(session, CHAT, visit_id=open_visit)
    admin = by(world, "管理员")
    await world.reviews.ask_comment(CHAT, returned, admin, prompt_message_id=41)
    async with world.desk.sessions() as session:
        row = await session.get(ChatSession, CHAT)
        assert row is not None
        assert row.visit_id == open_visit
        assert (row.mode, row.mode_visit_id, row.mode_message_id) == ("commenting", returned, 41)
    # the borrower's answer typed into the visit is no comment
    assert await world.reviews.take_comment(CHAT, admin, "是本人", replying_to=None, explicit=False) is None
    assert (await visit_row(world.desk, returned)).review_status == "pending"
    done = await world.reviews.take_comment(CHAT, admin, "补充流水", replying_to=41, explicit=False)
    assert done is not None and done.state is ReviewState.RETURNED
    async with world.desk.sessions() as session:
        row = await session.get(ChatSession, CHAT)
        assert row is not None and row.mode is None and row.mode_visit_id is None and row.visit_id == open_visit
    assert (await visit_row(world.desk, returned)).review_comment == "补充流水"


async def test_a_comment_for_a_visit_approved_meanwhile_is_refused_and_ends_the_mode(world: World) -> None:
    visit_id = await finished(world)
    supervisor = by(world, "刘主管")
    await world.reviews.ask_comment(CHAT, visit_id, supervisor, prompt_message_id=50)
    await world.reviews.approve(visit_id, by(world, "管理员"))
    with pytest.raises(ReviewRefused) as refused:
        await world.reviews.take_comment(CHAT, supervisor, "补充", replying_to=None, explicit=False)
    assert refused.value.reason == "approved"
    async with world.desk.sessions() as session:
        assert (
            await session.scalar(select(func.count()).select_from(ChatSession).where(ChatSession.mode.is_not(None)))
            == 0
        )
    assert await world.reviews.take_comment(CHAT, supervisor, "你好", replying_to=None, explicit=False) is None


async def test_cancel_leaves_the_mode(world: World) -> None:
    visit_id = await finished(world)
    supervisor = by(world, "刘主管")
    assert await world.reviews.leave_comment(CHAT) is None
    await world.reviews.ask_comment(CHAT, visit_id, supervisor, prompt_message_id=None)
    assert await world.reviews.leave_comment(CHAT) == visit_id
    assert await world.reviews.leave_comment(CHAT) is None
    assert await world.reviews.take_comment(CHAT, supervisor, "补充", replying_to=None, explicit=False) is None
    assert (await visit_row(world.desk, visit_id)).review_status == "pending"


async def test_pressing_send_back_on_another_visit_moves_the_mode(world: World) -> None:
    first, second = await finished(world, "B001"), await finished(world, "B003")
    supervisor = by(world, "刘主管")
    await world.reviews.ask_comment(CHAT, first, supervisor, prompt_message_id=60)
    await world.reviews.ask_comment(CHAT, second, supervisor, prompt_message_id=61)
    done = await world.reviews.take_comment(CHAT, supervisor, "补充", replying_to=None, explicit=False)
    assert done is not None and done.visit_id == second
    assert (await visit_row(world.desk, first)).review_status == "pending"


# -- on PostgreSQL: row locks keep two reviewers from both changing one visit -------------------


@pytest.fixture
async def pg_world(postgres_url: str) -> AsyncIterator[World]:
    clock = FixedClock(CLOCK_AT)
    async with demo_desk(postgres_url, clock=clock) as desk:
        async with desk.sessions() as session, session.begin():
            session.add(User(name="管理员", role="admin", team=None))
        async with desk.sessions() as session:
            users = {u.name: u for u in (await session.scalars(select(User))).all()}
        yield World(desk, ReviewDesk(desk.sessions, desk.settings, clock), clock, users)


async def test_two_reviewers_at_once_change_a_visit_once(pg_world: World) -> None:
    visit_id = await finished(pg_world)
    results = await asyncio.gather(
        pg_world.reviews.approve(visit_id, by(pg_world, "刘主管")),
        pg_world.reviews.send_back(visit_id, by(pg_world, "管理员"), "补充"),
        pg_world.reviews.approve(visit_id, by(pg_world, "管理员")),
        return_exceptions=True,
    )
    accepted = [r for r in results if not isinstance(r, BaseException)]
    assert len(accepted) == 1, results
    assert all(isinstance(r, ReviewRefused) for r in results if r not in accepted)
    assert len(await audit_actions(pg_world, visit_id)) == 1
    assert len(await rows(pg_world, OutboxMessage, visit_id)) == 1
    queue = await pg_world.reviews.queue(by(pg_world, "刘主管"))
    assert [e.visit.id for e in queue] == ([visit_id] if accepted[0].state is ReviewState.ANSWERED else [])


async def test_a_review_note_is_stored_on_postgresql(pg_world: World) -> None:
    visit_id = await finished(pg_world)
    await pg_world.reviews.approve(visit_id, by(pg_world, "刘主管"))
    assert await notes(pg_world, visit_id) == ["[review approved]"]
