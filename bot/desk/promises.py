"""Promises to pay (承诺还款, seed 004): recorded in the overdue call, followed up, judged kept or broken.

- **Recorded**: an overdue reminder that ends with a promised date and amount (the script's
  ``sets: promise_date`` / ``sets: promise_amount``) keeps a :class:`~storage.models.Promise`
  (:func:`record_promise`, called by ``VisitDesk._finish`` in the visit's transaction).
- **Followed up** on the promised date, inside the borrower's contact window (their own zone), once
  (``followed_up_at``, claimed by a conditional update, so two bot processes follow it up once): a
  borrower on Telegram gets the self-service check-in ``promise_checkin`` (an invite through the
  outbox); anyone else's officer gets a task (kind ``promise``) and a notice. The borrower's "paid"
  sets ``claimed_paid_at`` only: unverified until a repayment confirms it.
- **Decided** from the imported repayments (:func:`decide_promises`): *kept* when the loan's
  instalments paid from the day the promise was made to the promised date plus
  ``VISITBOT_PROMISE_GRACE_DAYS`` reach the amount, or the loan's overdue amount is cleared by a
  payment in that time; *broken* when that day has passed without it. A broken promise raises the
  high flag ``broken_promise`` (kind ``promise``) on the visit that recorded it, with its evidence;
  the visit's review rank is recomputed and the supervisors are alerted through the outbox.

:func:`check_promises` runs both (decisions first: a promise kept early needs no follow-up). It runs
after ``visitbot import repayments``, by ``visitbot promises check`` and periodically in the bot.
A broken promise also puts its borrower in the next month's plan (reason ``broken_promise``,
:mod:`bot.desk.planning`) until a visit reaches them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk.alerts import queue_effects
from bot.desk.clock import Clock
from bot.desk.contact import ContactWindow
from bot.desk.invites import invite_data
from bot.desk.judging import Judged, refresh_rank, sync_flags
from bot.desk.outbox import enqueue, payload, when
from dialogs.i18n import message, register
from dialogs.parsing import grouped, money_text
from dialogs.schema import Severity
from storage import promises as store
from storage import repositories as repo
from storage.models import Borrower, Promise, Visit
from storage.self_service import add_task, create_invite, invite_of_token

if TYPE_CHECKING:
    from bot.settings import Settings

__all__ = [
    "BROKEN_FLAG",
    "CHECKIN_SCRIPT",
    "STATUSES",
    "Checked",
    "PromiseView",
    "check_promises",
    "decide_promises",
    "describe",
    "follow_up_promises",
    "promise_views",
    "record_promise",
    "visit_promises",
]

BROKEN_FLAG = "broken_promise"
"""The flag a broken promise raises on its visit (kind ``promise``, severity high)."""
CHECKIN_SCRIPT = "promise_checkin"
"""The borrower's self-service check-in on the promised day."""
CHECKIN_VALID = timedelta(days=3)
"""How long the check-in's invite stays valid."""
TASK_KIND = "promise"
STATUSES = ("pending", "kept", "broken")

