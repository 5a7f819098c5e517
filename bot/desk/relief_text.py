"""What hardship requests (展期 / 分期) tell people, in zh-CN and en: states, refusals, notices."""

from __future__ import annotations

__all__ = ["MESSAGES"]

MESSAGES: dict[str, dict[str, str]] = {
    "relief_kind_extension": {"zh-CN": "展期", "en": "term extension"},
    "relief_kind_instalments": {"zh-CN": "分期", "en": "instalment plan"},
    "relief_kind_neither": {"zh-CN": "都不需要", "en": "no relief needed"},
    "relief_status_pending": {"zh-CN": "待审批", "en": "waiting for a decision"},
    "relief_status_approved": {"zh-CN": "已批准", "en": "approved"},
    "relief_status_declined": {"zh-CN": "未批准", "en": "declined"},
    "relief_terms_of": {"zh-CN": "（{terms}）", "en": " ({terms})"},
    # refusals
    "relief_not_found": {
        "zh-CN": "找不到申请 #{id}，或您无权处理。",
        "en": "No hardship request #{id}, or it is not yours to decide.",
    },
    "relief_not_reviewer": {
        "zh-CN": "只有该团队的主管或管理员可以审批申请 #{id}，未做任何更改。",
        "en": "Only a supervisor of the team or an admin may decide request #{id}; nothing was changed.",
    },
    "relief_already": {
        "zh-CN": "申请 #{id} 已由 {name} 于 {at} 处理（{status}），不能再次审批，未做任何更改。",
        "en": "Request #{id} was already decided ({status}) by {name} at {at}; it cannot be decided again. "
        "Nothing was changed.",
    },
    "relief_reason_needed": {
        "zh-CN": "请写明审批理由（申请 #{id}），未做任何更改。",
        "en": "Please give a reason for the decision on request #{id}; nothing was changed.",
    },
    "relief_bad_decision": {
        "zh-CN": "审批结果只能是 approve（批准）或 decline（不批准）。",
        "en": "A decision is approve or decline.",
    },
    # notices (outbox)
    "relief_to_decide": {
        "zh-CN": "📝 待审批的申请 #{id}：客户 {code} {name} 申请{kind}{terms}（信贷员 {officer}，回访 #{visit}）。"
        "点下方按钮审批，或发送 /relief 查看全部待审批申请。",
        "en": "📝 Hardship request #{id} to decide: borrower {code} {name} asks for a {kind}{terms} "
        "(officer {officer}, visit #{visit}). Use the buttons below, or send /relief for every waiting request.",
    },
    "relief_decided_approved": {
        "zh-CN": "✅ {by} 批准了客户 {code} {name} 的{kind}申请{terms}（申请 #{id}）。理由：{reason}\n"
        "请与客户联系，说明接下来的安排。",
        "en": "✅ {by} approved the {kind} asked for by {code} {name}{terms} (request #{id}). Reason: {reason}\n"
        "Please contact the borrower about the next steps.",
    },
    "relief_decided_declined": {
        "zh-CN": "❌ {by} 未批准客户 {code} {name} 的{kind}申请{terms}（申请 #{id}）。理由：{reason}\n"
        "请与客户联系，商量其他安排。",
        "en": "❌ {by} declined the {kind} asked for by {code} {name}{terms} (request #{id}). Reason: {reason}\n"
        "Please contact the borrower about other arrangements.",
    },
    "relief_borrower_approved": {
        "zh-CN": "您好，{name}：您的{kind}申请已获批准。信贷员{officer}会尽快与您联系，说明接下来的安排。",
        "en": "Hello {name}: your request for a {kind} has been approved. Your officer {officer} will contact you "
        "soon about the next steps.",
    },
    "relief_borrower_declined": {
        "zh-CN": "您好，{name}：您的{kind}申请经审核暂未获批准。信贷员{officer}会尽快与您联系，商量其他安排。",
        "en": "Hello {name}: after review, your request for a {kind} was not approved. Your officer {officer} "
        "will contact you soon about other arrangements.",
    },
    # a supervisors' notice queued before migration 0011 (relief as an officer task), still deliverable
    "alert_task_relief": {
        "zh-CN": "📝 待审批：客户 {code} {name} 申请 {note}（信贷员 {officer}，回访 #{visit}）",
        "en": "📝 To approve: borrower {code} {name} asks for {note} (officer {officer}, visit #{visit})",
    },
    "relief_approve_button": {"zh-CN": "✅ 批准", "en": "✅ Approve"},
    "relief_decline_button": {"zh-CN": "❌ 不批准", "en": "❌ Decline"},
    "relief_open_transcript": {"zh-CN": "查看记录", "en": "Open transcript"},
}
