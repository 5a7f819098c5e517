"""Supervisors' and admins' commands of the rules of contact: /resolve (a dispute) and /refusals."""

from __future__ import annotations

import html

from telegram import Update
from telegram.ext import ContextTypes

from bot.desk import NotFound
from bot.desk import contact_record as contact
from bot.desk.timefmt import person_zone
from bot.telegram.common import Sender, send, services_of, t
from dialogs.i18n import register

__all__ = ["refusals", "resolve"]

SHOWN = 20
"""Refused contacts /refusals lists (the newest); `visitbot refusals --limit` shows more."""

register(
    {
        "cmd_resolve": {"zh-CN": "解除欠款异议（编号 核实结果）", "en": "Resolve a debt dispute (code finding)"},
        "cmd_refusals": {"zh-CN": "被联系规则拒绝的联系", "en": "Contacts the rules refused"},
        "contact_tg_resolve_usage": {
            "zh-CN": "用法：/resolve 借款人编号 核实结果，例如：/resolve B008 已核实，2000元已入账",
            "en": "Usage: /resolve <borrower code> <finding>, e.g. /resolve B008 checked: 2000 was paid",
        },
        "contact_tg_resolved": {
            "zh-CN": "已解除借款人 {code} 的 {count} 条异议，催收联系可以恢复。核实结果：{note}",
            "en": "Resolved {count} dispute(s) of borrower {code}; collection contact may resume. Finding: {note}",
        },
        "contact_tg_refusals": {
            "zh-CN": "被联系规则拒绝的联系（最新 {count} 条）：",
            "en": "Contacts the rules refused (newest {count}):",
        },
        "contact_tg_no_refusals": {"zh-CN": "没有被拒绝的联系。", "en": "No refused contacts."},
    }
)


async def resolve(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/resolve <code> <finding>: lift a borrower's dispute hold (who, when and why are kept)."""
    assert sender.user is not None
    args = context.args or []
    if len(args) < 2:
        await send(context, sender.chat_id, html.escape(t("contact_tg_resolve_usage", sender)))
        return
    code, note = args[0], " ".join(args[1:]).strip()
    svc = services_of(context)
    try:
        async with svc.sessions() as session, session.begin():
            done = await contact.resolve_disputes(
                session, code, by=sender.user, note=note, now=svc.clock.now(), locale=sender.locale
            )
    except NotFound as exc:  # not allowed, no such borrower, nothing open: told after the database is released
        await send(context, sender.chat_id, html.escape(exc.text))
        return
    text = t("contact_tg_resolved", sender, code=code.upper(), count=len(done), note=note)
    await send(context, sender.chat_id, html.escape(text))


async def refusals(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/refusals [code]: the newest contacts the rules refused (a supervisor sees their team's)."""
    assert sender.user is not None
    args = context.args or []
    svc = services_of(context)
    zone = person_zone(sender.user, svc.settings.timezone)
    try:
        async with svc.sessions() as session:
            rows = await contact.list_refusals(
                session, sender.user, code=args[0] if args else None, limit=SHOWN, locale=sender.locale
            )
    except NotFound as exc:
        await send(context, sender.chat_id, html.escape(exc.text))
        return
    if not rows:
        await send(context, sender.chat_id, html.escape(t("contact_tg_no_refusals", sender)))
        return
    lines = [t("contact_tg_refusals", sender, count=len(rows))]
    lines += [contact.refusal_line(row, sender.locale, zone) for row in rows]
    await send(context, sender.chat_id, html.escape("\n".join(lines)))
