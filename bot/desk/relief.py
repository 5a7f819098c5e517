"""Hardship requests (展期 extension / 分期 instalments): asked for in a visit, decided by a supervisor.

A visit whose ``relief_request`` field is ``extension`` or ``instalments`` (the overdue reminder's
hardship branch) leaves a pending request (:func:`request_relief`, in the visit's own transaction)
and tells the team's supervisors and the admins through the outbox, with Approve / Decline buttons.

A supervisor of the request's team (its officer's team) or an admin decides it once, with a reason
(:meth:`ReliefDesk.decide`): the row is locked, a second decision is refused saying who decided it
and when; officers and other teams' supervisors are refused; nothing is changed on a refusal. An
accepted decision writes the request, an audit entry and two notices in one transaction: the officer
(by user id) and the borrower (their Telegram chat, when known; bot-initiated, so it waits for their
contact window).

Reason mode (``ChatSession.mode`` ``relief_approve`` / ``relief_decline``, ``mode_ref`` the request):
pressing a button on Telegram asks for the reason; with a visit open in the chat only a reply to the
prompt is the reason, with none the next text is. ``/cancel`` leaves the mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk import audit, outbox
from bot.desk.alerts import contact_hold
from bot.desk.clock import Clock, SystemClock
from bot.desk.contact import ContactWindow
from bot.desk.errors import Refused
from bot.desk.relief_text import MESSAGES
from bot.desk.timefmt import shown
from bot.settings import Settings
from dialogs.i18n import message, register
from storage import relief as store
from storage import review as chats
from storage.models import ChatSession, ReliefRequest, User, Visit
from storage.outbox import staff_to_alert

__all__ = [
    "DECIDED_KIND",
    "KINDS",
    "REVIEWERS",
    "Decision",
    "ReliefDecided",
    "ReliefDesk",
    "ReliefRefused",
    "ReliefView",
    "decision_buttons",
    "detail_of",
    "request_relief",
    "scope_of",
]

register(MESSAGES)

KINDS = ("extension", "instalments")
"""What a borrower may ask for (the ``relief_request`` options that make a request)."""
REVIEWERS = ("supervisor", "admin")
DECIDED_KIND = "relief_decided"
"""The outbox kind of the borrower's notice: bot-initiated contact, held until their window opens."""


class Decision(StrEnum):
    """What a supervisor does to a pending request."""

    APPROVE = "approve"
    DECLINE = "decline"

    @property
    def status(self) -> str:
        """The request's status after this decision."""
        return "approved" if self is Decision.APPROVE else "declined"

    @property
    def mode(self) -> str:
        """The chat mode that waits for this decision's reason."""
        return f"relief_{self.value}"


MODES = {d.mode: d for d in Decision}


class ReliefRefused(Refused):
    """A decision that is not allowed; ``text`` says why, in the person's language (nothing was changed)."""


@dataclass(frozen=True)
class ReliefView:
    """A request as people read it, and whether the viewer may decide it now."""

    id: int
    status: str
    kind: str
    terms: str
    borrower_code: str
    borrower_name: str
    officer_name: str
    visit_id: int | None
    requested_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None
    can_decide: bool


@dataclass(frozen=True)
class ReliefDecided:
    """An accepted decision: the request, its new status and whom it was queued to."""

    request_id: int
    decision: Decision
    status: str
    visit_id: int | None
    officer_told: bool
    borrower_told: bool


def scope_of(user: User) -> tuple[str | None, int | None]:
    """(team, officer id) of the requests ``user`` may see: an admin's everyone's, a supervisor's their team's,
    anyone else's their own."""
    if user.role == "admin":
        return None, None
    if user.role == "supervisor":
        return user.team or "\x00", None
    return None, user.id if user.id is not None else -1


def _may_see(user: User, team: str | None, officer_id: int | None) -> bool:
    if user.role == "admin":
        return True
    if user.role == "supervisor":
        return user.team is not None and team == user.team
    return officer_id is not None and officer_id == user.id