register(
    {
        "promise_checkin_invite": {
            "zh-CN": "{name}，您好！您约定在 {date} 前还款 {amount}。"
            "请点击下方按钮告诉我们还款情况（{until} 前有效）。",
            "en": "Hello {name}! You promised to repay {amount} by {date}. Tap the button below to tell us "
            "how it went (valid until {until}).",
        },
        "promise_checkin_start": {"zh-CN": "告诉我们还款情况", "en": "Tell us"},
        "promise_task_notice": {
            "zh-CN": "📅 客户 {code} {name} 今天（{date}）承诺还款 {amount}（回访 #{visit}）。"
            "请核实是否到账，必要时致电。",
            "en": "📅 Borrower {code} {name} promised to repay {amount} today ({date}) (visit #{visit}). "
            "Please check it arrived; call if need be.",
        },
        "promise_broken_note": {
            "zh-CN": "承诺 {date} 前还款 {amount}，宽限期满仍未还清（已还 {paid}）",
            "en": "Promised {amount} by {date}; not paid by the end of the grace days ({paid} paid)",
        },
        "promise_evidence_promise": {
            "zh-CN": "承诺 #{promise}：{date} 前还款 {amount}（回访 #{visit} 中约定）",
            "en": "Promise #{promise}: {amount} by {date} (made in visit #{visit})",
        },
        "promise_evidence_paid": {
            "zh-CN": "{since} 至 {until}（含宽限 {grace} 天）还款记录显示已还 {paid}",
            "en": "Repayments from {since} to {until} ({grace} grace day(s) included) show {paid} paid",
        },
        "promise_evidence_claim": {
            "zh-CN": "借款人曾自称已还款（{at}），还款记录未能证实",
            "en": "The borrower said they had paid ({at}); the repayments do not show it",
        },
        "promise_status_pending": {"zh-CN": "待定", "en": "pending"},
        "promise_status_kept": {"zh-CN": "已履行", "en": "kept"},
        "promise_status_broken": {"zh-CN": "未履行", "en": "broken"},
        "promise_claimed_unverified": {
            "zh-CN": "借款人称已还款（未核实）",
            "en": "borrower says paid (unverified)",
        },
        "promise_claimed_confirmed": {
            "zh-CN": "借款人称已还款，还款记录已证实",
            "en": "borrower said paid; the repayments confirm it",
        },
        "promise_followed_up": {"zh-CN": "已于 {at} 跟进", "en": "followed up {at}"},
        "promise_section": {"zh-CN": "还款承诺", "en": "Promises to pay"},
        "promise_line": {"zh-CN": "承诺 {date} 前还款 {amount}", "en": "{amount} promised by {date}"},
        "promise_paid_line": {"zh-CN": "期间已还 {paid}", "en": "{paid} paid in time"},
    }
)


# -- recorded in the overdue call --------------------------------------------------------------------
def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value is not None else None
    except ValueError:
        return None


def _amount(value: Any) -> Decimal | None:
    try:
        amount = Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None
    return amount if amount is not None and amount > 0 else None


async def record_promise(session: AsyncSession, visit: Visit, fields: dict[str, Any], *, now: datetime) -> None:
    """On a visit's end: keep the promise it recorded; a check-in's answer marks the promise it was about."""
    promised_on, amount = _day(fields.get("promise_date")), _amount(fields.get("promise_amount"))
    if promised_on is not None and amount is not None:
        await store.add_promise(
            session, borrower_id=visit.borrower_id, loan_id=visit.loan_id, visit_id=visit.id,
            officer_id=visit.officer_id, promised_on=promised_on, amount=amount, made_at=now,
        )  # fmt: skip
    answer = fields.get("promise_paid")
    if answer is None:
        return
    promise = await store.claimable(session, visit.borrower_id)
    if promise is None:
        return
    promise.claim_visit_id = visit.id
    if answer == "paid":
        promise.claimed_paid_at = now  # unverified until a repayment confirms it
    await session.flush()


# -- decided from the repayments --------------------------------------------------------------------
@dataclass
class Checked:
    """What one pass did: promises decided and follow-ups queued (ids)."""

    kept: list[int] = field(default_factory=list)
    broken: list[int] = field(default_factory=list)
    invited: list[int] = field(default_factory=list)
    """Promises whose borrower got the check-in."""
    tasked: list[int] = field(default_factory=list)
    """Promises whose officer got a task."""


def _zone(promise: Promise) -> ZoneInfo:
    return ZoneInfo(promise.borrower.timezone or "Asia/Shanghai")


def _span(promise: Promise, grace: int) -> tuple[date, date]:
    """The days a payment counts for the promise: from the day it was made to the date plus the grace days."""
    made = promise.made_at.astimezone(_zone(promise)).date()
    return min(made, promise.promised_on), promise.promised_on + timedelta(days=grace)


async def decide_promises(sessions: async_sessionmaker[AsyncSession], settings: Settings, *, clock: Clock) -> Checked:
    """Judge every pending promise from the repayments: kept, broken (flag, alert, rank), or still pending."""
    checked = Checked()
    now = clock.now()
    grace = settings.promise_grace_days
    async with sessions() as session, session.begin():
        for promise in await store.pending(session):
            if promise.loan_id is None:
                continue
            since, until = _span(promise, grace)
            paid = await store.paid_between(session, promise.loan_id, since, until)
            cleared = paid > 0 and await store.loan_cleared(session, promise.loan_id)
            if paid >= promise.amount or cleared:
                if await store.claim_decision(session, promise.id, "kept", paid, now):
                    checked.kept.append(promise.id)
            elif now.astimezone(_zone(promise)).date() > until and await store.claim_decision(
                session, promise.id, "broken", paid, now
            ):
                await _raise_broken(session, settings, promise, paid, since, until, now)
                checked.broken.append(promise.id)
    return checked


