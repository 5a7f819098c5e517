"""A person in a chat with the bot: answers what they mean to, and when the chat goes quiet or
breaks, recovers the way people do (tap or type again, then /resume or the invite link again).

    person = Person(double.user(7001, "王磊"), OFFICER_PLAN, recover=("/resume",), resume_hint="B001")
    journey = await person.start("/visit B001")
    assert journey.finished, journey.explain()

The person acts only on what the chat shows: the lowest unanswered question message (its current
keyboard), the /resume list, the end of the visit. A pressed question's message is edited to show the
answer (``question\n✅ answer``) followed by the next question, which the person then answers in that
same message; a typed answer is followed by the next question in a new message. The journey records
what they were shown and what they saw acknowledged, for a test to hold against the database.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from .records import BotMessage, MessageVersion
from .users import FakeUser

ANSWERED = "\n✅ "
_BOLD = re.compile(r"<b>(.*?)</b>", re.S)
_ANSWER = re.compile(r"\n✅ <b>.*?</b>", re.S)
"""An answer shown under its question (render.answered_text): bold, but no question."""
NOT_RECORDED = ("没有记录", "not recorded", "之前已经处理过了", "handled before")
"""What a message says when it shows a question again without recording the input before it."""


@dataclass(frozen=True)
class Intent:
    """What the person answers to a question: `question` is a fragment of its text, `act` is
    ``press:<button label>`` or the text to type."""

    question: str
    act: str
    pause: float = 0.0  # seconds the person reads the question before answering it (the first time)

    @property
    def label(self) -> str | None:
        """The button to tap, None when the answer is typed."""
        return self.act.removeprefix("press:") if self.act.startswith("press:") else None


@dataclass(frozen=True)
class Seen:
    """A question message as the person saw it: the message, its question (prompt) and the intent."""

    message: BotMessage
    prompt: str
    intent: Intent

    @property
    def key(self) -> tuple[int, int, str]:
        """The same question in the same message, as long as the message's text stays the same (a
        question shown again comes in a new message, or in an edit of the pressed one)."""
        return self.message.message_id, asked_since(self.message), self.prompt


@dataclass
class Journey:
    """What happened to the person: every action, what they were shown and saw acknowledged."""

    finished: bool = False
    stranded: str | None = None
    actions: list[str] = field(default_factory=list)
    shown: set[str] = field(default_factory=set)  # questions shown unanswered
    acknowledged: dict[str, str] = field(default_factory=dict)  # question -> answer the chat confirmed
    presses: list[tuple[str, str, str]] = field(default_factory=list)  # (query id, question, label)
    queries: list[str] = field(default_factory=list)  # every callback query id the person sent
    recoveries: int = 0
    timed_waits: list[tuple[float, float]] = field(default_factory=list)  # (monotonic start, seconds) per action

    def explain(self) -> str:
        """A readable account for a failing assertion."""
        lines = [f"finished={self.finished} stranded={self.stranded!r} recoveries={self.recoveries}"]
        lines += [f"  {a}" for a in self.actions]
        return "\n".join(lines)


def prompt_of(message: BotMessage | MessageVersion) -> str | None:
    """The question a message asks (its last bold part after the last answer it shows), None when it
    only shows an answer or is no question."""
    source = message.source
    if message.text is None or source is None:
        return None
    answered = source.rfind(ANSWERED)
    if answered >= 0:  # a question asked after the answer shown (an edited pressed question), or none
        source = _ANSWER.sub("", source[answered:], count=1)
    bold = _BOLD.findall(source)
    return html.unescape(bold[-1]) if bold else None


def asked_since(message: BotMessage) -> int:
    """The version of the message since which its text is what it is now (a keyboard's change, such as a
    tick, asks nothing new)."""
    versions = message.versions
    since = len(versions) - 1
    while since > 0 and versions[since - 1].source == versions[since].source:
        since -= 1
    return since


def answer_shown(message: BotMessage | MessageVersion) -> tuple[str, str] | None:
    """(question, answer) when the message shows an answer under its question (render.answered_text)."""
    text = message.text or ""
    if ANSWERED not in text:
        return None
    question, shown = text.rsplit(ANSWERED, 1)
    return question, shown.split("\n\n", 1)[0]  # what follows the answer: the next question


class Person:
    """Answers a visit as planned and recovers from silence; see the module docstring."""

    def __init__(
        self,
        user: FakeUser,
        plan: Sequence[Intent],
        *,
        recover: Sequence[str],
        resume_hint: str = "",
        done: str = "回访结束",
        patience: float = 3.0,
        budget: float = 60.0,
        retries: int = 1,
        max_recoveries: int = 4,
    ) -> None:
        if not plan:
            raise ValueError("a person needs a plan of intents")
        self.user = user
        self.plan = list(plan)
        self.recover = list(recover)
        self.resume_hint = resume_hint
        self.done = done
        self.patience = patience
        self.budget = budget
        self.retries = retries
        self.max_recoveries = max_recoveries
        self.journey = Journey()
        self._since = 0  # index into the chat's events where this journey began
        self._tapped: set[str] = set()  # /resume list buttons already tapped, as "data@message id"
        self._typed: list[tuple[int, str, str]] = []  # (events seen before, question, text) per typed answer

    async def start(self, first: str) -> Journey:
        """Send the opening message (``/visit B001``, ``/start <token>``) and carry on to the end."""
        self._since = len(self.user.events)
        await self._say(first)
        await self._wait_for_news(self._count())
        return await self.carry_on()

    async def carry_on(self) -> Journey:
        """Act on what the chat shows until the visit ends, or give up (stranded)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.budget
        acted: Seen | None = None
        tries = recoveries = 0
        while loop.time() < deadline:
            if self._finished():
                self.journey.finished = True
                break
            before = self._count()
            question = self.current_question()
            resume = self._resume_button()
            if resume is not None:
                await self._press_data(resume, "the visit in the /resume list")
            elif question is not None and (acted is None or question.key != acted.key):
                acted, tries, recoveries = question, 1, 0
                await self._answer(question)
            elif acted is not None and tries <= self.retries and (question is not None or acted.intent.label is None):
                tries += 1  # the same question still unanswered, or typed and no next question: again
                await self._answer(question or acted, again=True)
            elif recoveries < self.max_recoveries and self.recover:
                command = self.recover[recoveries % len(self.recover)]
                recoveries += 1
                self.journey.recoveries += 1
                await self._say(command, why="nothing new came")
            else:
                self.journey.stranded = f"gave up after {recoveries} recoveries"
                break
            await self._wait_for_news(before)
        else:
            self.journey.stranded = f"not finished within {self.budget}s"
        self._note_acknowledged()
        return self.journey

    # -- what the person sees --------------------------------------------------------------------

    def current_question(self) -> Seen | None:
        """The lowest message of this journey that is a question, if it is still unanswered."""
        for message in reversed(self._messages()):
            prompt = prompt_of(message)
            if prompt is None:
                if answer_shown(message) is not None:
                    return None  # the last question on screen is answered: nothing to do but wait
                continue
            intent = next((i for i in self.plan if i.question in prompt), None)
            if intent is None:
                if self.done in prompt:
                    return None
                raise AssertionError(f"{self.user!r} has no intent for the question {prompt!r}")
            self.journey.shown.add(prompt)
            return Seen(message, prompt, intent)
        return None

    def _messages(self) -> list[BotMessage]:
        ids = {e.message_id for e in self.user.events[self._since :]}
        return [m for m in self.user.messages if m.message_id in ids]

    def _finished(self) -> bool:
        return any(self.done in (m.text or "") for m in self.user.events[self._since :])

    def _resume_button(self) -> str | None:
        """The visit's button when the /resume list is the lowest message (and not tapped yet)."""
        messages = self._messages()
        if not messages:
            return None
        for text, data in (b for row in messages[-1].buttons for b in row):
            if data and data.startswith("r:") and self.resume_hint in text:
                target = f"{data}@{messages[-1].message_id}"
                return None if target in self._tapped else target
        return None

    def _count(self) -> int:
        return len(self.user.events)

    # -- acting ------------------------------------------------------------------------------------

    async def _answer(self, question: Seen, *, again: bool = False) -> None:
        label = question.intent.label
        verb = "again: " if again else ""
        if question.intent.pause and not again:
            await asyncio.sleep(question.intent.pause)
        if label is None:
            self.journey.actions.append(f"{verb}type {question.intent.act!r} for {question.prompt!r}")
            self._typed.append((len(self.user.events), question.prompt, question.intent.act))
            await self.user.send(question.intent.act)
            return
        data = next((d for row in question.message.buttons for t, d in row if t == label), None)
        if data is None:
            self.journey.actions.append(f"{verb}no button {label!r} on {question.prompt!r}")
            return
        self.journey.actions.append(f"{verb}press {label!r} for {question.prompt!r}")
        query = await self.user.press_data(data, question.message.message_id)
        self.journey.presses.append((query, question.prompt, label))
        self.journey.queries.append(query)

    async def _press_data(self, target: str, what: str) -> None:
        data, message_id = target.rsplit("@", 1)
        self._tapped.add(target)
        self.journey.actions.append(f"press {what} [{target}]")
        self.journey.queries.append(await self.user.press_data(data, int(message_id)))

    async def _say(self, text: str, why: str = "") -> None:
        self.journey.actions.append(f"send {text!r}" + (f" ({why})" if why else ""))
        await self.user.send(text)

    async def _wait_for_news(self, before: int) -> None:
        """Wait up to `patience` for a new message, or an edit that changes what is on screen (more than
        an answer shown under its question)."""
        started = time.monotonic()
        while time.monotonic() < started + self.patience:
            if any(not e.edits or prompt_of(e) or not answer_shown(e) for e in self.user.events[before:]):
                self.journey.timed_waits.append((started, time.monotonic() - started))
                return
            await asyncio.sleep(0.02)
        self.journey.timed_waits.append((started, time.monotonic() - started))
        self.journey.actions.append(f"  (nothing new for {self.patience}s)")

    def _note_acknowledged(self) -> None:
        """Answers the chat confirmed: a question edited to show ✅ its answer, a press answered
        "recorded", or a typed answer followed by another question (not one shown again unrecorded)."""
        events = self.user.events
        for event in events[self._since :]:
            shown = answer_shown(event) if event.edits else None
            if shown is not None:
                question, said = shown
                self.journey.acknowledged[question] = said
        for seen, question, typed in self._typed:
            for event in events[seen:]:
                asked = prompt_of(event)
                if asked is not None and not any(n in (event.text or "") for n in NOT_RECORDED):
                    if asked != question:
                        self.journey.acknowledged.setdefault(question, typed)
                    break
        answers = self.user.callback_answers
        for query, question, label in self.journey.presses:
            answer = answers.get(query)
            if answer is not None and answer.text in ("已记录", "Recorded"):
                self.journey.acknowledged.setdefault(question, label)
