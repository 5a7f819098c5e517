"""Queries and writes, each taking a session; the caller commits."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import FromClause, bindparam, delete, func, insert, or_, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import defaultload
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.util import identity_key

from dialogs.engine import AnswerRecorded, FlagRaised
from dialogs.errors import ScriptChanged
from dialogs.loader import content_hash
from storage import direct
from storage.db import table_of
from storage.direct import Direct
from storage.models import (
    Answer,
    Borrower,
    ChatSession,
    Loan,
    ProcessedUpdate,
    RiskFlag,
    ScriptVersion,
    TranscriptMessage,
    User,
    Visit,
    utcnow,
    visit_status_is,
)

__all__ = [
    "PickRow",
    "SenderRows",
    "VisitFilter",
    "add_answer",
    "add_flag",
    "add_transcript",
    "add_transcripts",
    "add_visit",
    "autoflush",
    "borrower_by_code",
    "borrower_by_telegram_id",
    "claim_update",
    "entities",
    "expire_updates",
    "find_borrowers",
    "flush_changes",
    "given_answers",
    "list_borrowers",
    "list_users",
    "list_visits",
    "live_flags",
    "load_visit",
    "open_visit_for",
    "pin_script",
    "pinned_source",
    "save_visit_progress",
    "sender_and_chat",
    "undo_answer",
    "upsert_user",
    "user_by_telegram_id",
    "visit_answers",
    "visit_conditions",
    "visit_flags",
    "visit_transcript",
]

_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Control characters other than tab and newlines: never useful in a transcript, and NUL breaks PostgreSQL."""


async def upsert_user(
    session: AsyncSession,
    *,
    telegram_id: int | None,
    name: str,
    role: str,
    team: str | None = None,
    timezone: str | None = None,
) -> User:
    """Add a staff member, or update the one with this Telegram id (a ``timezone`` of None keeps theirs)."""
    user = await user_by_telegram_id(session, telegram_id) if telegram_id is not None else None
    if user is None:
        user = User(telegram_id=telegram_id, name=name, role=role, team=team, timezone=timezone)
        session.add(user)
    else:
        user.name, user.role, user.team, user.active = name, role, team, True
        if timezone is not None:
            user.timezone = timezone
    await session.flush()
    return user


_STAFF_BY_TELEGRAM = select(User).where(User.telegram_id == bindparam("b_telegram"), User.active.is_(True))
_BORROWER_BY_TELEGRAM = select(Borrower).where(Borrower.telegram_id == bindparam("b_telegram"))
# (statements every update runs are built once: building one costs more than running it)


async def user_by_telegram_id(session: AsyncSession, telegram_id: int) -> User | None:
    """The active staff member with this Telegram id, if any."""
    return await session.scalar(_STAFF_BY_TELEGRAM, {"b_telegram": telegram_id})


