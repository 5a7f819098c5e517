"""Quality flags (形式化): visits that look made up rather than done.

Judged on a finished visit (and again after a correction) by :func:`bot.desk.judging.judge_visit`; each
flag keeps the figures that show it (``evidence``), which :func:`describe` turns into lines a supervisor
reads. The thresholds are settings (``VISITBOT_QUALITY_*``, :class:`bot.settings.Settings`).

- ``too_fast``: too many answers given sooner than ``quality_min_answer_seconds`` after the one before
  (a share of at least ``quality_fast_share``), or the whole visit under ``quality_min_visit_seconds``;
- ``all_first``: every choice answered with its first option;
- ``copied_previous``: every answer the same as the borrower's previous visit of the script, free-form
  ones (text, numbers, amounts, dates) among them, so a stable borrower's same choices are no flag;
- ``photo_reused``: a photo of another visit (any borrower) within ``quality_photo_distance`` bits of
  perceptual hash (re-encoded or resized, it is the same picture);
- ``far_location``: an on-site visit located more than ``quality_max_distance_km`` from the address on
  file (the borrower's coordinates from the loan book);
- ``impossible_sequence``: another located visit of the officer, within a day, that could only be reached
  faster than ``quality_max_speed_kmh``.

The first three need ``quality_min_answers`` answers; the last two a location answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from dialogs.engine import VisitEngine
from dialogs.i18n import message, register
from dialogs.schema import AnswerKind, Severity
from storage import repositories as repo
from storage.models import Answer, Visit
from storage.quality import LocatedAnswer, located_answers, photo_twins, previous_visit, visit_location

if TYPE_CHECKING:
    from bot.desk.judging import Judged

__all__ = ["describe", "distance_km", "judge"]

register(
    {
        "quality_note_too_fast": {"zh-CN": "回访用时过短", "en": "The visit went implausibly fast"},
        "quality_note_all_first": {"zh-CN": "所有选择题都选了第一项", "en": "Every choice was the first option"},
        "quality_note_copied_previous": {
            "zh-CN": "回答与上次回访完全相同",
            "en": "The answers are those of the last visit",
        },
        "quality_note_photo_reused": {
            "zh-CN": "照片与其他回访的照片相同",
            "en": "A photo is one of another visit",
        },
        "quality_note_far_location": {
            "zh-CN": "回访地点远离登记地址",
            "en": "The visit was located far from the address on file",
        },
        "quality_note_impossible_sequence": {
            "zh-CN": "与同一信贷员的另一次现场回访时间、距离不可能衔接",
            "en": "Another on-site visit of the officer is too far away for the time between",
        },
        "quality_too_fast": {
            "zh-CN": "{answers} 题中 {fast} 题用时不足 {floor} 秒；全程 {seconds} 秒",
            "en": "{fast} of {answers} answers came in under {floor} s each; the whole visit took {seconds} s",
        },
        "quality_too_fast_short": {
            "zh-CN": "全程 {seconds} 秒（不足 {least} 秒）",
            "en": "the whole visit took {seconds} s (less than {least} s)",
        },
        "quality_all_first": {
            "zh-CN": "{answers} 道选择题全部选了第一项",
            "en": "all {answers} choices answered with the first option",
        },
        "quality_copied_previous": {
            "zh-CN": "{answers} 个回答与 #{visit}（{date}）完全相同，其中 {free} 个为填写项",
            "en": "{answers} answers identical to #{visit} ({date}), {free} of them typed in",
        },
        "quality_photo_reused": {
            "zh-CN": "与 #{visit}（{borrower} {name}，{date}）的照片相同",
            "en": "the same photo as #{visit} ({borrower} {name}, {date})",
        },
        "quality_photo_bits": {"zh-CN": "（差 {bits} 位）", "en": " ({bits} bits apart)"},
        "quality_far_location": {
            "zh-CN": "距登记地址 {km} 公里",
            "en": "{km} km from the address on file",
        },
        "quality_impossible_sequence": {
            "zh-CN": "与 #{visit} 相隔 {minutes} 分钟、{km} 公里（需时速 {kmh} 公里）",
            "en": "{minutes} min and {km} km from #{visit} (needs {kmh} km/h)",
        },
        "quality_impossible_same_time": {
            "zh-CN": "与 #{visit} 同一时刻、相距 {km} 公里",
            "en": "at the same moment as #{visit}, {km} km away",
        },
    }
)

FREE_FORM = frozenset(
    {AnswerKind.TEXT, AnswerKind.INTEGER, AnswerKind.MONEY, AnswerKind.PERCENT, AnswerKind.DATE, AnswerKind.DATETIME}
)
"""Answers typed in, not tapped: the same ones again mean copied, the same choices may be a stable borrower."""
CHOICES = frozenset({AnswerKind.CHOICE, AnswerKind.MULTI, AnswerKind.YESNO})
SEQUENCE_WINDOW = timedelta(days=1)
"""How far either side of a visit the officer's other located visits are checked."""
EARTH_KM = 6371.0088


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance between two WGS84 points (haversine), in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


