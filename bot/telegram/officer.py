"""Officers' commands: /visit (pick a borrower and the script), /resume, /back, /skip, /cancel, /note."""

from __future__ import annotations

import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.desk import NotFound
from bot.desk.choices import (
    NotOffered,
    cancel_offer,
    offered_text,
    read_cancel,
    script_for_word,
    script_title,
    scripts_for,
    unknown_script_text,
)
from bot.desk.labels import outcome_label
from bot.telegram.common import Sender, answer_query, send, services_of, t, try_edit_markup
from bot.telegram.render import MAX_CALLBACK_BYTES
from bot.telegram.visits import actor_of, load_chat, run_event, show_reply
from dialogs.engine import Back, Cancel, Skip
from dialogs.i18n import register
from dialogs.schema import Outcome, Script
from storage import repositories as repo
from storage.models import Borrower
from storage.visit_picks import pick_list

__all__ = ["cancel", "note", "pick_borrower", "resume", "resume_visit", "start_for", "visit"]

MAX_PICK = 20

register(
    {
        "tg_pick_borrower": {"zh-CN": "请选择要回访的借款人：", "en": "Pick the borrower to visit:"},
        "tg_no_borrowers": {"zh-CN": "您名下还没有借款人。", "en": "You have no borrowers yet."},
        "tg_pick_resume": {"zh-CN": "未完成的回访：", "en": "Unfinished visits:"},
        "tg_nothing_open": {"zh-CN": "没有未完成的回访。", "en": "No unfinished visits."},
        "tg_visit_header": {
            "zh-CN": "回访 #{visit} · {code} {name} · {script}",
            "en": "Visit #{visit} · {code} {name} · {script}",
        },
        "tg_pick_script": {
            "zh-CN": "{code} {name}：这次按哪个话术回访？",
            "en": "{code} {name}: which script does this visit follow?",
        },
        "tg_pick_hint": {
            "zh-CN": "现场回访等其他话术：/visit 编号 onsite（或 overdue、refusal）",
            "en": "Another script: /visit <code> onsite (or overdue, refusal)",
        },
        "tg_resume_row": {"zh-CN": "#{visit} {code} {name} · {question}", "en": "#{visit} {code} {name} · {question}"},
        "tg_cancel_pick": {
            "zh-CN": "以什么结果结束这次回访？（约定再回访请发送：/cancel callback 明天下午三点）",
            "en": "End this visit as? (For a call-back send: /cancel callback tomorrow 3pm)",
        },
        "tg_cancel_pick_plain": {"zh-CN": "以什么结果结束这次回访？", "en": "End this visit as?"},
        "tg_note_saved": {"zh-CN": "备注已保存。", "en": "Remark saved."},
        "tg_note_usage": {"zh-CN": "用法：/note 备注内容", "en": "Usage: /note your remark"},
        "tg_open_label": {"zh-CN": "（进行中）", "en": "(in progress)"},
    }
)


