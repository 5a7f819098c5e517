"""What a Telegram chat shows once a visit input is applied, in as few Bot API calls as it can.

A press shows what it did in the pressed message: one edit turns the answered question into the answer
and the next question (or the visit's end), and the visit says that message shows its next question in
the answer's own write (:class:`Pointing`), so nothing is left to commit once it is shown. When that
would not fit one message, or for any other input, the next question comes in a new message
(bot.telegram.visits) and the question handled is edited as needed (:func:`mark_handled`).
"""

from __future__ import annotations

import html
import logging
from collections import OrderedDict
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.desk import DeskReply
from bot.desk.labels import outcome_label
from bot.desk.timefmt import person_zone
from bot.telegram import calls
from bot.telegram.common import Sender, edit_or_send, services_of
from bot.telegram.render import answered_text, keyboard, one_message, prompt_text, withdrawn_text
from dialogs.engine import AnswerRecorded, AnswerUndone, VisitEnded
from dialogs.i18n import message, register
from storage.chats import leave_visit, move_shown, point_chat_at, screen_ref

__all__ = [
    "Pointing",
    "close_chat",
    "edit_text",
    "edited_here",
    "handled_text",
    "mark_handled",
    "pressed_text",
    "refused",
    "remove_buttons",
    "repoint",
    "show_in_pressed",
    "shown_step",
    "turn_text",
]

log = logging.getLogger(__name__)

register(
    {
        "tg_finished": {
            "zh-CN": "回访结束：{outcome}（记录 #{visit}）",
            "en": "Visit ended: {outcome} (record #{visit})",
        },
    }
)


def shown_step(reply: DeskReply) -> str | None:
    """The step whose question the chat shows next (None once the visit ended)."""
    turn = reply.turn
    return None if turn.finished or turn.prompt is None else turn.prompt.step


def refused(reply: DeskReply, step: str | None) -> bool:
    """The input was refused with an error and its question stays open (``step``): the chat stays put."""
    turn = reply.turn
    return bool(turn.error) and turn.prompt is not None and turn.prompt.step == step


class Pointing:
    """What moves with an input in the transaction that records it (none of its own): where the next
    question shows (:meth:`where`, kept with the visit's write), the ticks cleared (``picked``: some were
    ticked), and the chat leaving a visit that ended (``left``). An input refused at ``step`` leaves all
    as it was: the chat still shows that question.

    For a press (``pressed``: the question message pressed) it decides, with the answer, what that
    message shows next (``shows``: the answer and the next question, rendered by ``render``), so the
    visit says at once that the message shows its next question and needs no second commit once it is
    shown; ``shows`` stays None when the next question goes in a new message instead (too long for one,
    or not a press): the visit's question is on screen once that message is delivered."""

    def __init__(
        self,
        chat_id: int,
        step: str | None,
        pressed: int | None,
        render: Callable[[DeskReply], str | None],
        *,
        picked: bool = False,
    ) -> None:
        self.chat_id = chat_id
        self.step = step
        self.pressed = pressed
        self.render = render
        self.picked = picked
        self.shows: str | None = None
        self.left = False

    def where(self, reply: DeskReply) -> str | None:
        """Where the reply's next question will be on screen, when known now (the pressed message)."""
        self.shows = None  # (a transaction run again decides again)
        if self.pressed is None or refused(reply, self.step):
            return None
        self.shows = self.render(reply)
        return screen_ref(self.chat_id, self.pressed) if self.shows is not None else None

    async def __call__(self, session: AsyncSession, reply: DeskReply) -> None:
        self.left = False
        if refused(reply, self.step):
            return
        if reply.turn.finished:
            await leave_visit(session, self.chat_id, reply.visit_id)
            self.left = True
        elif self.picked:
            await point_chat_at(session, self.chat_id, visit_id=reply.visit_id)


def turn_text(context: ContextTypes.DEFAULT_TYPE, sender: Sender, reply: DeskReply, *, header: str = "") -> str:
    """The HTML of a turn: its question, or, once the visit ended, its last lines and the end (the record's
    number; a borrower reads thanks and what happens next instead)."""
    turn = reply.turn
    locale = turn.state.locale
    text = prompt_text(turn, locale, header=header)
    if not turn.finished:
        return text
    outcome = outcome_label(turn.state.outcome, locale)
    ended = f"<b>{html.escape(message('tg_finished', locale, outcome=outcome, visit=reply.visit_id))}</b>"
    if sender.role == "borrower":  # thanks and what happens next, not a record number
        from bot.telegram.borrower import closing_text  # borrower.py imports it (through visits.py)

        zone = person_zone(sender.borrower, services_of(context).settings.timezone)
        ended = html.escape(closing_text(reply, zone))
    return f"{text}\n\n{ended}" if text else ended


def handled_text(reply: DeskReply) -> str:
    """What the question just handled shows of the input: the answer under its question, or the answer
    ``/back`` took back, struck through ('' when the input recorded neither)."""
    locale = reply.turn.state.locale
    for record in reply.turn.records:
        if isinstance(record, AnswerRecorded):
            shown = record.display or (message("tg_skip", locale) if record.skipped else record.raw)
            return answered_text(record.question, shown)
    for taken in reply.withdrawn[:1]:
        shown = message("tg_skip", locale) if taken.skipped else taken.shown
        return withdrawn_text(taken.question, shown, locale)
    return ""


