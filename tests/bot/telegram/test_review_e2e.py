"""The review workflow on Telegram, as supervisors and admins use it: one bot process for the module.

An admin in the middle of a phone visit sends another visit back: the borrower's next answer goes to
the visit, only a reply to the prompt is the comment; the officer gets the comment (outbox), answers
with /reply, the admin approves once — the buttons go away, a second press and a late /reply are
refused, nothing written twice. Transcript times are in the viewer's zone, zone named.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.desk import Actor, FixedClock, VisitDesk
from bot.settings import Settings
from bot.telegram.supervisor import render_transcript
from dialogs.catalog import ScriptCatalog
from dialogs.engine import Cancel
from dialogs.schema import Outcome
from storage import repositories as repo
from storage.db import make_engine, make_sessionmaker
from storage.models import AuditEntry, TranscriptMessage, Visit
from tests.bot.telegram.harness import OFFICER_ID, SUPERVISOR_ID, TOKEN, BotProcess, bot_env, prepare
from tests.botapi import BotApiDouble, FakeUser
from tests.botapi.records import BotMessage

IN_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")

ADMIN_ID = 7104
BEIJING = ZoneInfo("Asia/Shanghai")


@dataclass
class Stack:
    double: BotApiDouble
    env: dict[str, str]
    finished: int
    """王磊's visit to B003, ended (refused), waiting for review."""
    admins_visit: int
    """The admin's open phone visit to B005."""
    second: int
    """王磊's visit to B007, ended, waiting for review."""


async def seed(database_url: str) -> tuple[int, int, int]:
    """The admin, a finished visit of the officer, an open visit of the admin (started in the window)."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as session, session.begin():
            admin = await repo.upsert_user(session, telegram_id=ADMIN_ID, name="管理员", role="admin")
            officer = await repo.user_by_telegram_id(session, OFFICER_ID)
            assert officer is not None
            officer_id, admin_id = officer.id, admin.id
        today = datetime.now(BEIJING).replace(hour=10, minute=30)
        desk = VisitDesk(sessions, ScriptCatalog(), Settings(database_url=database_url), FixedClock(today))
        done = await desk.begin("B003", actor=Actor("officer", officer_id), officer_id=officer_id)
        await desk.act(done.visit_id, Cancel(Outcome.REFUSED), actor=Actor("officer", officer_id), said="/cancel")
        second = await desk.begin("B007", actor=Actor("officer", officer_id), officer_id=officer_id)
        await desk.act(second.visit_id, Cancel(Outcome.REFUSED), actor=Actor("officer", officer_id), said="/cancel")
        started = await desk.begin("B005", actor=Actor("admin", admin_id), officer_id=admin_id)
        return done.visit_id, started.visit_id, second.visit_id
    finally:
        await engine.dispose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp("review")
    async with BotApiDouble(token=TOKEN, bot_username="visit_test_bot") as double:
        env = bot_env(f"sqlite+aiosqlite:///{folder / 'bot.db'}", double.base_url)
        await asyncio.to_thread(prepare, env)
        finished, admins_visit, second = await seed(env["VISITBOT_DATABASE_URL"])
        since = len(double.requests)
        bot = BotProcess(env, folder / "bot.log")
        try:
            await double.wait_for_request("getUpdates", since=since, timeout=60)
            yield Stack(double, env, finished, admins_visit, second)
        finally:
            await asyncio.to_thread(bot.stop)


async def reply_to(user: FakeUser, prompt: BotMessage, text: str) -> int:
    """Send ``text`` as a reply to one of the bot's messages (what Telegram does under a ForceReply)."""
    state = user._state
    body = user._message(text=text, reply_to_message=state.message_json(prompt))
    return state.feed.enqueue({"message": body})


async def rows_of(env: dict[str, str], model: type, visit_id: int) -> list:  # type: ignore[type-arg]
    engine = make_engine(env["VISITBOT_DATABASE_URL"])
    try:
        async with make_sessionmaker(engine)() as session:
            query = select(model).where(model.visit_id == visit_id).order_by(model.id)  # type: ignore[attr-defined]
            return list((await session.scalars(query)).all())
    finally:
        await engine.dispose()


async def review_status(env: dict[str, str], visit_id: int) -> str | None:
    engine = make_engine(env["VISITBOT_DATABASE_URL"])
    try:
        async with make_sessionmaker(engine)() as session:
            return await session.scalar(select(Visit.review_status).where(Visit.id == visit_id))
    finally:
        await engine.dispose()


def labels(message: BotMessage) -> list[str]:
    return [text for row in message.buttons for text, _ in row]


