"""The record of the rules of contact: who may see refused contacts and lift a dispute hold, and how they read.

Supervisors (their team's borrowers) and admins may; officers may not — on every front-end alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.desk.audit import record as audit_record
from bot.desk.errors import NotFound
from bot.desk.timefmt import shown
from dialogs.i18n import message, register
from storage import contact as store
from storage import repositories as repo
from storage.models import Borrower, Dispute, User

__all__ = ["RefusalView", "list_disputes", "list_refusals", "refusal_line", "resolve_disputes"]

register(
    {
        "contact_not_allowed": {
            "zh-CN": "只有主管和管理员可以查看拒绝记录或解除异议。",
            "en": "Only supervisors and admins may see refused contacts or resolve disputes.",
        },
        "contact_no_borrower": {"zh-CN": "找不到借款人“{code}”。", "en": "No borrower '{code}'."},
        "contact_no_dispute": {
            "zh-CN": "借款人 {code} 没有未解决的异议。",
            "en": "Borrower {code} has no open dispute.",
        },
        "contact_resolve_needs_note": {
            "zh-CN": "请写明核实结果，例如：/resolve {code} 已核实，欠款金额无误",
            "en": "Say what was found, e.g. /resolve {code} checked: the amount is right",
        },
        "contact_rule_window": {"zh-CN": "可联系时段外", "en": "outside contact hours"},
        "contact_rule_daily_cap": {"zh-CN": "超过每日次数上限", "en": "daily limit reached"},
        "contact_rule_weekly_cap": {"zh-CN": "超过每周次数上限", "en": "weekly limit reached"},
        "contact_rule_opted_out": {"zh-CN": "借款人不想回访", "en": "borrower opted out"},
        "contact_rule_dispute": {"zh-CN": "欠款异议未解决", "en": "debt dispute open"},
        "contact_rule_callback_window": {"zh-CN": "约定时间在可联系时段外", "en": "call-back outside contact hours"},
    }
)


def _reviewer(user: User, locale: str) -> None:
    if user.role not in ("supervisor", "admin"):
        raise NotFound(message("contact_not_allowed", locale))


def _team(user: User) -> str | None:
    """The team a supervisor is limited to (admins see every team)."""
    return (user.team or "\x00") if user.role == "supervisor" else None


async def _borrower(session: AsyncSession, code: str, user: User, locale: str) -> Borrower:
    borrower = await repo.borrower_by_code(session, code)
    team = _team(user)
    if borrower is None or (team is not None and (borrower.officer is None or borrower.officer.team != team)):
        raise NotFound(message("contact_no_borrower", locale, code=code))
    return borrower


async def resolve_disputes(
    session: AsyncSession, code: str, *, by: User, note: str, now: datetime, locale: str, actor: str | None = None
) -> list[Dispute]:
    """A supervisor or admin lifts a borrower's dispute hold: who, when and why are kept (and audited)."""
    _reviewer(by, locale)
    if not note.strip():
        raise NotFound(message("contact_resolve_needs_note", locale, code=code))
    borrower = await _borrower(session, code, by, locale)
    resolved = await store.resolve_disputes(session, borrower.id, by=by.id, resolution=note.strip(), at=now)
    if not resolved:
        raise NotFound(message("contact_no_dispute", locale, code=borrower.code))
    for dispute in resolved:
        await audit_record(
            session, "dispute_resolved", now=now, user=by, actor=actor, visit_id=dispute.visit_id,
            borrower=borrower.code, dispute_id=dispute.id, resolution=note.strip(),
        )  # fmt: skip
    return resolved


async def list_disputes(
    session: AsyncSession, user: User, *, code: str | None = None, include_resolved: bool = False, locale: str
) -> Sequence[Dispute]:
    """Disputes a supervisor (their team's) or an admin may see."""
    _reviewer(user, locale)
    borrower = await _borrower(session, code, user, locale) if code else None
    return await store.list_disputes(
        session, borrower_id=borrower.id if borrower else None, team=_team(user), include_resolved=include_resolved
    )


async def list_refusals(
    session: AsyncSession, user: User, *, code: str | None = None, limit: int = 50, locale: str
) -> list[store.RefusalRow]:
    """Refused contacts a supervisor (their team's) or an admin may see; officers may not."""
    _reviewer(user, locale)
    borrower = await _borrower(session, code, user, locale) if code else None
    return await store.list_refusals(
        session, borrower_id=borrower.id if borrower else None, team=_team(user), limit=limit
    )


@dataclass(frozen=True)
class RefusalView:
    """A refused contact as people read it (labels, not codes); times stay aware for the front-end's zone."""

    at: datetime
    borrower: str
    name: str
    borrower_zone: str
    who: str | None
    channel: str
    script_id: str | None
    rule: str
    rule_label: str
    next_allowed: datetime | None
    text: str

    @classmethod
    def of(cls, row: store.RefusalRow, locale: str) -> RefusalView:
        """The view of a stored refusal, its rule named in ``locale``."""
        refusal = row.refusal
        return cls(
            refusal.at, row.borrower_code, row.borrower_name, row.borrower_zone, row.user_name, refusal.channel,
            refusal.script_id, refusal.rule, message(f"contact_rule_{refusal.rule}", locale), refusal.next_allowed_at,
            str((refusal.detail or {}).get("text", "")),
        )  # fmt: skip

    def as_json(self) -> dict[str, Any]:
        """JSON-shaped, times ISO with their offset."""
        return {
            "at": self.at.isoformat(),
            "borrower": self.borrower,
            "name": self.name,
            "who": self.who,
            "channel": self.channel,
            "script_id": self.script_id,
            "rule": self.rule,
            "rule_label": self.rule_label,
            "next_allowed": self.next_allowed.isoformat() if self.next_allowed else None,
            "text": self.text,
        }


def refusal_line(row: store.RefusalRow, locale: str, zone: str) -> str:
    """One refused contact for people: when (viewer's zone), borrower, who, rule, next allowed."""
    view = RefusalView.of(row, locale)
    parts = [shown(view.at, zone), f"{view.borrower} {view.name}", view.who or "-", view.rule_label]
    if view.next_allowed is not None:
        parts.append("→ " + shown(view.next_allowed, view.borrower_zone))
    return " · ".join(parts)
