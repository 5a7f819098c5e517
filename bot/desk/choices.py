"""What staff may choose during a visit: the script to start, and the outcome to end it with by hand.

Scripts: an officer names one (``onsite``, ``现场``, ``overdue_reminder`` …) or picks it from the
scripts that apply to the borrower (:func:`scripts_for`). Outcomes: only those the visit's current
step offers (:func:`offered_outcomes`); an outcome typed as a word (``拒绝``, ``无法联系``,
``call back``) is read by :func:`read_cancel`, a call-back time in the borrower's own zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.desk.contact import without_marker
from dialogs.answers import Reply, parse_answer
from dialogs.catalog import ScriptCatalog
from dialogs.engine import Cancel, VisitState
from dialogs.errors import InvalidAnswer
from dialogs.i18n import LOCALES, message, pick, register
from dialogs.schema import AnswerKind, Outcome, Question, Script
from storage import repositories as repo

if TYPE_CHECKING:
    from bot.desk.visits import Actor, VisitDesk

__all__ = [
    "SCRIPT_WORDS",
    "STAFF_CANCEL_OUTCOMES",
    "CancelOffer",
    "NotOffered",
    "cancel_offer",
    "channel_for",
    "not_offered_text",
    "offered_outcomes",
    "offered_text",
    "outcome_for_word",
    "read_cancel",
    "script_for_word",
    "script_title",
    "scripts_for",
    "staff_scripts",
]

register(
    {
        "choice_not_offered": {
            "zh-CN": "现在不能以“{outcome}”结束这次回访，未做任何记录。{instead}",
            "en": "This visit cannot be ended as '{outcome}' now; nothing was recorded. {instead}",
        },
        "choice_offered": {
            "zh-CN": "现在可选：{offered}。",
            "en": "You can end it now as: {offered}.",
        },
        "choice_keep_answering": {
            "zh-CN": "请继续回答问题，回访会在问题答完时结束。",
            "en": "Go on answering: the visit ends when its questions are done.",
        },
        "choice_opted_out_needs_steps": {
            "zh-CN": "“不想回访”要记下原因和客户希望的联系方式：结束本次回访后发送 /visit {code} refusal 登记。",
            "en": "An opt-out keeps the reason and the contact the borrower prefers: end this visit, then send "
            "/visit {code} refusal to record it.",
        },
        "choice_completed_needs_steps": {
            "zh-CN": "“已完成”只在话术的问题都答完时记录。",
            "en": "'Completed' is recorded only when the script's questions are done.",
        },
        "choice_unknown_outcome": {
            "zh-CN": "不认识的结果“{text}”，未做任何记录。{instead}",
            "en": "Unknown outcome '{text}'; nothing was recorded. {instead}",
        },
        "choice_callback_example": {
            "zh-CN": "约定再回访请加时间，例如：/cancel 再约 明天下午三点",
            "en": "For a call-back add the time, e.g. /cancel callback tomorrow 3pm",
        },
        "choice_unknown_script": {
            "zh-CN": "不认识的话术“{text}”。可选：{known}",
            "en": "Unknown script '{text}'. Known: {known}",
        },
    }
)

STAFF_CANCEL_OUTCOMES = (Outcome.REFUSED, Outcome.UNREACHABLE, Outcome.WRONG_PARTY, Outcome.CALLBACK)
"""Everything staff may ever end a visit as by hand. ``opted_out`` is reached only through a script's
questions (so its reason and preferred channel are kept) and ``completed`` only by the script's end."""

BEFORE_IDENTITY = (Outcome.UNREACHABLE, Outcome.WRONG_PARTY)
"""Outcomes that make sense only until the person on the line is confirmed (or, in a script without an
identity step, until the first answer)."""

SCRIPT_WORDS: dict[str, str] = {
    "phone": "officer_phone_visit",
    "call": "officer_phone_visit",
    "电话": "officer_phone_visit",
    "电话回访": "officer_phone_visit",
    "onsite": "onsite_visit",
    "on-site": "onsite_visit",
    "site": "onsite_visit",
    "现场": "onsite_visit",
    "现场回访": "onsite_visit",
    "overdue": "overdue_reminder",
    "逾期": "overdue_reminder",
    "逾期提醒": "overdue_reminder",
    "refusal": "visit_refusal",
    "optout": "visit_refusal",
    "opt-out": "visit_refusal",
    "不想回访": "visit_refusal",
}
"""Short names an officer may type after ``/visit <code>`` (the script id itself works too)."""

SHORT_NAMES = {
    "officer_phone_visit": "phone",
    "onsite_visit": "onsite",
    "overdue_reminder": "overdue",
    "visit_refusal": "refusal",
}
"""The short name shown for each shipped staff script."""