def _may_decide(user: User, team: str | None) -> bool:
    return user.role in REVIEWERS and _may_see(user, team, None)


def detail_of(kind: str, terms: str | None) -> str:
    """A request as one code-like line (``extension: 6个月``), as the briefing lists it."""
    return f"{kind}: {terms}" if terms else kind


def decision_buttons(request_id: int) -> list[list[outbox.Button]]:
    """The Approve / Decline buttons of a request (callback data ``rl:ok:<id>`` / ``rl:no:<id>``)."""
    return [
        [
            {"key": "relief_approve_button", "data": f"rl:ok:{request_id}"},
            {"key": "relief_decline_button", "data": f"rl:no:{request_id}"},
        ]
    ]


def _terms(terms: str | None) -> dict[str, Any] | str:
    return outbox.msg("relief_terms_of", terms=terms) if terms else ""


async def request_relief(
    session: AsyncSession, visit: Visit, kind: str, terms: str | None, *, now: datetime
) -> ReliefRequest:
    """The visit's hardship request, pending, and the notice to the team's supervisors (and admins) that it waits."""
    clean = (terms or "").strip() or None
    row = await store.add_request(
        session, borrower_id=visit.borrower_id, loan_id=visit.loan_id, visit_id=visit.id, officer_id=visit.officer_id,
        kind=kind, terms=clean, now=now,
    )  # fmt: skip
    officer = visit.officer
    params = {
        "id": row.id, "code": visit.borrower.code, "name": visit.borrower.name, "visit": visit.id,
        "officer": officer.name if officer else "-", "kind": outbox.label_of("relief_kind", kind),
        "terms": _terms(clean),
    }  # fmt: skip
    buttons = [*decision_buttons(row.id), [{"key": "relief_open_transcript", "data": f"s:tr:{visit.id}"}]]
    body = outbox.payload("relief_to_decide", params, buttons)
    for user in await staff_to_alert(session, officer.team if officer else None):
        await outbox.enqueue(
            session, "task", body, now=now, user_id=user.id, borrower_id=visit.borrower_id, visit_id=visit.id
        )
    return row