_CHAT = ChatSession.chat_id == bindparam("b_chat")
_ITS_VISIT = Visit.id == ChatSession.visit_id
"""A chat's visit, by its id alone: one not open is left out by the reader (see :data:`_STAFF_AND_CHAT`)."""
_NO_LOANS = defaultload(Visit.borrower).raiseload(Borrower.loans)
"""A visit's borrower without their other loans (an answer never needs them)."""
_USERS, _CHATS, _VISITS, _BORROWERS, _LOANS = (table_of(m) for m in (User, ChatSession, Visit, Borrower, Loan))
_BORROWERS_OFFICER, _VISIT_OFFICER = _USERS.alias("borrowers_officer"), _USERS.alias("visit_officer")
_SENDER_PARTS: tuple[tuple[type[Any], FromClause], ...] = (
    (User, _USERS),
    (ChatSession, _CHATS),
    (Visit, _VISITS),
    (Borrower, _BORROWERS),
    (User, _BORROWERS_OFFICER),
    (Loan, _LOANS),
    (User, _VISIT_OFFICER),
)
"""What the staff sender's read returns, entity by entity: the model and the table (or alias) its
columns come from, in the order the row holds them."""
_STAFF_AND_CHAT = Direct(
    select(*(table for _, table in _SENDER_PARTS))
    .select_from(_USERS)
    .outerjoin(_CHATS, _CHATS.c.chat_id == bindparam("b_chat"))
    .outerjoin(_VISITS, _VISITS.c.id == _CHATS.c.visit_id)
    .outerjoin(_BORROWERS, _BORROWERS.c.id == _VISITS.c.borrower_id)
    .outerjoin(_BORROWERS_OFFICER, _BORROWERS_OFFICER.c.id == _BORROWERS.c.officer_id)
    .outerjoin(_LOANS, _LOANS.c.id == _VISITS.c.loan_id)
    .outerjoin(_VISIT_OFFICER, _VISIT_OFFICER.c.id == _VISITS.c.officer_id)
    .where(_USERS.c.telegram_id == bindparam("b_telegram"), _USERS.c.active.is_(True))
)
"""The staff member writing, the chat's row, and its visit with what the ORM loads with a visit (its
borrower and the borrower's officer, its loan, its officer), as Core: the ORM's columns, their types
processed as the ORM processes them, no entities built by the ORM (:func:`sender_and_chat`); run by the
driver (storage.direct), the read every answer makes.

The visit is joined by its id alone; one not open is left out in :func:`_sender_entities`. Joined with
``status = 'open'`` as well, the join matched the predicate of the partial index of open visits, and
PostgreSQL's generic plan for the prepared statement, made while the tables were small, scanned that
index: every open visit, with its borrower and officer, for each answer (8.7 ms at the median with
1,000 open visits in ``bench.telegram_path``, 0.3 ms by the primary key)."""


def _as_read(entity: Any, key: tuple[Any, ...], unloaded: tuple[str, ...]) -> None:
    """Make a fresh entity, its columns put in its ``__dict__``, what ``make_transient_to_detached`` makes
    of it at a third of its cost: detached with its identity ``key``, the attributes it was not given
    (``unloaded``: its relationships) marked unloaded as that marks them. A fresh entity has no history to
    commit, and its identity is known without asking the mapper."""
    state = instance_state(entity)
    state.key = key
    if unloaded:
        state._expire_attributes(state.dict, unloaded)


def _unloaded(model: type[Any], given: Iterable[str]) -> tuple[str, ...]:
    """The attributes of ``model`` an entity given only ``given`` leaves unloaded."""
    loaded = set(given)
    return tuple(key for key in sa_inspect(model).class_manager if key not in loaded)


@dataclass(frozen=True)
class _Part:
    """Where one entity of the sender's read is in its row."""

    model: type[Any]
    columns: slice
    keys: tuple[str, ...]
    """The attribute each of those columns loads."""
    identity: int
    """The primary key's place among them."""
    kind: type[Any]
    """The class its identity key names."""
    unloaded: tuple[str, ...]
    """What the read leaves unloaded (relationships it does not set)."""


_SENDER_RELATIONSHIPS: dict[type[Any], tuple[str, ...]] = {
    Borrower: ("officer",),
    Visit: ("borrower", "loan", "officer"),
}
"""The relationships :func:`_sender_entities` sets, by model."""


def _parts() -> tuple[_Part, ...]:
    parts, start = [], 0
    for model, table in _SENDER_PARTS:
        mapper = sa_inspect(model)
        base = table_of(model)
        keys = tuple(mapper.get_property_by_column(base.c[column.key]).key for column in table.c)
        identity = next(index for index, column in enumerate(table.c) if column.primary_key)
        unloaded = _unloaded(model, (*keys, *_SENDER_RELATIONSHIPS.get(model, ())))
        kind = identity_key(model, 0)[0]
        parts.append(_Part(model, slice(start, start + len(keys)), keys, identity, kind, unloaded))
        start += len(keys)
    return tuple(parts)


_SENDER_LAYOUT = _parts()
_VISIT_STATUS = _SENDER_LAYOUT[2].columns.start + _SENDER_LAYOUT[2].keys.index("status")
"""Where the visit's status is in the sender's row."""


