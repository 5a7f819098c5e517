"""Running a visit in a Telegram chat (officer or borrower): show questions, take answers, edit in place."""

from __future__ import annotations

import html
import logging

from telegram import Update
from telegram.ext import ContextTypes

from bot.desk import Actor, DeskReply
from bot.telegram.common import Sender, answer_query, edit_or_send, send, services_of, t
from bot.telegram.notify import after_reply
from bot.telegram.render import answered_text, keyboard, parse_callback, prompt_text
from dialogs.answers import Reply
from dialogs.engine import AnswerRecorded, AnswerUndone, Back, Event, Skip, Submit
from dialogs.i18n import message, register
from storage.chats import chat_session, clear_chat, set_chat, set_chat_message

__all__ = ["actor_of", "on_button", "on_input", "run_event", "show_reply"]

log = logging.getLogger(__name__)

register(
    {
        "tg_no_visit": {
            "zh-CN": "现在没有进行中的回访。发送 /visit 开始，或 /resume 继续。",
            "en": "No visit in progress. Send /visit to start one, or /resume to continue.",
        },
        "tg_stale": {
            "zh-CN": "这个按钮属于之前的问题，未重复记录。",
            "en": "That button belongs to an earlier question; nothing was recorded twice.",
        },
        "tg_stale_typed": {
            "zh-CN": "这条回答对应的是上一个问题，已被记录过，这次未重复记录。请回答当前的问题。",
            "en": "That answer was for a question already answered; nothing was recorded twice. "
            "Please answer the current question.",
        },
        "tg_finished": {
            "zh-CN": "回访结束：{outcome}（记录 #{visit}）",
            "en": "Visit ended: {outcome} (record #{visit})",
        },
        "tg_recorded": {"zh-CN": "已记录", "en": "Recorded"},
        "tg_undone": {"zh-CN": "↩ 已撤回", "en": "↩ Undone"},
    }
)


def actor_of(sender: Sender) -> Actor:
    """Who answers: the staff member, or the borrower themself."""
    if sender.user is not None:
        return Actor("officer" if sender.user.role == "officer" else sender.user.role, sender.user.id)
    return Actor("borrower", None)


async def show_reply(context: ContextTypes.DEFAULT_TYPE, sender: Sender, reply: DeskReply, *, header: str = "") -> None:
    """Send the turn as a new question message and remember it (or close the chat's visit)."""
    svc = services_of(context)
    turn = reply.turn
    locale = turn.state.locale
    text = prompt_text(turn, locale, header=header)
    # The chat row moves to the new question before the officer can see it: the next answer may
    # reach another bot process, which must find the chat on this question already.
    if turn.finished:
        outcome = message(f"outcome_{turn.state.outcome}", locale)
        ended = f"<b>{html.escape(message('tg_finished', locale, outcome=outcome, visit=reply.visit_id))}</b>"
        text = f"{text}\n\n{ended}" if text else ended
        async with svc.sessions() as session, session.begin():
            await clear_chat(session, sender.chat_id)
        await send(context, sender.chat_id, text)
        return
    step = turn.prompt.step if turn.prompt else None
    async with svc.sessions() as session, session.begin():
        await set_chat(session, sender.chat_id, visit_id=reply.visit_id, message_id=None, step=step)
    sent = await send(context, sender.chat_id, text, keyboard(reply.visit_id, turn.prompt, locale))
    async with svc.sessions() as session, session.begin():
        await set_chat_message(session, sender.chat_id, visit_id=reply.visit_id, step=step, message_id=sent.message_id)