def _kind(engine: VisitEngine | None, step: str) -> AnswerKind | None:
    found = engine.compiled.steps.get(step) if engine is not None else None
    return found.ask.kind if found is not None and found.ask is not None else None


def _takes_photos(engine: VisitEngine) -> bool:
    """True when the visit's script has a photo question (only a photo answer keeps a photo's hash)."""
    return any(s.ask is not None and s.ask.kind is AnswerKind.PHOTO for s in engine.compiled.steps.values())


def _first_option(engine: VisitEngine, step: str) -> Any:
    """The value an answer of ``step`` has when its first option (or 是 / yes) is taken."""
    ask = engine.compiled.steps[step].ask
    assert ask is not None
    if ask.kind is AnswerKind.YESNO:
        return True
    first = ask.options[0].id
    return [first] if ask.kind is AnswerKind.MULTI else first


def _given(answers: Sequence[Answer]) -> list[Answer]:
    """The answers given (not skipped), the last one per step."""
    latest = {a.step_id: a for a in answers if not a.skipped}
    return sorted(latest.values(), key=lambda a: a.id)


def _too_fast(visit: Visit, answers: Sequence[Answer], settings: Settings) -> dict[str, Any] | None:
    before = visit.started_at
    fast = timed = 0
    for answer in answers:  # every answer (skips too) is the start of the next one's time
        if not answer.skipped:
            timed += 1
            fast += (answer.answered_at - before).total_seconds() < settings.quality_min_answer_seconds
        before = max(before, answer.answered_at)
    seconds = (before - visit.started_at).total_seconds()
    if timed < settings.quality_min_answers:
        return None
    many = fast >= settings.quality_fast_share * timed
    if not many and seconds >= settings.quality_min_visit_seconds:
        return None
    return {
        "answers": timed,
        "many_fast": many,
        "fast": fast,
        "floor": settings.quality_min_answer_seconds,
        "share": settings.quality_fast_share,
        "seconds": round(seconds, 1),
        "least": settings.quality_min_visit_seconds,
    }


def _all_first(given: Sequence[Answer], engine: VisitEngine, settings: Settings) -> dict[str, Any] | None:
    choices = [a for a in given if _kind(engine, a.step_id) in CHOICES]
    if len(choices) < settings.quality_min_answers:
        return None
    if any(a.value != _first_option(engine, a.step_id) for a in choices):
        return None
    return {"answers": len(choices), "steps": [a.step_id for a in choices]}


async def _copied(
    session: AsyncSession, visit: Visit, given: Sequence[Answer], engine: VisitEngine, settings: Settings
) -> dict[str, Any] | None:
    before = await previous_visit(session, visit)
    if before is None:
        return None
    theirs = {a.step_id: a for a in _given(await repo.given_answers(session, before.id))}
    common = [a for a in given if a.step_id in theirs]
    if len(common) < settings.quality_min_answers or any(a.value != theirs[a.step_id].value for a in common):
        return None
    free = [a.step_id for a in common if _kind(engine, a.step_id) in FREE_FORM and a.value not in (None, "")]
    if not free:
        return None
    return {
        "previous": {"visit": before.id, "date": _day(before.started_at, settings)},
        "answers": len(common),
        "free_form": len(free),
        "steps": [a.step_id for a in common],
    }


def _hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


async def _photo_reused(session: AsyncSession, visit: Visit, settings: Settings) -> dict[str, Any] | None:
    nearest: dict[int, dict[str, Any]] = {}  # one match per other visit: its nearest photo
    for twin in await photo_twins(session, visit.id):
        bits = _hamming(twin.phash, twin.other_phash)
        if bits > settings.quality_photo_distance:
            continue
        seen = nearest.get(twin.visit_id)
        if seen is None or bits < seen["bits"]:
            nearest[twin.visit_id] = {
                "step": twin.step,
                "visit": twin.visit_id,
                "borrower": twin.borrower_code,
                "name": twin.borrower_name,
                "date": _day(twin.started_at, settings),
                "bits": bits,
            }
    if not nearest:
        return None
    matches = sorted(nearest.values(), key=lambda m: (m["bits"], m["visit"]))[:10]
    return {"matches": matches, "limit": settings.quality_photo_distance}


