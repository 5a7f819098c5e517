"""Supervisors on Telegram: transcripts, the review queue, approve / send back with a comment, exports.

A translator only: who may review what, what a review may become next and whom to tell are decided
by :mod:`bot.desk.review`; this module turns presses and texts into its calls and its answers (or
refusals) into messages. Notices to the other party go out through the outbox.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.desk.export import day_start, export_visits
from bot.desk.labels import answered_by_label, flag_label, outcome_label, severity_label
from bot.desk.records import view_record
from bot.desk.report import render_report
from bot.desk.review import (
    ReviewAction,
    ReviewDesk,
    ReviewEvent,
    ReviewRefused,
    ReviewState,
    actions_for,
    history,
)
from bot.desk.timefmt import person_zone, shown
from bot.telegram.common import Sender, send, services_of, t, try_edit_markup
from bot.telegram.render import record_id
from bot.telegram.visits import load_chat
from dialogs.i18n import message, register
from storage import repositories as repo

__all__ = [
    "approve",
    "ask_comment",
    "cancel_comment",
    "comment",
    "export",
    "pending_comment",
    "render_transcript",
    "reply_to_review",
    "review",
    "transcript",
]

MAX_LIST = 20

register(
    {
        "tg_review_empty": {"zh-CN": "没有待审核的回访。", "en": "No visits waiting for review."},
        "tg_review_list": {
            "zh-CN": "待审核的回访（风险高的在前）：",
            "en": "Visits waiting for review (highest risk first):",
        },
        "tg_no_such_visit": {
            "zh-CN": "找不到回访 #{id}，或您无权查看。",
            "en": "No visit #{id}, or it is not yours to see.",
        },
        "tg_transcript_usage": {"zh-CN": "用法：/transcript 回访编号", "en": "Usage: /transcript <visit id>"},
        "tg_approve": {"zh-CN": "✅ 通过", "en": "✅ Approve"},
        "tg_send_back": {"zh-CN": "↩ 退回", "en": "↩ Send back"},
        "tg_approved": {"zh-CN": "回访 #{id} 已审核通过。", "en": "Visit #{id} approved."},
        "tg_ask_comment_reply": {
            "zh-CN": "请发送退回回访 #{id} 的意见：直接回复这条消息（或发送 /comment 意见）。"
            "您正在进行的回访不受影响；发送 /cancel 取消退回。",
            "en": "Send your comment for returning visit #{id}: reply to this message (or send /comment "
            "<your comment>). The visit you are on is not affected; /cancel leaves it unreturned.",
        },
        "tg_ask_comment_free": {
            "zh-CN": "请发送退回回访 #{id} 的意见（直接输入文字，或回复这条消息）。发送 /cancel 取消退回。",
            "en": "Send your comment for returning visit #{id} (just type it, or reply to this message). "
            "/cancel leaves it unreturned.",
        },
        "tg_comment_placeholder": {"zh-CN": "退回意见", "en": "Your comment"},
        "tg_comment_none": {
            "zh-CN": "现在没有待填写的退回意见：请先在回访记录上点“↩ 退回”。",
            "en": "No comment is pending: press “↩ Send back” on a transcript first.",
        },
        "tg_comment_cancelled": {
            "zh-CN": "已取消退回回访 #{id}，未做任何更改。",
            "en": "Visit #{id} was not sent back; nothing was changed.",
        },
        "tg_returned": {
            "zh-CN": "回访 #{id} 已退回，意见会发送给信贷员。",
            "en": "Visit #{id} sent back; your comment goes to the officer.",
        },
        "tg_reply_usage": {"zh-CN": "用法：/reply 回访编号 说明", "en": "Usage: /reply <visit id> <your answer>"},
        "tg_reply_sent": {"zh-CN": "说明已发送给主管。", "en": "Your answer was sent to the supervisor."},
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
        "tg_transcript_times": {"zh-CN": "时间：{zone}", "en": "Times: {zone}"},
        "tg_transcript_review": {"zh-CN": "审核：{state}", "en": "Review: {state}"},
        "tg_transcript_history": {"zh-CN": "审核记录：", "en": "Review history:"},
    }
)


def _reviews(context: ContextTypes.DEFAULT_TYPE) -> ReviewDesk:
    svc = services_of(context)
    return ReviewDesk(svc.sessions, svc.settings, svc.clock)


def _zone(context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> str:
    """The zone the sender reads times in: their own, else the deployment's."""
    return person_zone(sender.user, services_of(context).settings.timezone)


async def _refused(context: ContextTypes.DEFAULT_TYPE, sender: Sender, refusal: ReviewRefused) -> None:
    await send(context, sender.chat_id, f"⚠️ {html.escape(refusal.text)}")


