"""Finished visits planted straight in the database, full of personal data: for the data-care tests.

They do not go through a script (no clock, contact rules or catalog involved): masking, purge and
the audit log are about what is stored, whoever stored it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import make_engine, make_sessionmaker
from storage.models import Answer, Attachment, Borrower, RiskFlag, TranscriptMessage, User, Visit

PHONE = "+8613812345678"
"""A phone number given as an answer (kind phone) and said in the transcript."""
ID_NUMBER = "110101199003071234"
"""A Chinese ID number typed into a text answer."""


async def user(session: AsyncSession, name: str, role: str, team: str | None, telegram_id: int | None = None) -> User:
    """A staff member, flushed."""
    person = User(name=name, role=role, team=team, telegram_id=telegram_id)
    session.add(person)
    await session.flush()
    return person


@asynccontextmanager
async def transaction(url: str) -> AsyncIterator[AsyncSession]:
    """A session on the database at ``url`` in one transaction, committed on leaving; the engine is disposed after."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            yield session
    finally:
        await engine.dispose()


STAFF = {
    "admin": ("管理员", "admin", "东"),
    "supervisor": ("主管", "supervisor", "东"),
    "officer": ("信贷员甲", "officer", "东"),
    "colleague": ("信贷员乙", "officer", "东"),
    "stranger": ("信贷员丙", "officer", "西"),
    "west_supervisor": ("西主管", "supervisor", "西"),
}
"""Who stands to whom: team 东's admin, supervisor and two officers; team 西's officer and supervisor."""


async def staff(session: AsyncSession) -> dict[str, User]:
    """Every member of :data:`STAFF`, flushed, by key."""
    return {key: await user(session, name, role, team) for key, (name, role, team) in STAFF.items()}


async def borrower(session: AsyncSession, code: str, officer: User | None, phone: str = "+8613900001111") -> Borrower:
    """A borrower of ``officer``, flushed."""
    found = Borrower(code=code, name=f"借款人{code}", phone=phone, officer_id=officer.id if officer else None)
    session.add(found)
    await session.flush()
    return found


async def demo_borrower(session: AsyncSession, code: str) -> Borrower:
    """A demo borrower (``storage.demo``) by code."""
    found = await session.scalar(select(Borrower).where(Borrower.code == code))
    assert found is not None
    return found


async def visit(
    session: AsyncSession,
    borrower: Borrower,
    officer: User | None,
    *,
    finished_at: datetime | None,
    key: str = "ab/" + "0" * 64 + ".jpg",
) -> Visit:
    """A finished visit (open when ``finished_at`` is None) with answers, a flag, a photo and a transcript."""
    started = (finished_at or datetime.fromisoformat("2026-11-20T02:00:00+00:00")) - timedelta(minutes=10)
    row = Visit(
        borrower_id=borrower.id,
        officer_id=officer.id if officer else None,
        script_id="self_checkin",
        script_version=1,
        channel="phone",
        locale="zh-CN",
        state={"script_id": "self_checkin", "script_version": 1, "locale": "zh-CN", "step": "end",
               "answers": {"new_phone": PHONE, "needs": f"身份证{ID_NUMBER}"}, "outcome": "completed"},
        step=None if finished_at else "needs",
        status="finished" if finished_at else "open",
        outcome="completed" if finished_at else None,
        remark=f"客户说换号了 {PHONE}",
        started_at=started,
        finished_at=finished_at,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    at = started + timedelta(minutes=1)
    session.add_all(
        [
            Answer(visit_id=row.id, step_id="new_phone", question="请填写您的新电话号码。", raw="138 1234 5678",
                   value=PHONE, display="138 1234 5678", answered_by="borrower", answered_at=at),
            Answer(visit_id=row.id, step_id="needs", question="还有什么需要？", raw=f"身份证{ID_NUMBER}",
                   value=f"身份证{ID_NUMBER}", display=f"身份证{ID_NUMBER}", answered_by="borrower", answered_at=at),
            RiskFlag(visit_id=row.id, code="phone_changed", severity="low", step_id="new_phone",
                     note=f"新号码 {PHONE}", raised_at=at),
            Attachment(visit_id=row.id, step_id="photo", store_key=key, sha256="0" * 64, size=3, created_at=at),
            TranscriptMessage(visit_id=row.id, direction="out", text="请填写您的新电话号码。", actor="bot", at=at),
            TranscriptMessage(visit_id=row.id, direction="in", text="138 1234 5678", actor="borrower", at=at),
            TranscriptMessage(visit_id=row.id, direction="in", text=f"身份证{ID_NUMBER}", actor="borrower", at=at),
        ]
    )  # fmt: skip
    await session.flush()
    return row
