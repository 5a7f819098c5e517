"""Cross-visit risk rules (``across_visits:`` in a script): this visit against the borrower's earlier ones.

When a visit finishes (and again after a correction) its script's measures (``remember:``) are taken and kept
on the visit (``Visit.measures``), so a later visit compares with what was true then (the days overdue at that
time, the staff counted then). Each rule of the script is then tested against the borrower's visits finished
before this one, of any script remembering the same measures (:mod:`dialogs.across`). A rule that holds is a
flag of kind ``history`` whose evidence keeps the rule, the values compared and the visits they come from::

    {"rule": "staff_collapse", "uses": ["staff"], "when": "...", "labels": {"staff": {"zh-CN": "员工人数", ...}},
     "now": {"visit": 14, "at": "2026-11-03T02:00:00+00:00", "day": "2026-11-03", "values": {"staff": 2}},
     "before": [{"visit": 12, "at": "...", "day": "2026-10-03", "values": {"staff": 8}}]}

A measure of the loan or the visit only (``loan.overdue_days``, ``visit.outcome``) keeps the value it had
when the visit finished when the visit is judged again; one reading answers follows their corrections.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.desk.facts import VisitFacts
from bot.desk.labels import outcome_label
from dialogs.across import Memory, memory_context
from dialogs.answers import JsonValue, decode_value
from dialogs.engine import VisitEngine, VisitState
from dialogs.i18n import message, pick, register
from dialogs.schema import Outcome
from storage.history import Remembered, earlier_measures
from storage.models import Visit

if TYPE_CHECKING:
    from bot.desk.judging import Judged

__all__ = ["describe", "judge", "measures_of"]

register(
    {
        "history_line": {"zh-CN": "{measure}：{before} → 本次 {now}", "en": "{measure}: {before} → this visit {now}"},
        "history_visit_value": {"zh-CN": "#{visit}（{day}）{value}", "en": "#{visit} ({day}) {value}"},
        "history_yes": {"zh-CN": "是", "en": "yes"},
        "history_no": {"zh-CN": "否", "en": "no"},
    }
)


def _answers(engine: VisitEngine, state: VisitState) -> dict[str, Any]:
    """The visit's answers decoded as conditions see them (every step of the script, None when unanswered)."""
    steps = engine.compiled.steps
    answers: dict[str, Any] = dict.fromkeys(steps)
    for step_id, value in state.answers.items():
        ask = steps[step_id].ask if step_id in steps else None
        answers[step_id] = decode_value(ask, value) if ask is not None and value is not None else value
    return answers


def measures_of(visit: Visit, engine: VisitEngine, *, now: datetime) -> dict[str, JsonValue]:
    """What the finished ``visit`` remembers (``remember:``); facts-only measures already kept stay as they were."""
    memory = engine.compiled.memory
    state = VisitState.from_json(visit.state)
    facts = VisitFacts.of(
        visit.borrower,
        visit.loan,
        visit.officer,
        institution="",
        now=visit.finished_at or now,
        visit_id=visit.id,
        channel=visit.channel or "phone",
    ).context()
    context = memory_context(
        facts, _answers(engine, state), state.locale, outcome=visit.outcome, respondent=visit.respondent_id
    )
    kept = visit.measures or {}
    found: dict[str, JsonValue] = {}
    for name, measure in memory.measures.items():
        found[name] = kept[name] if name in kept and not measure.reads_answers else measure.value(context)
    return found


def _day(at: datetime, zone: str | None) -> str:
    """The borrower's own date of a moment."""
    return at.astimezone(ZoneInfo(zone or "Asia/Shanghai")).date().isoformat()


