"""Officers' commands: /visit (pick a borrower), /resume, /back, /skip, /cancel, /note."""

from __future__ import annotations

import html
from datetime import UTC, datetime

from sqlalchemy import func, select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.desk import Actor, NotFound, cancel_outcomes
from bot.telegram.common import Sender, answer_query, send, services_of, t
from bot.telegram.visits import actor_of, run_event, show_reply
from dialogs.answers import Reply, parse_answer
from dialogs.engine import Back, Cancel, Skip
from dialogs.errors import InvalidAnswer
from dialogs.i18n import message, register
from dialogs.schema import AnswerKind, Outcome, Question
from storage import repositories as repo
from storage.chats import chat_session
from storage.models import Borrower, Visit

__all__ = ["cancel", "note", "pick_borrower", "resume", "resume_visit", "start_for", "visit"]

MAX_PICK = 20
TIER_ORDER = {"high": 0, "medium": 1, "low": 2}

register(
    {
        "tg_pick_borrower": {"zh-CN": "请选择要回访的借款人：", "en": "Pick the borrower to visit:"},
        "tg_no_borrowers": {"zh-CN": "您名下还没有借款人。", "en": "You have no borrowers yet."},
        "tg_pick_resume": {"zh-CN": "未完成的回访：", "en": "Unfinished visits:"},
        "tg_nothing_open": {"zh-CN": "没有未完成的回访。", "en": "No unfinished visits."},
        "tg_visit_header": {
            "zh-CN": "回访 #{visit} · {code} {name}",
            "en": "Visit #{visit} · {code} {name}",
        },
        "tg_cancel_pick": {
            "zh-CN": "以什么结果结束这次回访？（约定再回访请发送：/cancel callback 明天下午三点）",
            "en": "End this visit as? (For a call-back send: /cancel callback tomorrow 3pm)",
        },
        "tg_note_saved": {"zh-CN": "备注已保存。", "en": "Remark saved."},
        "tg_note_usage": {"zh-CN": "用法：/note 备注内容", "en": "Usage: /note your remark"},
        "tg_open_label": {"zh-CN": "（进行中）", "en": "(in progress)"},
    }
)

CANCEL_OUTCOMES = tuple(o for o in cancel_outcomes(Actor("officer")) if o is not Outcome.CALLBACK)
"""The outcomes /cancel offers as buttons (a call-back needs a time, so it is typed)."""