def _sender_entities(row: Sequence[Any]) -> SenderRows:
    """The staff sender's read as entities, as a session that read them with the ORM and then closed
    leaves them: detached, every column loaded and committed (``session.merge(..., load=False)`` takes
    the visit as it is, revision and all), the visit's borrower, loan and officer and the borrower's
    officer loaded, one object per identity (the staff member is the visit's officer too, as one
    session's identity map makes it). Building them here costs a fraction of what the ORM's loading
    does for seven entities (``bench.statement_floor``: "core + entities, session" against "orm,
    session"); ``tests/storage/test_sender_read.py`` holds the two reads' entities equal."""
    known: dict[tuple[type[Any], Any], tuple[Any, _Part]] = {}
    made: list[Any] = []
    parts = _SENDER_LAYOUT if row[_VISIT_STATUS] == "open" else _SENDER_LAYOUT[:2]  # a chat on no open visit
    for part in parts:
        values = row[part.columns]
        identity = values[part.identity]
        if identity is None:  # the outer join found none
            made.append(None)
            continue
        entity, _ = known.get((part.model, identity)) or (None, part)
        if entity is None:
            entity = sa_inspect(part.model).class_manager.new_instance()
            entity.__dict__.update(zip(part.keys, values, strict=True))
            known[part.model, identity] = entity, part
        made.append(entity)
    made += [None] * (len(_SENDER_LAYOUT) - len(parts))
    staff, chat, visit, borrower, borrowers_officer, loan, officer = made
    if borrower is not None:
        borrower.__dict__["officer"] = borrowers_officer
    if visit is not None:
        visit.__dict__.update(borrower=borrower, loan=loan, officer=officer)
    for (_, identity), (entity, part) in known.items():
        _as_read(entity, (part.kind, (identity,), None), part.unloaded)  # Borrower.loans stays unloaded
    return SenderRows(staff, None, chat, visit)


_BORROWER_AND_CHAT = (
    select(Borrower, ChatSession, Visit)
    .select_from(Borrower)
    .outerjoin(ChatSession, _CHAT)
    .outerjoin(Visit, _ITS_VISIT)
    .where(Borrower.telegram_id == bindparam("b_telegram"))
    .options(_NO_LOANS)
)


@dataclass(frozen=True)
class SenderRows:
    """Who writes from a Telegram account, the chat's session row and the open visit it is on (each None
    when there is none); read together, outside any transaction."""

    staff: User | None = None
    borrower: Borrower | None = None
    chat: ChatSession | None = None
    visit: Visit | None = None
    """As read here: a later transaction must check its revision before relying on it (the desk does)."""


async def sender_and_chat(connection: AsyncConnection, telegram_id: int, chat_id: int) -> SenderRows:
    """Who writes from this Telegram account (the active staff member, else the linked borrower), the chat's
    session row and the open visit it is on (with its borrower, loan and officer, as :func:`load_visit`
    with ``loans=False`` loads it), in one statement for staff (two for a borrower: their loans), on a
    connection outside any transaction. Staff, nearly every answer, are read by the driver, with no
    session (about 80 µs less, ``bench.statement_floor``), and made into entities here
    (:func:`_sender_entities`); a borrower through the ORM, in a session on the same connection."""
    params = {"b_telegram": telegram_id, "b_chat": chat_id}
    staff = await direct.first(connection, _STAFF_AND_CHAT, params)
    if staff is not None:
        return _sender_entities(staff)
    async with AsyncSession(connection, expire_on_commit=False) as session:
        borrower = (await session.execute(_BORROWER_AND_CHAT, params)).unique().first()
    if borrower is not None:
        visit = borrower[2] if borrower[2] is not None and borrower[2].status == "open" else None
        return SenderRows(None, borrower[0], borrower[1], visit)
    return SenderRows()


async def borrower_by_telegram_id(session: AsyncSession, telegram_id: int) -> Borrower | None:
    """The borrower whose Telegram account this is (linked by an invite), if any."""
    return await session.scalar(_BORROWER_BY_TELEGRAM, {"b_telegram": telegram_id})


async def list_users(session: AsyncSession) -> Sequence[User]:
    """All staff, by role then name."""
    return (await session.scalars(select(User).order_by(User.role, User.name))).all()


async def list_borrowers(session: AsyncSession, *, officer_id: int | None = None) -> Sequence[Borrower]:
    """Borrowers with their loans and officer, by code; only one officer's when given."""
    query = select(Borrower).order_by(Borrower.code)
    if officer_id is not None:
        query = query.where(Borrower.officer_id == officer_id)
    return (await session.scalars(query)).unique().all()