OUTCOME_ALIASES: dict[str, Outcome] = {
    "再约": Outcome.CALLBACK,
    "约回访": Outcome.CALLBACK,
    "回电": Outcome.CALLBACK,
    "改天": Outcome.CALLBACK,
    "call back": Outcome.CALLBACK,
    "call-back": Outcome.CALLBACK,
    "拒访": Outcome.REFUSED,
    "拒接": Outcome.REFUSED,
    "打不通": Outcome.UNREACHABLE,
    "无人接听": Outcome.UNREACHABLE,
    "没人接": Outcome.UNREACHABLE,
    "空号": Outcome.UNREACHABLE,
    "不是本人": Outcome.WRONG_PARTY,
    "打错了": Outcome.WRONG_PARTY,
    "wrong party": Outcome.WRONG_PARTY,
    "wrong number": Outcome.WRONG_PARTY,
    "opt out": Outcome.OPTED_OUT,
    "opt-out": Outcome.OPTED_OUT,
}
"""Words people use for an outcome besides its id and its label in each locale."""

_CJK = re.compile(r"[\u3400-\u9fff]")


class NotOffered(ValueError):
    """A choice this person cannot make now; ``text`` says why and what to do instead."""

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(text)


# -- scripts ----------------------------------------------------------------------------------
def staff_scripts(catalog: ScriptCatalog) -> list[Script]:
    """The scripts staff run (audience ``officer`` or ``any``), by id."""
    found = [catalog.latest(script_id).script for script_id in catalog.ids]
    return [s for s in found if s.audience in ("officer", "any")]


def scripts_for(catalog: ScriptCatalog, *, overdue_days: int, default: str) -> list[Script]:
    """The scripts an officer's call to this borrower may follow, most fitting first.

    The routine phone visit (``default``) always applies; the overdue reminder only while the loan is
    overdue (and then first). The on-site visit and the opt-out form are named on purpose (``/visit
    B004 onsite``), so a borrower who is not overdue starts the routine visit without a question;
    when several apply, every staff script is offered, the fitting ones first.
    """
    scripts = staff_scripts(catalog)
    fitting = [s for s in scripts if s.id == default or (s.id == "overdue_reminder" and overdue_days > 0)]
    if len(fitting) <= 1:
        return fitting
    fitting.sort(key=lambda s: s.id != "overdue_reminder")
    return fitting + [s for s in scripts if s not in fitting]


def script_for_word(catalog: ScriptCatalog, word: str) -> Script | None:
    """The staff script ``word`` names: its id, a short name (``onsite``, ``现场``) or its title."""
    folded = word.strip().casefold()
    scripts = staff_scripts(catalog)
    by_id = {s.id: s for s in scripts}
    if folded in by_id:
        return by_id[folded]
    if (aliased := SCRIPT_WORDS.get(folded)) in by_id:
        return by_id[aliased]
    for script in scripts:
        if folded in {pick(script.title, locale).casefold() for locale in LOCALES}:
            return script
    return None


def script_title(script: Script, locale: str) -> str:
    """A script's title in ``locale``."""
    return pick(script.title, locale)


def short_name(script: Script) -> str:
    """What to type after ``/visit <code>`` for this script."""
    return SHORT_NAMES.get(script.id, script.id)


def unknown_script_text(catalog: ScriptCatalog, word: str, locale: str) -> str:
    """The refusal of an unknown script name, with the names that work."""
    sep = "、" if locale.startswith("zh") else ", "
    known = sep.join(f"{short_name(s)}（{script_title(s, locale)}）" for s in staff_scripts(catalog))
    if not locale.startswith("zh"):
        known = sep.join(f"{short_name(s)} ({script_title(s, locale)})" for s in staff_scripts(catalog))
    return message("choice_unknown_script", locale, text=word, known=known)


def channel_for(script: Script) -> str:
    """The channel a visit on ``script`` is held on: ``self`` for a borrower's own, ``onsite`` on the
    premises, else ``phone``."""
    if script.audience == "borrower":
        return "self"
    return "onsite" if script.id.startswith("onsite") else "phone"


# -- outcomes ---------------------------------------------------------------------------------
def offered_outcomes(
    actor_kind: str, state: VisitState | None = None, script: Script | None = None
) -> tuple[Outcome, ...]:
    """The outcomes ``actor_kind`` may end a visit with by hand now.

    A borrower ends theirs only by answering. Staff may always end an open visit as refused or as a
    call-back; unreachable and wrong party only until the identity step is answered (in a script
    without one, until the first answer). Without a ``state``: everything staff may ever choose.
    """
    if actor_kind == "borrower":
        return ()
    if state is None:
        return STAFF_CANCEL_OUTCOMES
    if state.finished:
        return ()
    identity = script.identity_step if script is not None else None
    before = identity not in state.answers if identity is not None else not state.history
    return tuple(o for o in STAFF_CANCEL_OUTCOMES if before or o not in BEFORE_IDENTITY)


