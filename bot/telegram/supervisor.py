"""Supervisors: transcripts, the review queue (approve / send back with a comment), exports."""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.desk.access import can_see, team_filter
from bot.desk.export import day_start, export_rows, export_xlsx
from bot.desk.records import visit_record
from bot.desk.report import render_report
from bot.telegram.common import Sender, send, services_of, t
from bot.telegram.notify import supervisors_of, tell
from bot.telegram.render import record_id
from dialogs.i18n import message, register
from storage import repositories as repo
from storage.chats import chat_session, clear_chat, set_chat
from storage.models import User, Visit, utcnow

__all__ = ["approve", "can_see", "export", "reply_to_review", "review", "send_back", "transcript"]

MAX_LIST = 20

register(
    {
        "tg_review_empty": {"zh-CN": "没有待审核的回访。", "en": "No visits waiting for review."},
        "tg_review_list": {"zh-CN": "待审核的回访：", "en": "Visits waiting for review:"},
        "tg_no_such_visit": {
            "zh-CN": "找不到回访 #{id}，或您无权查看。",
            "en": "No visit #{id}, or it is not yours to see.",
        },
        "tg_transcript_usage": {"zh-CN": "用法：/transcript 回访编号", "en": "Usage: /transcript <visit id>"},
        "tg_approve": {"zh-CN": "✅ 通过", "en": "✅ Approve"},
        "tg_send_back": {"zh-CN": "↩ 退回", "en": "↩ Send back"},
        "tg_approved": {"zh-CN": "回访 #{id} 已审核通过。", "en": "Visit #{id} approved."},
        "tg_ask_comment": {
            "zh-CN": "请发送退回回访 #{id} 的意见（直接输入文字）。",
            "en": "Send your comment for returning visit #{id} (just type it).",
        },
        "tg_returned": {
            "zh-CN": "回访 #{id} 已退回，意见已发给信贷员。",
            "en": "Visit #{id} sent back; the officer has your comment.",
        },
        "tg_returned_to_officer": {
            "zh-CN": "主管{name}退回了回访 #{id}（{code} {borrower}）：\n{comment}\n回复请发送：/reply {id} 您的说明",
            "en": "{name} sent back visit #{id} ({code} {borrower}):\n{comment}\n"
            "To answer, send: /reply {id} your answer",
        },
        "tg_reply_usage": {"zh-CN": "用法：/reply 回访编号 说明", "en": "Usage: /reply <visit id> <your answer>"},
        "tg_reply_sent": {"zh-CN": "说明已发送给主管。", "en": "Your answer was sent to the supervisor."},
        "tg_officer_replied": {
            "zh-CN": "信贷员{name}回复了回访 #{id}：\n{text}",
            "en": "{name} answered about visit #{id}:\n{text}",
        },
        "tg_export_done": {"zh-CN": "共 {count} 条回访。", "en": "{count} visit(s)."},
        "tg_export_usage": {
            "zh-CN": "用法：/export [from=2026-11-01] [to=2026-11-30] [outcome=completed] [risk=high] "
            "[officer=用户编号]",
            "en": "Usage: /export [from=2026-11-01] [to=2026-11-30] [outcome=completed] [risk=high] [officer=user id]",
        },
        "tg_report_caption": {"zh-CN": "回访 #{id} 风险报告", "en": "Risk report of visit #{id}"},
        "tg_transcript_long": {
            "zh-CN": "记录较长，完整内容见附件。",
            "en": "The transcript is long; the full text is attached.",
        },
    }
)