def _far(visit: Visit, here: LocatedAnswer, settings: Settings) -> dict[str, Any] | None:
    borrower = visit.borrower
    if borrower.latitude is None or borrower.longitude is None:
        return None
    km = distance_km(here.lat, here.lon, borrower.latitude, borrower.longitude)
    if km <= settings.quality_max_distance_km:
        return None
    return {
        "km": round(km, 1),
        "limit": settings.quality_max_distance_km,
        "step": here.step,
        "at": {"lat": here.lat, "lon": here.lon},
        "address": {"lat": borrower.latitude, "lon": borrower.longitude},
    }


async def _impossible(
    session: AsyncSession, visit: Visit, here: LocatedAnswer, settings: Settings
) -> dict[str, Any] | None:
    if visit.officer_id is None:
        return None
    found: list[dict[str, Any]] = []
    for there in await located_answers(session, visit.officer_id, here.at, within=SEQUENCE_WINDOW, besides=visit.id):
        km = distance_km(here.lat, here.lon, there.lat, there.lon)
        hours = abs((here.at - there.at).total_seconds()) / 3600
        if km <= settings.quality_max_distance_km:  # next door (or the same place): any time will do
            continue
        speed = km / hours if hours else None
        if speed is not None and speed <= settings.quality_max_speed_kmh:
            continue
        found.append(
            {
                "visit": there.visit_id,
                "minutes": round(hours * 60, 1),
                "km": round(km, 1),
                "kmh": round(speed) if speed is not None else None,
            }
        )
    if not found:
        return None
    found.sort(key=lambda o: (o["minutes"], o["visit"]))
    return {"others": found[:10], "limit": settings.quality_max_speed_kmh}


def _day(at: datetime, settings: Settings) -> str:
    return at.astimezone(ZoneInfo(settings.timezone)).date().isoformat()


async def judge(
    session: AsyncSession, visit: Visit, settings: Settings, *, now: datetime, engine: VisitEngine | None = None
) -> list[Judged]:
    """The quality flags that hold on a finished ``visit`` (``engine``, its script, tells the answers' kinds)."""
    from bot.desk.judging import Judged

    answers = await repo.given_answers(session, visit.id)
    given = _given(answers)
    locale = visit.locale
    held: list[tuple[str, Severity, dict[str, Any] | None]] = []
    held.append(("too_fast", Severity.MEDIUM, _too_fast(visit, answers, settings)))
    if engine is not None and len(given) >= settings.quality_min_answers:
        held.append(("all_first", Severity.MEDIUM, _all_first(given, engine, settings)))
        held.append(("copied_previous", Severity.MEDIUM, await _copied(session, visit, given, engine, settings)))
    if engine is None or _takes_photos(engine):  # a script that asks for no photo keeps none to compare
        held.append(("photo_reused", Severity.HIGH, await _photo_reused(session, visit, settings)))
    here = visit_location(given)
    if here is not None:
        held.append(("far_location", Severity.MEDIUM, _far(visit, here, settings)))
        held.append(("impossible_sequence", Severity.HIGH, await _impossible(session, visit, here, settings)))
    return [
        Judged(code, severity, message(f"quality_note_{code}", locale), evidence)
        for code, severity, evidence in held
        if evidence is not None
    ]


def _figure(value: Any) -> str:
    """A number as people write it: ``3`` not ``3.0``, one decimal otherwise."""
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() else f"{value:.1f}"
    return str(value)


def describe(code: str, evidence: dict[str, Any], locale: str) -> list[str]:
    """The evidence of a quality flag as lines a supervisor reads."""
    e = {k: _figure(v) if isinstance(v, float) else v for k, v in evidence.items()}
    if code == "too_fast":
        if evidence.get("many_fast"):
            return [message("quality_too_fast", locale, **e)]
        return [message("quality_too_fast_short", locale, **e)]
    if code == "all_first":
        return [message("quality_all_first", locale, answers=e["answers"])]
    if code == "copied_previous":
        before = evidence["previous"]
        return [message("quality_copied_previous", locale, answers=e["answers"], free=e["free_form"], **before)]
    if code == "photo_reused":
        lines = []
        for m in evidence.get("matches", []):
            bits = message("quality_photo_bits", locale, bits=m["bits"]) if m["bits"] else ""
            lines.append(message("quality_photo_reused", locale, **m) + bits)
        return lines
    if code == "far_location":
        return [message("quality_far_location", locale, km=_figure(float(evidence["km"])))]
    if code == "impossible_sequence":
        lines = []
        for o in evidence.get("others", []):
            figures = {"visit": o["visit"], "km": _figure(float(o["km"])), "minutes": _figure(float(o["minutes"]))}
            if o.get("kmh") is None:
                lines.append(message("quality_impossible_same_time", locale, **figures))
            else:
                lines.append(message("quality_impossible_sequence", locale, kmh=o["kmh"], **figures))
        return lines
    return []
