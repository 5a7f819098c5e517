"""Human labels for the codes the record keeps: never an internal id in a text people read.

Flags (``funds_diverted``), opt-out reasons (``privacy``), channels (``self_service``), task kinds,
outcomes, severities and who gave an answer each have a label in every shipped locale; an unknown
code falls back to itself, so a new script's flag still shows (and ``tests/bot/test_labels.py``
asks for a label for every code a shipped script uses).
"""

from __future__ import annotations

from bot.desk.relief_text import MESSAGES as RELIEF_MESSAGES
from dialogs.i18n import has_message, message, register

__all__ = [
    "answered_by_label",
    "channel_label",
    "flag_label",
    "label",
    "outcome_label",
    "reason_label",
    "relief_label",
    "severity_label",
    "task_label",
    "task_note_label",
]

FLAGS: dict[str, dict[str, str]] = {
    "flag_funds_diverted": {"zh-CN": "贷款资金挪用", "en": "loan money diverted"},
    "flag_repayment_pressure_high": {"zh-CN": "还款压力大", "en": "heavy repayment pressure"},
    "flag_other_debt": {"zh-CN": "其他负债", "en": "other debts"},
    "flag_business_changed": {"zh-CN": "经营变动", "en": "business changed"},
    "flag_business_worse": {"zh-CN": "经营变差", "en": "business getting worse"},
    "flag_licence_abnormal": {"zh-CN": "营业执照异常", "en": "business licence irregular"},
    "flag_court_enforcement": {"zh-CN": "涉诉或被执行", "en": "lawsuit or court enforcement"},
    "flag_dispute": {"zh-CN": "对欠款有异议", "en": "debt disputed"},
    "flag_broken_promise": {"zh-CN": "未履行还款承诺", "en": "promise to pay broken"},
    "flag_wrong_party_repeated": {"zh-CN": "多次非本人接听", "en": "wrong person answered repeatedly"},
    "flag_risky_investment": {"zh-CN": "高风险对外投资", "en": "high-risk investments"},
    "flag_collateral_impaired": {"zh-CN": "抵押物受损或贬值", "en": "collateral impaired"},
    # cross-visit flags (跨次回访, bot.desk.history_rules): this visit against the borrower's earlier ones
    "flag_fine_while_overdue_grows": {"zh-CN": "称经营正常但逾期加重", "en": "business fine, overdue growing"},
    "flag_staff_collapse": {"zh-CN": "员工人数骤减", "en": "staff numbers collapsed"},
    "flag_stock_collapse": {"zh-CN": "库存骤减", "en": "stock collapsed"},
    "flag_other_debt_growing": {"zh-CN": "其他借款增加", "en": "other borrowing growing"},
    "flag_respondent_changed": {"zh-CN": "作答账号与上次不同", "en": "answered from another account"},
    # quality flags (形式化, bot.desk.quality): visits that look made up rather than done
    "flag_too_fast": {"zh-CN": "用时过短", "en": "implausibly fast"},
    "flag_all_first": {"zh-CN": "全选第一项", "en": "every answer the first option"},
    "flag_copied_previous": {"zh-CN": "与上次相同", "en": "same answers as the last visit"},
    "flag_photo_reused": {"zh-CN": "照片重复使用", "en": "photo reused"},
    "flag_far_location": {"zh-CN": "位置与登记地址不符", "en": "far from the address on file"},
    "flag_impossible_sequence": {"zh-CN": "行程不可能", "en": "physically impossible sequence"},
}
"""Risk flags: the shared vocabulary of SCRIPTS.md, every one a shipped script raises and more."""

REASONS: dict[str, dict[str, str]] = {
    "reason_privacy": {"zh-CN": "担心个人信息和隐私", "en": "privacy concerns"},
    "reason_busy": {"zh-CN": "工作太忙，没有时间", "en": "too busy"},
    "reason_repaying_fine": {"zh-CN": "一直按时还款，觉得没必要", "en": "repaying on time, sees no need"},
    "reason_too_frequent": {"zh-CN": "回访太频繁，被打扰", "en": "too many calls"},
    "reason_other": {"zh-CN": "其他原因", "en": "another reason"},
}
"""Why a borrower does not want visits (不想回访; the refusal_reason options)."""

CHANNELS: dict[str, dict[str, str]] = {
    # how a visit was made
    "channel_phone": {"zh-CN": "电话", "en": "phone"},
    "channel_onsite": {"zh-CN": "现场", "en": "on site"},
    "channel_self": {"zh-CN": "借款人线上自助", "en": "borrower's self-service"},
    # what the borrower prefers (the preferred_channel options)
    "channel_self_service": {"zh-CN": "线上自助回访", "en": "online self-service check-in"},
    "channel_sms": {"zh-CN": "短信提醒", "en": "SMS reminders"},
    "channel_fewer_calls": {"zh-CN": "电话（少一些）", "en": "calls, but fewer"},
    "channel_none": {"zh-CN": "都不需要", "en": "none of these"},
}
"""Contact channels: how a visit was made, and the borrower's preferred way to be reached."""

