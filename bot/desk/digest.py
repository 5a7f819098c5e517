"""The morning digest (每日工作清单): each officer's day, once, at ``VISITBOT_DIGEST_TIME`` in their zone.

For one officer and one local day it holds:

- *planned visits*: open plan entries (action ``call``) planned for today or earlier, those left
  from earlier days first, each with its reasons in words;
- *call-backs due*: call-backs not done whose time is today or earlier, with the rules of contact
  applied (:func:`bot.desk.tasks.callback_allowed_at`: outside the borrower's window, the next allowed
  time, unless the borrower asked for it);
- *overdue loans without a call*: loans overdue more than ``VISITBOT_DIGEST_OVERDUE_AFTER`` days
  (default 5) whose borrower had no call (a phone or on-site visit) since the loan went overdue;
- *returned reviews*: the officer's visits a reviewer sent back, waiting for their answer.

Each list shows at most :data:`LIST_CAP` lines and then "…and N more". An officer with nothing to
do that day gets no digest (no message is better than an empty one every morning).

Recipients: active officers with a Telegram id, and active admins with a Telegram id who look after
borrowers; their zone is ``users.timezone``, else ``VISITBOT_TIMEZONE``. The digest is one outbox row
of kind ``digest`` (:mod:`bot.desk.outbox`) with ``dedupe_key = digest:<user id>:<local day>``, written
``ON CONFLICT DO NOTHING``: however many bot processes fire (and a catch-up at start), one row, one
message. The payload carries message keys, never text, so it is read in the officer's own language.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk.contact import CALL_CHANNELS
from bot.desk.outbox import label_of, msg, payload, when
from bot.desk.tasks import callback_allowed_at, window_of
from bot.desk.timefmt import day_start
from dialogs.i18n import register
from storage import digest as store

if TYPE_CHECKING:
    from bot.settings import Settings

__all__ = [
    "KIND",
    "LIST_CAP",
    "Digest",
    "DueCallback",
    "OverdueLoan",
    "PlannedVisit",
    "ReturnedReview",
    "build_digests",
    "dedupe_key",
    "digest_day",
    "digest_payload",
    "digest_zones",
    "queue_digests",
]

log = logging.getLogger(__name__)

KIND = "digest"
LIST_CAP = 10
"""Lines shown per list; the rest are counted ("…and 3 more")."""

register(
    {
        "digest_text": {"zh-CN": "{title}\n\n{body}", "en": "{title}\n\n{body}"},
        "digest_title": {"zh-CN": "每日工作清单（{day}）", "en": "Your day ({day})"},
        "digest_block": {"zh-CN": "{head}\n\n{tail}", "en": "{head}\n\n{tail}"},
        "digest_lines": {"zh-CN": "{head}\n{tail}", "en": "{head}\n{tail}"},
        "digest_words": {"zh-CN": "{head}、{tail}", "en": "{head}, {tail}"},
        "digest_more": {"zh-CN": "…另有 {count} 条", "en": "…and {count} more"},
        "digest_planned": {"zh-CN": "今日计划回访 {count} 户：", "en": "Planned visits today: {count}"},
        "digest_planned_line": {"zh-CN": "• {code} {name}：{reasons}", "en": "• {code} {name}: {reasons}"},
        "digest_planned_late_line": {
            "zh-CN": "• {code} {name}：{reasons}（原定 {planned}，最晚 {due}）",
            "en": "• {code} {name}: {reasons} (planned for {planned}, due by {due})",
        },
        "digest_callbacks": {"zh-CN": "待回电 {count} 个：", "en": "Call-backs due: {count}"},
        "digest_callback_line": {"zh-CN": "• {at} {code} {name}：{note}", "en": "• {at} {code} {name}: {note}"},
        "digest_callback_moved_line": {
            "zh-CN": "• {at} {code} {name}：{note}（不在借款人可联系时段，最早 {allowed}）",
            "en": "• {at} {code} {name}: {note} (outside the borrower's contact hours; earliest {allowed})",
        },
        "digest_callback_asked_line": {
            "zh-CN": "• {at} {code} {name}：{note}（借款人要求的时间）",
            "en": "• {at} {code} {name}: {note} (the time the borrower asked for)",
        },
        "digest_overdue": {
            "zh-CN": "逾期超过 {days} 天仍未联系 {count} 笔：",
            "en": "Overdue more than {days} days, no call yet: {count}",
        },
        "digest_overdue_line": {
            "zh-CN": "• {code} {name}：{contract} 逾期 {overdue_days} 天，逾期金额 {amount} 元",
            "en": "• {code} {name}: {contract} {overdue_days} days overdue, {amount} yuan overdue",
        },
        "digest_returned": {
            "zh-CN": "被退回、待您答复的回访 {count} 条：",
            "en": "Visits sent back, waiting for your answer: {count}",
        },
        "digest_returned_line": {
            "zh-CN": "• 回访 #{visit} {code} {name}：{comment}",
            "en": "• Visit #{visit} {code} {name}: {comment}",
        },
        "digest_no_comment": {"zh-CN": "（无意见）", "en": "(no comment)"},
    }
)


@dataclass(frozen=True)
class PlannedVisit:
    """A plan entry to visit today (``late``: planned for an earlier day and not done yet)."""

    code: str
    name: str
    reasons: tuple[str, ...]
    planned_on: date
    due_on: date
    late: bool


@dataclass(frozen=True)
class DueCallback:
    """A call-back due today or earlier, with the rules of contact applied."""

    code: str
    name: str
    note: str
    booked_at: datetime
    allowed_at: datetime
    """``booked_at``, or the next opening of the borrower's window when it falls outside."""
    borrower_asked: bool
    kind: str = "callback"
    """``callback``, or ``promise``: a promise to pay due today, to check (bot.desk.promises)."""

    @property
    def moved(self) -> bool:
        """The booked time is outside the borrower's window: the call may be made at ``allowed_at``."""
        return self.allowed_at != self.booked_at


