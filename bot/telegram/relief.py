"""Hardship requests on Telegram: ``/relief`` lists those waiting, Approve / Decline ask for the reason.

A translator only: who may decide what, once, and whom to tell are :mod:`bot.desk.relief`'s. A press
(callback data ``rl:ok:<id>`` / ``rl:no:<id>``, on the list or on the notice a supervisor got) asks
for the reason with a message to reply to; the reply (or, with no visit open in the chat, the next
text) decides. ``/cancel`` leaves it undecided.
"""

from __future__ import annotations

import html

from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.desk.labels import label
from bot.desk.relief import Decision, ReliefDesk, ReliefRefused, ReliefView, decision_buttons
from bot.desk.timefmt import person_zone, shown
from bot.telegram.common import Sender, send, services_of, t, try_edit_markup
from bot.telegram.visits import load_chat
from dialogs.i18n import register

__all__ = ["DATA_PREFIX", "cancel_reason", "pending_reason", "press", "relief"]

DATA_PREFIX = "rl"
MAX_LIST = 10
ACTIONS = {"ok": Decision.APPROVE, "no": Decision.DECLINE}

register(
    {
        "cmd_relief": {"zh-CN": "待审批的展期/分期申请", "en": "Hardship requests to decide"},
        "tg_relief_empty": {"zh-CN": "没有待审批的展期/分期申请。", "en": "No hardship requests are waiting."},
        "tg_relief_list": {
            "zh-CN": "待审批的展期/分期申请（等得最久的在前），共 {count} 项：",
            "en": "Hardship requests waiting (longest waiting first), {count} in all:",
        },
        "tg_relief_more": {
            "zh-CN": "另有 {count} 项，请在网页工作台的“展期/分期”页查看。",
            "en": "{count} more: see the web desk's hardship page.",
        },
        "tg_relief_item": {
            "zh-CN": "申请 #{id} · 客户 {code} {name} · {kind}{terms}\n"
            "信贷员 {officer} · 回访 #{visit} · 申请时间 {at}",
            "en": "Request #{id} · borrower {code} {name} · {kind}{terms}\nofficer {officer} · visit #{visit} · "
            "asked {at}",
        },
        "tg_relief_ask_reply": {
            "zh-CN": "请发送{decision}申请 #{id} 的理由：直接回复这条消息。"
            "您正在进行的回访不受影响；发送 /cancel 取消。",
            "en": "Send your reason to {decision} request #{id}: reply to this message. The visit you are on is "
            "not affected; /cancel leaves it undecided.",
        },
        "tg_relief_ask_free": {
            "zh-CN": "请发送{decision}申请 #{id} 的理由（直接输入文字）。发送 /cancel 取消。",
            "en": "Send your reason to {decision} request #{id} (just type it). /cancel leaves it undecided.",
        },
        "tg_relief_verb_approve": {"zh-CN": "批准", "en": "approve"},
        "tg_relief_verb_decline": {"zh-CN": "不批准", "en": "decline"},
        "tg_relief_placeholder": {"zh-CN": "审批理由", "en": "Your reason"},
        "tg_relief_cancelled": {
            "zh-CN": "已取消审批申请 #{id}，未做任何更改。",
            "en": "Request #{id} was left undecided; nothing was changed.",
        },
        "tg_relief_approved": {
            "zh-CN": "申请 #{id} 已批准，信贷员和客户会收到通知。",
            "en": "Request #{id} approved; the officer and the borrower are told.",
        },
        "tg_relief_declined": {
            "zh-CN": "申请 #{id} 未批准，信贷员和客户会收到通知。",
            "en": "Request #{id} declined; the officer and the borrower are told.",
        },
    }
)


def _desk(context: ContextTypes.DEFAULT_TYPE) -> ReliefDesk:
    svc = services_of(context)
    return ReliefDesk(svc.sessions, svc.settings, svc.clock)


def _buttons(sender: Sender, request_id: int) -> InlineKeyboardMarkup:
    """The core's Approve / Decline buttons of a request, in the sender's language."""
    rows = decision_buttons(request_id)
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t(b["key"], sender), callback_data=b["data"]) for b in row] for row in rows]
    )


