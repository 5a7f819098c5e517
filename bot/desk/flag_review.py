"""Flags as reviewers handle them: listed with their evidence, and explained (with a reason, in the audit log).

Every kind of flag — on one answer, across visits (``history``), 形式化 (``quality``), a broken promise —
is shown the same way: its rule, severity, note, the lines of its evidence (:func:`bot.desk.evidence.
evidence_lines`) and the other visits it names. A reviewer (the visit's team's supervisor, an admin)
may mark a flag as explained once, with a reason: it stops counting in the visit's review rank, the
act is kept in the audit log (``flag_explained``), and the flag keeps showing, explained (who, when, why).
Decided here once for the web desk, the CLI and Telegram.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk import audit
from bot.desk.access import can_see, sees_numbers, visible_filter
from bot.desk.errors import Refused
from bot.desk.evidence import evidence_lines
from bot.desk.judging import refresh_rank
from bot.desk.labels import flag_label
from bot.desk.timefmt import shown
from bot.logs import mask
from dialogs.i18n import message, register
from storage import flags as store
from storage import repositories as repo
from storage.models import RiskFlag, User, Visit

__all__ = [
    "EXPLAINED",
    "FLAG_KINDS",
    "REASON_LIMIT",
    "REVIEWERS",
    "FlagRefused",
    "ReviewedFlag",
    "evidence_text",
    "explain_flag",
    "explained_text",
    "flags_of",
    "kind_label",
    "linked_visits",
    "may_explain",
]

log = logging.getLogger(__name__)

EXPLAINED = "flag_explained"
"""The audit action of an explained flag (detail: flag id, kind, code, reason)."""
FLAG_KINDS = ("quality", "history", "promise", "answer")
"""Flag kinds in the order a reviewer reads them: 形式化 first (the visit itself may not be real)."""
REVIEWERS = ("supervisor", "admin")
REASON_LIMIT = 500
FIGURES = frozenset({"values", "labels", "shown"})
"""Evidence keys that hold figures and words, never visits (a measure may be named ``visits``)."""

MESSAGES: dict[str, dict[str, str]] = {
    "flag_kind_quality": {"zh-CN": "形式化检查", "en": "quality (形式化)"},
    "flag_kind_history": {"zh-CN": "跨次回访", "en": "cross-visit"},
    "flag_kind_promise": {"zh-CN": "还款承诺", "en": "promise to pay"},
    "flag_kind_answer": {"zh-CN": "回答", "en": "answer"},
    "flag_refused_not_found": {"zh-CN": "没有编号为 {id} 的预警。", "en": "There is no flag {id}."},
    "flag_refused_not_reviewer": {
        "zh-CN": "只有主管或管理员可以说明预警。",
        "en": "Only a supervisor or an admin may explain a flag.",
    },
    "flag_refused_no_reason": {
        "zh-CN": "请写明原因（最多 {limit} 字）。",
        "en": "Give a reason (at most {limit} characters).",
    },
    "flag_refused_already": {
        "zh-CN": "预警 {id} 已由 {name} 于 {at} 说明：{reason}",
        "en": "Flag {id} was already explained by {name} at {at}: {reason}",
    },
    "flag_explained_done": {
        "zh-CN": "预警 {id}（{rule}）已说明，不再计入排序。",
        "en": "Flag {id} ({rule}) explained: it no longer counts in the queue.",
    },
    "flag_explained_line": {"zh-CN": "{name} 于 {at} 说明：{reason}", "en": "Explained by {name} at {at}: {reason}"},
    "flag_evidence_visit": {"zh-CN": "回访 #{id}", "en": "visit #{id}"},
}
register(MESSAGES)


class FlagRefused(Refused):
    """A flag that may not be explained (``reason``: not_found, not_reviewer, no_reason, already); ``text`` says why."""


@dataclass(frozen=True)
class ReviewedFlag:
    """One live flag as a reviewer reads it (texts masked for a viewer who may not see the numbers)."""

    id: int
    visit_id: int
    kind: str
    code: str
    severity: str
    step: str | None
    note: str
    raised_at: datetime
    evidence: dict[str, Any]
    borrower: str
    """``B001 张三``."""
    officer: str
    explained_at: datetime | None
    explained_by: str | None
    """The name of who explained it (``-`` when that person is gone)."""
    explanation: str | None
    may_explain: bool
    """Whether the viewer may explain it now (a reviewer who sees the visit, not explained yet)."""

    @property
    def open(self) -> bool:
        """Not explained: it counts in the visit's review rank."""
        return self.explained_at is None


def kind_label(kind: str, locale: str) -> str:
    """A flag kind in words (形式化检查, cross-visit …)."""
    return message(f"flag_kind_{kind}", locale) if kind in FLAG_KINDS else kind


def explained_text(flag: ReviewedFlag, locale: str) -> str:
    """What the explainer is told once a flag is explained (every front-end says the same)."""
    return message("flag_explained_done", locale, id=flag.id, rule=flag_label(flag.code, locale))


def may_explain(user: User, visit: Visit) -> bool:
    """Reviewers explain flags: an admin, or the supervisor of the visit's officer's team."""
    return user.role in REVIEWERS and can_see(user, visit)


def _ids(value: Any) -> list[int]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, int) and not isinstance(v, bool)]
    return []