def _outcome_label(outcome: Outcome, locale: str) -> str:
    return message(f"outcome_{outcome.value}", locale)


def offered_text(offered: tuple[Outcome, ...], locale: str) -> str:
    """What can be chosen instead (labels with the word to type), or to keep answering when nothing."""
    if not offered:
        return message("choice_keep_answering", locale)
    sep = "、" if locale.startswith("zh") else ", "
    if locale.startswith("zh"):
        shown = sep.join(f"{_outcome_label(o, locale)}（{o.value}）" for o in offered)
    else:
        shown = sep.join(f"{_outcome_label(o, locale)} ({o.value})" for o in offered)
    return message("choice_offered", locale, offered=shown)


def not_offered_text(outcome: Outcome, offered: tuple[Outcome, ...], locale: str, *, code: str = "") -> str:
    """Why ``outcome`` cannot end the visit now, and what can instead."""
    instead = offered_text(offered, locale)
    if outcome is Outcome.OPTED_OUT and offered:
        instead = message("choice_opted_out_needs_steps", locale, code=code or "B001") + " " + instead
    elif outcome is Outcome.COMPLETED and offered:
        instead = message("choice_completed_needs_steps", locale) + " " + instead
    return message("choice_not_offered", locale, outcome=_outcome_label(outcome, locale), instead=instead)


def _outcome_words() -> list[tuple[str, Outcome]]:
    words: dict[str, Outcome] = {}
    for outcome in Outcome:
        words[outcome.value] = outcome
        words[outcome.value.replace("_", " ")] = outcome
        for locale in LOCALES:
            words[_outcome_label(outcome, locale).casefold()] = outcome
    words.update(OUTCOME_ALIASES)
    return sorted(words.items(), key=lambda item: -len(item[0]))


def outcome_for_word(text: str) -> tuple[Outcome, str] | None:
    """The outcome ``text`` starts with (an id, a label in any locale, a common word) and the rest."""
    folded = " ".join(text.split()).casefold()
    for word, outcome in _outcome_words():
        if folded == word:
            return outcome, ""
        if folded.startswith(word) and (folded[len(word)] == " " or _CJK.match(word[-1])):
            return outcome, folded[len(word) :].strip()
    return None


@dataclass(frozen=True)
class CancelOffer:
    """What may end a visit by hand now, and the borrower's zone for a call-back time."""

    visit_id: int
    outcomes: tuple[Outcome, ...]
    zone: str
    borrower_code: str


async def cancel_offer(desk: VisitDesk, visit_id: int, actor: Actor) -> CancelOffer:
    """The outcomes ``actor`` may end visit ``visit_id`` with now (its current step decides)."""
    reply = await desk.current(visit_id)
    state = reply.turn.state
    script = desk.catalog.get(state.script_id, state.script_version).script
    async with desk.sessions() as session:
        visit = await repo.load_visit(session, visit_id)
    zone = visit.borrower.timezone if visit is not None else desk.settings.timezone
    code = visit.borrower.code if visit is not None else ""
    return CancelOffer(visit_id, offered_outcomes(actor.kind, state, script), zone, code)


def callback_time(text: str, zone: str, now: datetime, locale: str) -> datetime:
    """A call-back time typed by staff (``明天下午三点``), read in the borrower's zone ``zone``.

    Raises :class:`~dialogs.errors.InvalidAnswer` for a text that names no future moment."""
    local = now.astimezone(ZoneInfo(zone))
    text = without_marker(text)  # "明天凌晨3点 客户要求": the time, without the borrower-asked words
    value = parse_answer(Question(kind=AnswerKind.DATETIME), Reply(text=text), locale=locale, now=local)
    return datetime.fromisoformat(str(value))


def read_cancel(text: str, offer: CancelOffer, *, now: datetime, locale: str) -> Cancel:
    """The cancel ``text`` asks for (``拒绝``, ``refused``, ``再约 明天下午三点``): raises :class:`NotOffered`
    (with what can be chosen instead) for an unknown word, an outcome not offered now, or a bad time."""
    found = outcome_for_word(text)
    if found is None:
        word = text.split()[0] if text.split() else text
        instead = offered_text(offer.outcomes, locale)
        raise NotOffered(message("choice_unknown_outcome", locale, text=word, instead=instead))
    outcome, rest = found
    if outcome not in offer.outcomes:
        raise NotOffered(not_offered_text(outcome, offer.outcomes, locale, code=offer.borrower_code))
    if outcome is not Outcome.CALLBACK:
        return Cancel(outcome)
    if not rest:
        raise NotOffered(message("choice_callback_example", locale))
    try:
        return Cancel(outcome, callback_time(rest, offer.zone, now, locale))
    except InvalidAnswer as exc:
        raise NotOffered(message(exc.key, locale, **exc.params)) from exc
