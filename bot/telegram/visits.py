"""Running a visit in a Telegram chat (officer or borrower): show questions, take answers, edit in place.

The visit in the database is the truth; the chat row only says which visit the chat is on. Where the
visit's current question is on screen is the visit's own (``Visit.shown_in``: a message of this chat,
for the step ``Visit.shown_step``), written with the answer that moved it when that place is known then,
else once the new message is delivered (:class:`storage.chats.ChatView` reads the two together). An
answer is applied only to the question the person was shown: a typed answer needs the visit's current
question on screen in the chat; a button carries its own step. Anything else (a send that failed, a
crash between the commit and the send, the visit moved on by another front-end) makes the next input
show the current question again, recording nothing.

One answer costs one Bot API call that counts against Telegram's messages per second: a press edits
the pressed message to show the answer and the next question (the visit says so in the answer's own
UPDATE, as the message's id is known before: the answer writes no chat row), a typed answer (it shows
in the person's own message) gets the next question in a new message. The answers themselves are kept
in the transcript. (A bot process killed between an answer's commit and the edit leaves the pressed
message showing the old question while the visit says it shows the next: a press on it records nothing
twice and edits that message to show the visit's question.)
"""

from __future__ import annotations

import asyncio
import html
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import CallbackQuery, Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.desk import Actor, DeskReply
from bot.desk.files import FileStoreError, KeptFile, keep
from bot.telegram.answered import (
    Pointing,
    close_chat,
    edited_here,
    mark_handled,
    pressed_text,
    refused,
    remove_buttons,
    show_in_pressed,
    turn_text,
)
from bot.telegram.common import Sender, answer_query, send, services_of, t, try_edit_markup
from bot.telegram.render import as_markup, keyboard, parse_callback
from dialogs.answers import Reply
from dialogs.engine import AnswerRecorded, AnswerUndone, Back, Event, Skip, Submit, VisitEnded
from dialogs.i18n import register
from storage.chats import ChatView, chat_view, set_chat, set_shown
from storage.models import utcnow

__all__ = ["actor_of", "on_button", "on_input", "remove_buttons", "reshow", "run_event", "show_reply", "update_key"]

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
        "tg_reshow": {
            "zh-CN": "上一条消息没有记录：它不是对当前问题的回答。当前的问题是：",
            "en": "Your last message was not recorded: it did not answer the current question. "
            "The current question is:",
        },
        "tg_duplicate": {
            "zh-CN": "这条消息之前已经处理过了，未重复记录。回访进行到这里：",
            "en": "That message was handled before; nothing was recorded twice. The visit stands here:",
        },
        "tg_press_handled": {
            "zh-CN": "这次点击之前已经处理过了，未重复记录。",
            "en": "That press was handled before; nothing was recorded twice.",
        },
        "tg_recorded": {"zh-CN": "已记录", "en": "Recorded"},
        "tg_undone": {"zh-CN": "↩ 已撤回", "en": "↩ Undone"},
    }
)


SHOW_WAIT = 2.0
"""Seconds an input waits for a question another bot process is delivering right now."""
IN_FLIGHT = timedelta(seconds=10)
"""A question pointed at this recently may still be on its way; older than that, its send failed."""


def actor_of(sender: Sender) -> Actor:
    """Who answers: the staff member, or the borrower themself."""
    if sender.user is not None:
        return Actor("officer" if sender.user.role == "officer" else sender.user.role, sender.user.id)
    return Actor("borrower", None, telegram_id=sender.telegram_id)  # kept as who answered (respondent)