class ReliefDesk:
    """Lists and decides hardship requests, and runs the Telegram reason mode; every change is one transaction."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock | None = None
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock: Clock = clock or SystemClock()

    def _locale(self, user: User, locale: str | None) -> str:
        return locale or user.locale or self.settings.locale

    # -- reading --------------------------------------------------------------------------------
    async def visible(self, user: User, *, status: str | None = None, limit: int = 200) -> list[ReliefView]:
        """The requests ``user`` may see: pending first (longest waiting on top), then decided (latest first)."""
        team, officer_id = scope_of(user)
        async with self.sessions() as session:
            rows = await store.visible_requests(session, team=team, officer_id=officer_id, status=status, limit=limit)
        return [self._view(user, row) for row in rows]

    async def of_visit(self, user: User, visit_id: int) -> list[ReliefView]:
        """The requests made in one visit that ``user`` may see."""
        async with self.sessions() as session:
            rows = await store.requests_of_visit(session, visit_id)
        return [self._view(user, row) for row in rows if _may_see(user, row.team, self._officer_id(row.request))]

    async def check(self, user: User, request_id: int, *, locale: str | None = None) -> ReliefView:
        """The request, when ``user`` may decide it now; else :class:`ReliefRefused` (nothing changed)."""
        lang = self._locale(user, locale)
        async with self.sessions() as session:
            request = await session.get(ReliefRequest, request_id)
            officer = await store.officer_of(session, request) if request is not None else None
            refusal = await self._refusal(session, user, request, officer, request_id, "-", lang)
            if refusal is None:
                assert request is not None
                decider = await session.get(User, request.decided_by) if request.decided_by else None
                row = store.ReliefRow(request, officer.name if officer else None, officer.team if officer else None,
                                      decider.name if decider else None)  # fmt: skip
        if refusal is not None:
            raise refusal
        return self._view(user, row)

    @staticmethod
    def _officer_id(request: ReliefRequest) -> int | None:
        return request.officer_id if request.officer_id is not None else request.borrower.officer_id

    def _view(self, user: User, row: store.ReliefRow) -> ReliefView:
        r = row.request
        return ReliefView(
            id=r.id, status=r.status, kind=r.kind, terms=r.terms or "", borrower_code=r.borrower.code,
            borrower_name=r.borrower.name, officer_name=row.officer_name or "-", visit_id=r.visit_id,
            requested_at=r.requested_at, decided_at=r.decided_at, decided_by=row.decided_by_name, reason=r.reason,
            can_decide=r.status == "pending" and _may_decide(user, row.team),
        )  # fmt: skip

    # -- deciding -------------------------------------------------------------------------------
    async def decide(
        self, user: User, request_id: int, decision: Decision | str, reason: str, *, locale: str | None = None
    ) -> ReliefDecided:
        """Approve or decline a pending request with a reason; :class:`ReliefRefused` when not allowed."""
        lang = self._locale(user, locale)
        try:
            chosen = Decision(decision)
        except ValueError:
            raise ReliefRefused("bad_decision", message("relief_bad_decision", lang)) from None
        async with self.sessions() as session, session.begin():
            outcome = await self._apply(session, user, request_id, chosen, reason, lang)
        if isinstance(outcome, ReliefRefused):  # raised after the row lock is released
            raise outcome
        return outcome

    async def _refusal(
        self,
        session: AsyncSession,
        user: User,
        request: ReliefRequest | None,
        officer: User | None,
        request_id: int,
        reason: str,
        locale: str,
    ) -> ReliefRefused | None:
        """Why ``user`` may not decide the request now; None when they may."""
        team = officer.team if officer is not None else None
        officer_id = officer.id if officer is not None else None
        if request is None or not _may_see(user, team, officer_id):
            return ReliefRefused("not_found", message("relief_not_found", locale, id=request_id))
        if not _may_decide(user, team):
            return ReliefRefused("not_allowed", message("relief_not_reviewer", locale, id=request_id))
        if request.status != "pending":
            decider = await session.get(User, request.decided_by) if request.decided_by else None
            zone = user.timezone or self.settings.timezone
            return ReliefRefused(
                request.status,
                message(
                    "relief_already", locale, id=request_id, name=decider.name if decider else "-",
                    at=shown(request.decided_at, zone), status=message(f"relief_status_{request.status}", locale),
                ),
            )  # fmt: skip
        if not reason.strip():
            return ReliefRefused("empty", message("relief_reason_needed", locale, id=request_id))
        return None

    async def _apply(
        self, session: AsyncSession, user: User, request_id: int, decision: Decision, reason: str, locale: str
    ) -> ReliefDecided | ReliefRefused:
        """The decision in the caller's transaction, or the refusal (then nothing was written)."""
        request = await store.lock_request(session, request_id)
        officer = await store.officer_of(session, request) if request is not None else None
        clean = reason.strip()
        refusal = await self._refusal(session, user, request, officer, request_id, clean, locale)
        if refusal is not None:
            return refusal
        assert request is not None
        now = self.clock.now()
        request.status = decision.status
        request.decided_by = user.id
        request.decided_at = now
        request.reason = clean
        await audit.record(
            session, f"relief_{decision.status}", now=now, user=user, visit_id=request.visit_id,
            request=request.id, kind=request.kind, terms=request.terms or "", reason=clean,
        )  # fmt: skip
        officer_told = await self._tell_officer(session, request, officer, user, now)
        borrower_told = await self._tell_borrower(session, request, officer, now)
        await session.flush()
        return ReliefDecided(request.id, decision, request.status, request.visit_id, officer_told, borrower_told)

    async def _tell_officer(
        self, session: AsyncSession, request: ReliefRequest, officer: User | None, user: User, now: datetime
    ) -> bool:
        if officer is None or officer.id == user.id:
            return False
        params = {
            "id": request.id, "by": user.name, "code": request.borrower.code, "name": request.borrower.name,
            "kind": outbox.label_of("relief_kind", request.kind), "terms": _terms(request.terms),
            "reason": request.reason or "",
        }  # fmt: skip
        buttons = [[{"key": "relief_open_transcript", "data": f"s:tr:{request.visit_id}"}]] if request.visit_id else []
        body = outbox.payload(f"relief_decided_{request.status}", params, buttons)
        await outbox.enqueue(
            session, "notice", body, now=now, user_id=officer.id, borrower_id=request.borrower_id,
            visit_id=request.visit_id,
        )  # fmt: skip
        return True

    async def _tell_borrower(
        self, session: AsyncSession, request: ReliefRequest, officer: User | None, now: datetime
    ) -> bool:
        borrower = request.borrower
        if borrower.telegram_id is None:
            return False
        params = {
            "name": borrower.name, "kind": outbox.label_of("relief_kind", request.kind),
            "officer": officer.name if officer is not None else "-",
        }  # fmt: skip
        body = outbox.payload(f"relief_borrower_{request.status}", params)
        window = ContactWindow(self.settings.contact_window_start, self.settings.contact_window_end)
        hold = contact_hold(DECIDED_KIND, now, borrower.timezone, window)
        await outbox.enqueue(
            session, DECIDED_KIND, body, now=now, chat_id=borrower.telegram_id, borrower_id=borrower.id,
            visit_id=request.visit_id, not_before=hold,
        )  # fmt: skip
        return True

    # -- the reason mode (Telegram) -------------------------------------------------------------
    async def ask_reason(self, chat_id: int, request_id: int, decision: Decision, *, prompt_message_id: int) -> None:
        """Put the chat in reason mode for ``request_id`` (its visit, if any, stays); the prompt is that message."""
        async with self.sessions() as session, session.begin():
            await chats.lock_chat(session, chat_id)
            await store.set_reason_mode(
                session, chat_id, mode=decision.mode, request_id=request_id, message_id=prompt_message_id
            )

    async def take_reason(
        self, chat_id: int, user: User, text: str, *, replying_to: int | None, locale: str | None = None
    ) -> ReliefDecided | None:
        """Take a typed text as the pending reason and decide; None when the chat waits for no reason (or
        the text is no answer to the prompt while a visit is open). The mode is left either way."""
        lang = self._locale(user, locale)
        async with self.sessions() as session, session.begin():
            chat = await chats.lock_chat(session, chat_id)
            pending = _pending(chat, replying_to=replying_to)
            if pending is None:
                return None
            request_id, decision = pending
            if not text.strip():
                outcome: ReliefDecided | ReliefRefused = ReliefRefused(
                    "empty", message("relief_reason_needed", lang, id=request_id)
                )
            else:
                await store.set_reason_mode(session, chat_id, mode=None, request_id=None, message_id=None)
                outcome = await self._apply(session, user, request_id, decision, text, lang)
        if isinstance(outcome, ReliefRefused):
            raise outcome
        return outcome

    async def leave_reason(self, chat_id: int) -> int | None:
        """``/cancel`` in reason mode: leave it; returns the request that was to be decided (None: not in it)."""
        async with self.sessions() as session, session.begin():
            chat = await chats.lock_chat(session, chat_id)
            if chat is None or chat.mode not in MODES:
                return None
            request_id = chat.mode_ref
            await store.set_reason_mode(session, chat_id, mode=None, request_id=None, message_id=None)
            return int(request_id) if request_id is not None else None


def _pending(chat: ChatSession | None, *, replying_to: int | None) -> tuple[int, Decision] | None:
    """The request and decision a typed text is the reason for; None when it is no reason (it goes to the visit)."""
    if chat is None or chat.mode not in MODES or chat.mode_ref is None:
        return None
    if chat.visit_id is not None and (replying_to is None or replying_to != chat.mode_message_id):
        return None
    return int(chat.mode_ref), MODES[chat.mode]
