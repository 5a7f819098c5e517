"""Answer sequences that walk every shipped script to each of its outcomes (data for the tests).

Answers are typed as an officer or borrower would, in a locale-neutral way (option numbers,
y/n, ISO dates, plain numbers), so each walk runs in both zh-CN and en. ``/skip`` skips a step,
``photo:<name>`` sends a photo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from dialogs.answers import Reply
from dialogs.compiler import sample_facts
from dialogs.engine import AnswerRecorded, Event, Skip, Submit, Turn, VisitEngine

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
LOCALES = ("zh-CN", "en")
CALL_AT = "2026-11-25 15:00"
PHOTO = "photo:site.jpg"
WHERE = "31.23,121.47"


@dataclass(frozen=True)
class Walk:
    """One path through a script: the answers, and where and how it must end."""

    name: str
    answers: tuple[str, ...]
    outcome: str
    last_step: str
    flags: frozenset[str] = frozenset()
    facts: dict[str, Any] = field(default_factory=dict)
    """Overrides of the sample facts, e.g. ``{"borrower.risk_tier": "high"}``."""


def w(name: str, outcome: str, last: str, answers: list[str], flags: set[str] | None = None, **facts: Any) -> Walk:
    """A walk (``facts`` keys use ``__`` for dots: ``borrower__risk_tier``)."""
    overrides = {key.replace("__", "."): value for key, value in facts.items()}
    return Walk(name, tuple(answers), outcome, last, frozenset(flags or ()), overrides)


def chain(*parts: list[str]) -> list[str]:
    """Answer lists written over several lines, joined."""
    return [answer for part in parts for answer in part]


PHONE_ENDS = [
    w("wrong_party", "wrong_party", "wrong_party", ["2"]),
    w("callback", "callback", "callback", ["3", CALL_AT]),
    w("unreachable", "unreachable", "unreachable", ["4"]),
]

WALKS: dict[str, list[Walk]] = {
    "officer_phone_visit": [
        w("quiet", "completed", "closing", ["1", "1", "1", "n", "n", "1", "/skip", "/skip", "y", "n", "n"]),
        w(
            "risky",
            "completed",
            "closing",
            chain(
                ["1", "2", "3", "5", "客户流失严重", "3", "y", "80000", "3", "y", "搬到新址", "3", "买车"],
                ["经营贷", "利率低一些", "n", "y", "y", "y"],
            ),
            {"business_worse", "repayment_pressure_high", "other_debt", "business_changed", "funds_diverted"},
        ),
        *PHONE_ENDS,
    ],
    "onsite_visit": [
        w(
            "clean",
            "completed",
            "closing",
            chain(
                ["y", "n", "1", "1,2,6", "1", "n", "12", "10", "6000", "200", "8000", "n", "50000", "30000"],
                ["20000", "30天", "100000", "45", "上游面粉厂，下游超市", "1200000", "1100000", "/skip", "春节前旺季"],
                ["25", "1", "n", "1", "n", "1", "1", "1", "/skip", PHOTO, PHOTO, PHOTO, WHERE, "现场与描述相符"],
            ),
        ),
        w(
            "risky",
            "completed",
            "closing",
            chain(
                ["n", "y", "4", "1", "正在补办执照", "7", "3", "1", "y", "新增批发业务", "20", "3", "5000", "100"],
                ["0", "y", "城西仓库", "1000", "200000", "主要是某超市欠款", "300000", "90天", "0", "120"],
                ["上游停产", "1200000", "10000", "/skip", "淡季", "5", "2", "还其他债", "y", "100000", "3"],
                ["4", "炒股20万", "y", "300000", "4", "城东厂房", "/skip", "30000", "4", "3", "希望展期"],
                [PHOTO, "/skip", "/skip", PHOTO, WHERE, "员工人数明显少于所述"],
            ),
            {
                "licence_abnormal",
                "court_enforcement",
                "business_worse",
                "business_changed",
                "funds_diverted",
                "other_debt",
                "risky_investment",
                "collateral_impaired",
                "repayment_pressure_high",
            },
        ),
        w("rescheduled", "callback", "rescheduled", ["y", "n", "4", "2", "2026-11-30 10:00"]),
    ],
    "self_checkin": [
        w("quiet", "completed", "closing", ["1", "1", "1", "n", "n", "/skip", "y", "n"]),
        w(
            "call_me",
            "completed",
            "closing",
            ["1", "3", "2", "3", "y", "开了分店", "y", "13900139001", "想提高额度", "y", "y", CALL_AT],
            {"business_worse", "repayment_pressure_high", "business_changed"},
        ),
        w("declined", "opted_out", "consent_declined", ["2"]),
        w("no_visits_low", "opted_out", "policy_low", ["3", "1", "1"], borrower__risk_tier="low"),
        w("no_visits_medium", "opted_out", "policy_medium", ["3", "5", "太麻烦", "2"], borrower__risk_tier="medium"),
        w("no_visits_high", "opted_out", "policy_high", ["3", "4", "3"], borrower__risk_tier="high"),
    ],
    "promise_checkin": [
        w("paid", "completed", "paid_thanks", ["1", "1"]),
        w("not_yet_call_me", "completed", "closing", ["1", "3", "y"]),
        w("partly", "completed", "closing", ["1", "2", "n"]),
        w("declined", "opted_out", "consent_declined", ["2"]),
    ],
    "visit_refusal": [
        w("low", "opted_out", "policy_low", ["1", "1", "1"], borrower__risk_tier="low"),
        w("medium", "opted_out", "policy_medium", ["1", "2", "2"], borrower__risk_tier="medium"),
        w("high", "opted_out", "policy_high", ["1", "5", "不喜欢被打扰", "4"], borrower__risk_tier="high"),
        w("tier_unknown", "opted_out", "policy_high", ["1", "3", "4"], borrower__risk_tier=None),
        *PHONE_ENDS,
    ],
    "overdue_reminder": [
        w("promise", "completed", "closing", ["1", "2", "1", "2026-11-28", "4500"]),
        w("other_reason", "completed", "closing", ["1", "5", "出差忘了", "2", "2026-12-10", "2000"]),
        w("dispute", "completed", "dispute_close", ["1", "3", "金额不对"], {"dispute"}),
        w(
            "hardship_extension",
            "completed",
            "closing",
            ["1", "4", "生病住院", "1", "三个月"],
            {"repayment_pressure_high"},
        ),
        w("cannot_then_instalments", "completed", "closing", ["1", "1", "3", "2", "/skip"]),
        w("no_commitment", "refused", "no_commitment", ["1", "4", "生意亏损", "3", "3"], {"repayment_pressure_high"}),
        *PHONE_ENDS,
    ],
}


def facts_for(walk: Walk) -> dict[str, Any]:
    """The sample facts with the walk's overrides (None removes a fact)."""
    facts = sample_facts()
    for dotted, value in walk.facts.items():
        head, _, key = dotted.partition(".")
        if value is None:
            facts[head].pop(key, None)
        else:
            facts[head][key] = value
    return facts