async def visit(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/visit [code or name]: a pick list of the officer's borrowers (open visits and high risk first)."""
    assert sender.user is not None
    svc = services_of(context)
    text = " ".join(context.args or []).strip()
    scope = None if sender.role == "admin" else sender.user.id
    async with svc.sessions() as session:
        found = await (
            repo.find_borrowers(session, text, officer_id=scope)
            if text
            else repo.list_borrowers(session, officer_id=scope)
        )
        open_ids = set((await session.scalars(select(Visit.borrower_id).where(Visit.status == "open"))).all())
        last = dict(
            (await session.execute(select(Visit.borrower_id, func.max(Visit.started_at)).group_by(Visit.borrower_id)))
            .tuples()
            .all()
        )
    if not found:
        key = "tg_no_match" if text else "tg_no_borrowers"
        await send(context, sender.chat_id, html.escape(t(key, sender, text=text)))
        return
    if text and len(found) == 1:
        await start_for(update, context, sender, found[0].code)
        return
    epoch = datetime.min.replace(tzinfo=UTC)
    ordered = sorted(
        found,
        key=lambda b: (b.id not in open_ids, last.get(b.id) or epoch, TIER_ORDER.get(b.risk_tier, 3), b.code),
    )
    rows = [
        [InlineKeyboardButton(_borrower_label(b, b.id in open_ids, sender), callback_data=f"v:{b.code}")]
        for b in ordered[:MAX_PICK]
    ]
    await send(context, sender.chat_id, html.escape(t("tg_pick_borrower", sender)), InlineKeyboardMarkup(rows))


def _borrower_label(borrower: Borrower, is_open: bool, sender: Sender) -> str:
    loan = borrower.loans[-1] if borrower.loans else None
    amount = f" · {loan.amount:,.0f}" if loan else ""
    mark = " " + t("tg_open_label", sender) if is_open else ""
    return f"{borrower.code} {borrower.name}{amount}{mark}"


async def pick_borrower(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender, code: str) -> None:
    """A press on a pick-list button: start (or resume) that borrower's visit."""
    await start_for(update, context, sender, code)


async def start_for(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender, code: str) -> None:
    """Start or resume the visit of the borrower ``code`` (only the officer's own, unless admin)."""
    assert sender.user is not None
    svc = services_of(context)
    async with svc.sessions() as session:
        borrower = await repo.borrower_by_code(session, code)
    if borrower is None or (sender.role != "admin" and borrower.officer_id != sender.user.id):
        await send(context, sender.chat_id, html.escape(t("tg_no_match", sender, text=code)))
        return
    try:
        reply = await svc.desk.begin(
            borrower.code, actor=actor_of(sender), officer_id=sender.user.id, locale=sender.locale
        )
    except NotFound as exc:
        await send(context, sender.chat_id, html.escape(exc.text))
        return
    header = t("tg_visit_header", sender, visit=reply.visit_id, code=borrower.code, name=borrower.name)
    await show_reply(context, sender, reply, header=header)


async def resume(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/resume: the officer's unfinished visits as buttons."""
    assert sender.user is not None
    svc = services_of(context)
    async with svc.sessions() as session:
        scope = None if sender.role == "admin" else sender.user.id
        visits = await repo.list_visits(session, repo.VisitFilter(officer_id=scope, status="open", limit=MAX_PICK))
    if not visits:
        await send(context, sender.chat_id, html.escape(t("tg_nothing_open", sender)))
        return
    rows = [
        [InlineKeyboardButton(f"#{v.id} {v.borrower.code} {v.borrower.name} · {v.step}", callback_data=f"r:{v.id}")]
        for v in visits
    ]
    await send(context, sender.chat_id, html.escape(t("tg_pick_resume", sender)), InlineKeyboardMarkup(rows))


async def resume_visit(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender, visit_id: int) -> None:
    """A press on a /resume button: show that visit's current question."""
    assert sender.user is not None
    svc = services_of(context)
    async with svc.sessions() as session:
        found = await repo.load_visit(session, visit_id)
    if found is None or found.status != "open" or (sender.role != "admin" and found.officer_id != sender.user.id):
        await send(context, sender.chat_id, html.escape(t("tg_nothing_open", sender)))
        return
    reply = await svc.desk.current(visit_id)
    header = t("tg_visit_header", sender, visit=visit_id, code=found.borrower.code, name=found.borrower.name)
    await show_reply(context, sender, reply, header=header)


async def back(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/back: undo the last answer."""
    await run_event(update, context, sender, Back(), "/back")


async def skip(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/skip: skip the current question where the script allows."""
    await run_event(update, context, sender, Skip(), "/skip")


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/cancel [outcome [time]]: end the visit with an outcome (buttons when none is given)."""
    svc = services_of(context)
    args = context.args or []
    async with svc.sessions() as session:
        chat = await chat_session(session, sender.chat_id)
    if chat is None or chat.visit_id is None:
        await send(context, sender.chat_id, html.escape(t("tg_no_visit", sender)))
        return
    if not args:
        rows = [
            [
                InlineKeyboardButton(
                    message(f"outcome_{o.value}", sender.locale), callback_data=f"x:{chat.visit_id}:{o.value}"
                )
            ]
            for o in CANCEL_OUTCOMES
        ]
        await send(context, sender.chat_id, html.escape(t("tg_cancel_pick", sender)), InlineKeyboardMarkup(rows))
        return
    try:
        outcome = Outcome(args[0])
    except ValueError:
        await send(context, sender.chat_id, html.escape(message("unknown_outcome", sender.locale, text=args[0])))
        return
    at = None
    if outcome is Outcome.CALLBACK and len(args) > 1:
        try:
            value = parse_answer(
                Question(kind=AnswerKind.DATETIME), Reply(text=" ".join(args[1:])), locale=sender.locale,
                now=svc.desk.now(),
            )  # fmt: skip
        except InvalidAnswer as exc:
            await send(context, sender.chat_id, html.escape(message(exc.key, sender.locale, **exc.params)))
            return
        at = datetime.fromisoformat(str(value))
    said = " ".join(["/cancel", *args])
    await run_event(update, context, sender, Cancel(outcome, at), said, expect_step=chat.step, needs_shown=False)


async def cancel_button(
    update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender, visit_id: int, outcome: Outcome
) -> None:
    """A press on a /cancel outcome button (the desk decides whether this person may end the visit so)."""
    query = update.callback_query
    assert query is not None
    svc = services_of(context)
    async with svc.sessions() as session:
        chat = await chat_session(session, sender.chat_id)
    if chat is None or chat.visit_id != visit_id:
        await answer_query(query, t("tg_stale", sender))
        return
    await run_event(
        update, context, sender, Cancel(outcome), f"/cancel {outcome.value}", expect_step=chat.step, query=query,
        needs_shown=False,
    )  # fmt: skip


async def note(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/note <text>: a remark on the current visit."""
    svc = services_of(context)
    text = " ".join(context.args or []).strip()
    async with svc.sessions() as session:
        chat = await chat_session(session, sender.chat_id)
    if chat is None or chat.visit_id is None:
        await send(context, sender.chat_id, html.escape(t("tg_no_visit", sender)))
        return
    if not text:
        await send(context, sender.chat_id, html.escape(t("tg_note_usage", sender)))
        return
    await svc.desk.remark(chat.visit_id, text, actor=actor_of(sender))
    await send(context, sender.chat_id, html.escape(t("tg_note_saved", sender)))
