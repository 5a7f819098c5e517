"""What the review workflow tells people, in zh-CN and en: states, refusals, notices, history lines."""

from __future__ import annotations

__all__ = ["MESSAGES"]

MESSAGES: dict[str, dict[str, str]] = {
    "review_state_pending": {"zh-CN": "尚未审核", "en": "not reviewed yet"},
    "review_state_approved": {"zh-CN": "已通过", "en": "approved"},
    "review_state_returned": {"zh-CN": "已退回", "en": "sent back"},
    "review_state_answered": {"zh-CN": "信贷员已回复", "en": "answered by the officer"},
    "review_no_such_visit": {
        "zh-CN": "找不到回访 #{id}，或您无权查看。",
        "en": "No visit #{id}, or it is not yours to see.",
    },
    "review_not_reviewer": {
        "zh-CN": "只有主管或管理员可以审核回访 #{id}，未做任何更改。",
        "en": "Only a supervisor or an admin may review visit #{id}; nothing was changed.",
    },
    "review_not_own": {
        "zh-CN": "只有负责回访 #{id} 的信贷员可以回复退回意见，未做任何更改。",
        "en": "Only the officer of visit #{id} may answer its comment; nothing was changed.",
    },
    "review_unfinished": {
        "zh-CN": "回访 #{id} 还没有结束，不能审核或退回。请在回访结束后再审核。",
        "en": "Visit #{id} has not ended yet, so it cannot be reviewed or sent back. Review it once it ends.",
    },
    "review_refused_approved": {
        "zh-CN": "回访 #{id} 已审核通过，不能再次审核或退回，未做任何更改。",
        "en": "Visit #{id} is already approved; it cannot be reviewed or sent back again. Nothing was changed.",
    },
    "review_refused_returned": {
        "zh-CN": "回访 #{id} 已退回，正在等待信贷员回复（/reply）；回复后才能再次审核。",
        "en": "Visit #{id} was sent back and waits for the officer's answer (/reply); review it once they answer.",
    },
    "review_refused_reply_approved": {
        "zh-CN": "回访 #{id} 已审核通过，无需回复，未做任何更改。",
        "en": "Visit #{id} is already approved; there is nothing to answer. Nothing was changed.",
    },
    "review_refused_reply_pending": {
        "zh-CN": "回访 #{id} 正在等待审核，没有需要回复的退回意见，未做任何更改。",
        "en": "Visit #{id} waits for review and has no comment to answer; nothing was changed.",
    },
    "review_refused_reply_answered": {
        "zh-CN": "您已回复过回访 #{id}，正在等待主管审核；主管再次退回后才能回复。",
        "en": "You answered about visit #{id} already; it waits for review. You can answer again if it is sent back.",
    },
    "review_comment_needed": {
        "zh-CN": "退回回访 #{id} 需要填写意见，未做任何更改。",
        "en": "Sending visit #{id} back needs a comment; nothing was changed.",
    },
    "review_returned_to_officer": {
        "zh-CN": "主管{name}退回了回访 #{id}（{code} {borrower}）：\n{comment}\n回复请发送：/reply {id} 您的说明",
        "en": "{name} sent back visit #{id} ({code} {borrower}):\n{comment}\nTo answer, send: /reply {id} your answer",
    },
    "review_approved_to_officer": {
        "zh-CN": "主管{name}审核通过了回访 #{id}（{code} {borrower}）。",
        "en": "{name} approved visit #{id} ({code} {borrower}).",
    },
    "review_officer_replied": {
        "zh-CN": "信贷员{name}回复了回访 #{id}（{code} {borrower}）：\n{text}",
        "en": "{name} answered about visit #{id} ({code} {borrower}):\n{text}",
    },
    "review_open_transcript": {"zh-CN": "查看记录", "en": "Open transcript"},
    "review_event_approved": {"zh-CN": "{at} {name} 审核通过", "en": "{at} {name} approved"},
    "review_event_returned": {"zh-CN": "{at} {name} 退回：{text}", "en": "{at} {name} sent back: {text}"},
    "review_event_replied": {"zh-CN": "{at} {name} 回复：{text}", "en": "{at} {name} answered: {text}"},
}
