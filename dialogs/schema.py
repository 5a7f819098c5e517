"""Typed models of a visit script as written in YAML (validated when loaded)."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dialogs.parsing import MAX_INTEGER, MAX_MONEY

__all__ = [
    "AcrossRule",
    "AnswerKind",
    "Bound",
    "Branch",
    "LocalText",
    "Measure",
    "Option",
    "Outcome",
    "Question",
    "RiskRule",
    "Script",
    "Severity",
    "Step",
]

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
Bound = Decimal | Literal["today"]
"""A question's ``min``/``max``: a number (integer, money, percent) or ``today`` (date, datetime)."""
_NUMBER_RANGES = {
    "integer": (Decimal(-MAX_INTEGER), Decimal(MAX_INTEGER)),
    "money": (Decimal(0), MAX_MONEY),
    "percent": (Decimal(-(10**6)), Decimal(10**6)),
}
"""What a numeric bound may be per kind: what an answer of that kind can hold."""
LocalText = dict[str, str]
"""A text per locale, e.g. ``{"zh-CN": "您好", "en": "Hello"}``."""


class AnswerKind(StrEnum):
    """What sort of answer a question takes."""

    CHOICE = "choice"
    MULTI = "multi"
    YESNO = "yesno"
    INTEGER = "integer"
    MONEY = "money"
    PERCENT = "percent"
    DATE = "date"
    DATETIME = "datetime"
    PHONE = "phone"
    TEXT = "text"
    PHOTO = "photo"
    LOCATION = "location"


class Outcome(StrEnum):
    """How a visit ended (回访结果)."""

    COMPLETED = "completed"
    WRONG_PARTY = "wrong_party"
    CALLBACK = "callback"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"
    OPTED_OUT = "opted_out"