@dataclass(frozen=True)
class PickRow:
    """A borrower in an officer's pick list, with their open visit (if any) and when they were last visited."""

    borrower: Borrower
    open_visit_id: int | None
    open_script_id: str | None
    last_started: datetime | None


async def borrower_by_code(session: AsyncSession, code: str) -> Borrower | None:
    """The borrower with this code (case-insensitive)."""
    return await session.scalar(select(Borrower).where(func.upper(Borrower.code) == code.strip().upper()))


async def find_borrowers(session: AsyncSession, text: str, *, officer_id: int | None = None) -> Sequence[Borrower]:
    """Borrowers whose code is ``text`` or whose name contains it."""
    needle = text.strip()
    query = select(Borrower).where(or_(func.upper(Borrower.code) == needle.upper(), Borrower.name.contains(needle)))
    if officer_id is not None:
        query = query.where(Borrower.officer_id == officer_id)
    return (await session.scalars(query.order_by(Borrower.code))).unique().all()


async def pin_script(session: AsyncSession, script_id: str, version: int, source: str) -> None:
    """Keep the text of a script version once, with its sha256, so visits started with it can always resume.

    A version pinned before with other text raises :class:`~dialogs.errors.ScriptChanged`: the
    author must bump ``version``. Rows pinned before hashes were kept get theirs filled in.
    """
    digest = content_hash(source)
    row = await session.get(ScriptVersion, (script_id, version))
    if row is None:
        session.add(ScriptVersion(script_id=script_id, version=version, source=source, content_hash=digest))
        await session.flush()
        return
    if row.content_hash is None:
        row.content_hash = content_hash(row.source)
        await session.flush()
    if row.content_hash != digest:
        raise ScriptChanged(script_id, version)


async def pinned_source(session: AsyncSession, script_id: str, version: int) -> str | None:
    """The stored text of a script version, if pinned."""
    row = await session.get(ScriptVersion, (script_id, version))
    return row.source if row else None


async def open_visit_for(session: AsyncSession, borrower_id: int, script_id: str | None = None) -> Visit | None:
    """The borrower's unfinished visit (of a script, when given), newest first."""
    query = select(Visit).where(Visit.borrower_id == borrower_id, visit_status_is("open"))
    if script_id is not None:
        query = query.where(Visit.script_id == script_id)
    return await session.scalar(query.order_by(Visit.id.desc()).limit(1))


def _visit_query(*, for_update: bool, loans: bool) -> Any:
    query = select(Visit).where(Visit.id == bindparam("b_visit")).execution_options(populate_existing=True)
    if not loans:
        query = query.options(_NO_LOANS)
    return query.with_for_update(of=Visit) if for_update else query


_VISIT_QUERIES = {
    (lock, loans): _visit_query(for_update=lock, loans=loans) for lock in (True, False) for loans in (True, False)
}


async def load_visit(
    session: AsyncSession, visit_id: int, *, for_update: bool = False, loans: bool = True
) -> Visit | None:
    """A visit with its borrower, loan and officer in one query; ``for_update`` locks its row (PostgreSQL)
    so concurrent updates queue up. ``loans=False`` leaves the borrower's other loans unloaded (one
    statement less on every answer; touching them then raises instead of querying behind one's back)."""
    visit: Visit | None = await session.scalar(_VISIT_QUERIES[for_update, loans], {"b_visit": visit_id})
    return visit


_VISIT_ROWS = table_of(Visit)
_PROGRESS: dict[str, Any] = {
    "state": bindparam("b_state"),
    "step": bindparam("b_step"),
    "respondent_id": bindparam("b_respondent"),
    "revision": bindparam("b_next"),
    "updated_at": bindparam("b_at"),
}
_SAVE_VISIT = {  # run by the driver (storage.direct): on every answer; True: it says where the next question shows
    shown: Direct(
        update(_VISIT_ROWS)
        .where(_VISIT_ROWS.c.id == bindparam("b_visit"), _VISIT_ROWS.c.revision == bindparam("b_revision"))
        .values(
            **_PROGRESS,
            **({"shown_in": bindparam("b_shown_in"), "shown_step": bindparam("b_shown_step")} if shown else {}),
        )
    )
    for shown in (False, True)
}


