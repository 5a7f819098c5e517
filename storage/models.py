"""The database tables: people, loans, visits with their answers, transcript and risk flags."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    case,
    func,
    literal_column,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement, Grouping

__all__ = [
    "BORROWER_PICK_ORDER",
    "TIER_RANK",
    "Answer",
    "Attachment",
    "AuditEntry",
    "Base",
    "Borrower",
    "ChatSession",
    "Consent",
    "ContactRefusal",
    "Correction",
    "Dispute",
    "Invite",
    "Loan",
    "OutboxMessage",
    "PlanEntry",
    "ProcessedUpdate",
    "Promise",
    "ReliefRequest",
    "Repayment",
    "RiskFlag",
    "ScriptVersion",
    "Task",
    "TranscriptMessage",
    "User",
    "Visit",
    "WatchFlag",
    "WebLogin",
    "WebSession",
    "utcnow",
    "visit_status_is",
]


def utcnow() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware timestamps everywhere: stored in UTC, read back aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware one (e.g. storage.models.utcnow())")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Stamp = UtcDateTime()


class Base(DeclarativeBase):
    """Declarative base with a naming convention (stable constraint names for Alembic)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, datetime: Stamp}


class User(Base):
    """Staff who use the bot: officers, supervisors and admins (by Telegram id)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(16), default="officer")
    team: Mapped[str | None] = mapped_column(String(80))
    phone: Mapped[str | None] = mapped_column(String(32))
    locale: Mapped[str | None] = mapped_column(String(8))
    timezone: Mapped[str | None] = mapped_column(String(40))
    """The zone times are shown to this person in (the deployment's when unset)."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)


class Borrower(Base):
    """A person or firm that owes a loan (借款人)."""

    __tablename__ = "borrowers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(32))
    business: Mapped[str | None] = mapped_column(String(120))
    address: Mapped[str | None] = mapped_column(String(255))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    risk_tier: Mapped[str] = mapped_column(String(8), default="low")
    timezone: Mapped[str] = mapped_column(String(40), default="Asia/Shanghai")
    locale: Mapped[str] = mapped_column(String(8), default="zh-CN")
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    opted_out_at: Mapped[datetime | None] = mapped_column(Stamp)
    opt_out_reason: Mapped[str | None] = mapped_column(String(200))
    preferred_channel: Mapped[str | None] = mapped_column(String(40))
    latitude: Mapped[float | None] = mapped_column(Float)
    """The address on file as coordinates (WGS84, from the loan book): on-site visits are checked against it."""
    longitude: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)
    open_visit_id: Mapped[int | None] = mapped_column(Integer)
    """The borrower's newest open visit (highest id), None without one. Kept by the database from ``visits``
    (triggers, migration 0013), never written by the code: the ``/visit`` pick list sorts on it."""
    last_started_at: Mapped[datetime | None] = mapped_column(Stamp)
    """When the borrower's last visit (of any status) started, None if never visited; kept like ``open_visit_id``."""

    officer: Mapped[User | None] = relationship(lazy="joined")
    loans: Mapped[list[Loan]] = relationship(back_populates="borrower", lazy="selectin", order_by="Loan.id")


TIER_RANK = {"high": 0, "medium": 1, "low": 2}
"""The order of risk tiers in the ``/visit`` pick list (a tier not named comes after them)."""

BORROWER_PICK_ORDER = (
    Borrower.open_visit_id.is_(None),
    Borrower.last_started_at.is_not(None),  # never visited first, on both databases (no NULLS FIRST in an index)
    Borrower.last_started_at,
    Grouping(  # literals, not bound parameters: the databases match the query's expression to the index's
        case(
            *(
                (Borrower.risk_tier == literal_column(f"'{tier}'"), literal_column(str(rank)))
                for tier, rank in TIER_RANK.items()
            ),
            else_=literal_column(str(len(TIER_RANK))),
        )
    ),
    Borrower.code,
)
"""The ``/visit`` pick list's order (``storage.visit_picks``): open visit first, then the longest unvisited, the
riskiest, by code. Indexed as it is written, for everyone's list and each officer's: the list reads 20 index
entries, whatever the size of the book. A change here is a change of the two indexes (a migration)."""

