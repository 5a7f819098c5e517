"""Corrections after the fact (更正): a finished visit's answer changed, with a reason, the history kept.

Who may: the visit's officer until a supervisor approves the visit, the team's supervisor or an admin
any time (:func:`may_correct`). The new value goes through the question's own parser (the same
validation and messages as during the visit; relative dates read as on the visit's day). The old
and new value, who and why are kept (:class:`storage.models.Correction`: the record's version after
each), a note goes into the transcript and an entry into the audit log; the step risk rules are
judged again on the corrected answers (flags that no longer hold cleared, new ones raised, a new
high flag alerting the supervisors through the outbox), then the whole visit (cross-visit and
quality flags, its review rank: :func:`bot.desk.judging.judge_visit`).

Not corrected by text: photos and locations (the file or the place itself is the answer), nor
answers that set follow-ups (a call-back time, consent, opt-out, relief: ``sets:`` in the script),
which a correction would not redo. The path through the script is not walked again: a corrected
answer that would have led to other questions leaves the questions asked as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk import audit
from bot.desk.access import can_see, sees_numbers
from bot.desk.alerts import queue_effects
from bot.desk.contact import ContactWindow
from bot.desk.errors import Refused
from bot.desk.judging import judge_visit
from bot.desk.labels import flag_label
from bot.desk.review import ReviewState, review_state
from bot.desk.visits import VisitDesk
from bot.logs import mask
from dialogs.answers import Reply, format_value, parse_answer
from dialogs.engine import FlagRaised, VisitEngine, VisitState
from dialogs.errors import InvalidAnswer
from dialogs.i18n import message, register
from dialogs.schema import AnswerKind
from storage import corrections as store
from storage import repositories as repo
from storage.models import RiskFlag, User, Visit

__all__ = [
    "CORRECTED",
    "Corrected",
    "CorrectionDesk",
    "CorrectionRefused",
    "correctable_answers",
    "may_correct",
    "may_correct_visit",
]

CORRECTED = "answer_corrected"
"""The audit log's action of a correction."""
MAX_REASON = 500
NOT_BY_TEXT = (AnswerKind.PHOTO, AnswerKind.LOCATION)

register(
    {
        "correct_no_visit": {
            "zh-CN": "找不到回访 #{id}，或您无权查看。",
            "en": "No visit #{id}, or it is not yours to see.",
        },
        "correct_not_finished": {
            "zh-CN": "回访 #{id} 还没有结束：请在回访中用 /back 修改回答。",
            "en": "Visit #{id} is not finished yet: change an answer there with /back.",
        },
        "correct_not_allowed": {
            "zh-CN": "您不能更正回访 #{id}：信贷员只能在主管审核通过前更正自己的回访；主管可更正本组的回访。",
            "en": "You may not correct visit #{id}: an officer corrects their own visits until a supervisor "
            "approves them; a supervisor corrects their team's.",
        },
        "correct_no_step": {
            "zh-CN": "回访 #{id} 没有回答过“{step}”。可以更正的问题：{steps}",
            "en": "Visit #{id} has no answer to '{step}'. Answers you can correct: {steps}",
        },
        "correct_not_by_text": {
            "zh-CN": "“{step}”的回答是照片或位置，不能用文字更正。",
            "en": "The answer to '{step}' is a photo or a location: it cannot be corrected by text.",
        },
        "correct_sets_follow_up": {
            "zh-CN": "“{step}”的回答已触发后续安排（约定回访、同意、不想回访或减免申请），"
            "更正不会重做这些安排，因此不能更正。",
            "en": "The answer to '{step}' started follow-ups (a call-back, consent, an opt-out or a relief "
            "request) that a correction would not redo, so it cannot be corrected.",
        },
        "correct_need_reason": {
            "zh-CN": "请写明更正原因（不超过 {max} 字）。",
            "en": "Give the reason for the correction (at most {max} characters).",
        },
        "correct_same_value": {
            "zh-CN": "“{step}”的回答已经是“{value}”，没有更改。",
            "en": "The answer to '{step}' is already '{value}': nothing changed.",
        },
        "correct_bad_value": {"zh-CN": "新的回答无效：{error}", "en": "The new answer is not valid: {error}"},
        "correct_note": {
            "zh-CN": "更正（第 {version} 版）：{question} —— “{old}” → “{new}”；{who}；原因：{reason}",
            "en": "Correction (version {version}): {question} — '{old}' → '{new}'; by {who}; why: {reason}",
        },
        "correct_done": {
            "zh-CN": "回访 #{id} 已更正（第 {version} 版）：{step} “{old}” → “{new}”。",
            "en": "Visit #{id} corrected (version {version}): {step} '{old}' → '{new}'.",
        },
        "correct_flags_raised": {"zh-CN": "新的风险提示：{flags}", "en": "New risk flags: {flags}"},
        "correct_flags_cleared": {"zh-CN": "不再成立的风险提示：{flags}", "en": "Flags no longer holding: {flags}"},
        "correct_by_cli": {"zh-CN": "命令行管理员", "en": "the command-line admin"},
    }
)