async def _raise_broken(
    session: AsyncSession,
    settings: Settings,
    promise: Promise,
    paid: Decimal,
    since: date,
    until: date,
    now: datetime,
) -> None:
    """The broken promise's flag on its visit (with the evidence), its rank again, the supervisors alerted."""
    if promise.visit_id is None:
        return
    visit = await repo.load_visit(session, promise.visit_id)
    if visit is None:
        return
    evidence: dict[str, Any] = {
        "promise": promise.id,
        "visit": visit.id,
        "promised_on": promise.promised_on.isoformat(),
        "amount": str(promise.amount),
        "paid": str(paid),
        "since": since.isoformat(),
        "until": until.isoformat(),
        "grace_days": settings.promise_grace_days,
        "claimed_paid_at": promise.claimed_paid_at.isoformat() if promise.claimed_paid_at else None,
    }
    locale = visit.locale or settings.locale
    note = message(
        "promise_broken_note", locale, date=promise.promised_on.isoformat(),
        amount=money_text(promise.amount, locale), paid=money_text(paid, locale),
    )  # fmt: skip
    judged = Judged(BROKEN_FLAG, Severity.HIGH, note, evidence, step="promise_date")  # one promise per call
    raised = await sync_flags(session, visit, "promise", [judged], now=now)
    await refresh_rank(session, visit)
    window = ContactWindow(settings.contact_window_start, settings.contact_window_end)
    await queue_effects(session, visit, raised=raised, opted_out=False, tasks=[], now=now, window=window)


# -- followed up on the day -------------------------------------------------------------------------
async def follow_up_promises(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, *, clock: Clock
) -> Checked:
    """Follow up each pending promise whose date has come in its borrower's zone, inside their window, once."""
    checked = Checked()
    now = clock.now()
    window = ContactWindow(settings.contact_window_start, settings.contact_window_end)
    async with sessions() as session, session.begin():
        latest_today = (now + timedelta(days=1)).date()  # the furthest any zone's today can be
        for promise in await store.pending(session, due_by=latest_today):
            borrower = promise.borrower
            zone = borrower.timezone or settings.timezone
            if promise.followed_up_at is not None or now.astimezone(ZoneInfo(zone)).date() < promise.promised_on:
                continue
            if not window.contains(now, zone):
                continue  # the next pass inside the borrower's hours does it
            if not await store.claim_follow_up(session, promise.id, now):
                continue
            if borrower.telegram_id is not None:
                await _invite(session, borrower, promise, now)
                checked.invited.append(promise.id)
            else:
                await _task(session, borrower, promise, now)
                checked.tasked.append(promise.id)
    return checked


async def _invite(session: AsyncSession, borrower: Borrower, promise: Promise, now: datetime) -> None:
    """The check-in's invite to the borrower's own chat, naming the date and amount, in their language."""
    token = await create_invite(
        session, borrower, script_id=CHECKIN_SCRIPT, created_by=None, valid_for=CHECKIN_VALID, now=now
    )
    invite = await invite_of_token(session, token)
    assert invite is not None  # flushed in this transaction
    params = {
        "name": borrower.name,
        "date": promise.promised_on.isoformat(),
        "amount": money_text(promise.amount, borrower.locale),
        "until": when(invite.expires_at),
    }
    button = {"key": "promise_checkin_start", "data": invite_data(invite.id)}
    body = payload("promise_checkin_invite", params, [[button]])
    body["locale"] = borrower.locale
    await enqueue(session, "invite", body, now=now, chat_id=borrower.telegram_id, borrower_id=borrower.id)


async def _task(session: AsyncSession, borrower: Borrower, promise: Promise, now: datetime) -> None:
    """The officer's task to check the payment (and call), and its notice."""
    officer_id = promise.officer_id or borrower.officer_id
    note = f"{promise.promised_on.isoformat()} {promise.amount}"
    task = await add_task(
        session, kind=TASK_KIND, borrower_id=borrower.id, officer_id=officer_id, visit_id=promise.visit_id,
        note=note, due_at=now,
    )  # fmt: skip
    promise.follow_up_task_id = task.id
    if officer_id is None:
        return
    params = {
        "code": borrower.code,
        "name": borrower.name,
        "date": promise.promised_on.isoformat(),
        "amount": f"¥{grouped(promise.amount)}",
        "visit": promise.visit_id or "-",
    }
    await enqueue(
        session, "task", payload("promise_task_notice", params), now=now, user_id=officer_id,
        borrower_id=borrower.id, visit_id=promise.visit_id, task_id=task.id,
    )  # fmt: skip