async def review(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/review: finished visits waiting for review (and answered ones), highest risk first, as buttons."""
    assert sender.user is not None
    entries = await _reviews(context).queue(sender.user, limit=MAX_LIST)
    if not entries:
        await send(context, sender.chat_id, html.escape(t("tg_review_empty", sender)))
        return
    marks = {"high": "⚠️ ", "medium": "❗ "}
    rows = []
    for entry in entries:
        v = entry.visit
        outcome = outcome_label(v.outcome, sender.locale)
        state = f" · {message('review_state_answered', sender.locale)}" if entry.state is ReviewState.ANSWERED else ""
        label = f"{marks.get(entry.worst or '', '')}#{v.id} {v.borrower.code} {v.borrower.name} · {outcome}{state}"
        rows.append([InlineKeyboardButton(label, callback_data=f"s:tr:{v.id}")])
    await send(context, sender.chat_id, html.escape(t("tg_review_list", sender)), InlineKeyboardMarkup(rows))


def review_buttons(sender: Sender, actions: Sequence[ReviewAction], visit_id: int) -> InlineKeyboardMarkup | None:
    """The approve / send-back buttons the sender is offered now (none on an approved visit)."""
    buttons = []
    if ReviewAction.APPROVE in actions:
        buttons.append(InlineKeyboardButton(t("tg_approve", sender), callback_data=f"s:ok:{visit_id}"))
    if ReviewAction.SEND_BACK in actions:
        buttons.append(InlineKeyboardButton(t("tg_send_back", sender), callback_data=f"s:ret:{visit_id}"))
    return InlineKeyboardMarkup([buttons]) if buttons else None


async def transcript(
    update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender, visit_id: int | None = None
) -> None:
    """/transcript <id>: the visit's answers, flags, transcript and review history, with review buttons."""
    assert sender.user is not None
    if visit_id is None:
        args = context.args or []
        visit_id = record_id(args[0].lstrip("#")) if args else None
        if visit_id is None:
            await send(context, sender.chat_id, html.escape(t("tg_transcript_usage", sender)))
            return
    svc = services_of(context)
    actions: tuple[ReviewAction, ...] = ()
    events: list[ReviewEvent] = []
    async with svc.sessions() as session:
        record = await view_record(session, sender.user, visit_id, now=svc.clock.now())
        if record is not None:
            visit = await repo.load_visit(session, visit_id)
            actions = actions_for(sender.user, visit) if visit is not None else ()
            events = await history(session, visit_id)
    if record is None:  # told after the session: a slow send never holds a database connection
        await send(context, sender.chat_id, html.escape(t("tg_no_such_visit", sender, id=visit_id)))
        return
    zone = _zone(context, sender)
    text = render_transcript(record, sender.locale, zone=zone, events=events)
    markup = review_buttons(sender, actions, visit_id)
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
        settings = svc.settings
        folder = Path(settings.scripts_dir) if settings.scripts_dir else None
        report = render_report(record, sender.locale, folder=folder, timezone=zone)
        await context.bot.send_document(
            sender.chat_id, io.BytesIO(report.encode()), filename=f"visit-{visit_id}-report.md",
            caption=t("tg_report_caption", sender, id=visit_id),
        )  # fmt: skip


def render_transcript(
    record: dict[str, Any], locale: str, *, zone: str = "UTC", events: Sequence[ReviewEvent] = ()
) -> str:
    """A visit record as HTML text: header, flags, answers, the transcript lines, the review history.

    Times are in ``zone`` (the viewer's), which the text names; codes are shown as their labels."""
    esc = html.escape
    officer = (record.get("officer") or {}).get("name", "-")
    outcome = outcome_label(record["outcome"], locale) if record.get("outcome") else record["status"]
    header = (
        f"<b>#{record['id']} {esc(record['borrower']['code'])} {esc(record['borrower']['name'])}</b> · "
        f"{esc(officer)} · {esc(record['script']['id'])} v{record['script']['version']} · {esc(outcome)}"
    )
    when = shown(record.get("started_at"), zone, named=False)
    meta = [f"{esc(when)} · {esc(message('tg_transcript_times', locale, zone=zone))}"]
    if record.get("status") == "finished" and record.get("review_status"):
        state = message(f"review_state_{record['review_status']}", locale)
        meta.append(esc(message("tg_transcript_review", locale, state=state)))
    lines = [header + "\n" + "\n".join(meta)]
    if record["flags"]:
        lines.append(
            "\n".join(
                f"⚠️ {esc(flag_label(f['code'], locale))} ({esc(severity_label(f['severity'], locale))}) "
                f"{esc(f['note'] or '')}".rstrip()
                for f in record["flags"]
            )
        )
    if record.get("remark"):
        lines.append(f"📝 {esc(record['remark'])}")
    answers = "\n".join(_answer_line(a, locale) for a in record["answers"])
    if answers:
        lines.append(answers)
    arrows = {"in": "«", "out": "»"}
    talk = "\n".join(
        f"{shown(m['at'], zone, fmt='%H:%M:%S', named=False)} {arrows.get(m['direction'], '#')} {esc(m['text'])}"
        for m in record["transcript"]
    )
    if talk:
        lines.append(talk)
    if events:
        lines.append(
            esc(message("tg_transcript_history", locale))
            + "\n"
            + "\n".join(_event_line(e, locale, zone) for e in events)
        )
    return "\n\n".join(lines)


def _answer_line(answer: dict[str, Any], locale: str) -> str:
    esc = html.escape
    who = f" <i>({esc(answered_by_label(answer['answered_by'], locale))})</i>" if answer.get("answered_by") else ""
    given = answer.get("display") or answer.get("raw") or "-"
    return f"• {esc(answer['question'][:60])} → <b>{esc(given)}</b>{who}"


def _event_line(event: ReviewEvent, locale: str, zone: str) -> str:
    key = {"review_approved": "review_event_approved", "review_returned": "review_event_returned"}.get(
        event.action, "review_event_replied"
    )
    return "• " + html.escape(
        message(key, locale, at=shown(event.at, zone, named=False), name=event.name, text=event.text)
    )


async def approve(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender, visit_id: int) -> None:
    """The approve button: approve the visit; its buttons go away."""
    assert sender.user is not None
    query = update.callback_query
    try:
        await _reviews(context).approve(visit_id, sender.user, locale=sender.locale)
    except ReviewRefused as refusal:
        if query is not None and refusal.reason == ReviewState.APPROVED.value:
            await try_edit_markup(query, None)
        await _refused(context, sender, refusal)
        return
    if query is not None:
        await try_edit_markup(query, None)
    await send(context, sender.chat_id, html.escape(t("tg_approved", sender, id=visit_id)))


async def ask_comment(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender, visit_id: int) -> None:
    """The send-back button: ask for the comment (a message to reply to); the chat's visit stays open."""
    assert sender.user is not None
    reviews = _reviews(context)
    try:
        await reviews.check(visit_id, sender.user, ReviewAction.SEND_BACK, locale=sender.locale)
    except ReviewRefused as refusal:
        await _refused(context, sender, refusal)
        return
    chat = await load_chat(context, sender.chat_id)
    on_visit = chat is not None and chat.visit_id is not None
    key = "tg_ask_comment_reply" if on_visit else "tg_ask_comment_free"
    prompt = await context.bot.send_message(
        sender.chat_id, html.escape(t(key, sender, id=visit_id)), parse_mode=ParseMode.HTML,
        reply_markup=ForceReply(selective=True, input_field_placeholder=t("tg_comment_placeholder", sender)),
    )  # fmt: skip
    await reviews.ask_comment(sender.chat_id, visit_id, sender.user, prompt_message_id=prompt.message_id)


async def pending_comment(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> bool:
    """A typed text that is the pending review comment sends the visit back; True when it was taken."""
    msg = update.effective_message
    text = (msg.text or "").strip() if msg else ""
    if msg is None or not text:
        return False
    replying_to = msg.reply_to_message.message_id if msg.reply_to_message is not None else None
    return await _take(context, sender, text, replying_to=replying_to, explicit=False)


async def comment(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/comment <text>: the pending review comment, even while a visit is open in the chat."""
    text = " ".join(context.args or []).strip()
    if not text or not await _take(context, sender, text, replying_to=None, explicit=True):
        await send(context, sender.chat_id, html.escape(t("tg_comment_none", sender)))


async def _take(
    context: ContextTypes.DEFAULT_TYPE, sender: Sender, text: str, *, replying_to: int | None, explicit: bool
) -> bool:
    assert sender.user is not None
    try:
        done = await _reviews(context).take_comment(
            sender.chat_id, sender.user, text, replying_to=replying_to, explicit=explicit, locale=sender.locale
        )
    except ReviewRefused as refusal:
        await _refused(context, sender, refusal)
        return True
    if done is None:
        return False
    await send(context, sender.chat_id, html.escape(t("tg_returned", sender, id=done.visit_id)))
    return True


async def cancel_comment(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> bool:
    """/cancel while a comment is pending: leave the comment mode (the chat's visit goes on); True if it was."""
    visit_id = await _reviews(context).leave_comment(sender.chat_id)
    if visit_id is None:
        return False
    await send(context, sender.chat_id, html.escape(t("tg_comment_cancelled", sender, id=visit_id)))
    return True


async def reply_to_review(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/reply <id> <text>: the officer answers a supervisor's comment on their returned visit."""
    assert sender.user is not None
    args = context.args or []
    visit_id = record_id(args[0].lstrip("#")) if len(args) >= 2 else None
    if visit_id is None:
        await send(context, sender.chat_id, html.escape(t("tg_reply_usage", sender)))
        return
    try:
        await _reviews(context).reply(visit_id, sender.user, " ".join(args[1:]), locale=sender.locale)
    except ReviewRefused as refusal:
        await _refused(context, sender, refusal)
        return
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
    async with svc.sessions() as session, session.begin():  # the core narrows to what they may see, masks, audits
        file = await export_visits(
            session, sender.user, repo.VisitFilter(**options), kind="xlsx", now=svc.clock.now(),
            zone=person_zone(sender.user, zone), catalog=svc.catalog,
        )  # fmt: skip
    stamp = svc.desk.now().strftime("%Y%m%d-%H%M")
    await context.bot.send_document(
        sender.chat_id, io.BytesIO(file.data), filename=f"visits-{stamp}.xlsx",
        caption=t("tg_export_done", sender, count=file.rows),
    )  # fmt: skip