def _evidence(
    memory: Memory,
    visit: Visit,
    values: dict[str, JsonValue],
    earlier: list[Remembered],
    uses: tuple[str, ...],
    when: str,
    *,
    now: datetime,
) -> dict[str, Any]:
    """The rule, the values it compared, the visits they come from (and how to name them)."""
    zone = visit.borrower.timezone
    at = visit.finished_at or now
    labels = {name: dict(memory.measures[name].measure.label or {}) for name in uses}
    seen = [values, *(e.measures for e in earlier)]
    shown: dict[str, dict[str, dict[str, str]]] = {}
    for name in uses:
        options = memory.measures[name].options
        picked = {
            str(v[name]): dict(options[v[name]]) for v in seen if isinstance(v.get(name), str) and v[name] in options
        }
        if picked:
            shown[name] = picked
    return {
        "uses": list(uses),
        "when": when,
        "labels": labels,
        "shown": shown,
        "now": {"visit": visit.id, "at": at.isoformat(), "day": _day(at, zone), "values": {n: values[n] for n in uses}},
        "before": [
            {
                "visit": e.visit_id,
                "at": e.finished_at.isoformat(),
                "day": _day(e.finished_at, zone),
                "values": {n: e.measures.get(n) for n in uses},
            }
            for e in earlier
        ],
    }


def remember(visit: Visit, engine: VisitEngine, *, now: datetime) -> dict[str, JsonValue] | None:
    """Keep on the finished ``visit`` what its script remembers (``Visit.measures``); the values, None when
    the script remembers nothing. The desk does it as the visit ends, so the visit's end is one UPDATE;
    judging again sets the same values (no write)."""
    if not engine.compiled.memory.measures:
        return None
    values = measures_of(visit, engine, now=now)
    visit.measures = values
    return values


async def judge(
    session: AsyncSession, visit: Visit, engine: VisitEngine, *, now: datetime, remembered: bool = False
) -> list[Judged]:
    """The cross-visit flags that hold on ``visit`` (its measures stored on the visit first; ``remembered``:
    they were, just now, by :func:`remember`)."""
    from bot.desk.judging import Judged

    memory = engine.compiled.memory
    if remembered and memory.measures and isinstance(visit.measures, dict):
        values: dict[str, JsonValue] | None = visit.measures
    else:
        values = remember(visit, engine, now=now)
    if values is None or not memory.rules:
        return []
    earlier = await earlier_measures(session, visit)
    found: list[Judged] = []
    for compiled, picked in memory.hits(values, [e.measures for e in earlier]):
        rule = compiled.rule
        compared = [earlier[i] for i in picked]
        evidence = {"rule": rule.flag, **_evidence(memory, visit, values, compared, rule.uses, rule.when, now=now)}
        note = pick(rule.note, visit.locale) if rule.note else ""
        found.append(Judged(rule.flag, rule.severity, note, evidence))
    return found


def _value(name: str, value: Any, evidence: dict[str, Any], locale: str) -> str:
    """One measured value as a supervisor reads it: an option's label, an outcome's, yes/no, the number."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return message("history_yes" if value else "history_no", locale)
    if isinstance(value, str):
        label = (evidence.get("shown") or {}).get(name, {}).get(value)
        if isinstance(label, dict) and label:
            return pick(label, locale)
        if value in {o.value for o in Outcome}:
            return outcome_label(value, locale)
        return value
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    if isinstance(value, list):
        return "、".join(_value(name, v, evidence, locale) for v in value)
    return str(value)


def describe(code: str, evidence: dict[str, Any], locale: str) -> list[str]:
    """The evidence of a history flag as lines a supervisor reads, one per measure compared (oldest visit first):
    ``员工人数：#12（2026-10-03）8 → 本次 2``."""
    now = evidence["now"]
    before = list(reversed(evidence.get("before") or []))
    lines = []
    for name in evidence.get("uses") or []:
        label = (evidence.get("labels") or {}).get(name)
        measure = pick(label, locale) if isinstance(label, dict) and label else name
        earlier = " · ".join(
            message(
                "history_visit_value",
                locale,
                visit=b["visit"],
                day=b.get("day") or str(b.get("at", ""))[:10],
                value=_value(name, b["values"].get(name), evidence, locale),
            )
            for b in before
        )
        shown_now = _value(name, now["values"].get(name), evidence, locale)
        lines.append(message("history_line", locale, measure=measure, before=earlier, now=shown_now))
    return lines
