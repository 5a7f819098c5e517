"""The rules of contact: when, how often and whom an officer or the bot may contact (seeds 002, 004).

Contact window (default 08:00–21:00 in the borrower's zone), frequency caps across officers and
channels, opt-out, dispute holds. Every refusal says why and when contact is next allowed, in the
user's language, and is kept in the record (``contact_refusals``).

Which contact each rule covers:

- *Officer calls* are visits staff start by phone or on site (``VisitDesk.begin``); a borrower's own
  self-service check-in is none. Resuming an open visit is never refused.
- *Window*: no officer call outside ``VISITBOT_CONTACT_WINDOW_START``–``END`` in ``Borrower.timezone``
  (start == end switches the window off). A call-back booked outside it is refused with the nearest
  allowed times, unless the borrower asked for that very time: the officer adds 客户要求 (or
  "borrower asked") to the time they type; a borrower booking their own call-back always asked.
  That is kept on the task (``Task.borrower_asked``) and as a transcript note.
- *Caps*: at most ``VISITBOT_CONTACT_DAILY_CAP`` connected calls a local day and
  ``VISITBOT_CONTACT_WEEKLY_CAP`` in the last 7 local days, across all officers and both channels.
  Connected: open, or ended with any outcome but unreachable; calls of
  ``VISITBOT_CONTACT_ATTEMPT_SCRIPTS`` (overdue reminders) count even when unreachable.
- *Opt-out* (不想回访): a phone visit to an opted-out borrower of a tier in
  ``VISITBOT_CONTACT_OPT_OUT_TIERS`` (low, medium) is refused, offering their preferred channel and
  the self-service link; other tiers stay on required visits and the officer is told why. Collection
  calls (``VISITBOT_CONTACT_COLLECTION_SCRIPTS``) are no visits: an opt-out does not stop them.
  Declining the online check-in's consent is no opt-out (:func:`is_opt_out`).
- *Disputes*: a visit that raises ``VISITBOT_CONTACT_DISPUTE_FLAG`` keeps a :class:`~storage.models.Dispute`
  with the borrower's words; until a supervisor or admin resolves it, collection scripts may not start.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk.errors import NotFound
from bot.desk.labels import channel_label, reason_label
from bot.desk.timefmt import shown
from dialogs.engine import AnswerRecorded, Cancel, Event, Submit, Turn, VisitEnded, VisitEngine, VisitState
from dialogs.i18n import message, register
from storage import contact as store
from storage.models import Borrower, Dispute, Task, Visit

if TYPE_CHECKING:
    from bot.settings import Settings

__all__ = [
    "CALL_CHANNELS",
    "ContactRefused",
    "ContactRules",
    "ContactWindow",
    "Refusal",
    "asked_by_borrower",
    "check_start",
    "is_opt_out",
    "keep_disputes",
    "keep_refusal",
    "mark_asked",
    "record_refusal",
    "refuse_callback",
    "window_opens",
    "without_marker",
]

CALL_CHANNELS = ("phone", "onsite")
"""The channels of an officer call (a borrower's own check-in is ``self``)."""

WEEK_DAYS = 7

register(
    {
        "contact_refused_window": {
            "zh-CN": "现在是借款人 {code} 当地时间 {local}，不在可联系时段（{opens}–{closes}）内，"
            "不能开始电话或上门回访，未做任何记录。最早可在 {next} 联系。",
            "en": "It is {local} for borrower {code}, outside the contact hours ({opens}–{closes}): no call or "
            "on-site visit may start now; nothing was recorded. The earliest allowed: {next}.",
        },
        "contact_refused_daily_cap": {
            "zh-CN": "借款人 {code} 今天（当地日期 {day}）已接通 {count} 次联系，已达每日上限 {cap} 次"
            "（所有信贷员和渠道合计），不能再开始回访。下次可联系：{next}。",
            "en": "Borrower {code} has had {count} connected calls today ({day}, their time), the daily limit of "
            "{cap} across all officers and channels: no visit may start now. Next allowed: {next}.",
        },
        "contact_refused_weekly_cap": {
            "zh-CN": "借款人 {code} 近 7 天已接通 {count} 次联系，已达每周上限 {cap} 次"
            "（所有信贷员和渠道合计），不能再开始回访。下次可联系：{next}。",
            "en": "Borrower {code} has had {count} connected calls in the last 7 days, the weekly limit of {cap} "
            "across all officers and channels: no visit may start now. Next allowed: {next}.",
        },
        "contact_refused_opted_out": {
            "zh-CN": "借款人 {code} 已于 {at} 表示不想回访（原因：{reason}），属{tier}客户，不能电话回访。"
            "请改用其希望的方式：{channel}。线上自助回访：在 Telegram 发送 /invite {code}，"
            "或运行 visitbot invite {code}，把链接发给借款人。",
            "en": "Borrower {code} said on {at} they do not want visits (reason: {reason}); as a {tier} borrower "
            "they get no phone visits. Use the way they prefer instead: {channel}. For an online self-service "
            "check-in send /invite {code} on Telegram, or run visitbot invite {code}, and pass them the link.",
        },
        "contact_notice_opted_out_required": {
            "zh-CN": "注意：借款人 {code} 已于 {at} 表示不想回访（原因：{reason}；希望的方式：{channel}），"
            "但属{tier}客户，按规定仍需回访。请简短、礼貌，并尽量改用其希望的方式。",
            "en": "Note: borrower {code} said on {at} they do not want visits (reason: {reason}; prefers: "
            "{channel}), but as a {tier} borrower they stay on required visits. Keep it short and polite, "
            "and use the way they prefer where you can.",
        },
        "contact_notice_opted_out_collection": {
            "zh-CN": "注意：借款人 {code} 已于 {at} 表示不想回访（希望的方式：{channel}）。"
            "逾期催收不属于回访，仍可联系，请简短、礼貌。",
            "en": "Note: borrower {code} said on {at} they do not want visits (prefers: {channel}). An overdue "
            "reminder is no visit and may go ahead; keep it short and polite.",
        },
        "contact_refused_dispute": {
            "zh-CN": "借款人 {code} 于 {at} 对欠款提出异议（“{note}”），异议解决前暂停催收联系，"
            "不能开始“{script}”，未做任何记录；其他回访不受影响。主管或管理员核实后可解除："
            "在 Telegram 发送 /resolve {code} 核实结果，或运行 visitbot disputes resolve {code} --note 核实结果。",
            "en": "Borrower {code} disputed the debt on {at} (“{note}”): no collection contact until it is "
            "resolved, so '{script}' may not start; nothing was recorded. Other visits are not affected. "
            "A supervisor or admin lifts the hold once it is checked: /resolve {code} <finding> on Telegram, "
            "or visitbot disputes resolve {code} --note <finding>.",
        },
        "contact_refused_callback_window": {
            "zh-CN": "约定的回访时间 {at} 不在可联系时段（{opens}–{closes}）内，未记录。最近可约：{nearest}。"
            "如确是借款人本人要求这个时间，请在时间后加上“客户要求”再发送，例如：明天早上7点 客户要求。",
            "en": "The call-back time {at} is outside the contact hours ({opens}–{closes}); nothing was recorded. "
            "Nearest allowed: {nearest}. If the borrower asked for exactly this time, add 'borrower asked' "
            "after it, e.g. tomorrow 7am borrower asked.",
        },
        "contact_nearest_before": {"zh-CN": "{at} 之前", "en": "by {at}"},
        "contact_nearest_after": {"zh-CN": "{at} 之后", "en": "from {at}"},
        "contact_nearest_or": {"zh-CN": " 或 ", "en": " or "},
        "contact_asked_note": {
            "zh-CN": "回访时间 {at} 是借款人本人要求的（可联系时段外也照约）。",
            "en": "The call-back time {at} was asked for by the borrower (kept even outside the contact hours).",
        },
        "contact_opted_out_mark": {"zh-CN": "（不想回访）", "en": "(opted out)"},
        "contact_tier_low": {"zh-CN": "低风险", "en": "low-risk"},
        "contact_tier_medium": {"zh-CN": "中风险", "en": "medium-risk"},
        "contact_tier_high": {"zh-CN": "高风险", "en": "high-risk"},
    }
)


@dataclass(frozen=True)
class ContactWindow:
    """The hours of the day contact is allowed, in the borrower's own zone (``opens == closes``: any hour)."""

    opens: time = time(8, 0)
    closes: time = time(21, 0)

    @property
    def always(self) -> bool:
        """True when the window is switched off (opens and closes at the same time)."""
        return self.opens == self.closes

    def contains(self, at: datetime, zone: str) -> bool:
        """Whether ``at`` falls inside the window in ``zone`` (``closes`` itself is still inside)."""
        if self.always:
            return True
        local = at.astimezone(ZoneInfo(zone)).time().replace(tzinfo=None)
        return self.opens <= local <= self.closes

    def next_open(self, at: datetime, zone: str) -> datetime:
        """``at`` itself when inside the window, else the next time the window opens (aware, in ``zone``)."""
        tz = ZoneInfo(zone)
        local = at.astimezone(tz)
        if self.contains(at, zone):
            return local
        day = local.date() if local.time().replace(tzinfo=None) < self.opens else local.date() + timedelta(days=1)
        return datetime.combine(day, self.opens, tzinfo=tz)

    def last_close(self, at: datetime, zone: str) -> datetime:
        """``at`` itself when inside the window, else the last time before it the window closed."""
        tz = ZoneInfo(zone)
        local = at.astimezone(tz)
        if self.contains(at, zone):
            return local
        day = local.date() if local.time().replace(tzinfo=None) > self.closes else local.date() - timedelta(days=1)
        return datetime.combine(day, self.closes, tzinfo=tz)

    def hours(self) -> tuple[str, str]:
        """The window as ``("08:00", "21:00")``."""
        return f"{self.opens:%H:%M}", f"{self.closes:%H:%M}"


def window_opens(at: datetime, zone: str, window: ContactWindow | None = None) -> datetime:
    """When bot-initiated contact about a borrower in ``zone`` may go out: ``at`` or the next opening."""
    return (window or ContactWindow()).next_open(at, zone)


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


@dataclass(frozen=True)
class ContactRules:
    """The rules as configured (``VISITBOT_CONTACT_*``); the defaults are the industry's."""

    window: ContactWindow = field(default_factory=ContactWindow)
    daily_cap: int = 3
    weekly_cap: int = 7
    attempt_scripts: tuple[str, ...] = ("overdue_reminder",)
    collection_scripts: tuple[str, ...] = ("overdue_reminder",)
    opt_out_tiers: tuple[str, ...] = ("low", "medium")
    dispute_flag: str = "dispute"

    @classmethod
    def of(cls, settings: Settings) -> ContactRules:
        """The rules of a deployment's settings."""
        return cls(
            window=ContactWindow(settings.contact_window_start, settings.contact_window_end),
            daily_cap=settings.contact_daily_cap,
            weekly_cap=settings.contact_weekly_cap,
            attempt_scripts=_names(settings.contact_attempt_scripts),
            collection_scripts=_names(settings.contact_collection_scripts),
            opt_out_tiers=_names(settings.contact_opt_out_tiers),
            dispute_flag=settings.contact_dispute_flag,
        )


@dataclass(frozen=True)
class Refusal:
    """A contact the rules refused: which rule, the text for the person, when contact is next allowed."""

    rule: str
    text: str
    borrower_id: int
    channel: str
    at: datetime
    user_id: int | None = None
    script_id: str | None = None
    next_allowed: datetime | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class ContactRefused(NotFound):
    """Starting this contact now breaks a rule of contact; ``text`` says why and what to do instead."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.text)
        self.refusal = refusal
        self.rule = refusal.rule
        self.next_allowed = refusal.next_allowed


# -- starting a visit ---------------------------------------------------------------------------------


async def check_start(
    session: AsyncSession, settings: Settings, visit: Visit, *, actor_kind: str, now: datetime
) -> str | None:
    """Refuse (:class:`ContactRefused`) the new ``visit`` (added, not committed) when the rules forbid it
    now; else a notice for its first turn, or None. The refusal is in the visit's language.

    Checked in order: a dispute hold, an opt-out, the window, the caps (the first one broken is named).
    """
    rules = ContactRules.of(settings)
    borrower = visit.borrower
    zone, locale = borrower.timezone, visit.locale
    if visit.script_id in rules.collection_scripts and (dispute := await store.open_dispute(session, borrower.id)):
        text = message(
            "contact_refused_dispute", locale, code=borrower.code, at=shown(dispute.raised_at, zone),
            note=dispute.note or "-", script=visit.script_id,
        )  # fmt: skip
        raise _refused(visit, now, "dispute", text, detail={"dispute_id": dispute.id})
    if actor_kind == "borrower" or visit.channel not in CALL_CHANNELS:
        return None
    notice = _opt_out(rules, visit, now)
    window = rules.window
    starts = await _counted(session, rules, borrower, now, but=visit.id)
    if not window.contains(now, zone):
        opens, closes = window.hours()
        nxt = _next_allowed(rules, borrower, now, starts)
        text = message(
            "contact_refused_window", locale, code=borrower.code, local=shown(now, zone, fmt="%Y-%m-%d %H:%M:%S"),
            opens=opens, closes=closes, next=shown(nxt, zone),
        )  # fmt: skip
        raise _refused(visit, now, "window", text, next_allowed=nxt, detail={"zone": zone})
    broken = _cap_broken(rules, starts, now, zone)
    if broken is not None:
        rule, count, cap = broken
        nxt = _next_allowed(rules, borrower, now, starts)
        text = message(
            f"contact_refused_{rule}", locale, code=borrower.code, day=now.astimezone(ZoneInfo(zone)).date(),
            count=count, cap=cap, next=shown(nxt, zone),
        )  # fmt: skip
        raise _refused(visit, now, rule, text, next_allowed=nxt, detail={"count": count, "cap": cap})
    return notice


def _refused(
    visit: Visit,
    now: datetime,
    rule: str,
    text: str,
    *,
    next_allowed: datetime | None = None,
    detail: dict[str, Any] | None = None,
) -> ContactRefused:
    """The refusal of starting ``visit`` (who tried: the officer it was for)."""
    return ContactRefused(
        Refusal(
            rule, text, visit.borrower_id, visit.channel, now, visit.officer_id, visit.script_id, next_allowed,
            detail or {},
        )
    )  # fmt: skip


def _opt_out(rules: ContactRules, visit: Visit, now: datetime) -> str | None:
    """Refuse a phone visit to an opted-out borrower of an honoured tier; the notice for the others."""
    borrower = visit.borrower
    if borrower.opted_out_at is None:
        return None
    zone, locale = borrower.timezone, visit.locale
    tier = borrower.risk_tier
    words = {
        "code": borrower.code,
        "at": shown(borrower.opted_out_at, zone),
        "reason": reason_label(borrower.opt_out_reason, locale),
        "channel": channel_label(borrower.preferred_channel, locale),
        "tier": message(f"contact_tier_{tier}", locale) if tier in ("low", "medium", "high") else tier,
    }
    if visit.script_id in rules.collection_scripts:
        return message("contact_notice_opted_out_collection", locale, **words)
    if tier not in rules.opt_out_tiers:
        return message("contact_notice_opted_out_required", locale, **words)
    if visit.channel != "phone":
        return None
    text = message("contact_refused_opted_out", locale, **words)
    offer = {"preferred_channel": borrower.preferred_channel, "self_service": f"/invite {borrower.code}"}
    raise _refused(visit, now, "opted_out", text, detail=offer)


async def _counted(
    session: AsyncSession, rules: ContactRules, borrower: Borrower, now: datetime, *, but: int | None = None
) -> list[datetime]:
    """Start times of the borrower's counted calls in the last 7 local days (today included), but visit ``but``."""
    tz = ZoneInfo(borrower.timezone)
    first_day = now.astimezone(tz).date() - timedelta(days=WEEK_DAYS - 1)
    return await store.counted_calls(
        session, borrower.id, since=datetime.combine(first_day, time(), tzinfo=tz), channels=CALL_CHANNELS,
        attempt_scripts=rules.attempt_scripts, but=but,
    )  # fmt: skip


def _cap_broken(
    rules: ContactRules, starts: Sequence[datetime], at: datetime, zone: str
) -> tuple[str, int, int] | None:
    """Which cap one more call at ``at`` breaks, with the count so far and the cap; None when both allow it."""
    tz = ZoneInfo(zone)
    day = at.astimezone(tz).date()
    days = [s.astimezone(tz).date() for s in starts if s <= at]
    today = sum(1 for d in days if d == day)
    if today >= rules.daily_cap:
        return "daily_cap", today, rules.daily_cap
    week = sum(1 for d in days if day - timedelta(days=WEEK_DAYS - 1) <= d <= day)
    if week >= rules.weekly_cap:
        return "weekly_cap", week, rules.weekly_cap
    return None


def _next_allowed(rules: ContactRules, borrower: Borrower, now: datetime, starts: Sequence[datetime]) -> datetime:
    """The first moment from ``now`` inside the window that both caps allow (in the borrower's zone)."""
    zone = borrower.timezone
    tz = ZoneInfo(zone)
    candidate = rules.window.next_open(now, zone)
    for _ in range(2 * WEEK_DAYS + 2):
        if _cap_broken(rules, starts, candidate, zone) is None:
            return candidate
        tomorrow: date = candidate.astimezone(tz).date() + timedelta(days=1)
        candidate = rules.window.next_open(datetime.combine(tomorrow, time(), tzinfo=tz), zone)
    return candidate


async def record_refusal(sessions: async_sessionmaker[AsyncSession], refusal: Refusal) -> None:
    """Keep a refused start in its own transaction (the start's own was rolled back)."""
    async with sessions() as session, session.begin():
        await keep_refusal(session, refusal)


async def keep_refusal(session: AsyncSession, refusal: Refusal) -> None:
    """Keep a refusal in the session's transaction."""
    await store.add_refusal(
        session, borrower_id=refusal.borrower_id, user_id=refusal.user_id, channel=refusal.channel,
        rule=refusal.rule, script_id=refusal.script_id, next_allowed_at=refusal.next_allowed, at=refusal.at,
        detail={**refusal.detail, "text": refusal.text},
    )  # fmt: skip


# -- call-backs -----------------------------------------------------------------------------------------

_ASKED = re.compile(
    r"[（(\[【]?\s*(?:客户要求|借款人要求|客户本人要求|本人要求|borrower\s+asked|at\s+the\s+borrower'?s\s+request)"
    r"\s*[）)\]】]?",
    re.IGNORECASE,
)
"""The words an officer adds to a call-back time the borrower asked for themself."""


def asked_by_borrower(event: Event, said: str, actor_kind: str) -> tuple[Event, bool]:
    """Whether the borrower asked for the time this input books, and the input without the marker words.

    A borrower booking their own call-back asked for it; an officer says so by adding 客户要求 (or
    "borrower asked") to the time: typed as an answer, or after ``/cancel callback <time>``.
    """
    if actor_kind == "borrower":
        return event, True
    if isinstance(event, Submit) and event.reply.text and _ASKED.search(event.reply.text):
        rest = _ASKED.sub(" ", event.reply.text).strip(" ，,。.")
        return Submit(replace(event.reply, text=rest)), True
    if isinstance(event, Cancel) and _ASKED.search(said):
        return event, True
    return event, False


def without_marker(text: str) -> str:
    """``text`` without the borrower-asked words (for front-ends that parse the time themselves)."""
    return _ASKED.sub(" ", text).strip(" ，,。.")


def _callback_of(engine: VisitEngine, event: Event, turn: Turn) -> datetime | None:
    if isinstance(event, Cancel) and event.callback_at is not None:
        return event.callback_at
    for record in turn.records:
        if isinstance(record, VisitEnded) and record.callback_at:
            return datetime.fromisoformat(record.callback_at)
        if (
            isinstance(record, AnswerRecorded)
            and engine.compiled.steps[record.step].sets == "callback_at"
            and isinstance(record.value, str)
        ):
            return datetime.fromisoformat(record.value)
    return None


def refuse_callback(
    settings: Settings,
    engine: VisitEngine,
    state: VisitState,
    facts: dict[str, Any],
    event: Event,
    visit: Visit,
    *,
    now: datetime,
    asked: bool,
    user_id: int | None,
) -> tuple[Turn, Refusal] | None:
    """The visit's current question with the refusal as ``turn.error``, and the refusal to keep
    (:func:`keep_refusal`), when this input would book a call-back outside the window (and the borrower
    did not ask for it); None to go ahead.

    The input is tried on a copy of the state: nothing of it is recorded, and nothing is written here.
    """
    window = ContactRules.of(settings).window
    if asked or window.always or not isinstance(event, Submit | Cancel):
        return None
    trial = engine.handle(VisitState.from_json(state.to_json()), facts, event, now=now)
    at = None if trial.error else _callback_of(engine, event, trial)
    zone = visit.borrower.timezone
    if at is None or window.contains(at, zone):
        return None
    opens, closes = window.hours()
    locale = state.locale
    choices = []
    before = window.last_close(at, zone)
    if before > now:
        choices.append(message("contact_nearest_before", locale, at=shown(before, zone)))
    after = window.next_open(at, zone)
    choices.append(message("contact_nearest_after", locale, at=shown(after, zone)))
    nearest = message("contact_nearest_or", locale).join(choices)
    text = message(
        "contact_refused_callback_window", locale, at=shown(at, zone), opens=opens, closes=closes, nearest=nearest
    )
    refusal = Refusal(
        "callback_window", text, visit.borrower_id, visit.channel, now.astimezone(ZoneInfo("UTC")), user_id,
        visit.script_id, after, {"visit_id": visit.id, "asked_for": at.isoformat()},
    )  # fmt: skip
    turn = engine.resume(state, facts)
    turn.error = text
    return turn, refusal


def mark_asked(task: Task, visit: Visit, *, asked: bool, locale: str) -> str | None:
    """Keep on a call-back task that the borrower asked for its time; returns the transcript note
    saying so (None when they did not)."""
    if not asked or task.due_at is None:
        return None
    task.borrower_asked = True
    return message("contact_asked_note", locale, at=shown(task.due_at, visit.borrower.timezone))


# -- opt-out and disputes ---------------------------------------------------------------------------------


def is_opt_out(fields: dict[str, Any]) -> bool:
    """An ended visit opts its borrower out only through the opt-out questions (a reason was given):
    declining the online check-in's consent ends it as ``opted_out`` but is no opt-out from visits."""
    return fields.get("opt_out_reason") is not None


async def keep_disputes(
    session: AsyncSession, settings: Settings, visit: Visit, state: VisitState, now: datetime
) -> Dispute | None:
    """A finished visit that raised the dispute flag keeps a dispute, the borrower's words as its note."""
    flag = ContactRules.of(settings).dispute_flag
    raised = next((f for f in state.flags if f.get("flag") == flag), None)
    if raised is None:
        return None
    words = state.answers.get(raised.get("step", ""))
    return await store.add_dispute(
        session, borrower_id=visit.borrower_id, loan_id=visit.loan_id, visit_id=visit.id,
        note=str(words) if words is not None else raised.get("note", ""), at=now,
    )  # fmt: skip