async def save_visit_progress(
    session: AsyncSession,
    visit: Visit,
    *,
    state: dict[str, Any],
    step: str | None,
    respondent_id: int | None,
    shown: tuple[str, str] | None = None,
) -> None:
    """Keep where a visit stands after an answer: one UPDATE of its state, guarded by its revision as the
    ORM's version counter guards every write of a visit (a concurrent write raises ``StaleDataError``).
    ``shown``: where the question of ``step`` will be on screen (the front-end's reference, and ``step``),
    kept in the same UPDATE (else what the visit says of its screen stays: about an earlier step).

    The loaded ``visit`` is brought up to date without being marked changed, so nothing is flushed
    again. A visit with other changes pending goes through the ORM (one UPDATE for all of them)."""
    values: dict[str, Any] = {"state": state, "step": step, "respondent_id": respondent_id}
    if shown is not None:
        values["shown_in"], values["shown_step"] = shown
    if session.is_modified(visit):
        for name, value in values.items():
            setattr(visit, name, value)
        return
    now = utcnow()
    params = {
        "b_visit": visit.id,
        "b_revision": visit.revision,
        "b_state": state,
        "b_step": step,
        "b_respondent": respondent_id,
        "b_next": visit.revision + 1,
        "b_at": now,
    }
    if shown is not None:
        params["b_shown_in"], params["b_shown_step"] = shown
    if await direct.execute(session, _SAVE_VISIT[shown is not None], params) != 1:
        raise StaleDataError(f"visit {visit.id} was changed meanwhile (revision {visit.revision})")
    for name, value in values.items():
        set_committed_value(visit, name, value)
    set_committed_value(visit, "revision", visit.revision + 1)
    set_committed_value(visit, "updated_at", now)


async def add_visit(
    session: AsyncSession,
    *,
    borrower: Borrower,
    loan: Loan | None,
    officer_id: int | None,
    script_id: str,
    script_version: int,
    channel: str,
    locale: str,
    now: datetime,
) -> Visit:
    """Open a visit (flushed, so it has an id); the one-open-visit index may refuse a second one."""
    visit = Visit(
        borrower=borrower,
        loan=loan,
        officer_id=officer_id,
        script_id=script_id,
        script_version=script_version,
        channel=channel,
        locale=locale,
        state={},
        started_at=now,
        updated_at=now,
    )
    session.add(visit)
    await session.flush()
    return visit


_ANSWERS = table_of(Answer)
_ADD_ANSWER = Direct(insert(_ANSWERS))  # run by the driver (storage.direct): on every answer
_ADD_KEYED_ANSWER = {  # an answer with the update that gave it: nothing if that update gave one before
    "sqlite": Direct(sqlite_insert(_ANSWERS).on_conflict_do_nothing(index_elements=["update_key"])),
    "postgresql": Direct(pg_insert(_ANSWERS).on_conflict_do_nothing(index_elements=["update_key"])),
}


async def add_answer(
    session: AsyncSession,
    visit_id: int,
    record: AnswerRecorded,
    *,
    answered_by: str,
    answered_by_user_id: int | None,
    at: datetime,
    shown_in: str | None = None,
    update_key: str | None = None,
) -> bool:
    """Keep one answer as the engine recorded it, with who gave it and where its question was shown
    (one INSERT at once, no ORM object: nothing in the answer's transaction needs one).

    ``update_key``: the update that gave it, which the answer claims (:func:`claim_update` for updates that
    answer nothing). False, with nothing written, when an answer already holds that key: a redelivery."""
    row = {
        "visit_id": visit_id,
        "step_id": record.step,
        "question": record.question,
        "raw": record.raw,
        "value": record.value,
        "display": record.display,
        "skipped": record.skipped,
        "answered_by": answered_by,
        "answered_by_user_id": answered_by_user_id,
        "answered_at": at,
        "shown_in": shown_in,
        "update_key": update_key,
    }
    if update_key is None:
        await direct.execute(session, _ADD_ANSWER, row)
        return True
    return await direct.execute(session, _ADD_KEYED_ANSWER[session.get_bind().dialect.name], row) == 1