Index("ix_borrowers_pick", *BORROWER_PICK_ORDER)
Index("ix_borrowers_officer_pick", Borrower.officer_id, *BORROWER_PICK_ORDER)
Index("ix_borrowers_code_upper", func.upper(Borrower.code))
"""``/visit <code>`` finds the borrower by their code in any case (``upper(code) = …``): by this index, not by
reading every borrower of the book (migration 0016)."""


class Loan(Base):
    """One loan of a borrower."""

    __tablename__ = "loans"

    id: Mapped[int] = mapped_column(primary_key=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    contract_no: Mapped[str] = mapped_column(String(40), unique=True)
    product: Mapped[str] = mapped_column(String(60))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    disbursed_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)
    purpose: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), default="active")
    overdue_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    overdue_days: Mapped[int] = mapped_column(Integer, default=0)

    borrower: Mapped[Borrower] = relationship(back_populates="loans")


class ScriptVersion(Base):
    """The exact text of a script version a visit ran with (visits stay pinned to it)."""

    __tablename__ = "script_versions"

    script_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    """sha256 of the script file as published; a changed file that keeps its version is refused."""
    created_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)


class Visit(Base):
    """One contact with a borrower; its dialog state is stored after every step."""

    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_borrower_status", "borrower_id", "status"),
        Index("ix_visits_borrower_started", "borrower_id", "started_at"),
        Index("ix_visits_finished_at", "finished_at"),  # the month's briefing and overview
        Index("ix_visits_review_queue", "status", "review_rank", "finished_at", "id"),  # the web desk's queue
        Index("ix_visits_officer_queue", "officer_id", "status", "review_rank", "finished_at", "id"),  # a team's
        # one open visit per borrower and script, even when two processes start one at once
        # each borrower's newest open visit, from the index alone (migration 0012; the pick list reads
        # borrowers.open_visit_id since 0013)
        Index(
            "ix_visits_open_newest",
            "borrower_id",
            "id",
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index(
            "uq_visits_one_open",
            "borrower_id",
            "script_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"))
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id"))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    script_id: Mapped[str] = mapped_column(String(40))
    script_version: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16), default="phone")
    locale: Mapped[str] = mapped_column(String(8), default="zh-CN")
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    step: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="open")
    outcome: Mapped[str | None] = mapped_column(String(16))
    callback_at: Mapped[datetime | None] = mapped_column(Stamp)
    remark: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(Stamp)
    review_status: Mapped[str | None] = mapped_column(String(16))
    review_comment: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(Stamp)
    review_rank: Mapped[int | None] = mapped_column(Integer)
    """The review queue's order, set when the visit finishes (its flags no longer change): lower comes first;
    ``(3 - worst live severity) * 1000 + (999 - live high flags)`` (:func:`storage.web.rank_for_review`)."""
    revision: Mapped[int] = mapped_column(Integer, nullable=False)
    respondent_id: Mapped[int | None] = mapped_column(BigInteger)
    """The Telegram account that answered a borrower's own check-in (compared with the one of last time)."""
    measures: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """What the script says to remember of this visit for the next (``remember:``), set when it finishes:
    cross-visit risk rules compare a visit's measures with the borrower's earlier visits' ones."""
    shown_in: Mapped[str | None] = mapped_column(String(64))
    """Where the question of step ``shown_step`` is on screen: the front-end's own reference (Telegram's:
    ``tg:<chat>:<message>``), opaque to the core. Written with the answer that moves the visit when the
    next question's place is known then (a press edits the pressed message), else once it is delivered."""
    shown_step: Mapped[str | None] = mapped_column(String(40))
    """The step whose question ``shown_in`` shows: the visit's current question is on screen there only
    while this is its ``step`` (any write that moves the visit without saying where invalidates it)."""

    __mapper_args__ = {"version_id_col": revision}  # noqa: RUF012 - SQLAlchemy's declared type

    borrower: Mapped[Borrower] = relationship(lazy="joined")
    loan: Mapped[Loan | None] = relationship(lazy="joined")
    officer: Mapped[User | None] = relationship(lazy="joined", foreign_keys=[officer_id])