async def visit(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/visit [code or name] [script]: start that visit, or a pick list of the officer's borrowers
    (open visits first, then the longest unvisited, high risk first)."""
    assert sender.user is not None
    svc = services_of(context)
    args = list(context.args or [])
    script = script_for_word(svc.desk.catalog, args[-1]) if len(args) > 1 else None
    if script is not None:
        args = args[:-1]
    text = " ".join(args).strip()
    scope = None if sender.role == "admin" else sender.user.id
    async with svc.sessions() as session:
        found = await pick_list(session, officer_id=scope, text=text or None, limit=MAX_PICK)
        if not found and len(args) > 1:  # `/visit B004 <unknown script>`
            named = await pick_list(session, officer_id=scope, text=args[0], limit=2)
            if len(named) == 1 and named[0].borrower.code.upper() == args[0].upper():
                refusal = unknown_script_text(svc.desk.catalog, args[-1], sender.locale)
                await send(context, sender.chat_id, html.escape(refusal))
                return
    if not found:
        key = "tg_no_match" if text else "tg_no_borrowers"
        await send(context, sender.chat_id, html.escape(t(key, sender, text=text)))
        return
    if text and len(found) == 1:
        await start_for(update, context, sender, found[0].borrower.code, script.id if script else None)
        return
    rows = [  # in the list's order (storage.visit_picks), only the ones shown
        [
            InlineKeyboardButton(
                _borrower_label(r.borrower, r.open_visit_id is not None, sender),
                callback_data=_pick_data(r.borrower.code, script),
            )
        ]
        for r in found
    ]
    text = t("tg_pick_borrower", sender) + ("" if script else "\n" + t("tg_pick_hint", sender))
    await send(context, sender.chat_id, html.escape(text), InlineKeyboardMarkup(rows))


def _pick_data(code: str, script: Script | None) -> str:
    """``v:<code>`` (the script chosen after) or ``v:<code>:<script id>``, within Telegram's 64 bytes."""
    data = f"v:{code}:{script.id}" if script is not None else f"v:{code}"
    return data if len(data.encode()) <= MAX_CALLBACK_BYTES else f"v:{code}"


def _borrower_label(borrower: Borrower, is_open: bool, sender: Sender) -> str:
    loan = borrower.loans[-1] if borrower.loans else None
    amount = f" · {loan.amount:,.0f}" if loan else ""
    mark = " " + t("tg_open_label", sender) if is_open else ""
    if borrower.opted_out_at is not None:  # 不想回访: the rules of contact apply (bot.desk.contact)
        mark += " " + t("contact_opted_out_mark", sender)
    return f"{borrower.code} {borrower.name}{amount}{mark}"


async def pick_borrower(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender, data: str) -> None:
    """A press on a pick-list or script button (``<code>`` or ``<code>:<script id>``): start (or resume)
    that borrower's visit."""
    code, _, script_id = data.partition(":")
    script = script_for_word(services_of(context).desk.catalog, script_id) if script_id else None
    if script_id and script is None:  # a forged or outdated button
        await send(context, sender.chat_id, html.escape(t("tg_stale", sender)))
        return
    await start_for(update, context, sender, code, script.id if script else None)


async def start_for(
    update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender, code: str, script_id: str | None = None
) -> None:
    """Start or resume the visit of the borrower ``code`` (only the officer's own, unless admin).

    Without a script: the borrower's open visit resumes; else the one script that applies starts, or
    the officer picks among several (an overdue borrower: the overdue reminder, the phone visit …)."""
    assert sender.user is not None
    svc = services_of(context)
    async with svc.sessions() as session:
        borrower = await repo.borrower_by_code(session, code)
        opened = await repo.open_visit_for(session, borrower.id) if borrower is not None else None
    if borrower is None or (sender.role != "admin" and borrower.officer_id != sender.user.id):
        await send(context, sender.chat_id, html.escape(t("tg_no_match", sender, text=code)))
        return
    catalog = svc.desk.catalog
    if script_id is None and opened is not None:
        script_id = opened.script_id
    elif script_id is None:
        overdue = borrower.loans[-1].overdue_days if borrower.loans else 0
        fitting = scripts_for(catalog, overdue_days=overdue or 0, default=svc.settings.default_script)
        if len(fitting) > 1:
            await _pick_script(context, sender, borrower, fitting)
            return
        script_id = fitting[0].id if fitting else None
    try:
        reply = await svc.desk.begin(
            borrower.code, actor=actor_of(sender), officer_id=sender.user.id, script_id=script_id,
            locale=sender.locale,
        )  # fmt: skip
    except NotFound as exc:
        await send(context, sender.chat_id, html.escape(exc.text))
        return
    state = reply.turn.state
    title = script_title(catalog.get(state.script_id, state.script_version).script, sender.locale)
    header = t("tg_visit_header", sender, visit=reply.visit_id, code=borrower.code, name=borrower.name, script=title)
    await show_reply(context, sender, reply, header=header)


async def _pick_script(
    context: ContextTypes.DEFAULT_TYPE, sender: Sender, borrower: Borrower, scripts: list[Script]
) -> None:
    """Buttons for the scripts this visit may follow, the fitting ones first."""
    rows = [
        [InlineKeyboardButton(script_title(s, sender.locale), callback_data=_pick_data(borrower.code, s))]
        for s in scripts
    ]
    text = t("tg_pick_script", sender, code=borrower.code, name=borrower.name)
    await send(context, sender.chat_id, html.escape(text), InlineKeyboardMarkup(rows))


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
    rows = []
    for v in visits:  # the question each waits on, in words (never a step id)
        current = await svc.desk.current(v.id, sender.locale)
        prompt = current.turn.prompt
        question = _short(prompt.text) if prompt is not None else "-"
        label = t("tg_resume_row", sender, visit=v.id, code=v.borrower.code, name=v.borrower.name, question=question)
        rows.append([InlineKeyboardButton(label, callback_data=f"r:{v.id}")])
    await send(context, sender.chat_id, html.escape(t("tg_pick_resume", sender)), InlineKeyboardMarkup(rows))


RESUME_QUESTION = 24
"""Characters of a question shown on a /resume button."""


def _short(text: str) -> str:
    """A question cut to fit a button."""
    flat = " ".join(text.split())
    return flat if len(flat) <= RESUME_QUESTION else flat[: RESUME_QUESTION - 1] + "…"


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
    state = reply.turn.state
    title = script_title(svc.desk.catalog.get(state.script_id, state.script_version).script, sender.locale)
    borrower = found.borrower
    header = t("tg_visit_header", sender, visit=visit_id, code=borrower.code, name=borrower.name, script=title)
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
    chat = await load_chat(context, sender.chat_id)
    if chat is None or chat.visit_id is None:
        await send(context, sender.chat_id, html.escape(t("tg_no_visit", sender)))
        return
    offer = await cancel_offer(svc.desk, chat.visit_id, actor_of(sender))
    if not args:  # the outcomes this step offers as buttons (a call-back needs a time, so it is typed)
        buttons = [o for o in offer.outcomes if o is not Outcome.CALLBACK]
        rows = [
            [InlineKeyboardButton(outcome_label(o.value, sender.locale), callback_data=f"x:{chat.visit_id}:{o}")]
            for o in buttons
        ]
        key = "tg_cancel_pick" if Outcome.CALLBACK in offer.outcomes else "tg_cancel_pick_plain"
        text = t(key, sender) if offer.outcomes else offered_text(offer.outcomes, sender.locale)
        await send(context, sender.chat_id, html.escape(text), InlineKeyboardMarkup(rows) if rows else None)
        return
    try:
        event = read_cancel(" ".join(args), offer, now=svc.desk.clock.now(), locale=sender.locale)
    except NotOffered as exc:
        await send(context, sender.chat_id, f"⚠️ {html.escape(exc.text)}")
        return
    said = " ".join(["/cancel", *args])
    await run_event(update, context, sender, event, said, expect_step=chat.step, needs_shown=False)


async def cancel_button(
    update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender, visit_id: int, outcome: Outcome
) -> None:
    """A press on a /cancel outcome button (the desk decides whether this person may end the visit so)."""
    query = update.callback_query
    assert query is not None
    chat = await load_chat(context, sender.chat_id)
    if chat is None or chat.visit_id != visit_id:
        await answer_query(query, t("tg_stale", sender))
        return
    reply = await run_event(
        update, context, sender, Cancel(outcome), f"/cancel {outcome.value}", expect_step=chat.step, query=query,
        needs_shown=False,
    )  # fmt: skip
    if reply is not None and reply.turn.finished and not reply.stale:  # the outcome buttons are used up
        await try_edit_markup(query, None)


async def note(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/note <text>: a remark on the current visit."""
    svc = services_of(context)
    text = " ".join(context.args or []).strip()
    chat = await load_chat(context, sender.chat_id)
    if chat is None or chat.visit_id is None:
        await send(context, sender.chat_id, html.escape(t("tg_no_visit", sender)))
        return
    if not text:
        await send(context, sender.chat_id, html.escape(t("tg_note_usage", sender)))
        return
    await svc.desk.remark(chat.visit_id, text, actor=actor_of(sender))
    await send(context, sender.chat_id, html.escape(t("tg_note_saved", sender)))