async def add_flag(
    session: AsyncSession,
    visit_id: int,
    raised: FlagRaised,
    *,
    at: datetime,
    kind: str = "answer",
    evidence: dict[str, Any] | None = None,
) -> RiskFlag:
    """Keep a risk flag: one the engine raised on an answer (``kind`` ``answer``), or one the desk judged on
    the whole visit (``history``, ``quality``, ``promise``) with its ``evidence``."""
    flag = RiskFlag(
        visit_id=visit_id,
        code=raised.flag,
        severity=raised.severity.value,
        step_id=raised.step or None,
        note=raised.note,
        raised_at=at,
        kind=kind,
        evidence=evidence,
    )
    session.add(flag)
    return flag


async def add_transcript(
    session: AsyncSession, visit_id: int, direction: str, text: str, *, actor: str, at: datetime | None = None
) -> None:
    """Append a message to a visit's transcript (control characters dropped: PostgreSQL refuses NUL in text)."""
    clean = _CONTROLS.sub("", text)
    session.add(TranscriptMessage(visit_id=visit_id, direction=direction, text=clean, actor=actor, at=at or utcnow()))


_ADD_TRANSCRIPT = Direct(insert(table_of(TranscriptMessage)))  # one executemany by the driver (storage.direct)


async def add_transcripts(
    session: AsyncSession, visit_id: int, lines: Sequence[tuple[str, str, str]], *, at: datetime | None = None
) -> None:
    """Append ``(direction, text, actor)`` lines to a visit's transcript in one statement, in order
    (what one input adds: the input, the bot's lines, notes)."""
    if not lines:
        return
    stamp = at or utcnow()
    rows = [
        {"visit_id": visit_id, "direction": d, "text": _CONTROLS.sub("", text), "actor": actor, "at": stamp}
        for d, text, actor in lines
    ]
    await direct.execute_many(session, _ADD_TRANSCRIPT, rows)


async def undo_answer(
    session: AsyncSession, visit_id: int, step_id: str, flags: Sequence[str] | None = None
) -> Answer | None:
    """Mark the newest live answer to a step, and the flags it raised, as taken back; nothing is deleted.

    Returns the answer taken back (None when the step had no live answer).

    A loop may have asked the step before: that earlier answer and its flags stay live. ``flags``
    names the codes the undone answer raised (None clears every live flag of the step).
    """
    now = utcnow()
    live = (Answer.visit_id == visit_id, Answer.step_id == step_id, Answer.undone_at.is_(None))
    newest = await session.scalar(select(Answer).where(*live).order_by(Answer.id.desc()).limit(1))
    if newest is not None:
        newest.undone_at = now
    raised = select(RiskFlag).where(
        RiskFlag.visit_id == visit_id,
        RiskFlag.step_id == step_id,
        RiskFlag.cleared_at.is_(None),
        RiskFlag.kind == "answer",
    )
    remaining = list((await session.scalars(raised.order_by(RiskFlag.id.desc()))).all())
    for code in flags if flags is not None else [f.code for f in remaining]:
        found = next((f for f in remaining if f.code == code), None)  # the newest flag of that code
        if found is not None:
            found.cleared_at = now
            remaining.remove(found)
    return newest


_PROCESSED = table_of(ProcessedUpdate)
_CLAIMS = {
    "sqlite": sqlite_insert(_PROCESSED).on_conflict_do_nothing(index_elements=["key"]),
    "postgresql": pg_insert(_PROCESSED).on_conflict_do_nothing(index_elements=["key"]),
}


async def flush_changes(session: AsyncSession) -> None:
    """Flush what the session holds unwritten, if anything: an answer's writes are Core statements, so its
    session mostly holds nothing, and a flush with nothing to write still costs a trip through the ORM."""
    if session.new or session.dirty or session.deleted:
        await session.flush()


async def autoflush(session: AsyncSession) -> None:
    """Flush what the session holds unwritten as the ORM's autoflush would before a read (nothing when the
    session's autoflush is off): for reads the driver runs, which flush nothing themselves."""
    if session.sync_session.autoflush:
        await flush_changes(session)