def visit_status_is(status: str) -> ColumnElement[bool]:
    """``visits.status = '<status>'`` with the status written into the SQL, not bound as a parameter.

    SQLite checks whether a query's WHERE implies a partial index's (``status = 'open'``: ``Visit``'s, above) by the
    value a parameter holds, and then prepares the statement again every time a value is bound to that
    parameter: the answer's read of the sender and its visit was compiled anew on every answer (about a
    million instructions, 7 % of an answer). A literal is compared once, when the statement is prepared.
    """
    if not re.fullmatch(r"[a-z_]+", status):
        raise ValueError(f"not a visit status: {status!r}")
    return Visit.status == literal_column(f"'{status}'")


class Answer(Base):
    """One answer: the question as shown, the raw input, the parsed value, who and when."""

    __tablename__ = "answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[str] = mapped_column(String(40))
    question: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    display: Mapped[str] = mapped_column(Text, default="")
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_by: Mapped[str] = mapped_column(String(16), default="officer")
    answered_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(Stamp)
    shown_in: Mapped[str | None] = mapped_column(String(64))
    """Where the question was on screen when answered (a Telegram message id): ``/back`` edits that one."""
    update_key: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)
    """The front-end update that gave this answer (``ProcessedUpdate.key``'s form): a redelivery of it finds
    the answer and is not applied again, with no claim of its own."""


class TranscriptMessage(Base):
    """Every message into and out of a visit, in order."""

    __tablename__ = "transcript_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(16), default="bot")
    at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)


class RiskFlag(Base):
    """A risk rule hit on a visit (风险预警), with its severity."""

    __tablename__ = "risk_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(8))
    step_id: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text, default="")
    raised_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(Stamp)
    kind: Mapped[str] = mapped_column(String(16), default="answer", server_default=text("'answer'"))
    """``answer`` (a step's rule on its answer), ``history`` (a cross-visit rule: this visit against earlier
    ones and the loan), ``quality`` (形式化: a visit that looks made up), ``promise`` (a broken promise to pay)."""
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """What made the flag: the rule, both values and both visits (history), the figures (quality)."""
    explained_at: Mapped[datetime | None] = mapped_column(Stamp)
    """A supervisor explained it (the reason in ``explanation``, the act in the audit log): no longer counts."""
    explained_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    explanation: Mapped[str | None] = mapped_column(Text)


class ProcessedUpdate(Base):
    """A front-end update already applied (Telegram redelivers after a crash): applied once."""

    __tablename__ = "processed_updates"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(Stamp, default=utcnow, index=True)


class Invite(Base):
    """A one-time self-service link for a borrower; only the token's hash is stored."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    script_id: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(Stamp)
    used_at: Mapped[datetime | None] = mapped_column(Stamp)
    used_by_telegram_id: Mapped[int | None] = mapped_column(BigInteger)

    borrower: Mapped[Borrower] = relationship(lazy="joined")


class Consent(Base):
    """A borrower's consent or refusal, with time and channel."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"))
    granted: Mapped[bool] = mapped_column(Boolean)
    channel: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)


class Task(Base):
    """Something an officer must do: call a borrower back, answer a review comment."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"))
    due_at: Mapped[datetime | None] = mapped_column(Stamp)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(Stamp)
    done_at: Mapped[datetime | None] = mapped_column(Stamp)
    borrower_asked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    """The borrower asked for this time themself (kept even outside the contact window)."""

    borrower: Mapped[Borrower] = relationship(lazy="joined")


class ChatSession(Base):
    """Which visit a Telegram chat is on (where its question shows is the visit's: ``Visit.shown_in``)."""

    __tablename__ = "chat_sessions"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"))
    picked: Mapped[list[str] | None] = mapped_column(JSON)
    """Options ticked so far on a multiple-choice question answered with buttons."""
    mode: Mapped[str | None] = mapped_column(String(16))
    """A staff member's pending mode besides the visit (``commenting``: the next text is a review comment)."""
    mode_visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"))
    """The visit the mode is about (the one being sent back), not the visit the chat is on."""
    mode_message_id: Mapped[int | None] = mapped_column(BigInteger)
    """The message that asked for the mode's input (a reply to it is that input)."""
    mode_ref: Mapped[int | None] = mapped_column(BigInteger)
    """The record a mode is about when it is no visit (``relief_approve``/``relief_decline``: the request)."""
    updated_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow, onupdate=utcnow)


