"""The review workflow and the supervisor's comment-typing mode: two explicit state machines.

Review (``Visit.review_status``): a finished visit is ``pending``; a supervisor or admin who may see
it approves it (``approved``, final) or sends it back with a comment (``returned``); the visit's
officer answers with ``/reply`` (``answered``), after which it is approved or returned again::

    pending ──approve──▶ approved        returned ──reply──▶ answered
    pending ──send_back─▶ returned       answered ──approve / send_back──▶ approved / returned

Anything else is refused with a reason in the person's language, nothing changed, nothing audited.
Every accepted change writes the visit's review fields, a transcript note, an audit entry and the
notice to the other party (an outbox row) in one transaction.

Comment mode (``ChatSession.mode``): pressing 退回 puts a chat in ``commenting`` for one visit and
keeps the visit the chat is on. While a visit is open in the chat only a reply to the prompt (or
``/comment <text>``) is the comment; with none open the next text is. ``/cancel`` leaves the mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from transitions import Machine, MachineError

from bot.desk import audit, outbox
from bot.desk.access import can_see, team_filter
from bot.desk.clock import Clock, SystemClock
from bot.desk.errors import Refused
from bot.desk.review_text import MESSAGES
from bot.settings import Settings
from dialogs.i18n import message, register
from storage import repositories as repo
from storage import review as store
from storage.models import ChatSession, User, Visit

__all__ = [
    "COMMENT_MACHINE",
    "INITIAL_REVIEW",
    "REVIEW_MACHINE",
    "CommentMode",
    "QueueEntry",
    "ReviewAction",
    "ReviewDesk",
    "ReviewEvent",
    "ReviewRefused",
    "ReviewState",
    "Reviewed",
    "actions_for",
    "comment_target",
    "next_state",
    "review_state",
]

register(MESSAGES)


class ReviewState(StrEnum):
    """Where a finished visit stands in review."""

    PENDING = "pending"
    APPROVED = "approved"
    RETURNED = "returned"
    ANSWERED = "answered"


class ReviewAction(StrEnum):
    """What people do to a review (the machine's triggers)."""

    APPROVE = "approve"
    SEND_BACK = "send_back"
    REPLY = "reply"


INITIAL_REVIEW = ReviewState.PENDING
"""The review state a visit gets when it finishes."""

REVIEW_MACHINE: dict[str, Any] = {
    "states": [s.value for s in ReviewState],
    "initial": INITIAL_REVIEW.value,
    "transitions": [
        {"trigger": "approve", "source": ["pending", "answered"], "dest": "approved"},
        {"trigger": "send_back", "source": ["pending", "answered"], "dest": "returned"},
        {"trigger": "reply", "source": "returned", "dest": "answered"},
    ],
}
"""Every review transition, as plain data (the only place they are written)."""

REVIEWERS = ("supervisor", "admin")
AUDIT_ACTION = {
    ReviewAction.APPROVE: "review_approved",
    ReviewAction.SEND_BACK: "review_returned",
    ReviewAction.REPLY: "review_replied",
}


class CommentMode(StrEnum):
    """A staff chat's mode besides its visit (stored in ``ChatSession.mode``; ``idle`` is NULL)."""

    IDLE = "idle"
    COMMENTING = "commenting"


COMMENT_MACHINE: dict[str, Any] = {
    "states": [m.value for m in CommentMode],
    "initial": CommentMode.IDLE.value,
    "transitions": [
        {"trigger": "ask", "source": ["idle", "commenting"], "dest": "commenting"},
        {"trigger": "take", "source": "commenting", "dest": "idle"},
        {"trigger": "leave", "source": "commenting", "dest": "idle"},
    ],
}
"""The comment-typing mode: asked by 退回, left when the comment is taken or on /cancel."""


class _Case:
    """What a machine moves: a bare ``state`` (the machines are built once, with no model of their own)."""

    def __init__(self, state: str) -> None:
        self.state = state


def _machine(config: dict[str, Any]) -> Machine:
    return Machine(model=None, auto_transitions=False, **config)


_REVIEW = _machine(REVIEW_MACHINE)
_COMMENT = _machine(COMMENT_MACHINE)


def _fire(machine: Machine, state: str, trigger: str) -> str | None:
    """The state ``trigger`` leads to from ``state``; None when the machine has no such transition."""
    case = _Case(state)
    try:
        machine.events[trigger].trigger(case)
    except MachineError:
        return None
    return case.state


def next_state(state: ReviewState, action: ReviewAction) -> ReviewState | None:
    """The review state ``action`` leads to from ``state`` (None: not allowed from there)."""
    dest = _fire(_REVIEW, state.value, action.value)
    return ReviewState(dest) if dest is not None else None


def review_state(visit: Visit) -> ReviewState | None:
    """A visit's review state; None while it is unfinished (a finished visit stored before reviews is pending)."""
    if visit.status != "finished":
        return None
    return ReviewState(visit.review_status) if visit.review_status else INITIAL_REVIEW


def _who_may(user: User, visit: Visit, action: ReviewAction) -> bool:
    if action is ReviewAction.REPLY:
        return visit.officer_id == user.id
    return user.role in REVIEWERS


def actions_for(user: User, visit: Visit) -> tuple[ReviewAction, ...]:
    """What ``user`` may do to the visit's review now (the buttons to show); none on an approved visit."""
    state = review_state(visit)
    if state is None or not can_see(user, visit):
        return ()
    return tuple(a for a in ReviewAction if _who_may(user, visit, a) and next_state(state, a) is not None)


def comment_target(chat: ChatSession | None, *, replying_to: int | None, explicit: bool) -> int | None:
    """The visit a typed text is the review comment for; None when it is no comment (it goes to the visit).

    ``explicit``: sent as ``/comment <text>``. With a visit open in the chat only a reply to the
    prompt (``replying_to`` its message) or ``/comment`` counts; with none open, any text does.
    """
    if chat is None or chat.mode != CommentMode.COMMENTING.value or chat.mode_visit_id is None:
        return None
    if explicit or chat.visit_id is None:
        return chat.mode_visit_id
    if replying_to is not None and replying_to == chat.mode_message_id:
        return chat.mode_visit_id
    return None


class ReviewRefused(Refused):
    """A review change that is not allowed; ``text`` says why, in the person's language."""


@dataclass(frozen=True)
class Reviewed:
    """An accepted review change."""

    visit_id: int
    action: ReviewAction
    before: ReviewState
    state: ReviewState
    notified: tuple[int, ...]
    """Staff (user ids) the change was queued to in the outbox."""


@dataclass(frozen=True)
class QueueEntry:
    """A visit waiting for review, with its worst live risk."""

    visit: Visit
    state: ReviewState
    worst: str | None
    """The worst live flag's severity (``high``, ``medium``, ``low``), None without flags."""
    high_flags: int


@dataclass(frozen=True)
class ReviewEvent:
    """One change in a visit's review history (from the audit log)."""

    at: datetime
    action: str
    user_id: int | None
    name: str
    text: str


class ReviewDesk:
    """Reviews visits and runs the comment mode; every change is one transaction."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock | None = None
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock: Clock = clock or SystemClock()

    # -- the review workflow ------------------------------------------------------------------
    async def approve(self, visit_id: int, user: User, *, locale: str | None = None) -> Reviewed:
        """Approve a finished visit waiting for review (pending or answered)."""
        return await self._change(visit_id, user, ReviewAction.APPROVE, None, locale)

    async def send_back(self, visit_id: int, user: User, comment: str, *, locale: str | None = None) -> Reviewed:
        """Return a visit to its officer with a comment."""
        return await self._change(visit_id, user, ReviewAction.SEND_BACK, comment, locale)

    async def reply(self, visit_id: int, user: User, text: str, *, locale: str | None = None) -> Reviewed:
        """The visit's officer answers the comment of a returned visit."""
        return await self._change(visit_id, user, ReviewAction.REPLY, text, locale)

    async def check(self, visit_id: int, user: User, action: ReviewAction, *, locale: str | None = None) -> None:
        """Raise :class:`ReviewRefused` unless ``user`` may do ``action`` now; changes nothing."""
        async with self.sessions() as session:
            visit = await repo.load_visit(session, visit_id)
            refusal = self._refusal(visit, visit_id, user, action, "-", self._locale(user, locale))
        if refusal is not None:
            raise refusal

    async def _change(
        self, visit_id: int, user: User, action: ReviewAction, text: str | None, locale: str | None
    ) -> Reviewed:
        async with self.sessions() as session, session.begin():
            outcome = await self._apply(session, visit_id, user, action, text, self._locale(user, locale))
        if isinstance(outcome, ReviewRefused):  # raised after the row lock is released
            raise outcome
        return outcome

    async def _apply(
        self, session: AsyncSession, visit_id: int, user: User, action: ReviewAction, text: str | None, locale: str
    ) -> Reviewed | ReviewRefused:
        """The change in the caller's transaction, or the refusal (then nothing was written)."""
        visit = await repo.load_visit(session, visit_id, for_update=True)
        clean = (text or "").strip()
        refusal = self._refusal(visit, visit_id, user, action, clean, locale)
        if refusal is not None:
            return refusal
        assert visit is not None
        before = review_state(visit)
        assert before is not None
        after = next_state(before, action)
        assert after is not None
        now = self.clock.now()
        visit.review_status = after.value
        if action is not ReviewAction.REPLY:
            visit.review_comment = clean or None
            visit.reviewed_by = user.id
            visit.reviewed_at = now
        note = f"[review {after.value}] {clean}".strip()
        await repo.add_transcript(session, visit.id, "note", note, actor=user.role, at=now)
        detail: dict[str, Any] = {"from": before.value, "to": after.value}
        if clean:
            detail["text"] = clean
        await audit.record(session, AUDIT_ACTION[action], now=now, user=user, visit_id=visit.id, **detail)
        notified = await self._notify(session, visit, user, action, clean, now)
        return Reviewed(visit.id, action, before, after, notified)

    def _refusal(
        self, visit: Visit | None, visit_id: int, user: User, action: ReviewAction, text: str, locale: str
    ) -> ReviewRefused | None:
        """Why ``user`` may not do ``action`` to the visit now; None when they may."""

        def refused(reason: str, key: str) -> ReviewRefused:
            return ReviewRefused(reason, message(key, locale, id=visit_id))

        if visit is None or not can_see(user, visit):
            return refused("not_found", "review_no_such_visit")
        if not _who_may(user, visit, action):
            return refused("not_allowed", "review_not_own" if action is ReviewAction.REPLY else "review_not_reviewer")
        state = review_state(visit)
        if state is None:
            return refused("unfinished", "review_unfinished")
        if next_state(state, action) is None:
            if action is ReviewAction.REPLY:
                return refused(f"reply_{state.value}", f"review_refused_reply_{state.value}")
            return refused(state.value, f"review_refused_{state.value}")
        if not text and action is not ReviewAction.APPROVE:
            return refused("empty", "review_comment_needed")
        return None

    async def _notify(
        self, session: AsyncSession, visit: Visit, user: User, action: ReviewAction, text: str, now: datetime
    ) -> tuple[int, ...]:
        """Queue the notice to the other party: the officer (approved, returned) or the reviewer (replied)."""
        params: dict[str, Any] = {
            "name": user.name, "id": visit.id, "code": visit.borrower.code, "borrower": visit.borrower.name,
        }  # fmt: skip
        buttons: list[list[outbox.Button]] = []
        if action is ReviewAction.REPLY:
            key, params["text"] = "review_officer_replied", text
            reviewer = await session.get(User, visit.reviewed_by) if visit.reviewed_by else None
            targets = (
                [reviewer] if reviewer is not None and reviewer.active else await store.reviewers_of(session, visit)
            )
            buttons = [[{"key": "review_open_transcript", "data": f"s:tr:{visit.id}"}]]
        else:
            key = "review_returned_to_officer" if action is ReviewAction.SEND_BACK else "review_approved_to_officer"
            params["comment"] = text
            targets = [visit.officer] if visit.officer is not None else []
        notified = []
        for target in targets:
            if target.id == user.id:
                continue
            body = outbox.payload(key, params, buttons)
            await outbox.enqueue(session, f"review_{action.value}", body, now=now, user_id=target.id, visit_id=visit.id)
            notified.append(target.id)
        return tuple(notified)

    def _locale(self, user: User, locale: str | None) -> str:
        return locale or user.locale or self.settings.locale

    # -- the comment mode -----------------------------------------------------------------------
    async def ask_comment(self, chat_id: int, visit_id: int, user: User, *, prompt_message_id: int | None) -> None:
        """Put the chat in comment mode for ``visit_id`` (its visit, if any, stays); the prompt is that message."""
        async with self.sessions() as session, session.begin():
            chat = await store.lock_chat(session, chat_id)
            mode = _fire(_COMMENT, _mode_of(chat), "ask")
            assert mode is not None
            await store.set_chat_mode(session, chat_id, mode=mode, visit_id=visit_id, message_id=prompt_message_id)

    async def take_comment(
        self, chat_id: int, user: User, text: str, *, replying_to: int | None, explicit: bool, locale: str | None = None
    ) -> Reviewed | None:
        """Take a typed text as the pending comment, sending the visit back; None when it is no comment.

        The mode is left whether the return is accepted or refused (the refusal is raised after).
        """
        lang = self._locale(user, locale)
        async with self.sessions() as session, session.begin():
            chat = await store.lock_chat(session, chat_id)
            visit_id = comment_target(chat, replying_to=replying_to, explicit=explicit)
            if visit_id is None:
                return None
            if not text.strip():
                outcome: Reviewed | ReviewRefused = ReviewRefused(
                    "empty", message("review_comment_needed", lang, id=visit_id)
                )
            else:
                mode = _fire(_COMMENT, _mode_of(chat), "take")
                await store.set_chat_mode(session, chat_id, mode=mode or "idle", visit_id=None, message_id=None)
                outcome = await self._apply(session, visit_id, user, ReviewAction.SEND_BACK, text, lang)
        if isinstance(outcome, ReviewRefused):
            raise outcome
        return outcome

    async def leave_comment(self, chat_id: int) -> int | None:
        """``/cancel`` in comment mode: leave it; returns the visit that was to be commented (None: not in it)."""
        async with self.sessions() as session, session.begin():
            chat = await store.lock_chat(session, chat_id)
            mode = _fire(_COMMENT, _mode_of(chat), "leave")
            if mode is None or chat is None:
                return None
            visit_id = chat.mode_visit_id
            await store.set_chat_mode(session, chat_id, mode=mode, visit_id=None, message_id=None)
            return visit_id

    # -- reading --------------------------------------------------------------------------------
    async def queue(self, user: User, *, limit: int = 20) -> list[QueueEntry]:
        """Finished visits waiting for review (pending or answered) that ``user`` may see, highest risk first."""
        flt = team_filter(user)
        async with self.sessions() as session:
            rows = await store.review_queue(session, team=flt.team, officer_id=flt.officer_id, limit=limit)
        entries = []
        for visit, worst, high in rows:
            state = review_state(visit) or INITIAL_REVIEW
            entries.append(QueueEntry(visit, state, worst, high))
        return entries

    async def history(self, visit_id: int) -> list[ReviewEvent]:
        """The visit's review changes, oldest first (from the audit log)."""
        async with self.sessions() as session:
            return await history(session, visit_id)


async def history(session: AsyncSession, visit_id: int) -> list[ReviewEvent]:
    """The visit's review changes, oldest first, in the caller's session."""
    rows = await store.review_history(session, visit_id, list(AUDIT_ACTION.values()))
    return [
        ReviewEvent(entry.at, entry.action, entry.user_id, name or entry.actor, str(entry.detail.get("text", "")))
        for entry, name in rows
    ]


def _mode_of(chat: ChatSession | None) -> str:
    """The chat's comment mode; another mode (a relief request's reason, bot.desk.relief) is idle here."""
    modes = {m.value for m in CommentMode}
    return chat.mode if chat is not None and chat.mode in modes else CommentMode.IDLE.value