class CorrectionRefused(Refused):
    """A correction not made (nothing changed); ``reason`` for code, ``text`` ready to show."""


@dataclass(frozen=True)
class Corrected:
    """A correction made: the answer before and after (as shown), the record's new version, flags changed."""

    visit_id: int
    step: str
    question: str
    old: str
    new: str
    version: int
    raised: tuple[str, ...]
    """Codes of flags the corrected answers raise (step rules, cross-visit and quality)."""
    cleared: tuple[str, ...]
    """Codes of step flags that no longer hold."""

    def lines(self, locale: str) -> list[str]:
        """What a front-end tells the person who corrected: the change, and the flags raised and cleared."""
        said = [message("correct_done", locale, id=self.visit_id, version=self.version, step=self.step,
                        old=self.old, new=self.new)]  # fmt: skip
        if self.raised:
            said.append(message("correct_flags_raised", locale, flags=_flag_names(self.raised, locale)))
        if self.cleared:
            said.append(message("correct_flags_cleared", locale, flags=_flag_names(self.cleared, locale)))
        return said


def _flag_names(codes: tuple[str, ...], locale: str) -> str:
    return ", ".join(f"{flag_label(code, locale)} ({code})" for code in dict.fromkeys(codes))


def may_correct(user: User, visit: Visit) -> bool:
    """An admin any finished visit; a supervisor their team's; an officer their own until it is approved."""
    if visit.status != "finished" or not can_see(user, visit):
        return False
    if user.role in ("admin", "supervisor"):
        return True
    return user.role == "officer" and review_state(visit) is not ReviewState.APPROVED


async def may_correct_visit(sessions: async_sessionmaker[AsyncSession], user: User, visit_id: int) -> bool:
    """Whether ``user`` may correct this visit's answers now (:func:`may_correct`; False when there is none)."""
    async with sessions() as session:
        visit = await repo.load_visit(session, visit_id)
        return visit is not None and may_correct(user, visit)