def _item(sender: Sender, view: ReliefView, zone: str) -> str:
    terms = t("relief_terms_of", sender, terms=view.terms) if view.terms else ""
    return t(
        "tg_relief_item", sender, id=view.id, code=view.borrower_code, name=view.borrower_name,
        kind=label("relief_kind", view.kind, sender.locale), terms=terms, officer=view.officer_name,
        visit=view.visit_id or "-", at=shown(view.requested_at, zone),
    )  # fmt: skip


async def relief(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/relief: the hardship requests waiting for this reviewer, each with Approve / Decline."""
    assert sender.user is not None
    waiting = await _desk(context).visible(sender.user, status="pending")
    if not waiting:
        await send(context, sender.chat_id, html.escape(t("tg_relief_empty", sender)))
        return
    zone = person_zone(sender.user, services_of(context).settings.timezone)
    await send(context, sender.chat_id, html.escape(t("tg_relief_list", sender, count=len(waiting))))
    for view in waiting[:MAX_LIST]:
        markup = _buttons(sender, view.id) if view.can_decide else None
        await send(context, sender.chat_id, html.escape(_item(sender, view, zone)), markup)
    if len(waiting) > MAX_LIST:
        await send(context, sender.chat_id, html.escape(t("tg_relief_more", sender, count=len(waiting) - MAX_LIST)))


async def _refused(context: ContextTypes.DEFAULT_TYPE, sender: Sender, refusal: ReliefRefused) -> None:
    await send(context, sender.chat_id, f"⚠️ {html.escape(refusal.text)}")


async def press(
    update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender, action: str, request_id: int
) -> None:
    """Approve / Decline pressed: ask for the reason (a message to reply to); the chat's visit stays open."""
    assert sender.user is not None
    decision = ACTIONS.get(action)
    if decision is None:
        return
    desk = _desk(context)
    try:
        await desk.check(sender.user, request_id, locale=sender.locale)
    except ReliefRefused as refusal:
        if update.callback_query is not None and refusal.reason in ("approved", "declined"):
            await try_edit_markup(update.callback_query, None)
        await _refused(context, sender, refusal)
        return
    chat = await load_chat(context, sender.chat_id)
    key = "tg_relief_ask_reply" if chat is not None and chat.visit_id is not None else "tg_relief_ask_free"
    verb = t(f"tg_relief_verb_{decision.value}", sender)
    prompt = await context.bot.send_message(
        sender.chat_id, html.escape(t(key, sender, id=request_id, decision=verb)), parse_mode=ParseMode.HTML,
        reply_markup=ForceReply(selective=True, input_field_placeholder=t("tg_relief_placeholder", sender)),
    )  # fmt: skip
    await desk.ask_reason(sender.chat_id, request_id, decision, prompt_message_id=prompt.message_id)


async def pending_reason(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> bool:
    """A typed text that is the pending reason decides the request; True when it was taken."""
    assert sender.user is not None
    msg = update.effective_message
    text = (msg.text or "").strip() if msg else ""
    if msg is None or not text:
        return False
    replying_to = msg.reply_to_message.message_id if msg.reply_to_message is not None else None
    try:
        done = await _desk(context).take_reason(
            sender.chat_id, sender.user, text, replying_to=replying_to, locale=sender.locale
        )
    except ReliefRefused as refusal:
        await _refused(context, sender, refusal)
        return True
    if done is None:
        return False
    key = "tg_relief_approved" if done.decision is Decision.APPROVE else "tg_relief_declined"
    await send(context, sender.chat_id, html.escape(t(key, sender, id=done.request_id)))
    return True


async def cancel_reason(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> bool:
    """/cancel while a reason is pending: leave the mode (the chat's visit goes on); True if it was."""
    request_id = await _desk(context).leave_reason(sender.chat_id)
    if request_id is None:
        return False
    await send(context, sender.chat_id, html.escape(t("tg_relief_cancelled", sender, id=request_id)))
    return True
