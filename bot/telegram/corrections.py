"""``/correct`` on Telegram: a finished visit's answer changed after the fact, with a reason.

``/correct 12 repayment_pressure 有点压力 -- 听错了``: the visit, the question (its step id), the new
answer as typed during a visit, and after `` -- `` the reason. ``/correct 12`` lists the answers the
sender may correct with their step ids. A translator only: who may, the parsing, the history, the
flags and the audit entry are :mod:`bot.desk.corrections`'s.
"""

from __future__ import annotations

import html
import re

from telegram import Update
from telegram.ext import ContextTypes

from bot.desk.corrections import CorrectionDesk, CorrectionRefused
from bot.telegram.common import Sender, send, services_of, t
from bot.telegram.render import record_id
from dialogs.i18n import register

__all__ = ["correct", "parse_correct"]

REASON_MARK = re.compile(r"\s+(?:--|—{1,2}|－－)(?:\s+|$)")
"""Where the reason starts: `` -- `` (or the dash a phone's keyboard makes of it)."""

register(
    {
        "cmd_correct": {"zh-CN": "更正已结束回访的回答", "en": "Correct a finished visit's answer"},
        "tg_correct_usage": {
            "zh-CN": "用法：/correct 回访编号 问题 新回答 -- 原因\n"
            "例如：/correct 12 repayment_pressure 有点压力 -- 听错了\n"
            "发送 /correct 回访编号 查看可以更正的回答。",
            "en": "Usage: /correct <visit id> <question> <new answer> -- <reason>\n"
            "For example: /correct 12 repayment_pressure some -- misheard\n"
            "Send /correct <visit id> to see the answers you can correct.",
        },
        "tg_correct_answers": {
            "zh-CN": "回访 #{id} 可以更正的回答（问题编号：现在的回答）：",
            "en": "Answers of visit #{id} you can correct (question id: answer now):",
        },
    }
)


def parse_correct(text: str) -> tuple[int | None, str, str, str]:
    """``/correct <visit> <step> <value...> -- <reason...>`` as (visit id, step, value, reason); blanks when missing."""
    _, _, rest = text.strip().partition(" ")
    head, *after = REASON_MARK.split(rest, maxsplit=1)
    reason = after[0] if after else ""
    parts = head.split(maxsplit=2)
    visit_id = record_id(parts[0].lstrip("#")) if parts else None
    step = parts[1] if len(parts) > 1 else ""
    value = parts[2].strip() if len(parts) > 2 else ""
    return visit_id, step, value, reason.strip()


async def correct(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/correct <visit> <step> <value> -- <reason>: correct an answer; /correct <visit>: what may be corrected."""
    assert sender.user is not None
    message = update.effective_message
    visit_id, step, value, reason = parse_correct(message.text or "" if message is not None else "")
    corrections = CorrectionDesk(services_of(context).desk)
    if visit_id is None:
        await send(context, sender.chat_id, html.escape(t("tg_correct_usage", sender)))
        return
    try:
        if not step:
            answers = await corrections.answers(visit_id, user=sender.user, locale=sender.locale)
            lines = [t("tg_correct_answers", sender, id=visit_id)]
            lines += [f"{s} — {question[:40]}: {now}" for s, question, now in answers]
            await send(context, sender.chat_id, html.escape("\n".join([*lines, "", t("tg_correct_usage", sender)])))
            return
        if not value or not reason:
            await send(context, sender.chat_id, html.escape(t("tg_correct_usage", sender)))
            return
        done = await corrections.correct(visit_id, step, value, reason=reason, user=sender.user, locale=sender.locale)
    except CorrectionRefused as refused:
        await send(context, sender.chat_id, f"⚠️ {html.escape(refused.text)}")
        return
    await send(context, sender.chat_id, html.escape("\n".join(done.lines(sender.locale))))