def correctable_answers(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The answers of a visit record that text may correct (not photos or locations), as given."""
    kept = {a["step"] for a in record.get("attachments", [])}
    return [
        a
        for a in record.get("answers", [])
        if a["step"] not in kept and not (isinstance(a["value"], dict) and ({"lat", "lon"} <= a["value"].keys()))
    ]


def _check(visit: Visit | None, visit_id: int, user: User, lang: str) -> None:
    """Refuse a visit that is not there, not theirs to see, not finished or not theirs to correct."""
    if visit is None or not can_see(user, visit):
        raise CorrectionRefused("not_found", message("correct_no_visit", lang, id=visit_id))
    if visit.status != "finished":
        raise CorrectionRefused("not_finished", message("correct_not_finished", lang, id=visit_id))
    if not may_correct(user, visit):
        raise CorrectionRefused("not_allowed", message("correct_not_allowed", lang, id=visit_id))


def _shown(display: str | None, raw: str | None) -> str:
    return display or raw or "-"


class CorrectionDesk:
    """Corrects finished visits' answers; each correction is one transaction (visit row locked)."""

    def __init__(self, desk: VisitDesk) -> None:
        self.desk = desk

    async def correct(
        self,
        visit_id: int,
        step_id: str,
        value: str,
        *,
        reason: str,
        user: User,
        actor: str | None = None,
        locale: str | None = None,
    ) -> Corrected:
        """Correct the answer to ``step_id`` to ``value`` (typed as during the visit), or refuse (nothing changed).

        ``actor`` names the front-end when ``user`` is not a stored staff member (``cli``)."""
        lang = locale or user.locale or self.desk.settings.locale
        reason = " ".join(reason.split())
        if not reason or len(reason) > MAX_REASON:
            raise CorrectionRefused("reason", message("correct_need_reason", lang, max=MAX_REASON))
        async with self.desk.sessions() as session, session.begin():
            visit = await repo.load_visit(session, visit_id, for_update=True)
            _check(visit, visit_id, user, lang)
            assert visit is not None
            return await self._correct(session, visit, step_id.strip(), value, reason, user, actor, lang)

    async def answers(self, visit_id: int, *, user: User, locale: str | None = None) -> list[tuple[str, str, str]]:
        """The answers ``user`` may correct now, as ``(step, question, answer shown)``; refused as
        :meth:`correct` would be (numbers masked where the viewer may not read them)."""
        lang = locale or user.locale or self.desk.settings.locale
        async with self.desk.sessions() as session:
            visit = await repo.load_visit(session, visit_id)
            _check(visit, visit_id, user, lang)
            assert visit is not None
            engine = await self._engine(session, visit)
            shown = (lambda text: text) if sees_numbers(user, visit.borrower) else mask
            found: dict[str, tuple[str, str, str]] = {}
            for a in await repo.visit_answers(session, visit.id):
                step = engine.compiled.steps.get(a.step_id)
                if step is None or step.ask is None or step.ask.kind in NOT_BY_TEXT or step.sets is not None:
                    continue
                found[a.step_id] = (a.step_id, shown(a.question), shown(_shown(a.display, a.raw)))  # a loop's newest
            return list(found.values())

    async def _engine(self, session: AsyncSession, visit: Visit) -> VisitEngine:
        catalog = self.desk.catalog
        source = None
        if catalog.needs_pin(visit.script_id, visit.script_version):  # runs on the pinned text
            source = await repo.pinned_source(session, visit.script_id, visit.script_version)
        return catalog.get(visit.script_id, visit.script_version, pinned_source=source)

    async def _correct(
        self,
        session: AsyncSession,
        visit: Visit,
        step_id: str,
        value: str,
        reason: str,
        user: User,
        actor: str | None,
        lang: str,
    ) -> Corrected:
        engine = await self._engine(session, visit)
        state = VisitState.from_json(visit.state)
        step = engine.compiled.steps.get(step_id)
        answer = await store.live_answer(session, visit.id, step_id) if step is not None else None
        if step is None or step.ask is None or answer is None:
            asked = [a.step_id for a in await repo.visit_answers(session, visit.id)]
            text = message("correct_no_step", lang, id=visit.id, step=step_id, steps=", ".join(dict.fromkeys(asked)))
            raise CorrectionRefused("no_step", text)
        if step.ask.kind in NOT_BY_TEXT:
            raise CorrectionRefused("not_by_text", message("correct_not_by_text", lang, step=step_id))
        if step.sets is not None:
            raise CorrectionRefused("follow_up", message("correct_sets_follow_up", lang, step=step_id))
        said_at = self.desk.now(visit.borrower.timezone)
        if visit.finished_at is not None:  # relative dates and date bounds: as on the visit's day
            said_at = visit.finished_at.astimezone(said_at.tzinfo)
        try:
            parsed = parse_answer(step.ask, Reply(text=value), locale=lang, now=said_at)
        except InvalidAnswer as exc:
            text = message("correct_bad_value", lang, error=message(exc.key, lang, **exc.params))
            raise CorrectionRefused("bad_value", text) from exc
        display = format_value(step.ask, parsed, state.locale)
        if parsed == answer.value and not answer.skipped:
            shown = _shown(answer.display, answer.raw)
            raise CorrectionRefused("same", message("correct_same_value", lang, step=step_id, value=shown))
        now = self.desk.clock.now()
        old = _shown(answer.display, answer.raw)
        raw = value.replace("\x00", "").strip()
        correction = await store.add_correction(
            session, answer, raw=raw, value=parsed, display=display, reason=reason,
            user_id=user.id, actor=actor or user.role, at=now,
        )  # fmt: skip
        state.answers[step_id] = parsed
        facts = self.desk.facts_of(visit).context()
        notes: list[str] = []
        raised, cleared = await _sync_step_flags(session, visit, state, engine.standing_flags(state, facts, notes), now)
        visit.state = state.to_json()
        who = user.name if user.id is not None else message("correct_by_cli", visit.locale)
        note = message(
            "correct_note", visit.locale, version=correction.version, question=answer.question, old=old,
            new=display or raw, who=who, reason=reason,
        )  # fmt: skip
        await repo.add_transcript(session, visit.id, "note", note, actor=actor or user.role, at=now)
        for fault in notes:
            await repo.add_transcript(session, visit.id, "note", fault, actor="system", at=now)
        await audit.record(
            session, CORRECTED, now=now, user=user if user.id is not None else None, actor=actor, visit_id=visit.id,
            step=step_id, old=old, new=display or raw, reason=reason, version=correction.version,
        )  # fmt: skip
        judged = await judge_visit(session, visit, engine, self.desk.settings, now=now)
        settings = self.desk.settings
        await queue_effects(
            session, visit, raised=[*raised, *judged], opted_out=False, tasks=(), now=now,
            window=ContactWindow(settings.contact_window_start, settings.contact_window_end),
        )  # fmt: skip
        await session.flush()
        return Corrected(
            visit.id, step_id, answer.question, old, display or raw, correction.version,
            tuple(f.flag for f in [*raised, *judged]), tuple(cleared),
        )  # fmt: skip


async def _sync_step_flags(
    session: AsyncSession, visit: Visit, state: VisitState, standing: list[FlagRaised], now: datetime
) -> tuple[list[FlagRaised], list[str]]:
    """Make the visit's live step flags (stored and in its state) be ``standing``; returns raised and cleared."""
    wanted = {(f.step, f.flag): f for f in standing}
    live: list[RiskFlag] = list(await store.live_step_flags(session, visit.id))
    have = {(f.step_id or "", f.code) for f in live}
    cleared: list[str] = []
    for row in live:
        if (row.step_id or "", row.code) not in wanted:
            row.cleared_at = now
            cleared.append(row.code)
    raised = [f for key, f in wanted.items() if key not in have]
    for new in raised:
        await repo.add_flag(session, visit.id, new, at=now)
    kept = [f for f in state.flags if (f["step"], f["flag"]) in wanted]
    in_state = {(f["step"], f["flag"]) for f in kept}
    for (step_id, code), flag in wanted.items():
        if (step_id, code) not in in_state:
            asked_at = max(i for i, s in enumerate(state.history) if s == step_id)
            entry = {"flag": code, "severity": flag.severity.value, "step": step_id, "note": flag.note}
            kept.append(entry | {"answer": str(asked_at)})
    state.flags = kept
    await session.flush()
    return raised, cleared