@dataclass(frozen=True)
class OverdueLoan:
    """A loan overdue past the digest's threshold whose borrower had no call since it went overdue."""

    code: str
    name: str
    contract_no: str
    overdue_days: int
    overdue_amount: Decimal


@dataclass(frozen=True)
class ReturnedReview:
    """A visit a reviewer sent back to the officer, with the reviewer's comment."""

    visit_id: int
    code: str
    name: str
    comment: str


@dataclass(frozen=True)
class Digest:
    """One officer's day."""

    user_id: int
    day: date
    zone: str
    overdue_after: int
    planned: list[PlannedVisit]
    callbacks: list[DueCallback]
    overdue: list[OverdueLoan]
    returned: list[ReturnedReview]

    @property
    def empty(self) -> bool:
        """Nothing to do that day: no digest is sent."""
        return not (self.planned or self.callbacks or self.overdue or self.returned)

    @property
    def key(self) -> str:
        """The outbox dedupe key: one digest per officer and local day."""
        return dedupe_key(self.user_id, self.day)


def dedupe_key(user_id: int, day: date) -> str:
    """``digest:<user id>:<YYYY-MM-DD>`` (the officer's local day)."""
    return f"digest:{user_id}:{day.isoformat()}"


def digest_day(now: datetime, zone: str, at: time) -> date | None:
    """The local day in ``zone`` whose digest is due at ``now`` (its time ``at`` has come), else None."""
    local = now.astimezone(ZoneInfo(zone))
    fires = datetime.combine(local.date(), at.replace(tzinfo=None), tzinfo=ZoneInfo(zone))
    return local.date() if local >= fires else None


async def build_digests(
    session: AsyncSession, user_ids: Sequence[int], zone: str, day: date, settings: Settings
) -> list[Digest]:
    """What the digests of ``user_ids`` (all in ``zone``) for their local ``day`` hold, one each, by user id.

    A few queries for them all (not a few per officer): 200 officers cost about what one does."""
    planned: dict[int, list[PlannedVisit]] = defaultdict(list)
    for entry in await store.open_plan_entries(session, user_ids, today=day):
        visit = PlannedVisit(
            entry.code, entry.name, tuple(entry.reasons or ()), entry.planned_on, entry.due_on, entry.planned_on < day
        )
        planned[entry.officer_id].append(visit)
    window = window_of(settings)
    callbacks: dict[int, list[DueCallback]] = defaultdict(list)
    for task in await store.callbacks_due(session, user_ids, before=day_start(day, zone, end=True)):
        allowed = callback_allowed_at(task.due_at, task.zone, window, borrower_asked=task.borrower_asked)
        due = DueCallback(task.code, task.name, task.note, task.due_at, allowed, task.borrower_asked, task.kind)
        callbacks[task.officer_id].append(due)
    after = settings.digest_overdue_after
    loans = await store.overdue_loans(session, user_ids, past_days=after)
    called = await store.last_calls(session, sorted({loan.borrower_id for loan in loans}), CALL_CHANNELS)
    overdue: dict[int, list[OverdueLoan]] = defaultdict(list)
    for loan in loans:
        last = called.get(loan.borrower_id)
        if last is None or last < day_start(day - timedelta(days=loan.overdue_days), loan.zone):
            found = OverdueLoan(loan.code, loan.name, loan.contract_no, loan.overdue_days, loan.overdue_amount)
            overdue[loan.officer_id].append(found)
    returned: dict[int, list[ReturnedReview]] = defaultdict(list)
    for review in await store.returned_reviews(session, user_ids):
        returned[review.officer_id].append(ReturnedReview(review.visit_id, review.code, review.name, review.comment))
    return [
        Digest(user_id, day, zone, after, planned[user_id], callbacks[user_id], overdue[user_id], returned[user_id])
        for user_id in sorted(user_ids)
    ]


