"""Telling people what a visit just produced: risk alerts to supervisors, opt-outs and call-backs to officers."""

from __future__ import annotations

import html
import logging

from sqlalchemy import or_, select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.desk import DeskReply
from bot.telegram.common import send, services_of
from dialogs.i18n import message, register
from dialogs.schema import Severity
from storage import repositories as repo
from storage.models import Task, User, Visit

__all__ = ["after_reply", "supervisors_of", "tell"]

log = logging.getLogger(__name__)

register(
    {
        "tg_alert": {
            "zh-CN": "⚠️ 风险预警（{severity}）\n回访 #{visit} · {code} {name} · 信贷员 {officer}\n{flag}：{note}",
            "en": "⚠️ Risk alert ({severity})\nVisit #{visit} · {code} {name} · officer {officer}\n{flag}: {note}",
        },
        "tg_open_transcript": {"zh-CN": "查看记录", "en": "Open transcript"},
        "tg_opted_out": {
            "zh-CN": "客户 {code} {name} 表示不想回访。原因：{reason}；希望的方式：{channel}。（回访 #{visit}）",
            "en": "Borrower {code} {name} does not want visits. Reason: {reason}; preferred channel: {channel}. "
            "(visit #{visit})",
        },
        "tg_task_callback": {
            "zh-CN": "📞 请回电客户 {code} {name}{due}。原因：{note}（回访 #{visit}）",
            "en": "📞 Please call {code} {name} back{due}. Why: {note} (visit #{visit})",
        },
        "tg_task_relief": {
            "zh-CN": "📝 待审批：客户 {code} {name} 申请 {note}（信贷员 {officer}，回访 #{visit}）",
            "en": "📝 To approve: borrower {code} {name} asks for {note} (officer {officer}, visit #{visit})",
        },
        "tg_due": {"zh-CN": "（约定时间 {at}）", "en": " (agreed time {at})"},
    }
)


async def tell(
    context: ContextTypes.DEFAULT_TYPE, user: User | None, text: str, markup: InlineKeyboardMarkup | None = None
) -> bool:
    """Message a staff member if they have Telegram; False when they could not be reached."""
    if user is None or user.telegram_id is None:
        return False
    try:
        await send(context, user.telegram_id, text, markup)
    except TelegramError as exc:
        log.warning("could not reach user %s: %s", user.id, exc)
        return False
    return True


async def supervisors_of(context: ContextTypes.DEFAULT_TYPE, visit: Visit) -> list[User]:
    """The supervisors of the visit's team, and admins."""
    svc = services_of(context)
    team = visit.officer.team if visit.officer else None
    async with svc.sessions() as session:
        query = select(User).where(User.active.is_(True), User.telegram_id.is_not(None))
        query = query.where(or_(User.role == "admin", (User.role == "supervisor") & (User.team == team)))
        return list((await session.scalars(query)).all())


async def after_reply(context: ContextTypes.DEFAULT_TYPE, reply: DeskReply) -> None:
    """Send what an input produced: high-risk alerts, opt-out notices, call-back tasks."""
    high = [f for f in reply.raised if f.severity is Severity.HIGH]
    if not (high or reply.opted_out or reply.tasks):
        return
    svc = services_of(context)
    async with svc.sessions() as session:
        visit = await repo.load_visit(session, reply.visit_id)
        tasks = [await session.get(Task, task_id) for task_id in reply.tasks]
    if visit is None:
        return
    borrower, officer = visit.borrower, visit.officer
    if high:
        for supervisor in await supervisors_of(context, visit):
            locale = supervisor.locale or svc.settings.locale
            button = InlineKeyboardButton(message("tg_open_transcript", locale), callback_data=f"s:tr:{visit.id}")
            for flag in high:
                text = message(
                    "tg_alert", locale, severity=message(f"severity_{flag.severity.value}", locale), visit=visit.id,
                    code=borrower.code, name=borrower.name, officer=officer.name if officer else "-",
                    flag=flag.flag, note=flag.note,
                )  # fmt: skip
                await tell(context, supervisor, html.escape(text), InlineKeyboardMarkup([[button]]))
    locale = (officer.locale if officer else None) or svc.settings.locale
    if reply.opted_out:
        text = message(
            "tg_opted_out", locale, code=borrower.code, name=borrower.name, visit=visit.id,
            reason=borrower.opt_out_reason or "-", channel=borrower.preferred_channel or "-",
        )  # fmt: skip
        await tell(context, officer, html.escape(text))
    for task in tasks:
        if task is None:
            continue
        if task.kind == "relief":
            for supervisor in await supervisors_of(context, visit):
                lang = supervisor.locale or svc.settings.locale
                button = InlineKeyboardButton(message("tg_open_transcript", lang), callback_data=f"s:tr:{visit.id}")
                text = message(
                    "tg_task_relief", lang, code=borrower.code, name=borrower.name, note=task.note, visit=visit.id,
                    officer=officer.name if officer else "-",
                )  # fmt: skip
                await tell(context, supervisor, html.escape(text), InlineKeyboardMarkup([[button]]))
            continue
        due = (
            message("tg_due", locale, at=task.due_at.astimezone(svc.desk.now().tzinfo).strftime("%Y-%m-%d %H:%M"))
            if task.due_at
            else ""
        )
        text = message(
            "tg_task_callback", locale, code=borrower.code, name=borrower.name, due=due, note=task.note, visit=visit.id
        )
        await tell(context, officer, html.escape(text))