def update_key(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """The idempotency key of an update: the bot's id and the update id (both are Telegram's)."""
    return f"tg:{context.bot.id}:{update.update_id}"


async def load_chat(context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> ChatView | None:
    """The chat as it stands: its visit, and where that visit's question shows."""
    async with services_of(context).sessions() as session:
        return await chat_view(session, chat_id)


async def shown_chat(context: ContextTypes.DEFAULT_TYPE, chat_id: int, step: str | None) -> ChatView | None:
    """The chat row once it shows ``step``'s question, else as it is after a short wait.

    With several bot processes, one may be delivering the question while another takes the next
    input; a question whose send failed (or whose process died) never gets there.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SHOW_WAIT
    while True:
        chat = await load_chat(context, chat_id)
        if chat is None or (chat.step == step and chat.message_id is not None):
            return chat
        if loop.time() > deadline or utcnow() - chat.updated_at > IN_FLIGHT:
            return chat
        await asyncio.sleep(0.05)


async def point_chat(context: ContextTypes.DEFAULT_TYPE, chat_id: int, reply: DeskReply) -> None:
    """Put the chat on the reply's visit (where its question shows is the visit's: :func:`show_reply`)."""
    async with services_of(context).sessions() as session, session.begin():
        await set_chat(session, chat_id, visit_id=reply.visit_id)


async def show_reply(
    context: ContextTypes.DEFAULT_TYPE,
    sender: Sender,
    reply: DeskReply,
    *,
    header: str = "",
    pointed: bool = False,
    left: bool = False,
) -> None:
    """Send the turn as a new question message and, once delivered, remember it with the visit (or close
    the chat's visit).

    The chat is put on the visit before the send (so another bot process taking the next input finds
    the chat there), but shows its question only once the send succeeded (``pointed``: the chat is on
    it already; ``left``: the visit ended and the chat left it already, with its last input).
    """
    svc = services_of(context)
    turn = reply.turn
    text = turn_text(context, sender, reply, header=header)
    if not pointed:
        await point_chat(context, sender.chat_id, reply)
    if turn.finished:
        await send(context, sender.chat_id, text)
        if not left:
            await close_chat(context, sender.chat_id, reply.visit_id)
        return
    step = turn.prompt.step if turn.prompt else None
    sent = await send(context, sender.chat_id, text, keyboard(reply.visit_id, turn.prompt, turn.state.locale))
    if step is None:
        return

    async def delivered(session: AsyncSession) -> None:
        await set_shown(session, sender.chat_id, visit_id=reply.visit_id, step=step, message_id=sent)

    await svc.desk.write(delivered)  # in the next transaction answers share (group commit)


async def reshow(context: ContextTypes.DEFAULT_TYPE, sender: Sender, visit_id: int, notice: str = "") -> DeskReply:
    """Show the visit's current question (or its end) again, as the database has it."""
    reply = await services_of(context).desk.current(visit_id)
    await show_reply(context, sender, reply, header=notice)
    return reply


def _press_text(sender: Sender, reply: DeskReply) -> tuple[str | None, bool]:
    """What a press is answered with (text, as an alert): only a recorded input says 'recorded'."""
    if reply.duplicate:
        return t("tg_press_handled", sender), False
    if reply.stale:
        return t("tg_stale", sender), False
    if reply.turn.error:
        return reply.turn.error[:190], True
    records = reply.turn.records
    if any(isinstance(r, AnswerUndone) for r in records):
        return t("tg_undone", sender), False
    if any(isinstance(r, AnswerRecorded | VisitEnded) for r in records):
        return t("tg_recorded", sender), False
    return None, False


async def run_event(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    sender: Sender,
    event: Event,
    said: str,
    *,
    expect_step: str | None = None,
    pressed: int | None = None,
    query: CallbackQuery | None = None,
    needs_shown: bool = True,
    attachment: KeptFile | None = None,
    chat: ChatView | None = None,
) -> DeskReply | None:
    """Apply an input to the chat's visit and show what comes next, in one Bot API call where it can.

    A press on a question's button (``pressed``: that message) edits the pressed message to show the
    answer and the next question; any other input gets the next question in a new message (a typed
    answer already shows in the person's own message). ``needs_shown``: the input answers the chat's
    question, so that question must have reached the chat; ``query`` is answered at once. ``chat``: the
    chat's row as already read for this update (else it is read here)."""
    chat = await _chat_for_input(context, sender, query, needs_shown=needs_shown, chat=chat)
    if chat is None or chat.visit_id is None:
        return None
    step = expect_step or chat.step
    question_message = pressed or chat.message_id
    # where the next question shows goes with the answer, in its transaction (for a press: the pressed message)
    pointing = Pointing(
        sender.chat_id, step, pressed, lambda reply: pressed_text(context, sender, reply), picked=bool(chat.picked)
    )
    seen = sender.visit if sender.visit is not None and sender.visit.id == chat.visit_id else None
    reply = await services_of(context).desk.act(
        chat.visit_id, event, actor=actor_of(sender), said=said, update_key=update_key(update, context),
        expect_step=step, attachment=attachment,
        shown_in=str(question_message) if question_message is not None else None, applied=pointing, seen=seen,
        shows=pointing.where,
    )  # fmt: skip
    alerted = False
    if query is not None:
        text, alert = _press_text(sender, reply)
        alerted = await answer_query(query, text, show_alert=alert)  # False: answered while it waited
    if await _not_applied(context, sender, reply, step, pressed=alerted):
        return reply
    # The input is committed, and where its next question shows with it. From here on, whatever
    # fails, the chat re-derives from the visit.
    # alerts and tasks were queued with the input (bot.desk.alerts); the commit woke the outbox worker
    if pressed is not None and pointing.shows is not None:
        await show_in_pressed(context, sender, reply, pressed, pointing.shows, left=pointing.left)
        return reply
    if question_message is not None:
        await mark_handled(context, sender.chat_id, reply, question_message, pressed=pressed is not None)
    await show_reply(context, sender, reply, pointed=True, left=pointing.left)
    return reply


async def _chat_for_input(
    context: ContextTypes.DEFAULT_TYPE,
    sender: Sender,
    query: CallbackQuery | None,
    *,
    needs_shown: bool,
    chat: ChatView | None = None,
) -> ChatView | None:
    """The chat an input applies to; None when there is no visit or (``needs_shown``) its question never
    reached the chat, after saying so or showing the question again, recording nothing."""
    if chat is None:
        chat = sender.chat or await load_chat(context, sender.chat_id)
    if chat is not None and chat.visit_id is not None and needs_shown and chat.message_id is None:
        chat = await shown_chat(context, sender.chat_id, chat.step)
    if chat is None or chat.visit_id is None:
        if query is not None:
            await answer_query(query, t("tg_stale", sender))
        await send(context, sender.chat_id, html.escape(t("tg_no_visit", sender)))
        return None
    if needs_shown and chat.message_id is None:
        await reshow(context, sender, chat.visit_id, t("tg_reshow", sender))
        return None
    return chat


async def _not_applied(
    context: ContextTypes.DEFAULT_TYPE, sender: Sender, reply: DeskReply, step: str | None, *, pressed: bool
) -> bool:
    """Handle an input the desk did not apply (a redelivery, an earlier question's, a refused one):
    say where the visit stands. False when it was applied."""
    current = None if reply.turn.finished else reply.turn.state.step
    if reply.duplicate:  # redelivered (a crash, a retry): show where the visit stands, record nothing
        await show_reply(context, sender, reply, header=t("tg_duplicate", sender))
        return True
    if reply.stale:
        behind = reply.turn.finished or not pressed
        if not behind:
            now = await shown_chat(context, sender.chat_id, current)
            behind = now is None or now.step != current or now.message_id is None
        if behind:  # the chat is not showing the visit's question: show it
            await show_reply(context, sender, reply, header="" if pressed else t("tg_reshow", sender))
        return True
    turn = reply.turn
    if refused(reply, step):
        if not pressed:  # a press shows the error as its alert
            await send(context, sender.chat_id, f"⚠️ {html.escape(turn.error or '')}")
        return True
    return False


async def on_input(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> DeskReply | None:
    """A typed answer, a photo or a location for the chat's current question."""
    msg = update.effective_message
    if msg is None:
        return None
    kept = None
    if msg.photo:
        if (kept := await _keep_photo(context, sender, msg.photo[-1].file_id)) is None:
            return None
        reply, said = Reply(photo=kept.key), "[photo]"
    elif msg.location is not None:
        loc = msg.location
        reply, said = (
            Reply(location=(loc.latitude, loc.longitude)),
            f"[location {loc.latitude},{loc.longitude}]",
        )
    else:
        reply, said = Reply(text=msg.text or ""), msg.text or ""
    return await run_event(update, context, sender, Submit(reply), said, attachment=kept)


async def _keep_photo(context: ContextTypes.DEFAULT_TYPE, sender: Sender, file_id: str) -> KeptFile | None:
    """Download a photo from Telegram into the file store; None, after asking for it again, when that fails."""
    try:
        found = await context.bot.get_file(file_id)
        data = await found.download_as_bytearray()
        name = found.file_path if found.file_path and "." in found.file_path.rsplit("/", 1)[-1] else "photo.jpg"
        files = services_of(context).desk.files  # Telegram sends every photo as a JPEG
        return await keep(files, bytes(data), name, content_type="image/jpeg", source_ref=file_id)
    except (TelegramError, FileStoreError) as exc:
        log.warning("photo %s of chat %s not kept: %s", file_id, sender.chat_id, exc)
        await send(context, sender.chat_id, html.escape(t("files_not_kept", sender)))
        return None


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> DeskReply | None:
    """A press on a question's button: an option, a tick, back or skip; stale presses record nothing."""
    query = update.callback_query
    assert query is not None
    data = parse_callback(query.data or "")
    chat = sender.chat or await load_chat(context, sender.chat_id)
    if data is None or chat is None or chat.visit_id is None or chat.visit_id != data.visit_id:
        await answer_query(query, t("tg_stale", sender))
        return None
    svc = services_of(context)
    pressed = query.message.message_id if query.message is not None else None
    if data.step != chat.step:  # a button of another question
        await answer_query(query, t("tg_stale", sender))
        current = await svc.desk.current(chat.visit_id)
        step = None if current.turn.finished else current.turn.state.step
        now = await shown_chat(context, sender.chat_id, step) if step is not None else None
        if now is None or now.step != step or now.message_id is None:
            await show_reply(context, sender, current)  # the chat lost track of the visit: show where it is
        elif pressed == now.message_id and _still_shows(query) and edited_here(sender.chat_id, pressed) != step:
            # the message the chat points at still shows this earlier question: the answer was committed but
            # the edit showing the next question never made it (a bot killed in between): show it there now
            await show_in_pressed(context, sender, current, pressed, turn_text(context, sender, current))
        return None
    if data.kind == "m" and data.value != "=":
        await answer_query(query)
        picked = list(chat.picked or [])
        picked = [p for p in picked if p != data.value] if data.value in picked else [*picked, data.value]
        async with svc.sessions() as session, session.begin():
            await set_chat(session, sender.chat_id, visit_id=chat.visit_id, picked=picked)
        current = await svc.desk.current(chat.visit_id)
        buttons = keyboard(chat.visit_id, current.turn.prompt, current.turn.state.locale, picked)
        await try_edit_markup(query, as_markup(buttons))
        return None
    event: Event
    if data.kind == "m":
        event, said = Submit(Reply(options=tuple(chat.picked or ()))), ",".join(chat.picked or ())
    elif data.kind == "c":
        event, said = (Back(), "/back") if data.value == "back" else (Skip(), "/skip")
    else:
        event, said = Submit(Reply(option=data.value)), _label(query, data.value)
    return await run_event(
        update, context, sender, event, said, expect_step=data.step, pressed=pressed, query=query,
        needs_shown=False, chat=chat,
    )  # fmt: skip


def _still_shows(query: CallbackQuery) -> bool:
    """True when the pressed message, as Telegram delivered it with the press, still has the pressed button."""
    markup = query.message.reply_markup if isinstance(query.message, Message) else None
    rows = markup.inline_keyboard if markup is not None else ()
    return any(button.callback_data == query.data for row in rows for button in row)


def _label(query: object, option: str) -> str:
    """The text of the pressed button (for the transcript), else the option id."""
    markup = getattr(getattr(query, "message", None), "reply_markup", None)
    for row in getattr(markup, "inline_keyboard", ()):
        for button in row:
            if button.callback_data and str(button.callback_data).endswith(f":{option}"):
                return str(button.text)
    return option
