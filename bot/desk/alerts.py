"""Whom an input tells what: risk alerts, opt-out and task notices, call-back reminders — as outbox rows.

:func:`queue_effects` runs inside the visit's own transaction (``VisitDesk._store``), so the rows
commit with their cause or not at all, whatever front-end gave the input (console, Telegram, CLI).
A front-end's delivery worker sends them later (:mod:`bot.telegram.outbox` on Telegram).

- A high-severity flag alerts the team's supervisors and every admin at once (internal, no window).
- An opt-out tells the visit's officer; a call-back task tells its officer, and a call-back with a
  time becomes a reminder held until that time, moved into the borrower's contact window (unless the
  borrower asked for that very time). A hardship request's notice to supervisors is :mod:`bot.desk.relief`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.desk.contact import ContactWindow, window_opens
from bot.desk.outbox import WINDOWED_KINDS, enqueue, label_of, msg, payload, when
from dialogs.engine import FlagRaised
from dialogs.i18n import register
from dialogs.schema import Severity
from storage.models import OutboxMessage, Task, Visit
from storage.outbox import staff_to_alert

__all__ = ["contact_hold", "queue_effects", "transcript_button"]

register(
    {
        "alert_risk": {
            "zh-CN": "⚠️ 风险预警（{severity}）\n回访 #{visit} · {code} {name} · 信贷员 {officer}\n{flag}：{note}",
            "en": "⚠️ Risk alert ({severity})\nVisit #{visit} · {code} {name} · officer {officer}\n{flag}: {note}",
        },
        "alert_open_transcript": {"zh-CN": "查看记录", "en": "Open transcript"},
        "alert_opted_out": {
            "zh-CN": "客户 {code} {name} 表示不想回访。原因：{reason}；希望的方式：{channel}。（回访 #{visit}）",
            "en": "Borrower {code} {name} does not want visits. Reason: {reason}; preferred channel: {channel}. "
            "(visit #{visit})",
        },
        "alert_task_callback": {
            "zh-CN": "📞 请回电客户 {code} {name}{due}。原因：{note}（回访 #{visit}）",
            "en": "📞 Please call {code} {name} back{due}. Why: {note} (visit #{visit})",
        },
        "alert_due": {"zh-CN": "（约定时间 {at}）", "en": " (agreed time {at})"},
        "alert_reminder": {
            "zh-CN": "⏰ 该回电了：客户 {code} {name}（约定 {at}，回访 #{visit}）。发送 /visit {code} 开始。",
            "en": "⏰ Time to call back {code} {name} (agreed {at}, visit #{visit}). Send /visit {code} to start.",
        },
    }
)


def transcript_button(visit_id: int) -> list[list[dict[str, str]]]:
    """One row with the 'open transcript' button of a visit."""
    return [[{"key": "alert_open_transcript", "data": f"s:tr:{visit_id}"}]]


def contact_hold(
    kind: str, now: datetime, zone: str | None, window: ContactWindow, *, borrower_asked: bool = False
) -> datetime | None:
    """When a message of ``kind`` about a borrower in ``zone`` may go out, if not now (None: now).

    Only bot-initiated contact (:data:`bot.desk.outbox.WINDOWED_KINDS`) waits for the borrower's
    window; a time the borrower asked for themself is kept."""
    if kind not in WINDOWED_KINDS or zone is None or borrower_asked or window.contains(now, zone):
        return None
    return window_opens(now, zone, window)


def _facts(visit: Visit) -> dict[str, object]:
    borrower = visit.borrower
    return {
        "visit": visit.id,
        "code": borrower.code,
        "name": borrower.name,
        "officer": visit.officer.name if visit.officer else "-",
    }


async def queue_effects(
    session: AsyncSession,
    visit: Visit,
    *,
    raised: Sequence[FlagRaised],
    opted_out: bool,
    tasks: Sequence[int],
    now: datetime,
    window: ContactWindow,
) -> list[OutboxMessage]:
    """Queue what one input produced (in the caller's transaction); returns the rows written."""
    rows: list[OutboxMessage] = []
    borrower = visit.borrower
    facts = _facts(visit)
    high = [flag for flag in raised if flag.severity is Severity.HIGH]
    team = visit.officer.team if visit.officer else None
    staff = list(await staff_to_alert(session, team)) if high else []
    for flag in high:
        params = {
            **facts,
            "severity": msg(f"severity_{flag.severity.value}"),
            "flag": label_of("flag", flag.flag),
            "note": flag.note,
        }
        body = payload("alert_risk", params, transcript_button(visit.id))
        for user in staff:
            rows.append(await _put(session, "alert", body, user.id, visit, now))
    if opted_out and visit.officer_id is not None:
        params = {
            **facts,
            "reason": label_of("reason", borrower.opt_out_reason),
            "channel": label_of("channel", borrower.preferred_channel),
        }
        rows.append(await _put(session, "notice", payload("alert_opted_out", params), visit.officer_id, visit, now))
    for task_id in tasks:
        task = await session.get(Task, task_id)
        if task is not None:
            rows += await _queue_task(session, visit, task, facts, now, window)
    return rows


async def _put(
    session: AsyncSession,
    kind: str,
    body: dict[str, object],
    user_id: int,
    visit: Visit,
    now: datetime,
    *,
    task: Task | None = None,
    not_before: datetime | None = None,
) -> OutboxMessage:
    """One message to a staff member about the visit's borrower."""
    return await enqueue(
        session,
        kind,
        body,
        now=now,
        user_id=user_id,
        borrower_id=visit.borrower_id,
        visit_id=visit.id,
        task_id=task.id if task is not None else None,
        not_before=not_before,
    )


async def _queue_task(
    session: AsyncSession, visit: Visit, task: Task, facts: dict[str, object], now: datetime, window: ContactWindow
) -> list[OutboxMessage]:
    """A call-back notice to the officer, and its reminder when due."""
    if task.officer_id is None:
        return []
    due = msg("alert_due", at=when(task.due_at)) if task.due_at else ""
    note = {"label": f"task_note:{task.kind}", "code": task.note}
    body = payload("alert_task_callback", {**facts, "due": due, "note": note})
    rows = [await _put(session, "task", body, task.officer_id, visit, now, task=task)]
    if task.due_at is not None:
        at = task.due_at if task.borrower_asked else window_opens(task.due_at, visit.borrower.timezone, window)
        body = payload("alert_reminder", {**facts, "at": when(task.due_at)})
        rows.append(await _put(session, "reminder", body, task.officer_id, visit, now, task=task, not_before=at))
    return rows
