"""Every word the web desk shows, in zh-CN and en (registered once, at import)."""

from __future__ import annotations

from dialogs.i18n import register

__all__ = ["MESSAGES"]

MESSAGES: dict[str, dict[str, str]] = {
    "web_title": {"zh-CN": "贷后回访工作台", "en": "Visit review desk"},
    "web_nav_queue": {"zh-CN": "审核队列", "en": "Review queue"},
    "web_nav_overview": {"zh-CN": "总览", "en": "Overview"},
    "web_nav_briefing": {"zh-CN": "工作简报", "en": "Briefing"},
    "web_sign_out": {"zh-CN": "退出", "en": "Sign out"},
    "web_signed_in_as": {"zh-CN": "{name}（{role}）", "en": "{name} ({role})"},
    "web_role_officer": {"zh-CN": "信贷员", "en": "officer"},
    "web_role_supervisor": {"zh-CN": "主管", "en": "supervisor"},
    "web_role_admin": {"zh-CN": "管理员", "en": "admin"},
    "web_language": {"zh-CN": "语言", "en": "Language"},
    "web_link_expired": {
        "zh-CN": "链接已失效或已被使用。请在机器人中发送 /web 获取新的登录链接。",
        "en": "This link has expired or was used. Send /web to the bot for a new login link.",
    },
    "web_sign_in_needed": {
        "zh-CN": "请先登录：在机器人中发送 /web，或让管理员运行 visitbot web-link，然后打开收到的链接。",
        "en": "Please sign in first: send /web to the bot (or ask an admin to run visitbot web-link) "
        "and open the link.",
    },
    "web_not_found": {"zh-CN": "找不到这个页面，或您无权查看。", "en": "No such page, or it is not yours to see."},
    "web_forbidden": {
        "zh-CN": "请求被拒绝：表单已过期或来自别处。请刷新页面后重试。",
        "en": "Refused: the form is stale or came from elsewhere. Reload the page and try again.",
    },
    "web_bad_filter": {"zh-CN": "筛选条件有误：{field}", "en": "A filter is not valid: {field}"},
    "web_error": {
        "zh-CN": "抱歉，出了点问题，未做任何更改。请稍后再试。",
        "en": "Sorry, something went wrong; nothing was changed. Please try again.",
    },
    # -- the queue
    "web_queue_title": {"zh-CN": "审核队列（风险高的在前）", "en": "Review queue (highest risk first)"},
    "web_queue_empty": {"zh-CN": "没有符合条件的回访。", "en": "No visits match."},
    "web_filter_since": {"zh-CN": "开始日期", "en": "From"},
    "web_filter_until": {"zh-CN": "结束日期", "en": "To"},
    "web_filter_officer": {"zh-CN": "信贷员", "en": "Officer"},
    "web_filter_script": {"zh-CN": "话术", "en": "Script"},
    "web_filter_outcome": {"zh-CN": "结果", "en": "Outcome"},
    "web_filter_risk": {"zh-CN": "风险（及以上）", "en": "Risk (or worse)"},
    "web_filter_review": {"zh-CN": "审核状态", "en": "Review"},
    "web_filter_any": {"zh-CN": "全部", "en": "any"},
    "web_apply": {"zh-CN": "筛选", "en": "Apply"},
    "web_review_view_pending": {"zh-CN": "待审核（含已回复）", "en": "waiting (incl. answered)"},
    "web_review_view_returned": {"zh-CN": "已退回", "en": "sent back"},
    "web_review_view_answered": {"zh-CN": "信贷员已回复", "en": "answered"},
    "web_review_view_approved": {"zh-CN": "已通过", "en": "approved"},
    "web_review_view_all": {"zh-CN": "全部", "en": "all"},
    "web_col_visit": {"zh-CN": "回访", "en": "Visit"},
    "web_col_borrower": {"zh-CN": "借款人", "en": "Borrower"},
    "web_col_officer": {"zh-CN": "信贷员", "en": "Officer"},
    "web_col_script": {"zh-CN": "话术", "en": "Script"},
    "web_col_outcome": {"zh-CN": "结果", "en": "Outcome"},
    "web_col_risk": {"zh-CN": "风险", "en": "Risk"},
    "web_col_review": {"zh-CN": "审核", "en": "Review"},
    "web_col_finished": {"zh-CN": "结束时间（{zone}）", "en": "Ended ({zone})"},
    "web_open": {"zh-CN": "查看", "en": "Open"},
    "web_next_page": {"zh-CN": "下一页 →", "en": "Next page →"},
    "web_first_page": {"zh-CN": "← 第一页", "en": "← First page"},
    "web_high_flags": {"zh-CN": "{count} 个高风险", "en": "{count} high"},
    "web_keys_queue": {
        "zh-CN": "快捷键：j/n 下一条，k 上一条，Enter 打开",
        "en": "Keys: j/n next, k previous, Enter opens",
    },
    # -- a visit
    "web_visit_title": {"zh-CN": "回访 #{id}", "en": "Visit #{id}"},
    "web_visit_meta": {
        "zh-CN": "{borrower} · 信贷员 {officer} · {script} · {outcome}",
        "en": "{borrower} · officer {officer} · {script} · {outcome}",
    },
    "web_visit_times": {
        "zh-CN": "开始 {started} · 结束 {finished}（{zone}）",
        "en": "Started {started} · ended {finished} ({zone})",
    },
    "web_review_state": {"zh-CN": "审核：{state}", "en": "Review: {state}"},
    "web_masked": {"zh-CN": "电话和证件号码已按权限隐藏。", "en": "Phone and ID numbers are masked for your role."},
    "web_section_answers": {"zh-CN": "问答记录", "en": "Questions and answers"},
    "web_said": {"zh-CN": "话术", "en": "Said"},
    "web_raw": {"zh-CN": "原始回答", "en": "Raw answer"},
    "web_parsed": {"zh-CN": "解析结果", "en": "Parsed"},
    "web_who": {"zh-CN": "回答人", "en": "Answered by"},
    "web_skipped": {"zh-CN": "（已跳过）", "en": "(skipped)"},
    "web_section_flags": {"zh-CN": "风险预警", "en": "Risk flags"},
    "web_no_flags": {"zh-CN": "没有风险预警。", "en": "No risk flags."},
    "web_flag_step": {"zh-CN": "步骤 {step}", "en": "step {step}"},
    "web_section_photos": {"zh-CN": "照片", "en": "Photos"},
    "web_photo_alt": {"zh-CN": "照片：{step}", "en": "Photo: {step}"},
    "web_section_location": {"zh-CN": "位置", "en": "Location"},
    "web_no_location": {"zh-CN": "本次回访没有记录位置。", "en": "No location was recorded in this visit."},
    "web_address_on_file": {"zh-CN": "登记地址：{address}", "en": "Address on file: {address}"},
    "web_distance_unknown": {
        "zh-CN": "登记地址没有坐标，无法计算距离。",
        "en": "The address on file has no coordinates, so no distance can be given.",
    },
    "web_section_notes": {"zh-CN": "备注", "en": "Notes"},
    "web_no_notes": {"zh-CN": "没有备注。", "en": "No notes."},
    "web_section_messages": {"zh-CN": "完整对话", "en": "Full transcript"},
    "web_section_history": {"zh-CN": "审核记录", "en": "Review history"},
    "web_no_history": {"zh-CN": "还没有审核记录。", "en": "No review yet."},
    "web_approve": {"zh-CN": "通过（a）", "en": "Approve (a)"},
    "web_send_back": {"zh-CN": "退回（r 填写意见）", "en": "Send back (r: comment)"},
    "web_comment_placeholder": {"zh-CN": "退回意见（会发送给信贷员）", "en": "Your comment (goes to the officer)"},
    "web_next_visit": {"zh-CN": "下一条待审核 →（j/n）", "en": "Next waiting visit → (j/n)"},
    "web_back_to_queue": {"zh-CN": "← 返回队列", "en": "← Back to the queue"},
    "web_approved": {"zh-CN": "回访 #{id} 已审核通过。", "en": "Visit #{id} approved."},
    "web_returned": {
        "zh-CN": "回访 #{id} 已退回，意见已发送给信贷员。",
        "en": "Visit #{id} sent back; your comment goes to the officer.",
    },
    "web_keys_visit": {
        "zh-CN": "快捷键：a 通过，r 填写退回意见，j/n 下一条",
        "en": "Keys: a approves, r writes a comment to send back, j/n next visit",
    },
    "web_direction_in": {"zh-CN": "收", "en": "in"},
    "web_direction_out": {"zh-CN": "发", "en": "out"},
    "web_direction_note": {"zh-CN": "注", "en": "note"},
}

register(MESSAGES)