class OutboxMessage(Base):
    """A message the core decided to send (alert, notice, reminder); any process delivers it once.

    Written in the same transaction as what caused it, so a crash between commit and send loses
    nothing: the next delivery pass (in any process) picks it up. ``payload`` holds an i18n message
    key and its parameters, rendered in the recipient's language and time zone when delivered.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "sent_at", "not_before"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    """A staff recipient (reached at their Telegram id)."""
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    """A recipient reached by chat id only (a borrower on Telegram)."""
    borrower_id: Mapped[int | None] = mapped_column(ForeignKey("borrowers.id", ondelete="SET NULL"))
    """The borrower the message is about: bot-initiated contact waits for their contact window."""
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)
    not_before: Mapped[datetime] = mapped_column(Stamp, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(Stamp)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    sent_at: Mapped[datetime | None] = mapped_column(Stamp)
    failed_at: Mapped[datetime | None] = mapped_column(Stamp)
    """Given up (no Telegram id, blocked bot, too many attempts); ``error`` says why."""
    error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    """Set for a message that must exist once however many processes queue it (``digest:<user>:<day>``)."""


class AuditEntry(Base):
    """Who did what to which record: transcripts viewed, exports made, reviews changed (审计)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(Stamp, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(16))
    """The role or front-end that acted (``officer``, ``supervisor``, ``admin``, ``cli``, ``system``)."""
    action: Mapped[str] = mapped_column(String(32))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ContactRefusal(Base):
    """A contact the rules refused (outside hours, over a cap, opted out, disputed), for the record."""

    __tablename__ = "contact_refusals"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(32))
    script_id: Mapped[str | None] = mapped_column(String(40))
    next_allowed_at: Mapped[datetime | None] = mapped_column(Stamp)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Dispute(Base):
    """A borrower disputes a debt: no collection contact until a supervisor marks it resolved."""

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")
    raised_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(Stamp)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution: Mapped[str | None] = mapped_column(Text)

    borrower: Mapped[Borrower] = relationship(lazy="joined")


class Attachment(Base):
    """A file given as an answer (a photo), kept in the file store under ``store_key``."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16), default="photo")
    store_key: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(80))
    phash: Mapped[str | None] = mapped_column(String(16))
    """The photo's perceptual hash (imagehash.phash, 64 bits as hex): a photo reused across visits is found
    by it even re-encoded or resized. ``phash_0..3`` are its four 16-bit quarters, indexed: two hashes within
    3 bits of each other share at least one quarter, so candidates are found by index, not by a scan."""
    phash_0: Mapped[int | None] = mapped_column(Integer, index=True)
    phash_1: Mapped[int | None] = mapped_column(Integer, index=True)
    phash_2: Mapped[int | None] = mapped_column(Integer, index=True)
    phash_3: Mapped[int | None] = mapped_column(Integer, index=True)
    source_ref: Mapped[str | None] = mapped_column(String(255))
    """Where it came from (a Telegram file_id, a console path)."""
    created_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)


class Repayment(Base):
    """One instalment of a loan's repayment schedule: what was due when, and what was paid (还款计划).

    Imported with ``visitbot import repayments``; the loan's overdue days and amount follow from it.
    """

    __tablename__ = "repayments"
    __table_args__ = (Index("uq_repayments_loan_due", "loan_id", "due_on", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id", ondelete="CASCADE"))
    due_on: Mapped[date] = mapped_column(Date)
    amount_due: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    amount_paid: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    paid_on: Mapped[date | None] = mapped_column(Date)


class PlanEntry(Base):
    """One borrower in an officer's monthly visit plan (月度回访计划), with every reason they are in it.

    ``reasons`` lists reason codes (``new_loan``, ``policy``, ``flagged``, ``sample``, ``overdue``);
    ``action`` is ``call`` (a visit by the officer) or ``invite`` (a self-service check-in instead,
    e.g. a low-risk borrower who opted out of calls); ``note`` says why the rules of contact changed
    or kept it. ``planned_on`` is the day it is scheduled, ``due_on`` the last day it may be done
    (an overdue loan: within 7 days of going overdue). A visit that fulfils it sets ``visit_id`` and
    ``done_at``; re-planning the month keeps those and adds what is new.
    """

    __tablename__ = "plan_entries"
    __table_args__ = (
        Index("uq_plan_entries_month_borrower", "month", "borrower_id", unique=True),
        Index("ix_plan_entries_officer_month", "officer_id", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    """``YYYY-MM``."""
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id", ondelete="CASCADE"))
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id", ondelete="SET NULL"))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    script_id: Mapped[str] = mapped_column(String(40))
    reasons: Mapped[list[str]] = mapped_column(JSON)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Per reason, what made it apply (the flag's text, the overdue start, the tier's interval)."""
    action: Mapped[str] = mapped_column(String(16), default="call")
    note: Mapped[str] = mapped_column(Text, default="")
    planned_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"))
    done_at: Mapped[datetime | None] = mapped_column(Stamp)
    created_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)


