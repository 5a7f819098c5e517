"""A self-service invite the bot sends itself: one invite and one windowed outbox row to the borrower's
own chat, in their language, with a button naming the invite (never the token); nothing without Telegram."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.desk import FixedClock, VisitDesk
from bot.desk.alerts import contact_hold
from bot.desk.contact import ContactWindow
from bot.desk.invites import queue_invite
from bot.desk.outbox import render
from storage import repositories as repo
from storage.models import Invite, OutboxMessage
from tests.desks import demo_desk

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


@pytest.fixture
async def desk(database_url: str) -> AsyncIterator[VisitDesk]:
    async with demo_desk(database_url, clock=FixedClock(NOW)) as made:
        yield made


async def test_an_invite_is_queued_to_the_borrowers_chat_in_their_language(desk: VisitDesk) -> None:
    async with desk.sessions() as session, session.begin():
        borrower = await repo.borrower_by_code(session, "B001")
        assert borrower is not None
        borrower.telegram_id, borrower.locale = 555_001, "en"
        row = await queue_invite(session, borrower, script_id="self_checkin", now=NOW, created_by=None)
        assert row is not None
    async with desk.sessions() as session:
        invite = (await session.scalars(select(Invite))).one()
        queued = (await session.scalars(select(OutboxMessage))).one()
    assert (queued.kind, queued.chat_id, queued.borrower_id, queued.user_id) == ("invite", 555_001, borrower.id, None)
    assert invite.borrower_id == borrower.id and invite.script_id == "self_checkin" and invite.used_at is None
    assert invite.expires_at == NOW + timedelta(days=7)
    assert invite.token_hash not in str(queued.payload)
    shown = render(queued.payload, queued.payload["locale"], borrower.timezone)
    assert borrower.name in shown.text and "self-service check-in" in shown.text
    assert "2026-12-09" in shown.text  # valid until, in the borrower's zone
    assert shown.buttons == [[("Start my check-in", f"i:{invite.id}")]]
    assert "自助回访" in render(queued.payload, "zh-CN", borrower.timezone).text
    window = ContactWindow()  # 08:00–21:00 in the borrower's zone
    night = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)  # 00:00 in Shanghai
    assert contact_hold(queued.kind, night, borrower.timezone, window) is not None


async def test_no_invite_for_a_borrower_without_telegram(desk: VisitDesk) -> None:
    async with desk.sessions() as session, session.begin():
        borrower = await repo.borrower_by_code(session, "B002")
        assert borrower is not None and borrower.telegram_id is None
        assert await queue_invite(session, borrower, script_id="self_checkin", now=NOW, created_by=None) is None
    async with desk.sessions() as session:
        assert (await session.scalars(select(Invite))).all() == []
        assert (await session.scalars(select(OutboxMessage))).all() == []