async def check_promises(sessions: async_sessionmaker[AsyncSession], settings: Settings, *, clock: Clock) -> Checked:
    """Decide what the repayments show, then follow up what is due (a promise kept early needs none)."""
    decided = await decide_promises(sessions, settings, clock=clock)
    followed = await follow_up_promises(sessions, settings, clock=clock)
    return Checked(decided.kept, decided.broken, followed.invited, followed.tasked)


# -- shown -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PromiseView:
    """One promise as a person reads it (web desk, CLI)."""

    id: int
    borrower_code: str
    borrower_name: str
    visit_id: int | None
    promised_on: date
    amount: Decimal
    status: str
    paid_amount: Decimal | None
    made_at: datetime
    decided_at: datetime | None
    followed_up_at: datetime | None
    claimed_paid_at: datetime | None
    follow_up_task_id: int | None

    @property
    def claim(self) -> str | None:
        """``unverified`` (the borrower says paid, no repayment shows it yet), ``confirmed``, or None."""
        if self.claimed_paid_at is None:
            return None
        return "confirmed" if self.status == "kept" else "unverified"

    def as_json(self) -> dict[str, Any]:
        """Codes and figures as stored, times in ISO with their offset."""

        def iso(at: datetime | date | None) -> str | None:
            return at.isoformat() if at is not None else None

        return {
            "id": self.id,
            "borrower": {"code": self.borrower_code, "name": self.borrower_name},
            "visit": self.visit_id,
            "promised_on": iso(self.promised_on),
            "amount": str(self.amount),
            "status": self.status,
            "paid_amount": None if self.paid_amount is None else str(self.paid_amount),
            "made_at": iso(self.made_at),
            "decided_at": iso(self.decided_at),
            "followed_up_at": iso(self.followed_up_at),
            "claimed_paid_at": iso(self.claimed_paid_at),
            "claim": self.claim,
            "follow_up_task": self.follow_up_task_id,
        }


def _view(promise: Promise) -> PromiseView:
    return PromiseView(
        promise.id, promise.borrower.code, promise.borrower.name, promise.visit_id, promise.promised_on,
        promise.amount, promise.status, promise.paid_amount, promise.made_at, promise.decided_at,
        promise.followed_up_at, promise.claimed_paid_at, promise.follow_up_task_id,
    )  # fmt: skip


async def visit_promises(session: AsyncSession, visit_id: int) -> list[PromiseView]:
    """The promises a visit recorded (for its page; the caller checked the viewer may see the visit)."""
    return [_view(p) for p in await store.promises_of_visit(session, visit_id)]


async def promise_views(sessions: async_sessionmaker[AsyncSession], *, status: str | None = None) -> list[PromiseView]:
    """Every promise (of one status), latest date first (the CLI acts as an admin)."""
    async with sessions() as session:
        return [_view(p) for p in await store.list_promises(session, status=status)]


def describe(code: str, evidence: dict[str, Any], locale: str) -> list[str]:
    """The evidence of a broken promise as lines a supervisor reads."""
    if code != BROKEN_FLAG or "promise" not in evidence:
        return []

    def money(key: str) -> str:
        return money_text(Decimal(str(evidence.get(key) or 0)), locale)

    lines = [
        message(
            "promise_evidence_promise", locale, promise=evidence["promise"], date=evidence.get("promised_on", "-"),
            amount=money("amount"), visit=evidence.get("visit", "-"),
        ),
        message(
            "promise_evidence_paid", locale, since=evidence.get("since", "-"), until=evidence.get("until", "-"),
            grace=evidence.get("grace_days", 0), paid=money("paid"),
        ),
    ]  # fmt: skip
    if evidence.get("claimed_paid_at"):
        lines.append(message("promise_evidence_claim", locale, at=str(evidence["claimed_paid_at"])[:10]))
    return lines