class WatchFlag(Base):
    """An officer's own reason to visit a borrower next month (``/flag B003 生意变差``), until visited."""

    __tablename__ = "watch_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    flagged_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(Stamp)
    """Set when a visit fulfilled the plan entry the flag put the borrower in."""


class WebLogin(Base):
    """A one-time link into the web desk (``/web``, ``visitbot web-link``); only the token's hash is stored."""

    __tablename__ = "web_logins"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(Stamp)
    used_at: Mapped[datetime | None] = mapped_column(Stamp)


class WebSession(Base):
    """A signed-in browser of the web desk: the cookie holds a random key, the row only its hash."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(Stamp, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(Stamp)
    """Signed out (or ended by an admin): the cookie no longer works."""


class Promise(Base):
    """A promise to pay (承诺还款) made in a visit: a date and an amount, followed up and judged kept or broken.

    ``status``: ``pending`` until decided from imported repayments (``kept``: paid enough by the date;
    ``broken``: the date passed without it). The borrower's own "paid" answer sets ``claimed_paid_at``
    only: unverified until a repayment confirms it.
    """

    __tablename__ = "promises"
    __table_args__ = (Index("ix_promises_status_promised", "status", "promised_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id", ondelete="CASCADE"), index=True)
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id", ondelete="SET NULL"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"), index=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    promised_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    made_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    paid_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    """What the repayments showed paid between the promise and its date (when decided)."""
    decided_at: Mapped[datetime | None] = mapped_column(Stamp)
    followed_up_at: Mapped[datetime | None] = mapped_column(Stamp)
    """When the follow-up (a self-service check-in or an officer task) was queued."""
    follow_up_task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    claimed_paid_at: Mapped[datetime | None] = mapped_column(Stamp)
    """The borrower said they paid (self-service): unverified until a repayment confirms it."""
    claim_visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"))

    borrower: Mapped[Borrower] = relationship(lazy="joined")


class ReliefRequest(Base):
    """A hardship request (展期 extension or 分期 instalments) made in a visit, for a supervisor to decide."""

    __tablename__ = "relief_requests"
    __table_args__ = (Index("ix_relief_requests_status", "status", "requested_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id", ondelete="CASCADE"), index=True)
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id", ondelete="SET NULL"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"), index=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    """``extension`` or ``instalments``."""
    terms: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """``pending``, ``approved`` or ``declined``."""
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(Stamp)
    reason: Mapped[str | None] = mapped_column(Text)

    borrower: Mapped[Borrower] = relationship(lazy="joined")


class Correction(Base):
    """A finished visit's answer changed after the fact: old and new value, who, why (更正记录).

    The answer row holds the current value; the corrections of a visit, in order, are its history:
    ``version`` counts them (the record as first given is version 1, after the first correction 2).
    """

    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("answers.id", ondelete="SET NULL"))
    step_id: Mapped[str] = mapped_column(String(40))
    old_raw: Mapped[str] = mapped_column(Text)
    old_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    old_display: Mapped[str] = mapped_column(Text, default="")
    new_raw: Mapped[str] = mapped_column(Text)
    new_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    new_display: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)
    version: Mapped[int] = mapped_column(Integer)
