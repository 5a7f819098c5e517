"""``/explain`` on Telegram: a reviewer explains a flag with a reason (``/explain 42 已电话核实``).

``/explain 42`` alone shows the flag with its evidence and asks for the reason. A translator only: who
may, the reason's rules, the audit entry and the review rank are :mod:`bot.desk.flag_review`'s.
"""

from __future__ import annotations

import html

from telegram import Update
from telegram.ext import ContextTypes

from bot.desk.flag_review import FlagRefused, evidence_text, explain_flag, flags_of, kind_label
from bot.desk.labels import flag_label, severity_label
from bot.desk.timefmt import person_zone
from bot.telegram.common import Sender, send, services_of, t
from bot.telegram.render import record_id
from dialogs.i18n import register

__all__ = ["explain", "parse_explain"]

register(
    {
        "cmd_explain": {"zh-CN": "说明一条预警（须写原因）", "en": "Explain a flag (with a reason)"},
        "tg_explain_usage": {
            "zh-CN": "用法：/explain 预警编号 原因\n例如：/explain 42 已电话核实，借款人当时在店\n"
            "预警编号见网页工作台的回访页或 visitbot flags。",
            "en": "Usage: /explain <flag id> <reason>\nFor example: /explain 42 called back, the borrower was in "
            "the shop\nFlag ids are on the web desk's visit page and in visitbot flags.",
        },
        "tg_explain_flag": {
            "zh-CN": "预警 #{id} · 回访 #{visit} · {borrower}\n{kind} · {rule}（{severity}）{note}",
            "en": "Flag #{id} · visit #{visit} · {borrower}\n{kind} · {rule} ({severity}) {note}",
        },
    }
)


def parse_explain(text: str) -> tuple[int | None, str]:
    """``/explain <flag id> <reason...>`` as (flag id, reason); None and blank when missing."""
    _, _, rest = text.strip().partition(" ")
    head, _, reason = rest.strip().partition(" ")
    return record_id(head.lstrip("#")) if head else None, reason.strip()


async def explain(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/explain <flag id> <reason>: mark the flag explained; /explain <flag id>: the flag and its evidence."""
    assert sender.user is not None
    message = update.effective_message
    flag_id, reason = parse_explain(message.text or "" if message is not None else "")
    svc = services_of(context)
    if flag_id is None:
        await send(context, sender.chat_id, html.escape(t("tg_explain_usage", sender)))
        return
    if not reason:
        found = await flags_of(svc.sessions, sender.user, flag_id=flag_id)
        if not found:
            await send(context, sender.chat_id, f"⚠️ {html.escape(t('flag_refused_not_found', sender, id=flag_id))}")
            return
        f = found[0]
        lines = [
            t("tg_explain_flag", sender, id=f.id, visit=f.visit_id, borrower=f.borrower, note=f.note,
              kind=kind_label(f.kind, sender.locale), rule=flag_label(f.code, sender.locale),
              severity=severity_label(f.severity, sender.locale)),
            *(f"· {line}" for line in evidence_text(f.kind, f.code, f.evidence, sender.locale)),
            "",
            t("tg_explain_usage", sender),
        ]  # fmt: skip
        await send(context, sender.chat_id, html.escape("\n".join(lines)))
        return
    zone = person_zone(sender.user, svc.settings.timezone)
    try:
        done = await explain_flag(
            svc.sessions, sender.user, flag_id, reason, now=svc.clock.now(), locale=sender.locale, zone=zone
        )
    except FlagRefused as refused:
        await send(context, sender.chat_id, f"⚠️ {html.escape(refused.text)}")
        return
    words = t("flag_explained_done", sender, id=done.id, rule=flag_label(done.code, sender.locale))
    await send(context, sender.chat_id, html.escape(words))