_ANSWERED_BY = select(_ANSWERS.c.id).where(_ANSWERS.c.update_key == bindparam("b_key")).limit(1)


async def claim_update(session: AsyncSession, key: str) -> bool:
    """Record that an update that answers nothing is being applied; False if it was applied before (a
    redelivery): claimed here before, or an answer holds its key (:func:`add_answer`).

    An ``INSERT … ON CONFLICT DO NOTHING``: no savepoint, no error to roll back on a redelivery."""
    if await session.scalar(_ANSWERED_BY, {"b_key": key}) is not None:
        return False
    result = await session.execute(_CLAIMS[session.get_bind().dialect.name], {"key": key, "at": utcnow()})
    return bool(getattr(result, "rowcount", 0) == 1)


async def expire_updates(session: AsyncSession, before: datetime) -> int:
    """Forget updates applied before ``before`` (Telegram redelivers for a day at most); returns how many."""
    result = await session.execute(delete(ProcessedUpdate).where(ProcessedUpdate.at < before))
    return int(getattr(result, "rowcount", 0) or 0)


async def visit_answers(session: AsyncSession, visit_id: int, *, include_undone: bool = False) -> Sequence[Answer]:
    """A visit's answers in the order given."""
    query = _VISIT_ANSWERS if include_undone else _GIVEN_ANSWERS
    return (await session.scalars(query, {"b_visit": visit_id})).all()


_VISIT_ANSWERS = select(Answer).where(Answer.visit_id == bindparam("b_visit")).order_by(Answer.id)
_GIVEN_ANSWERS = _VISIT_ANSWERS.where(Answer.undone_at.is_(None))
"""Built once: every visit's end reads them."""
_GIVEN_ANSWER_ROWS = Direct(
    select(_ANSWERS)
    .where(_ANSWERS.c.visit_id == bindparam("b_visit"), _ANSWERS.c.undone_at.is_(None))
    .order_by(_ANSWERS.c.id)
)
_FLAGS = table_of(RiskFlag)
_LIVE_FLAG_ROWS = Direct(
    select(_FLAGS).where(_FLAGS.c.visit_id == bindparam("b_visit"), _FLAGS.c.cleared_at.is_(None)).order_by(_FLAGS.c.id)
)


async def live_flags(session: AsyncSession, visit_id: int) -> list[RiskFlag]:
    """A visit's live flags (none cleared), in the session (a judge clears or updates them): read by the
    driver (:func:`entities`), every visit's end reads them."""
    return await entities(session, RiskFlag, _LIVE_FLAG_ROWS, {"b_visit": visit_id})


async def given_answers(session: AsyncSession, visit_id: int) -> list[Answer]:
    """A visit's answers in the order given (none undone), as :func:`visit_answers` finds them, for a reader
    that only reads them (the judges at a visit's end): read by the driver and made into detached entities
    (:func:`entities`), about a quarter of the ORM's cost for a visit's dozen answers."""
    return await entities(session, Answer, _GIVEN_ANSWER_ROWS, {"b_visit": visit_id}, attach=False)


M = TypeVar("M")


@dataclass(frozen=True)
class _Layout:
    """How a row of every column of a model's table becomes an entity."""

    keys: tuple[str, ...]
    """The attribute each column loads, in the table's order."""
    identity: int
    """The primary key's place among them."""
    manager: Any
    kind: type[Any]
    """The class its identity key names."""
    unloaded: tuple[str, ...]
    """Attributes no column loads (none, for a model without relationships, unless it grows some)."""


_LAYOUTS: dict[type[Any], _Layout] = {}


def _layout(model: type[Any]) -> _Layout:
    layout = _LAYOUTS.get(model)
    if layout is None:
        mapper = sa_inspect(model)
        if mapper.relationships:  # the ORM would load or leave them; these entities would know nothing of them
            raise ValueError(f"{model.__name__} has relationships: read it through the ORM")
        table = table_of(model)
        keys = tuple(mapper.get_property_by_column(column).key for column in table.c)
        identity = next(index for index, column in enumerate(table.c) if column.primary_key)
        kind, unloaded = identity_key(model, 0)[0], _unloaded(model, keys)
        layout = _LAYOUTS[model] = _Layout(keys, identity, mapper.class_manager, kind, unloaded)
    return layout