def pressed_text(context: ContextTypes.DEFAULT_TYPE, sender: Sender, reply: DeskReply) -> str | None:
    """What a pressed question message shows once the press is applied, as one message: the answer (or the
    answer taken back) and then the next question or the visit's end; None when that is too long for one."""
    return one_message(handled_text(reply), turn_text(context, sender, reply))


async def close_chat(context: ContextTypes.DEFAULT_TYPE, chat_id: int, visit_id: int) -> None:
    """Detach the chat from its visit, which ended (unless the chat is on another visit by now)."""

    async def leave(session: AsyncSession) -> None:
        await leave_visit(session, chat_id, visit_id)

    await services_of(context).desk.write(leave)  # in the next transaction answers share (group commit)


_EDITED: OrderedDict[tuple[int, int], str | None] = OrderedDict()
_EDITS_REMEMBERED = 10_000
"""Question messages this process edited to show a step, (chat, message) → step, the newest ones."""


def edited_here(chat_id: int, message_id: int) -> str | None:
    """The step this process last edited message ``message_id`` of the chat to show (None: it did not).

    A press of an earlier question's button on the message the chat points at is then a double press
    (the message already shows the step); otherwise the edit may never have happened (a process killed
    between the answer's commit and its edit) and the message still shows the earlier question."""
    return _EDITED.get((chat_id, message_id))


def _remember_edit(chat_id: int, message_id: int, step: str | None) -> None:
    _EDITED[(chat_id, message_id)] = step
    _EDITED.move_to_end((chat_id, message_id))
    while len(_EDITED) > _EDITS_REMEMBERED:
        _EDITED.popitem(last=False)


async def show_in_pressed(
    context: ContextTypes.DEFAULT_TYPE,
    sender: Sender,
    reply: DeskReply,
    pressed: int,
    text: str,
    *,
    left: bool = False,
) -> None:
    """Edit the pressed question message to show the answer and what comes next (one Bot API call); the
    visit says already that it shows there. Should the edit fail (too old, deleted …), a new message says
    the same and the visit says so instead; should that fail too, no message shows its question, so the
    next input shows it again. ``left``: the visit ended and the chat left it with the input."""
    turn = reply.turn
    markup = None if turn.finished else keyboard(reply.visit_id, turn.prompt, turn.state.locale)
    try:
        shown = await edit_or_send(context, sender.chat_id, pressed, text, markup)
    except TelegramError:
        await repoint(context, sender.chat_id, reply, pressed, None)
        raise
    _remember_edit(sender.chat_id, shown, shown_step(reply))
    if turn.finished:
        if not left:
            await close_chat(context, sender.chat_id, reply.visit_id)
    elif shown != pressed:
        await repoint(context, sender.chat_id, reply, pressed, shown)


async def repoint(
    context: ContextTypes.DEFAULT_TYPE, chat_id: int, reply: DeskReply, was: int, now: int | None
) -> None:
    """The visit's question moved from message ``was`` to ``now`` (None: it reached no message), unless the
    visit has moved on meanwhile."""
    step = shown_step(reply)
    if step is None:
        return
    async with services_of(context).sessions() as session, session.begin():
        await move_shown(session, chat_id, visit_id=reply.visit_id, step=step, was=was, now=now)


async def remove_buttons(context: ContextTypes.DEFAULT_TYPE, chat_id: int, message_id: int) -> None:
    """Take the buttons off a message (a question no longer open); a failure only leaves them showing."""
    try:
        await context.bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id, reply_markup=None)
    except TelegramError as exc:
        log.info("could not remove the buttons of message %s in chat %s: %s", message_id, chat_id, exc)


async def edit_text(context: ContextTypes.DEFAULT_TYPE, chat_id: int, message_id: int, text: str) -> None:
    """Edit an earlier message's text in place (never a new message: it only annotates the past)."""
    try:
        await calls.edit_text(context.bot, chat_id, message_id, text)
    except TelegramError as exc:
        log.info("could not edit message %s in chat %s: %s", message_id, chat_id, exc)


async def mark_handled(
    context: ContextTypes.DEFAULT_TYPE, chat_id: int, reply: DeskReply, message_id: int, *, pressed: bool
) -> None:
    """Edit the question just handled (``message_id``) when a new message shows what comes next: a pressed
    question shows its answer (a typed answer shows in the person's own message: nothing to edit);
    ``/back`` strikes the withdrawn answer where it was shown and takes the buttons off the question left
    (one edit when both are the same message); a visit ended by hand takes them off its open question.
    A failure leaves the messages as they were."""
    turn = reply.turn
    locale = turn.state.locale
    if any(isinstance(r, AnswerRecorded) for r in turn.records):
        if pressed:
            await edit_text(context, chat_id, message_id, handled_text(reply))
    elif any(isinstance(r, AnswerUndone) for r in turn.records):
        # where the withdrawn answer's question was shown is kept with the answer (any process knows it)
        taken = reply.withdrawn[0] if reply.withdrawn else None
        answered = int(taken.shown_in) if taken and taken.shown_in and taken.shown_in.isdigit() else None
        if answered != message_id:
            await remove_buttons(context, chat_id, message_id)
        if taken is not None and answered is not None:
            shown = message("tg_skip", locale) if taken.skipped else taken.shown
            await edit_text(context, chat_id, answered, withdrawn_text(taken.question, shown, locale))
    elif any(isinstance(r, VisitEnded) for r in turn.records):
        await remove_buttons(context, chat_id, message_id)