async def review(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/review: finished visits waiting for review, as buttons."""
    assert sender.user is not None
    svc = services_of(context)
    async with svc.sessions() as session:
        flt = team_filter(sender.user, status="finished", review_status="pending", limit=MAX_LIST)
        visits = await repo.list_visits(session, flt)
        flags = {v.id: await repo.visit_flags(session, v.id) for v in visits}
    if not visits:
        await send(context, sender.chat_id, html.escape(t("tg_review_empty", sender)))
        return
    rows = []
    for v in visits:
        worst = "⚠️ " if any(f.severity == "high" for f in flags[v.id]) else ""
        outcome = message(f"outcome_{v.outcome}", sender.locale)
        label = f"{worst}#{v.id} {v.borrower.code} {v.borrower.name} · {outcome}"
        rows.append([InlineKeyboardButton(label, callback_data=f"s:tr:{v.id}")])
    await send(context, sender.chat_id, html.escape(t("tg_review_list", sender)), InlineKeyboardMarkup(rows))


async def transcript(
    update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender, visit_id: int | None = None
) -> None:
    """/transcript <id>: the visit's answers, flags and transcript, with review buttons for supervisors."""
    assert sender.user is not None
    if visit_id is None:
        args = context.args or []
        visit_id = record_id(args[0].lstrip("#")) if args else None
        if visit_id is None:
            await send(context, sender.chat_id, html.escape(t("tg_transcript_usage", sender)))
            return
    svc = services_of(context)
    async with svc.sessions() as session:
        visit = await repo.load_visit(session, visit_id)
        record = await visit_record(session, visit) if visit is not None and can_see(sender.user, visit) else None
    if record is None:  # told after the session: a slow send never holds a database connection
        await send(context, sender.chat_id, html.escape(t("tg_no_such_visit", sender, id=visit_id)))
        return
    text = render_transcript(record, sender.locale)
    markup = None
    if sender.role in ("supervisor", "admin") and record["status"] == "finished":
        markup = InlineKeyboardMarkup(
            [[
                InlineKeyboardButton(t("tg_approve", sender), callback_data=f"s:ok:{visit_id}"),
                InlineKeyboardButton(t("tg_send_back", sender), callback_data=f"s:ret:{visit_id}"),
            ]]
        )  # fmt: skip
    if len(text) <= 4096:
        await send(context, sender.chat_id, text, markup)
    else:
        summary = text.split("\n\n", 1)[0]
        note = html.escape(t("tg_transcript_long", sender))
        await send(context, sender.chat_id, f"{summary}\n\n<i>{note}</i>", markup)
        plain = html.unescape(text.replace("<b>", "").replace("</b>", "").replace("<i>", "").replace("</i>", ""))
        await context.bot.send_document(
            sender.chat_id, io.BytesIO(plain.encode()), filename=f"visit-{visit_id}-transcript.txt"
        )
    if record["status"] == "finished":
        settings = services_of(context).settings
        folder = Path(settings.scripts_dir) if settings.scripts_dir else None
        report = render_report(record, sender.locale, folder=folder, timezone=settings.timezone)
        await context.bot.send_document(
            sender.chat_id, io.BytesIO(report.encode()), filename=f"visit-{visit_id}-report.md",
            caption=t("tg_report_caption", sender, id=visit_id),
        )  # fmt: skip


def render_transcript(record: dict[str, Any], locale: str) -> str:
    """A visit record as HTML text: header, flags, answers, the transcript lines."""
    esc = html.escape
    officer = (record.get("officer") or {}).get("name", "-")
    outcome = message(f"outcome_{record['outcome']}", locale) if record.get("outcome") else record["status"]
    lines = [
        f"<b>#{record['id']} {esc(record['borrower']['code'])} {esc(record['borrower']['name'])}</b> · "
        f"{esc(officer)} · "
        f"{esc(record['script']['id'])} v{record['script']['version']} · {esc(outcome)}"
    ]
    if record["flags"]:
        lines.append("\n".join(f"⚠️ {esc(f['code'])} ({esc(f['severity'])}) {esc(f['note'])}" for f in record["flags"]))
    if record.get("remark"):
        lines.append(f"📝 {esc(record['remark'])}")
    answers = "\n".join(
        f"• {esc(a['question'][:60])} → <b>{esc(a['display'] or a['raw'] or '-')}</b>" for a in record["answers"]
    )
    if answers:
        lines.append(answers)
    arrows = {"in": "«", "out": "»"}
    talk = "\n".join(
        f"{m['at'][11:19]} {arrows.get(m['direction'], '#')} {esc(m['text'])}" for m in record["transcript"]
    )
    lines.append(talk)
    return "\n\n".join(lines)


async def approve(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender, visit_id: int) -> None:
    """Approve a finished visit."""
    visit = await _set_review(context, sender, visit_id, "approved", None)
    if visit is not None:
        await send(context, sender.chat_id, html.escape(t("tg_approved", sender, id=visit_id)))


async def ask_comment(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender, visit_id: int) -> None:
    """The 'send back' button: the supervisor's next message is the comment."""
    svc = services_of(context)
    async with svc.sessions() as session, session.begin():
        await set_chat(session, sender.chat_id, visit_id=None, message_id=None, step=f"return:{visit_id}")
    await send(context, sender.chat_id, html.escape(t("tg_ask_comment", sender, id=visit_id)))


async def pending_comment(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> bool:
    """If the supervisor was asked for a comment, take this message as it; True when consumed."""
    svc = services_of(context)
    async with svc.sessions() as session:
        chat = await chat_session(session, sender.chat_id)
    if chat is None or not (chat.step or "").startswith("return:"):
        return False
    msg = update.effective_message
    text = (msg.text or "").strip() if msg else ""
    if not text:
        return False
    async with svc.sessions() as session, session.begin():
        await clear_chat(session, sender.chat_id)
    await send_back(update, context, sender, int((chat.step or "").split(":")[1]), text)
    return True


async def send_back(
    update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender, visit_id: int, comment: str
) -> None:
    """Return a visit to its officer with a comment they receive at once."""
    assert sender.user is not None
    visit = await _set_review(context, sender, visit_id, "returned", comment)
    if visit is None:
        return
    officer = visit.officer
    locale = (officer.locale if officer else None) or services_of(context).settings.locale
    text = message(
        "tg_returned_to_officer", locale, name=sender.user.name, id=visit_id, code=visit.borrower.code,
        borrower=visit.borrower.name, comment=comment,
    )  # fmt: skip
    await tell(context, officer, html.escape(text))
    await send(context, sender.chat_id, html.escape(t("tg_returned", sender, id=visit_id)))


async def _set_review(
    context: ContextTypes.DEFAULT_TYPE, sender: Sender, visit_id: int, status: str, comment: str | None
) -> Visit | None:
    assert sender.user is not None
    svc = services_of(context)
    async with svc.sessions() as session, session.begin():
        visit = await repo.load_visit(session, visit_id, for_update=True)
        if visit is None or not can_see(sender.user, visit) or visit.status != "finished":
            visit = None
        else:
            visit.review_status = status
            visit.review_comment = comment
            visit.reviewed_by = sender.user.id
            visit.reviewed_at = utcnow()
            await repo.add_transcript(
                session, visit.id, "note", f"[review {status}] {comment or ''}".strip(), actor="supervisor"
            )
    if visit is None:  # told after the row lock is released
        await send(context, sender.chat_id, html.escape(t("tg_no_such_visit", sender, id=visit_id)))
    return visit


async def reply_to_review(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/reply <id> <text>: the officer answers a supervisor's comment; the visit goes back for review."""
    assert sender.user is not None
    args = context.args or []
    visit_id = record_id(args[0].lstrip("#")) if len(args) >= 2 else None
    if visit_id is None:
        await send(context, sender.chat_id, html.escape(t("tg_reply_usage", sender)))
        return
    text = " ".join(args[1:])
    svc = services_of(context)
    reviewer: User | None = None
    async with svc.sessions() as session, session.begin():
        visit = await repo.load_visit(session, visit_id, for_update=True)
        if visit is not None and not can_see(sender.user, visit):
            visit = None
        if visit is not None:
            visit.review_status = "pending"
            await repo.add_transcript(session, visit.id, "note", f"[reply] {text}", actor="officer")
            reviewer = await session.get(User, visit.reviewed_by) if visit.reviewed_by else None
    if visit is None:  # told after the row lock is released
        await send(context, sender.chat_id, html.escape(t("tg_no_such_visit", sender, id=visit_id)))
        return
    targets = [reviewer] if reviewer is not None else await supervisors_of(context, visit)
    for supervisor in targets:
        locale = supervisor.locale or svc.settings.locale
        button = InlineKeyboardButton(message("tg_open_transcript", locale), callback_data=f"s:tr:{visit_id}")
        note = message("tg_officer_replied", locale, name=sender.user.name, id=visit_id, text=text)
        await tell(context, supervisor, html.escape(note), InlineKeyboardMarkup([[button]]))
    await send(context, sender.chat_id, html.escape(t("tg_reply_sent", sender)))


async def export(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/export [from= to= outcome= risk= officer=]: an XLSX of the visits this person may see."""
    assert sender.user is not None
    svc = services_of(context)
    zone = svc.settings.timezone
    options: dict[str, Any] = {"limit": 100_000}
    try:
        for arg in context.args or []:
            key, _, value = arg.partition("=")
            if key == "from":
                options["since"] = day_start(value, zone)
            elif key == "to":
                options["until"] = day_start(value, zone, end=True)
            elif key in ("outcome", "risk"):
                options[key] = value
            elif key == "officer" and value.isdigit():
                options["officer_id"] = int(value)
            else:
                raise ValueError(arg)
    except ValueError:
        await send(context, sender.chat_id, html.escape(t("tg_export_usage", sender)))
        return
    flt = team_filter(sender.user, **options)
    if sender.user.role == "supervisor" and "officer_id" in options:
        flt = repo.VisitFilter(**{**flt.__dict__, "officer_id": options["officer_id"]})
    async with svc.sessions() as session:
        header, visits, flags = await export_rows(session, flt)
    data = export_xlsx(header, visits, flags)
    stamp = svc.desk.now().strftime("%Y%m%d-%H%M")
    await context.bot.send_document(
        sender.chat_id, io.BytesIO(data), filename=f"visits-{stamp}.xlsx",
        caption=t("tg_export_done", sender, count=len(visits)),
    )  # fmt: skip