async def run_event(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    sender: Sender,
    event: Event,
    said: str,
    *,
    expect_step: str | None = None,
    message_id: int | None = None,
) -> DeskReply | None:
    """Apply an input to the chat's visit; edits the old question (``message_id``, else the chat's
    question message) with the answer, shows the next one."""
    svc = services_of(context)
    async with svc.sessions() as session:
        chat = await chat_session(session, sender.chat_id)
    if chat is None or chat.visit_id is None:
        await send(context, sender.chat_id, html.escape(t("tg_no_visit", sender)))
        return None
    reply = await svc.desk.act(
        chat.visit_id, event, actor=actor_of(sender), said=said,
        update_key=f"tg:{update.update_id}", expect_step=expect_step or chat.step,
    )  # fmt: skip
    if reply.stale:
        if update.callback_query is None:  # a typed answer meant for a question already answered
            await send(context, sender.chat_id, html.escape(t("tg_stale_typed", sender)))
        return reply
    if reply.duplicate:  # redelivered after a crash: show where the visit stands, record nothing
        await show_reply(context, sender, reply)
        return reply
    turn = reply.turn
    if turn.error and turn.prompt is not None and turn.prompt.step == chat.step:
        await send(context, sender.chat_id, f"⚠️ {html.escape(turn.error)}")
        return reply
    recorded = [r for r in turn.records if isinstance(r, AnswerRecorded)]
    undone = any(isinstance(r, AnswerUndone) for r in turn.records)
    question_message = message_id or chat.message_id
    if question_message is not None and (recorded or undone):
        if recorded:
            first = recorded[0]
            shown = first.display or (message("tg_skip", turn.state.locale) if first.skipped else first.raw)
            old = answered_text(first.question, shown)
        else:
            old = html.escape(message("tg_undone", turn.state.locale))
        await edit_or_send(context, sender.chat_id, question_message, old)
    await show_reply(context, sender, reply)
    await after_reply(context, reply)
    return reply


async def on_input(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> DeskReply | None:
    """A typed answer, a photo or a location for the chat's current question."""
    msg = update.effective_message
    if msg is None:
        return None
    if msg.photo:
        reply, said = Reply(photo=msg.photo[-1].file_id), "[photo]"
    elif msg.location is not None:
        loc = msg.location
        reply, said = (
            Reply(location=(loc.latitude, loc.longitude)),
            f"[location {loc.latitude},{loc.longitude}]",
        )
    else:
        reply, said = Reply(text=msg.text or ""), msg.text or ""
    return await run_event(update, context, sender, Submit(reply), said)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> DeskReply | None:
    """A press on a question's button: an option, a tick, back or skip; stale presses record nothing."""
    query = update.callback_query
    assert query is not None and query.data is not None
    data = parse_callback(query.data)
    svc = services_of(context)
    async with svc.sessions() as session:
        chat = await chat_session(session, sender.chat_id)
    if data is None or chat is None or chat.visit_id != data.visit_id or chat.step != data.step:
        await answer_query(query, t("tg_stale", sender))
        return None
    event: Event
    if data.kind == "m" and data.value != "=":
        picked = list(chat.picked or [])
        picked = [p for p in picked if p != data.value] if data.value in picked else [*picked, data.value]
        async with svc.sessions() as session, session.begin():
            await set_chat(
                session, sender.chat_id, visit_id=chat.visit_id, message_id=chat.message_id, step=chat.step,
                picked=picked,
            )  # fmt: skip
        current = await svc.desk.current(chat.visit_id)
        markup = keyboard(chat.visit_id, current.turn.prompt, current.turn.state.locale, picked)
        await answer_query(query)
        if query.message is not None:
            await query.edit_message_reply_markup(markup)
        return None
    if data.kind == "m":
        event, said = Submit(Reply(options=tuple(chat.picked or ()))), ",".join(chat.picked or ())
    elif data.kind == "c":
        event, said = (Back(), "/back") if data.value == "back" else (Skip(), "/skip")
    else:
        event, said = Submit(Reply(option=data.value)), _label(query, data.value)
    pressed = query.message.message_id if query.message is not None else None
    reply = await run_event(update, context, sender, event, said, expect_step=data.step, message_id=pressed)
    if reply is not None and reply.stale:
        await answer_query(query, t("tg_stale", sender))
    elif reply is not None and reply.turn.error:
        await answer_query(query, reply.turn.error[:190], show_alert=True)
    else:
        await answer_query(query, t("tg_recorded", sender))
    return reply


def _label(query: object, option: str) -> str:
    """The text of the pressed button (for the transcript), else the option id."""
    markup = getattr(getattr(query, "message", None), "reply_markup", None)
    for row in getattr(markup, "inline_keyboard", ()):
        for button in row:
            if button.callback_data and str(button.callback_data).endswith(f":{option}"):
                return str(button.text)
    return option