def _chain(key: str, items: Sequence[Any]) -> Any:
    """Items joined by the message ``key`` (``{head}…{tail}``), as nested parameters the outbox renders."""
    joined = items[-1]
    for item in reversed(items[:-1]):
        joined = msg(key, head=item, tail=joined)
    return joined


def _section(heading: dict[str, Any], lines: Sequence[dict[str, Any]]) -> dict[str, Any]:
    shown = list(lines[:LIST_CAP])
    if len(lines) > LIST_CAP:
        shown.append(msg("digest_more", count=len(lines) - LIST_CAP))
    return msg("digest_lines", head=heading, tail=_chain("digest_lines", shown))


def _planned_line(visit: PlannedVisit) -> dict[str, Any]:
    reasons = _chain("digest_words", [label_of("plan_reason", r) for r in visit.reasons] or ["-"])
    if visit.late:
        return msg(
            "digest_planned_late_line",
            code=visit.code,
            name=visit.name,
            reasons=reasons,
            planned=visit.planned_on.isoformat(),
            due=visit.due_on.isoformat(),
        )
    return msg("digest_planned_line", code=visit.code, name=visit.name, reasons=reasons)


def _callback_line(callback: DueCallback) -> dict[str, Any]:
    params: dict[str, Any] = {
        "at": when(callback.booked_at),
        "code": callback.code,
        "name": callback.name,
        "note": label_of(f"task_note:{callback.kind}", callback.note),
    }
    if callback.borrower_asked:
        return msg("digest_callback_asked_line", **params)
    if callback.moved:
        return msg("digest_callback_moved_line", allowed=when(callback.allowed_at), **params)
    return msg("digest_callback_line", **params)


def digest_payload(digest: Digest) -> dict[str, Any]:
    """The outbox payload of a digest: counts and short lists, in message keys (rendered per reader)."""
    blocks = []
    if digest.planned:
        blocks.append(
            _section(msg("digest_planned", count=len(digest.planned)), [_planned_line(v) for v in digest.planned])
        )
    if digest.callbacks:
        heading = msg("digest_callbacks", count=len(digest.callbacks))
        blocks.append(_section(heading, [_callback_line(c) for c in digest.callbacks]))
    if digest.overdue:
        lines = [
            msg(
                "digest_overdue_line",
                code=loan.code,
                name=loan.name,
                contract=loan.contract_no,
                overdue_days=loan.overdue_days,
                amount=f"{loan.overdue_amount:,.2f}",
            )
            for loan in digest.overdue
        ]
        heading = msg("digest_overdue", days=digest.overdue_after, count=len(digest.overdue))
        blocks.append(_section(heading, lines))
    if digest.returned:
        lines = [
            msg(
                "digest_returned_line",
                visit=review.visit_id,
                code=review.code,
                name=review.name,
                comment=review.comment or msg("digest_no_comment"),
            )
            for review in digest.returned
        ]
        blocks.append(_section(msg("digest_returned", count=len(digest.returned)), lines))
    title = msg("digest_title", day=digest.day.isoformat())
    return payload("digest_text", {"title": title, "body": _chain("digest_block", blocks) if blocks else ""})


async def digest_zones(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> list[str]:
    """The zones of everyone who gets a digest (a scheduler arms one daily job per zone)."""
    async with sessions() as session:
        recipients = await store.digest_recipients(session, default_zone=settings.timezone)
    return sorted({zone for _, zone in recipients})


async def queue_digests(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: datetime, *, zone: str | None = None
) -> list[int]:
    """Queue today's digest of everyone (of ``zone``) whose digest time has come and who has none yet.

    Safe to call any number of times from any number of processes: a digest already queued for that
    officer and day is left alone (and two processes writing at once write it once: the rows of a zone
    go in by user id, so neither waits on the other in a cycle). Returns the ids of the rows written."""
    async with sessions() as session:
        recipients = await store.digest_recipients(session, default_zone=settings.timezone, zone=zone)
    by_zone: dict[str, list[int]] = defaultdict(list)
    for user, where in recipients:
        by_zone[where].append(user.id)
    queued = []
    for where, user_ids in sorted(by_zone.items()):
        try:
            day = digest_day(now, where, settings.digest_time)
        except (ValueError, KeyError):  # a zone the database does not know (users add checks it)
            log.warning("users %s have an unknown time zone %r: no digest", user_ids, where)
            continue
        if day is None:
            continue
        async with sessions() as session, session.begin():
            done = await store.queued_keys(session, [dedupe_key(user_id, day) for user_id in user_ids])
            waiting = [user_id for user_id in user_ids if dedupe_key(user_id, day) not in done]
            for digest in await build_digests(session, waiting, where, day, settings):
                if digest.empty:
                    continue
                body = digest_payload(digest)
                row = await store.enqueue_once(session, digest.key, KIND, body, now=now, user_id=digest.user_id)
                if row is not None:
                    queued.append(row)
    return queued