def event_for(text: str) -> Event:
    """A typed answer as an engine event."""
    if text == "/skip":
        return Skip()
    if text.startswith("photo:"):
        return Submit(Reply(photo=text.removeprefix("photo:")))
    return Submit(Reply(text=text))


@dataclass
class Walked:
    """What a walk produced: the last turn, everything said and every answer recorded."""

    turn: Turn
    said: list[str]
    answers: list[AnswerRecorded]
    steps: list[str]


def walk(engine: VisitEngine, spec: Walk, locale: str) -> Walked:
    """Run a walk; every answer must be accepted."""
    facts = facts_for(spec)
    turn = engine.start(facts, locale)
    said, answers, steps = list(turn.said), [], []
    for text in spec.answers:
        assert turn.prompt is not None, f"{spec.name}: the visit ended before answer {text!r}"
        steps.append(turn.prompt.step)
        turn = engine.handle(turn.state, facts, event_for(text), now=NOW)
        assert turn.error is None, f"{spec.name} at {steps[-1]} ({locale}): {text!r} -> {turn.error}"
        said.extend(turn.said)
        answers.extend(r for r in turn.records if isinstance(r, AnswerRecorded))
    return Walked(turn, said, answers, steps)


def record_for(engine: VisitEngine, walked: Walked, locale: str) -> dict[str, Any]:
    """A visit record shaped like :func:`bot.desk.records.visit_record`, without a database."""
    state = walked.turn.state
    return {
        "id": 42,
        "format": 1,
        "script": {"id": engine.script.id, "version": engine.script.version},
        "borrower": {"code": "B0000", "name": "张三"},
        "loan": {"contract_no": "DK2026010001", "amount": "50000"},
        "officer": {"id": 1, "name": "李经理"},
        "channel": "phone",
        "locale": locale,
        "status": "finished",
        "step": None,
        "outcome": state.outcome,
        "callback_at": state.callback_at,
        "started_at": "2026-11-23T02:00:00+00:00",
        "finished_at": "2026-11-23T02:12:00+00:00",
        "remark": "客户态度积极",
        "answers": [
            {
                "step": a.step,
                "question": a.question,
                "raw": a.raw,
                "value": a.value,
                "display": a.display,
                "skipped": a.skipped,
                "answered_by": "officer",
                "answered_at": "2026-11-23T02:05:00+00:00",
            }
            for a in walked.answers
        ],
        "flags": [
            {"code": f["flag"], "severity": f["severity"], "step": f["step"], "note": f["note"], "raised_at": None}
            for f in state.flags
        ],
        "transcript": [],
    }