async def entities(
    session: AsyncSession, model: type[M], statement: Direct, params: Mapping[str, Any], *, attach: bool = True
) -> list[M]:
    """What the ORM's read of ``model`` (a model without relationships) gives, for a ``statement`` selecting
    every column of its table, run by the driver: the session's pending changes flushed first, as the ORM's
    autoflush would (unless autoflush is off); an object the session holds already, as it is; else a new
    one, every column loaded and committed, in the session as persistent (``attach``: its changes are then
    flushed as the ORM's would be) or detached (for a reader that only reads). A read of a dozen rows costs a
    quarter of the ORM's (no compiled-cache lookup, no execution context, no loading machinery)."""
    await autoflush(session)
    layout = _layout(model)
    found = await direct.rows(session, statement, params)
    identity_map = session.sync_session.identity_map
    made: list[M] = []
    for row in found:
        key = (layout.kind, (row[layout.identity],), None)
        held = identity_map.get(key)
        if held is not None:
            made.append(held)
            continue
        entity = layout.manager.new_instance()
        entity.__dict__.update(zip(layout.keys, row, strict=True))
        _as_read(entity, key, layout.unloaded)
        if attach:
            session.add(entity)
        made.append(entity)
    return made


async def visit_flags(session: AsyncSession, visit_id: int) -> Sequence[RiskFlag]:
    """A visit's live risk flags."""
    query = select(RiskFlag).where(RiskFlag.visit_id == visit_id, RiskFlag.cleared_at.is_(None))
    return (await session.scalars(query.order_by(RiskFlag.id))).all()


async def visit_transcript(session: AsyncSession, visit_id: int) -> Sequence[TranscriptMessage]:
    """A visit's transcript in order."""
    query = select(TranscriptMessage).where(TranscriptMessage.visit_id == visit_id)
    return (await session.scalars(query.order_by(TranscriptMessage.id))).all()


@dataclass(frozen=True)
class VisitFilter:
    """Which visits to list."""

    borrower_code: str | None = None
    officer_id: int | None = None
    status: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    team: str | None = None
    risk: str | None = None
    """A severity (``high``, ``medium``, ``low``: that or worse) or a flag code."""
    review_status: str | None = None
    limit: int = 200


async def list_visits(session: AsyncSession, flt: VisitFilter | None = None) -> Sequence[Visit]:
    """Visits matching the filter, newest first."""
    flt = flt or VisitFilter()
    query = select(Visit).order_by(Visit.id.desc()).limit(flt.limit)
    return (await session.scalars(query.where(*visit_conditions(flt)))).unique().all()


def visit_conditions(flt: VisitFilter) -> list[Any]:
    """The WHERE conditions of a visit filter (its ``limit`` aside), for any query over ``Visit``."""
    conditions: list[Any] = []
    if flt.borrower_code:
        conditions.append(Visit.borrower.has(func.upper(Borrower.code) == flt.borrower_code.upper()))
    if flt.officer_id is not None:
        conditions.append(Visit.officer_id == flt.officer_id)
    if flt.status:
        conditions.append(Visit.status == flt.status)
    if flt.outcome:
        conditions.append(Visit.outcome == flt.outcome)
    if flt.since:
        conditions.append(Visit.started_at >= flt.since)
    if flt.until:
        conditions.append(Visit.started_at < flt.until)
    if flt.team:
        conditions.append(Visit.officer.has(User.team == flt.team))
    if flt.review_status:
        conditions.append(Visit.review_status == flt.review_status)
    if flt.risk:
        levels = {"low": ["low", "medium", "high"], "medium": ["medium", "high"], "high": ["high"]}
        live = select(RiskFlag.id).where(RiskFlag.visit_id == Visit.id, RiskFlag.cleared_at.is_(None))
        if flt.risk in levels:
            live = live.where(RiskFlag.severity.in_(levels[flt.risk]))
        else:
            live = live.where(RiskFlag.code == flt.risk)
        conditions.append(live.exists())
    return conditions