class Severity(StrEnum):
    """How serious a risk flag is; ``high`` alerts supervisors at once."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        """Order for comparisons: low < medium < high."""
        return {"low": 1, "medium": 2, "high": 3}[self.value]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(_Model):
    """One choice of a choice or multi question."""

    id: Identifier
    label: LocalText
    default: bool = False


class Question(_Model):
    """The typed question a step asks."""

    kind: AnswerKind
    options: tuple[Option, ...] = ()
    min: Bound | None = None
    max: Bound | None = None
    min_length: int = Field(default=1, ge=0)
    max_length: int = Field(default=500, ge=1, le=4000)
    hint: LocalText | None = None

    @model_validator(mode="after")
    def _options_fit_kind(self) -> Question:
        needs = self.kind in (AnswerKind.CHOICE, AnswerKind.MULTI)
        if needs and len(self.options) < 2:
            raise ValueError(f"a {self.kind} question needs at least two options")
        if not needs and self.options:
            raise ValueError(f"a {self.kind} question takes no options")
        ids = [o.id for o in self.options]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate option ids: {', '.join(sorted(dup))}")
        self._bounds_fit_kind()
        if isinstance(self.min, Decimal) and isinstance(self.max, Decimal) and self.min > self.max:
            raise ValueError("min is greater than max")
        if self.min_length > self.max_length:
            raise ValueError("min_length is greater than max_length")
        return self

    def _bounds_fit_kind(self) -> None:
        """Numbers bound integer, money and percent answers; ``today`` bounds date and datetime ones."""
        numeric = self.kind in (AnswerKind.INTEGER, AnswerKind.MONEY, AnswerKind.PERCENT)
        dated = self.kind in (AnswerKind.DATE, AnswerKind.DATETIME)
        for name, bound in (("min", self.min), ("max", self.max)):
            if isinstance(bound, Decimal) and numeric:
                low, high = _NUMBER_RANGES[self.kind.value]
                if not low <= bound <= high:
                    raise ValueError(
                        f"{name}: {bound} is outside what a {self.kind} answer holds ({low:,} to {high:,})"
                    )
            if bound is None or (numeric and isinstance(bound, Decimal)) or (dated and bound == "today"):
                continue
            allowed = "a number" if numeric else "'today'" if dated else "no min or max"
            raise ValueError(f"{name}: {bound} does not fit a {self.kind} question (it takes {allowed})")


class Branch(_Model):
    """Where to go next; ``when`` is a sandboxed Jinja2 expression, absent for the fallback."""

    goto: Identifier
    when: str | None = None
    confirms_identity: bool = False


class RiskRule(_Model):
    """Turns an answer into a risk flag when ``when`` holds."""

    flag: Identifier
    severity: Severity
    when: str
    note: LocalText | None = None


class Step(_Model):
    """One step: a line to say, optionally a question, the branches, and risk rules.

    A step with ``outcome`` ends the visit; a step with neither ``ask`` nor ``outcome`` only
    says its line and moves on.
    """

    id: Identifier
    say: LocalText | None = None
    ask: Question | None = None
    next: tuple[Branch, ...] = ()
    skippable: bool = False
    risk: tuple[RiskRule, ...] = ()
    outcome: Outcome | None = None
    sets: Identifier | None = None
    """Names the visit field this answer fills, e.g. ``callback_at``."""

    def texts(self) -> list[tuple[str, LocalText]]:
        """(what, texts per locale) of every text the step shows: line, options, hint, risk notes."""
        found: list[tuple[str, LocalText]] = []
        if self.say:
            found.append(("the line", self.say))
        if self.ask:
            found.extend((f"option '{o.id}'", o.label) for o in self.ask.options)
            if self.ask.hint:
                found.append(("the hint", self.ask.hint))
        found.extend((f"risk '{r.flag}' note", r.note) for r in self.risk if r.note)
        return found

    @model_validator(mode="after")
    def _shape(self) -> Step:
        if self.outcome is not None and (self.ask is not None or self.next):
            raise ValueError("a step with an outcome ends the visit: it takes no 'ask' or 'next'")
        if self.outcome is None and self.ask is None and self.say is None:
            raise ValueError("a step needs 'say', 'ask' or 'outcome'")
        if self.risk and self.ask is None:
            raise ValueError("risk rules need a question to look at")
        if self.skippable and self.ask is None:
            raise ValueError("only a step with a question can be skipped")
        return self


class Measure(_Model):
    """What a finished visit remembers for the next ones (``remember:``): an expression over its context."""

    value: str
    """A sandboxed expression over ``answers``, ``loan``, ``borrower``, ``visit`` (with ``outcome``, ``respondent``)."""
    label: LocalText | None = None
    """How the evidence of a cross-visit flag names the measure (the measure's name when absent)."""


class AcrossRule(_Model):
    """A cross-visit risk rule (``across_visits:``): this visit's measures against the borrower's earlier ones.

    ``when`` sees ``now`` (this visit's measures), ``before`` (the newest earlier visit that measured all of
    ``uses``) and ``history`` (up to ``look_back`` such visits, newest first). The rule is tested only when
    this visit measured all of ``uses`` and at least one earlier visit did.
    """

    flag: Identifier
    severity: Severity
    uses: tuple[Identifier, ...] = Field(min_length=1, max_length=10)
    look_back: int = Field(default=1, ge=1, le=10)
    when: str
    note: LocalText | None = None


class Script(_Model):
    """A whole visit script, one version of it."""

    id: Identifier
    version: int = Field(ge=1)
    title: LocalText
    audience: str = Field(default="officer", pattern=r"^(officer|borrower|any)$")
    locales: tuple[str, ...] = ("zh-CN", "en")
    start: Identifier | None = None
    identity_step: Identifier | None = None
    """The step that confirms who we talk to; nothing about the loan may be said before it."""
    steps: tuple[Step, ...]
    remember: dict[Identifier, Measure] = Field(default_factory=dict)
    """What a finished visit keeps for later visits to compare with (measure name -> expression)."""
    across_visits: tuple[AcrossRule, ...] = ()
    """Risk rules comparing this visit's measures with the borrower's earlier visits'."""

    @field_validator("remember", mode="before")
    @classmethod
    def _short_measures(cls, value: object) -> object:
        """``staff: "answers.staff_total"`` is short for ``staff: {value: "answers.staff_total"}``."""
        if isinstance(value, dict):
            return {k: {"value": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @property
    def first_step(self) -> str:
        """The step a visit starts at."""
        return self.start or self.steps[0].id
