"""What the monthly plan tells its user, in zh-CN and en: bad input, and the notes of an entry."""

from __future__ import annotations

__all__ = ["MESSAGES"]

MESSAGES: dict[str, dict[str, str]] = {
    "plan_bad_month": {
        "zh-CN": "“{value}”不是月份：请用 YYYY-MM（例如 2026-12）。",
        "en": "'{value}' is not a month: use YYYY-MM (like 2026-12).",
    },
    "plan_month_over": {
        "zh-CN": "{month} 已经结束（今天是 {today}），不能再制定该月的计划。",
        "en": "{month} is over (today is {today}): no plan can be made for it.",
    },
    "plan_flag_no_reason": {
        "zh-CN": "请写明标记原因，例如：B003 生意变差。",
        "en": "Say why you flag the borrower, like: B003 business getting worse.",
    },
    "plan_flag_unknown": {
        "zh-CN": "没有编号为 {code} 的借款人，或该借款人不归您负责。",
        "en": "There is no borrower {code}, or they are not one of yours.",
    },
    "plan_note_dispute_hold": {
        "zh-CN": "有未解决的争议：逾期提醒暂缓，待主管处理后再联系",
        "en": "open dispute: the overdue reminder is held until a supervisor resolves it",
    },
    "plan_note_dispute_other": {
        "zh-CN": "有未解决的争议：不做逾期提醒，只按其他原因回访",
        "en": "open dispute: no overdue reminder, a visit for the other reasons only",
    },
    "plan_note_opted_out_invite": {
        "zh-CN": "客户已表示不想回访：改为客户自助回访",
        "en": "opted out: a self-service invite instead of a call",
    },
    "plan_note_opted_out_kept": {
        "zh-CN": "客户已表示不想回访；高风险：保留回访",
        "en": "opted out; high risk: visit kept",
    },
    "plan_note_opted_out_collection": {
        "zh-CN": "客户已表示不想回访；逾期提醒不受影响",
        "en": "opted out; the overdue reminder still applies",
    },
    "plan_note_invite_queued": {
        "zh-CN": "邀请已由机器人发出",
        "en": "the bot has sent the invite",
    },
    "plan_note_send_invite": {
        "zh-CN": "客户没有 Telegram：请发送 /invite {code} 的链接",
        "en": "no Telegram: send the link of /invite {code}",
    },
}
"""Every message key of :mod:`bot.desk.planning` (registered there)."""