TASKS: dict[str, dict[str, str]] = {
    "task_callback": {"zh-CN": "回电", "en": "call back"},
    "task_note_callback": {"zh-CN": "约定的回电", "en": "call-back booked"},
    "task_note_wants_call": {"zh-CN": "借款人希望回电", "en": "the borrower asked for a call"},
    "task_promise": {"zh-CN": "还款承诺跟进", "en": "promise to pay: follow up"},
    "task_note_promise_due": {
        "zh-CN": "承诺 {date} 还款 {amount} 元：请核实是否到账",
        "en": "promised {amount} yuan by {date}: check it arrived",
    },
}
"""Officers' task kinds, and the words of a task's note (why the call-back).

A hardship request's kind (``relief_kind_extension`` …) is :mod:`bot.desk.relief_text`'s, registered here
too so a label reads the same wherever this module alone is imported."""

ANSWERED_BY: dict[str, dict[str, str]] = {
    "answered_by_borrower": {"zh-CN": "借款人本人", "en": "the borrower themself"},
    "answered_by_officer": {"zh-CN": "信贷员代答", "en": "the officer, for the borrower"},
    "answered_by_supervisor": {"zh-CN": "主管代答", "en": "a supervisor, for the borrower"},
    "answered_by_admin": {"zh-CN": "管理员代答", "en": "an admin, for the borrower"},
    "answered_by_system": {"zh-CN": "系统", "en": "the system"},
}
"""Who gave an answer: the borrower on screen, or staff recording what the borrower said on a call."""

PLAN: dict[str, dict[str, str]] = {
    "plan_reason_new_loan": {"zh-CN": "上月新放款", "en": "Disbursed last month"},
    "plan_reason_policy": {"zh-CN": "按风险等级定期回访", "en": "Required by policy (tier)"},
    "plan_reason_flagged": {"zh-CN": "客户经理标记", "en": "Flagged by the officer"},
    "plan_reason_sample": {"zh-CN": "随机抽查", "en": "Random sample"},
    "plan_reason_overdue": {"zh-CN": "逾期提醒", "en": "Overdue reminder"},
    "plan_reason_broken_promise": {"zh-CN": "未履行还款承诺", "en": "Broken promise to pay"},
    "plan_action_call": {"zh-CN": "电话回访", "en": "Call"},
    "plan_action_invite": {"zh-CN": "客户自助回访", "en": "Self-service invite"},
    "plan_action_hold": {"zh-CN": "暂缓（争议未解决）", "en": "On hold (open dispute)"},
}
"""Why a borrower is in the month's plan (``plan_reason``) and what the officer does (``plan_action``)."""

register(FLAGS | REASONS | CHANNELS | TASKS | ANSWERED_BY | PLAN)
register({key: words for key, words in RELIEF_MESSAGES.items() if key.startswith("relief_kind_")})


def _separator(locale: str) -> str:
    return "、" if locale.startswith("zh") else ", "


def label(kind: str, code: str | None, locale: str) -> str:
    """The label of ``code`` of a kind (``flag``, ``reason``, ``channel``, ``task``, ``outcome`` …)."""
    if not code:
        return "-"
    key = f"{kind}_{code}"
    return message(key, locale) if has_message(key) else code


def flag_label(code: str, locale: str) -> str:
    """A risk flag's label (贷款资金挪用 for ``funds_diverted``)."""
    return label("flag", code, locale)


def outcome_label(code: str | None, locale: str) -> str:
    """How a visit ended, in words."""
    return label("outcome", code, locale)


def severity_label(code: str | None, locale: str) -> str:
    """A severity in words (高 / high)."""
    return label("severity", code, locale)


def reason_label(code: str | None, locale: str) -> str:
    """An opt-out reason in words; several (comma-separated) are joined with the locale's comma."""
    if not code:
        return "-"
    return _separator(locale).join(label("reason", part.strip(), locale) for part in code.split(","))


def channel_label(code: str | None, locale: str) -> str:
    """A contact channel in words (phone, on site, self-service …)."""
    if not code:
        return "-"
    return _separator(locale).join(label("channel", part.strip(), locale) for part in code.split(","))


def task_label(code: str | None, locale: str) -> str:
    """A task kind in words (call back …)."""
    return label("task", code, locale)


def task_note_label(kind: str, note: str | None, locale: str) -> str:
    """A task's note in words: a call-back's reason (its high flags, the borrower's wish).

    The desk writes notes as codes (``funds_diverted, other_debt``, ``wants_call``); text that is no
    code (an officer's words) is kept as it is.
    """
    if not note:
        return "-"
    if kind == "promise":  # a promise's follow-up (bot.desk.promises): "<date> <amount>"
        day, _, amount = note.partition(" ")
        return message("task_note_promise_due", locale, date=day, amount=amount or "-")
    parts = [part.strip() for part in note.split(",")]
    if all(has_message(f"flag_{p}") or has_message(f"task_note_{p}") for p in parts):
        return _separator(locale).join(
            flag_label(p, locale) if has_message(f"flag_{p}") else message(f"task_note_{p}", locale) for p in parts
        )
    return note


def relief_label(detail: str | None, locale: str) -> str:
    """A hardship request in words: its kind and terms (``extension: 6个月`` reads 展期：6个月)."""
    if not detail:
        return "-"
    kind, colon, terms = detail.partition(":")
    shown = label("relief_kind", kind.strip(), locale)
    return f"{shown}{'：' if locale.startswith('zh') else ': '}{terms.strip()}" if colon else shown


def answered_by_label(kind: str | None, locale: str) -> str:
    """Who gave an answer, in words: 借款人本人 (the borrower on screen) or 信贷员代答 (staff on a call)."""
    return label("answered_by", kind, locale)
