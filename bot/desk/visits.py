"""The visit desk: loads a visit, runs the engine on one input, stores the result in one transaction.

Both front-ends (console and Telegram) go through here, so a visit behaves the same everywhere and
its state is in the database after every step.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk import contact, promises
from bot.desk.alerts import queue_effects
from bot.desk.choices import channel_for, not_offered_text, offered_outcomes
from bot.desk.clock import Clock, SystemClock
from bot.desk.contact import ContactWindow
from bot.desk.errors import NotFound
from bot.desk.facts import FactSources, VisitFacts, facts_context
from bot.desk.files import FileStore, KeptFile, LocalFileStore
from bot.desk.history_rules import remember
from bot.desk.judging import judge_visit
from bot.desk.planning import fulfil_plan
from bot.desk.relief import KINDS as RELIEF_KINDS
from bot.desk.relief import request_relief
from bot.desk.review import INITIAL_REVIEW
from bot.settings import Settings
from dialogs.catalog import ScriptCatalog
from dialogs.engine import (
    AnswerRecorded,
    AnswerUndone,
    Cancel,
    Event,
    FlagRaised,
    Turn,
    VisitEnded,
    VisitEngine,
    VisitState,
)
from dialogs.errors import ScriptChanged
from dialogs.i18n import message, register
from dialogs.schema import Outcome, Script, Severity
from storage import repositories as repo
from storage.attachments import add_attachment, drop_step_attachments
from storage.group_commit import GroupCommit, writers_for
from storage.models import Visit
from storage.self_service import add_task, record_consent

__all__ = ["Actor", "DeskReply", "NotFound", "VisitDesk", "Withdrawn", "cancel_outcomes", "turn_lines"]

log = logging.getLogger(__name__)

register(
    {
        "desk_no_borrower": {"zh-CN": "找不到借款人“{code}”。", "en": "No borrower '{code}'."},
        "desk_no_loan": {
            "zh-CN": "借款人“{code}”名下没有贷款记录。",
            "en": "Borrower '{code}' has no loan on file.",
        },
        "desk_no_visit": {"zh-CN": "找不到回访记录 #{id}。", "en": "No visit #{id}."},
    }
)


@dataclass(frozen=True)
class Actor:
    """Who gave an input: an officer, the borrower themself, or the system."""

    kind: str
    user_id: int | None = None
    telegram_id: int | None = None
    """The Telegram account of a borrower answering their own check-in (kept as the visit's respondent)."""


@dataclass(frozen=True)
class Withdrawn:
    """An answer taken back: its question, the answer as it was shown, and where (``shown_in``)."""

    step: str
    question: str
    shown: str
    shown_in: str | None
    skipped: bool = False


@dataclass
class DeskReply:
    """What the front-end shows after an input."""

    visit_id: int
    turn: Turn
    resumed: bool = False
    duplicate: bool = False
    stale: bool = False
    """The input was meant for another question (an old button); nothing was recorded."""
    raised: list[FlagRaised] = field(default_factory=list)
    tasks: list[int] = field(default_factory=list)
    """Ids of officer tasks this input created (call-backs)."""
    opted_out: bool = False
    borrower_asked: bool = False
    withdrawn: list[Withdrawn] = field(default_factory=list)
    """Answers this input took back (``/back``), with where their question was shown."""
    """The borrower asked for the call-back time this input booked (bot.desk.contact)."""


def cancel_outcomes(actor: Actor, state: VisitState | None = None, script: Script | None = None) -> tuple[Outcome, ...]:
    """The outcomes ``actor`` may end a visit with by hand at its current step (:mod:`bot.desk.choices`);
    a borrower ends theirs only by answering."""
    return offered_outcomes(actor.kind, state, script)


def turn_lines(turn: Turn) -> list[str]:
    """The turn as plain text lines: notices, lines said, the question with its choices."""
    lines = [text for text in (turn.notice, turn.error) if text]
    lines.extend(line for line in turn.said if line)
    if turn.prompt is not None:
        lines.append(turn.prompt.text)
        if turn.prompt.options:
            lines.append("  ".join(f"{i}. {label}" for i, (_, label) in enumerate(turn.prompt.options, 1)))
    return lines


class VisitDesk:
    """Starts, resumes and advances visits; every call is one database transaction."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        catalog: ScriptCatalog,
        settings: Settings,
        clock: Clock | None = None,
        files: FileStore | None = None,
    ) -> None:
        self.sessions = sessions
        self.catalog = catalog
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.files: FileStore = files or LocalFileStore(settings.files_dir)
        """Where photos given as answers are kept (bot.desk.files)."""
        self.writer = GroupCommit(sessions, writers=writers_for(sessions))
        """Inputs given at the same time commit together (storage.group_commit), each answered after its commit."""

    def now(self, zone: str | None = None) -> datetime:
        """The current time in a borrower's (or the deployment's) time zone."""
        return self.clock.now().astimezone(ZoneInfo(zone or self.settings.timezone))

    async def begin(
        self,
        borrower_code: str,
        *,
        actor: Actor,
        officer_id: int | None,
        script_id: str | None = None,
        channel: str | None = None,
        locale: str | None = None,
    ) -> DeskReply:
        """Resume the borrower's open visit of this script, or start a new one (``channel``: the
        script's own, :func:`~bot.desk.choices.channel_for`, unless given).

        Two processes starting the same borrower's visit at once end up on one visit: the database
        allows one open visit per borrower and script, and the loser resumes the winner's.
        """
        try:
            return await self._begin(borrower_code, actor, officer_id, script_id, channel, locale)
        except IntegrityError:
            return await self._begin(borrower_code, actor, officer_id, script_id, channel, locale)
        except contact.ContactRefused as refused:  # the rules of contact say no: kept for the record
            await contact.record_refusal(self.sessions, refused.refusal)
            raise

    async def _begin(
        self,
        borrower_code: str,
        actor: Actor,
        officer_id: int | None,
        script_id: str | None,
        channel: str | None,
        locale: str | None,
    ) -> DeskReply:
        script_id = script_id or self.settings.default_script
        async with self.sessions() as session, session.begin():
            borrower = await repo.borrower_by_code(session, borrower_code)
            lang = locale or self.settings.locale
            if borrower is None:
                raise NotFound(message("desk_no_borrower", lang, code=borrower_code))
            visit = await repo.open_visit_for(session, borrower.id, script_id)
            if visit is not None:
                engine = await self._engine(session, visit)
                return DeskReply(visit.id, engine.resume(VisitState.from_json(visit.state), self._facts(visit)), True)
            if not borrower.loans:
                raise NotFound(message("desk_no_loan", lang, code=borrower.code))
            engine = self.catalog.latest(script_id)
            script = engine.script
            await self._pin(session, engine, lang)
            visit = await repo.add_visit(
                session,
                borrower=borrower,
                loan=borrower.loans[-1],
                officer_id=officer_id if officer_id is not None else borrower.officer_id,
                script_id=script.id,
                script_version=script.version,
                channel=channel or channel_for(script),
                locale=lang,
                now=self.clock.now(),
            )
            await session.refresh(visit, ["officer"])
            now = self.clock.now()
            notice = await contact.check_start(session, self.settings, visit, actor_kind=actor.kind, now=now)
            turn = engine.start(self._facts(visit), lang)
            turn.notice = notice or turn.notice
            reply = DeskReply(visit.id, turn)
            await self._store(session, engine, visit, reply, actor)
            return reply

    async def current(self, visit_id: int, locale: str | None = None) -> DeskReply:
        """The question a visit waits on (or its end, when finished)."""
        async with self.sessions() as session:
            visit = await self._visit(session, visit_id, locale)
            engine = await self._engine(session, visit)
            return DeskReply(visit.id, engine.resume(VisitState.from_json(visit.state), self._facts(visit)), True)

    async def act(
        self,
        visit_id: int,
        event: Event,
        *,
        actor: Actor,
        said: str,
        update_key: str | None = None,
        expect_step: str | None = None,
        attachment: KeptFile | None = None,
        shown_in: str | None = None,
        applied: Callable[[AsyncSession, DeskReply], Awaitable[None]] | None = None,
        seen: Visit | None = None,
        shows: Callable[[DeskReply], str | None] | None = None,
    ) -> DeskReply:
        """Apply one input to a visit once; ``expect_step`` refuses input meant for an earlier question.

        ``applied`` runs in the same transaction once the input was recorded (the front-end's own state
        that moves with the answer, e.g. which question a chat is on): it commits with the answer or not
        at all, and costs no transaction of its own.

        ``shown_in`` says where the question answered is on screen (a Telegram message id): it is kept
        with the answer, so ``/back`` can edit that message from any process, after any restart.

        ``shows``: where the next question will be on screen, when the front-end knows it before showing it
        (a press edits the pressed message): given the reply, the front-end's reference (or None: not
        known yet). It is kept in the visit's own write (``Visit.shown_in``), costing no statement.

        An update seen before (same ``update_key``) is not applied again. Input comes from people
        (a button's data can be forged): ending a visit by hand takes only an outcome this actor is
        offered (:func:`cancel_outcomes`); anything else is refused with ``turn.error``, unrecorded.

        ``seen``: the visit as the front-end read it just before, outside any transaction (Telegram reads it
        with the sender): used instead of reading it again, its revision guards the write (a visit changed
        meanwhile raises ``StaleDataError`` at the write, and the input runs again reading the visit itself).
        """
        hint = [seen] if seen is not None and seen.id == visit_id else []

        async def unit(session: AsyncSession) -> DeskReply:
            visit = await self._visit_for_input(session, visit_id, hint.pop() if hint else None)
            engine = await self._engine(session, visit)
            state = VisitState.from_json(visit.state)
            facts = self._facts(visit)  # what the script sees, made once for the whole unit

            async def seen_before() -> bool:  # an update that records no answer is claimed on its own
                return update_key is not None and not await repo.claim_update(session, update_key)

            def as_it_stands(*, duplicate: bool = False, stale: bool = False) -> DeskReply:
                turn = engine.resume(VisitState.from_json(visit.state), facts)
                return DeskReply(visit.id, turn, duplicate=duplicate, stale=stale)

            if state.finished or (expect_step is not None and state.step != expect_step):
                return as_it_stands(duplicate=True) if await seen_before() else as_it_stands(stale=True)
            offered = cancel_outcomes(actor, state, engine.script)
            if isinstance(event, Cancel) and event.outcome not in offered:
                if await seen_before():
                    return as_it_stands(duplicate=True)
                turn = engine.resume(state, facts)
                code = visit.borrower.code
                turn.error = not_offered_text(event.outcome, offered, state.locale, code=code)
                return DeskReply(visit.id, turn)
            now = self.now(visit.borrower.timezone)
            given, asked = contact.asked_by_borrower(event, said, actor.kind)
            refused = contact.refuse_callback(
                self.settings, engine, state, facts, given, visit, now=now, asked=asked,
                user_id=actor.user_id,
            )  # fmt: skip
            if refused is not None:  # a call-back outside the contact window: the same question again
                if await seen_before():
                    return as_it_stands(duplicate=True)
                await contact.keep_refusal(session, refused[1])
                return DeskReply(visit.id, refused[0])
            turn = engine.handle(state, facts, given, now=now)
            reply = DeskReply(visit.id, turn, borrower_asked=asked)
            answers = bool(turn.records) and isinstance(turn.records[0], AnswerRecorded)
            if not answers and await seen_before():
                return as_it_stands(duplicate=True)
            # an answer is its update's claim: its INSERT, the first write, finds a redelivery
            keyed = update_key if answers else None
            stored = await self._store(
                session, engine, visit, reply, actor, attachment, shown_in, said=said, key=keyed, shows=shows
            )
            if not stored:
                return as_it_stands(duplicate=True)
            if applied is not None:
                await applied(session, reply)
            return reply

        return await self.writer.run(unit)  # shares a transaction with concurrent inputs (group commit)

    async def write(self, unit: Callable[[AsyncSession], Awaitable[None]]) -> None:
        """Run a front-end's own small write that follows an input (which message now shows the question)
        in the next transaction the inputs share (group commit): under load it costs no commit of its own.
        ``unit`` touches nothing but its session (it may run again should its batch fail)."""
        await self.writer.run(unit)

    async def remark(self, visit_id: int, text: str, *, actor: Actor) -> None:
        """Add the officer's remark to a visit (kept in the transcript too)."""
        async with self.sessions() as session, session.begin():
            visit = await self._visit(session, visit_id, for_update=True)
            visit.remark = f"{visit.remark}\n{text}" if visit.remark else text
            await repo.add_transcript(session, visit.id, "note", text, actor=actor.kind)

    # -- internals ----------------------------------------------------------------------------
    async def _pin(self, session: AsyncSession, engine: VisitEngine, locale: str) -> None:
        """Pin the script version a new visit starts on; a changed file that kept its version is refused."""
        script = engine.script
        try:
            await repo.pin_script(session, script.id, script.version, engine.compiled.source)
        except ScriptChanged as exc:
            log.error("visit not started: %s", exc)
            raise NotFound(exc.text(locale)) from exc

    async def _visit_for_input(self, session: AsyncSession, visit_id: int, seen: Visit | None) -> Visit:
        """The visit an input applies to: ``seen`` as it was read, detached (no statement; its revision guards
        its one write, :func:`storage.repositories.save_visit_progress`; it is taken into the session only
        to end it, :meth:`_store`), else read and locked here. A visit the session holds already (another
        input of the same batch ended it) is read again."""
        if seen is not None and session.identity_key(Visit, visit_id) not in session.identity_map:
            return seen
        return await self._visit(session, visit_id, for_update=True, loans=False)

    async def _visit(
        self,
        session: AsyncSession,
        visit_id: int,
        locale: str | None = None,
        *,
        for_update: bool = False,
        loans: bool = True,
    ) -> Visit:
        visit = await repo.load_visit(session, visit_id, for_update=for_update, loans=loans)
        if visit is None:
            raise NotFound(message("desk_no_visit", locale or self.settings.locale, id=visit_id))
        return visit

    async def _engine(self, session: AsyncSession, visit: Visit) -> VisitEngine:
        source = None
        if self.catalog.needs_pin(visit.script_id, visit.script_version):  # runs on the pinned text
            source = await repo.pinned_source(session, visit.script_id, visit.script_version)
        return self.catalog.get(visit.script_id, visit.script_version, pinned_source=source)

    def _facts(self, visit: Visit) -> dict[str, Any]:
        """The facts the visit's script sees, as the mapping the engine renders with (made once per distinct facts)."""
        return facts_context(self._fact_sources(visit))

    def facts_of(self, visit: Visit) -> VisitFacts:
        """The typed facts the visit's script sees."""
        return VisitFacts.of(**self._fact_sources(visit))

    def _fact_sources(self, visit: Visit) -> FactSources:
        return FactSources(
            borrower=visit.borrower,
            loan=visit.loan,
            officer=visit.officer,
            institution=self.settings.institution,
            now=self.clock.now(),
            visit_id=visit.id or 0,
            channel=visit.channel or "phone",
        )

    async def _store(
        self,
        session: AsyncSession,
        engine: VisitEngine,
        visit: Visit,
        reply: DeskReply,
        actor: Actor,
        attachment: KeptFile | None = None,
        shown_in: str | None = None,
        *,
        said: str | None = None,
        key: str | None = None,
        shows: Callable[[DeskReply], str | None] | None = None,
    ) -> bool:
        """Keep what the turn recorded; ``said`` is the input as given (its transcript line, first);
        ``shows``: where the next question will be on screen, asked once the reply is complete (what an
        undo took back, …) and kept with the visit (:meth:`act`).

        ``key``: the update whose answer the turn's first record is; False, with nothing written, when an
        answer holds that key already (a redelivery). The transcript lines of one input go in one
        statement, in the order they happened."""
        turn = reply.turn
        state = turn.state
        lines: list[tuple[str, str, str]] = [("in", said, actor.kind)] if said is not None else []
        respondent = visit.respondent_id
        if actor.kind == "borrower" and actor.telegram_id is not None:  # who answered (bot.desk.history_rules)
            respondent = actor.telegram_id
        ends = any(isinstance(record, VisitEnded) for record in turn.records)
        if ends and sa_inspect(visit).detached:  # ending it changes it (and its borrower) through the ORM
            visit = await session.merge(visit, load=False)
        for record in turn.records:
            if isinstance(record, AnswerRecorded):
                added = await repo.add_answer(
                    session,
                    visit.id,
                    record,
                    answered_by=actor.kind,
                    answered_by_user_id=actor.user_id,
                    at=self.clock.now(),
                    shown_in=shown_in,
                    update_key=key,
                )
                if not added:  # the first record, and the first write: nothing to undo
                    return False
                key = None
                if attachment is not None and record.value == {"file": attachment.key}:  # the photo, kept
                    lines.append(await self._attach(session, visit, record, attachment, state.locale))
                if engine.compiled.steps[record.step].sets == "consent":
                    await record_consent(
                        session,
                        visit.borrower_id,
                        granted=record.value is True or record.value == "agree",
                        channel=visit.channel,
                        visit_id=visit.id,
                    )
            elif isinstance(record, AnswerUndone):
                taken = await repo.undo_answer(session, visit.id, record.step, record.flags)
                if taken is not None:
                    shown = taken.display or taken.raw
                    reply.withdrawn.append(
                        Withdrawn(record.step, taken.question, shown, taken.shown_in, skipped=taken.skipped)
                    )
                await drop_step_attachments(session, visit.id, record.step)
            elif isinstance(record, FlagRaised):
                await repo.add_flag(session, visit.id, record, at=self.clock.now())
                reply.raised.append(record)
            elif isinstance(record, VisitEnded):  # all that ending changes on the visit goes in one UPDATE
                # (the ORM's, at the flush after judging, its rank with it; set after the answer's INSERT,
                # which claims the update). The turn's rows so far (flags, a photo) go first: judging reads them.
                await session.flush()
                with session.no_autoflush:
                    visit.state, visit.step, visit.respondent_id = state.to_json(), None, respondent
                    lines.extend(await self._finish(session, visit, record, reply, actor, engine))
        if not ends:
            step = None if state.finished else state.step
            where = shows(reply) if shows is not None else None
            on_screen = (where, step) if where is not None and step is not None else None
            await repo.save_visit_progress(
                session, visit, state=state.to_json(), step=step, respondent_id=respondent, shown=on_screen
            )
        else:  # judged whole (bot.desk.judging):
            # cross-visit and quality flags, and its place in the web desk's review queue (its rank)
            with session.no_autoflush:  # its reads need none of the visit's pending changes (other visits, rows)
                judged = await judge_visit(session, visit, engine, self.settings, now=self.clock.now(), remembered=True)
                reply.raised.extend(judged)
        lines.extend(("out", line, "bot") for line in turn_lines(turn))
        # script faults met at run time (a failing condition counted as false)
        lines.extend(("note", note, "system") for note in turn.notes)
        await repo.add_transcripts(session, visit.id, lines)
        await queue_effects(  # alerts, notices and reminders commit with their cause (bot.desk.alerts)
            session, visit, raised=reply.raised, opted_out=reply.opted_out, tasks=reply.tasks, now=self.clock.now(),
            window=ContactWindow(self.settings.contact_window_start, self.settings.contact_window_end),
        )  # fmt: skip
        await repo.flush_changes(session)  # an error of this input's rows shows here, not at the batch's commit
        if ends and shows is not None:  # the front-end decides what shows the end (on screen: nothing to keep)
            shows(reply)
        return True

    async def _attach(
        self, session: AsyncSession, visit: Visit, answer: AnswerRecorded, kept: KeptFile, locale: str
    ) -> tuple[str, str, str]:
        """The attachment row of a photo answer; returns the transcript note saying where it is kept."""
        await add_attachment(
            session, visit.id, answer.step, store_key=kept.key, sha256=kept.sha256, size=kept.size,
            content_type=kept.content_type, source_ref=kept.source_ref, phash=kept.phash, at=self.clock.now(),
        )  # fmt: skip
        note = message("files_photo_kept", locale, question=answer.question[:60], file=kept.key)
        return ("note", note, "system")

    async def _finish(
        self,
        session: AsyncSession,
        visit: Visit,
        ended: VisitEnded,
        reply: DeskReply,
        actor: Actor,
        engine: VisitEngine,
    ) -> list[tuple[str, str, str]]:
        """Close the visit and act on its outcome: call-back tasks, opt-out, review queue; returns the
        transcript notes it adds."""
        notes: list[tuple[str, str, str]] = []
        visit.status = "finished"
        visit.outcome = ended.outcome.value
        visit.finished_at = self.clock.now()
        visit.callback_at = datetime.fromisoformat(ended.callback_at) if ended.callback_at else None
        visit.review_status = INITIAL_REVIEW.value  # the review workflow starts (bot.desk.review)
        remember(visit, engine, now=self.clock.now())  # what the next visit compares with (before any flush)
        borrower = visit.borrower
        for name in ("opt_out_reason", "preferred_channel"):
            value = ended.fields.get(name)
            if isinstance(value, list):
                value = ",".join(str(v) for v in value)
            if value is not None:
                setattr(borrower, name, str(value))
        if ended.outcome is Outcome.OPTED_OUT and contact.is_opt_out(ended.fields):  # not a declined consent
            borrower.opted_out_at = self.clock.now()
            reply.opted_out = True
        # every high flag of the visit counts, not only those of the last answer
        high = [f["flag"] for f in reply.turn.state.flags if f["severity"] == Severity.HIGH.value]
        worrying = high if actor.kind == "borrower" else []
        wants_call = ended.fields.get("wants_call") is True
        if visit.callback_at is not None or wants_call or worrying:
            note = ", ".join(worrying) or ("wants_call" if wants_call else "callback")
            task = await add_task(
                session,
                kind="callback",
                borrower_id=borrower.id,
                officer_id=visit.officer_id,
                visit_id=visit.id,
                note=note,
                due_at=visit.callback_at,
            )
            reply.tasks.append(task.id)
            asked = contact.mark_asked(task, visit, asked=reply.borrower_asked, locale=visit.locale)
            if asked is not None:
                notes.append(("note", asked, "system"))
        await contact.keep_disputes(session, self.settings, visit, reply.turn.state, self.clock.now())
        await fulfil_plan(session, visit, self.clock.now(), timezone=self.settings.timezone)  # the month's plan
        await promises.record_promise(session, visit, ended.fields, now=self.clock.now())  # bot.desk.promises
        relief = ended.fields.get("relief_request")
        if relief in RELIEF_KINDS:  # a hardship request for a supervisor to decide (bot.desk.relief)
            terms = ended.fields.get("relief_terms")
            await request_relief(session, visit, str(relief), str(terms) if terms else None, now=self.clock.now())
        return notes