@IN_MODULE_LOOP
async def test_an_admin_mid_visit_sends_back_approves_once(stack: Stack) -> None:
    admin = stack.double.user(ADMIN_ID, "管理员")
    officer = stack.double.user(OFFICER_ID, "王磊")
    visit_id = stack.finished

    # the admin is on their phone visit: its question is in the chat
    await admin.send("/resume")
    picker = await admin.wait_for_message(lambda m: any(d == f"r:{stack.admins_visit}" for row in m.buttons
                                                         for _, d in row), timeout=30)  # fmt: skip
    await admin.press(f"r:{stack.admins_visit}", picker)
    await admin.wait_for_message("请问您是")

    # /transcript: times in the admin's zone (the deployment's), named; review buttons
    await admin.send(f"/transcript {visit_id}")
    shown = await admin.wait_for_message(f"#{visit_id} B003")
    first = (await rows_of(stack.env, TranscriptMessage, visit_id))[0]
    local, utc = first.at.astimezone(BEIJING), first.at.astimezone(UTC)
    assert "Asia/Shanghai" in (shown.text or "")
    assert local.strftime("%H:%M:%S") in (shown.text or "") and utc.strftime("%H:%M:%S") not in (shown.text or "")
    assert labels(shown) == ["✅ 通过", "↩ 退回"]

    # 退回 while on the visit: the prompt asks for a reply; the borrower's answer typed next goes to the visit
    await admin.press("↩ 退回", shown)
    prompt = await admin.wait_for_message("请发送退回")
    assert "回复这条消息" in (prompt.text or "")
    await admin.send("是本人")
    await admin.wait_for_message("还记得")  # the visit moved on
    assert await review_status(stack.env, visit_id) == "pending"
    assert not any("已退回" in (m.text or "") for m in admin.messages)

    # the reply to the prompt is the comment; the officer gets it through the outbox
    await reply_to(admin, prompt, "请补充客户的经营流水情况")
    await admin.wait_for_message("已退回")
    returned = await officer.wait_for_message("退回了回访", timeout=15)
    assert "请补充客户的经营流水情况" in (returned.text or "") and f"/reply {visit_id}" in (returned.text or "")
    assert await review_status(stack.env, visit_id) == "returned"

    await officer.send(f"/reply {visit_id} 已补充，客户月流水约20万")
    await officer.wait_for_message("已发送给主管")
    answered = await admin.wait_for_message("回复了回访", timeout=15)
    assert "月流水约20万" in (answered.text or "")

    # the transcript shows the review history; approving removes the buttons; once only
    await admin.send(f"/transcript {visit_id}")
    again = await admin.wait_for_message(f"#{visit_id} B003")
    assert "审核记录" in (again.text or "") and "退回：请补充客户的经营流水情况" in (again.text or "")
    assert "回复：已补充" in (again.text or "")
    await admin.press("✅ 通过", again)
    await admin.wait_for_message("已审核通过。")
    await admin.wait_for_message(lambda m: m.message_id == again.message_id and not m.buttons)
    await admin.press_data(f"s:ok:{visit_id}", again.message_id)  # a second press (a stale or forged button)
    refused = await admin.wait_for_message("不能再次审核")
    assert "⚠️" in (refused.text or "")
    approvals = [e for e in await rows_of(stack.env, AuditEntry, visit_id) if e.action == "review_approved"]
    notes = [m for m in await rows_of(stack.env, TranscriptMessage, visit_id) if "[review approved]" in m.text]
    assert len(approvals) == 1 and len(notes) == 1

    await admin.send(f"/transcript {visit_id}")
    final = await admin.wait_for_message(f"#{visit_id} B003")
    assert final.buttons == [] or not labels(final)

    # a late /reply on the approved visit does not reopen it
    await officer.send(f"/reply {visit_id} 再补充一句")
    await officer.wait_for_message("无需回复")
    assert await review_status(stack.env, visit_id) == "approved"


@IN_MODULE_LOOP
async def test_cancel_leaves_the_comment_mode(stack: Stack) -> None:
    supervisor = stack.double.user(SUPERVISOR_ID, "刘主管")
    visit_id = stack.second
    await supervisor.send("/review")
    queue = await supervisor.wait_for_message("待审核")
    assert f"s:tr:{visit_id}" in [data for row in queue.buttons for _, data in row]
    await supervisor.press(f"s:tr:{visit_id}", queue)
    shown = await supervisor.wait_for_message(f"#{visit_id} B007")
    await supervisor.press("↩ 退回", shown)
    await supervisor.wait_for_message("直接输入文字")  # no visit open in this chat: the next text is the comment
    await supervisor.send("/cancel")
    await supervisor.wait_for_message("已取消退回")
    await supervisor.send("/comment 来晚了")
    await supervisor.wait_for_message("没有待填写的退回意见")
    assert await review_status(stack.env, visit_id) == "pending"
    assert not [e for e in await rows_of(stack.env, AuditEntry, visit_id) if e.action.startswith("review_")]


def test_transcript_times_and_labels_are_the_viewers() -> None:
    """Before: /transcript showed 18:48 (UTC) for a call at 02:48 Beijing time, and flag codes."""
    at = "2026-11-30T18:48:10+00:00"
    record = {
        "id": 7, "borrower": {"code": "B001", "name": "张健"}, "officer": {"name": "王磊"},
        "script": {"id": "officer_phone_visit", "version": 2}, "outcome": "completed", "status": "finished",
        "started_at": at, "review_status": "pending",
        "flags": [{"code": "funds_diverted", "severity": "high", "note": ""}],
        "answers": [{"question": "资金用在哪儿了？", "display": "买房", "raw": "买房", "answered_by": "officer"}],
        "transcript": [{"at": at, "direction": "out", "text": "您好"}],
    }  # fmt: skip
    text = render_transcript(record, "zh-CN", zone="Asia/Shanghai")
    assert "02:48:10 » 您好" in text and "18:48" not in text
    assert "2026-12-01 02:48" in text and "Asia/Shanghai" in text
    assert "贷款资金挪用" in text and "funds_diverted" not in text and "(高)" in text
    assert "信贷员代答" in text and "尚未审核" in text
    english = render_transcript(record, "en", zone="Europe/London")
    assert "18:48:10" in english and "Europe/London" in english and "loan money diverted" in english