def linked_visits(evidence: dict[str, Any] | None, *, own: int | None = None) -> list[int]:
    """The other visits a flag's evidence names (keys like ``previous_visit``, ``visit_ids``, ``visits``),
    nested one level too (``{"before": {"visit": 12, ...}}``); ``own`` left out."""
    found: list[int] = []

    def scan(part: dict[str, Any]) -> None:
        for key, value in part.items():
            if key in FIGURES:
                continue
            if isinstance(value, dict):
                scan(value)
            elif "visit" in key.lower():
                found.extend(_ids(value))
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, dict):
                        scan(item)

    scan(evidence or {})
    return [v for v in dict.fromkeys(found) if v != own]


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    return str(value)


def evidence_text(kind: str, code: str, evidence: dict[str, Any] | None, locale: str) -> list[str]:
    """What shows why the flag was raised: its judge's lines; the evidence's own figures when it has none
    (or when they are of another shape than its judge reads now: an older rule's, a planted flag's)."""
    try:
        lines = evidence_lines(kind, code, evidence, locale)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        log.warning("flag %s/%s: its evidence does not read (%r); shown as it is", kind, code, exc)
        lines = []
    if lines or not evidence:
        return lines
    return [f"{key}: {_plain(value)}" for key, value in evidence.items()]


def _view(flag: RiskFlag, visit: Visit, explainer: str | None, viewer: User) -> ReviewedFlag:
    full = sees_numbers(viewer, visit.borrower)

    def text(value: str | None) -> str | None:
        return value if full or value is None else mask(value)

    officer = visit.officer.name if visit.officer is not None else "-"
    return ReviewedFlag(
        id=flag.id, visit_id=visit.id, kind=flag.kind, code=flag.code, severity=flag.severity, step=flag.step_id,
        note=text(flag.note) or "", raised_at=flag.raised_at, evidence=dict(flag.evidence or {}),
        borrower=f"{visit.borrower.code} {visit.borrower.name}", officer=officer, explained_at=flag.explained_at,
        explained_by=(explainer or "-") if flag.explained_at is not None else None,
        explanation=text(flag.explanation), may_explain=flag.explained_at is None and may_explain(viewer, visit),
    )  # fmt: skip


async def flags_of(
    sessions: async_sessionmaker[AsyncSession],
    viewer: User,
    *,
    visit_id: int | None = None,
    kind: str | None = None,
    open_only: bool = False,
    limit: int = 200,
    flag_id: int | None = None,
) -> list[ReviewedFlag]:
    """The live flags ``viewer`` may see (their team's, their own, all), newest visit first; one visit's with
    ``visit_id`` (none when they may not see it), one ``kind``, only the unexplained (``open_only``), one flag."""
    flt = visible_filter(viewer, repo.VisitFilter())
    async with sessions() as session:
        rows = await store.list_flags(
            session, flt, visit_id=visit_id, kind=kind, open_only=open_only, limit=limit, flag_id=flag_id
        )
    return [_view(flag, visit, name, viewer) for flag, visit, name in rows if can_see(viewer, visit)]


async def explain_flag(
    sessions: async_sessionmaker[AsyncSession],
    user: User,
    flag_id: int,
    reason: str,
    *,
    now: datetime,
    locale: str,
    zone: str = "Asia/Shanghai",
    visit_id: int | None = None,
    actor: str | None = None,
) -> ReviewedFlag:
    """Mark a flag explained by ``user`` with ``reason``: in the audit log, the visit's review rank recomputed.

    Refused (:class:`FlagRefused`, nothing changed) for a flag of a visit ``user`` may not see (or not of
    ``visit_id`` when given): ``not_found``; for who is no reviewer; without a reason; for a flag already
    explained (it says by whom, when and why)."""
    reason = " ".join(reason.split())
    async with sessions() as session, session.begin():
        flag = await store.flag_for_update(session, flag_id)
        visit = await repo.load_visit(session, flag.visit_id) if flag is not None else None
        if (
            flag is None
            or visit is None
            or flag.cleared_at is not None
            or (visit_id is not None and visit.id != visit_id)
            or not can_see(user, visit)
        ):
            raise FlagRefused("not_found", message("flag_refused_not_found", locale, id=flag_id))
        if not may_explain(user, visit):
            raise FlagRefused("not_reviewer", message("flag_refused_not_reviewer", locale))
        if flag.explained_at is not None:
            by = await session.get(User, flag.explained_by) if flag.explained_by is not None else None
            raise FlagRefused(
                "already",
                message("flag_refused_already", locale, id=flag.id, name=by.name if by else "-",
                        at=shown(flag.explained_at, zone, named=False), reason=flag.explanation or ""),
            )  # fmt: skip
        if not reason or len(reason) > REASON_LIMIT:
            raise FlagRefused("no_reason", message("flag_refused_no_reason", locale, limit=REASON_LIMIT))
        flag.explained_at, flag.explained_by, flag.explanation = now, user.id, reason
        await audit.record(
            session, EXPLAINED, now=now, user=user, actor=actor, visit_id=visit.id,
            flag_id=flag.id, kind=flag.kind, code=flag.code, reason=reason,
        )  # fmt: skip
        await refresh_rank(session, visit)
        return _view(flag, visit, user.name, user)
