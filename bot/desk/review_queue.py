"""The review queue with filters and pages, and a visit as a reviewer's page shows it (the web desk).

Telegram's ``/review`` lists the first visits waiting (:meth:`bot.desk.review.ReviewDesk.queue`);
a morning of review needs filters (days, officer, script, outcome, risk, review state) and pages
that stay stable while others review beside you: keyset pages, highest live risk first. What a
person may see is :func:`bot.desk.access.visible_filter`'s; the transcript comes through
:func:`bot.desk.records.view_record` (masked by role, the view audited), the review buttons from
:func:`bot.desk.review.actions_for` and the history from the audit log — decided once, here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk.access import can_see, visible_filter
from bot.desk.flag_review import ReviewedFlag, flags_of
from bot.desk.promises import PromiseView, visit_promises
from bot.desk.records import view_record
from bot.desk.review import INITIAL_REVIEW, QueueEntry, ReviewAction, ReviewEvent, actions_for, history, review_state
from storage import flags as flag_store
from storage import repositories as repo
from storage import web as store
from storage.models import Attachment, User
from storage.web import REVIEW_VIEWS, QueueCursor

__all__ = [
    "REVIEW_VIEWS",
    "QueueCursor",
    "QueuePage",
    "VisitPage",
    "queue_page",
    "visible_officers",
    "visit_file",
    "visit_page",
]


@dataclass(frozen=True)
class QueuePage:
    """One page of the review queue and the cursor of the next (None on the last page)."""

    entries: list[QueueEntry]
    next: QueueCursor | None
    quality: dict[int, list[str]] = field(default_factory=dict)
    """Each visit's live quality flags (形式化) nobody explained yet: their codes, by visit id."""


@dataclass(frozen=True)
class VisitPage:
    """What a reviewer's page of one visit shows."""

    record: dict[str, Any]
    """:func:`bot.desk.records.view_record`'s record (masked for this viewer)."""
    actions: tuple[ReviewAction, ...]
    events: list[ReviewEvent]
    locations: list[dict[str, Any]]
    """Locations given as answers: ``step``, ``question``, ``lat``, ``lon``."""
    address: str | None
    """The borrower's address on file."""
    flags: list[ReviewedFlag] = field(default_factory=list)
    """Its live flags with their evidence, explained or not (:mod:`bot.desk.flag_review`)."""
    promises: list[PromiseView] = field(default_factory=list)
    """The promises to pay the visit recorded, kept, broken or pending (:mod:`bot.desk.promises`)."""


async def queue_page(
    sessions: async_sessionmaker[AsyncSession],
    user: User,
    flt: repo.VisitFilter,
    *,
    view: str = "pending",
    script_id: str | None = None,
    after: QueueCursor | None = None,
    limit: int = 50,
    quality: bool = False,
) -> QueuePage:
    """Finished visits ``user`` may see matching ``flt`` in the review ``view``, highest risk first
    (``quality``: only those with a quality flag nobody explained yet)."""
    if view not in REVIEW_VIEWS:
        raise ValueError(f"unknown review view {view!r}")
    narrowed = visible_filter(user, flt)
    async with sessions() as session:
        rows, cursor = await store.review_page(
            session,
            narrowed,
            view=view,
            script_id=script_id,
            after=after,
            limit=limit,
            open_kind="quality" if quality else None,
        )
        badges = await flag_store.quality_codes(session, [visit.id for visit, _, _ in rows])
    entries = [QueueEntry(visit, review_state(visit) or INITIAL_REVIEW, worst, high) for visit, worst, high in rows]
    return QueuePage(entries, cursor, badges)


def _locations(record: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for answer in record.get("answers", []):
        value = answer.get("value")
        if isinstance(value, dict) and {"lat", "lon"} <= value.keys():
            found.append({"step": answer["step"], "question": answer["question"], **value})
    return found


async def visit_page(
    sessions: async_sessionmaker[AsyncSession], user: User, visit_id: int, *, now: datetime
) -> VisitPage | None:
    """The visit as ``user`` may see it (None when they may not), the view audited."""
    async with sessions() as session:
        record = await view_record(session, user, visit_id, now=now)
        if record is None:
            return None
        visit = await repo.load_visit(session, visit_id)
        assert visit is not None
        actions = actions_for(user, visit)
        events = await history(session, visit_id)
        address = visit.borrower.address
        promised = await visit_promises(session, visit_id)
    flags = await flags_of(sessions, user, visit_id=visit_id)
    return VisitPage(record, actions, events, _locations(record), address, flags, promises=promised)


async def visit_file(
    sessions: async_sessionmaker[AsyncSession], user: User, visit_id: int, attachment_id: int
) -> Attachment | None:
    """A file kept with a visit ``user`` may see; None when the visit or the file is not theirs to see."""
    async with sessions() as session:
        visit = await repo.load_visit(session, visit_id)
        if visit is None or not can_see(user, visit):
            return None
        return await store.visit_attachment(session, visit_id, attachment_id)


async def visible_officers(sessions: async_sessionmaker[AsyncSession], user: User) -> list[User]:
    """The officers whose visits ``user`` may see (a queue's officer filter): all, their team's, or themself."""
    async with sessions() as session:
        staff = [u for u in await repo.list_users(session) if u.active and u.role == "officer"]
    if user.role == "admin":
        return staff
    if user.role == "supervisor":
        return [u for u in staff if user.team is not None and u.team == user.team]
    return [u for u in staff if u.id == user.id]
