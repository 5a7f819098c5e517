"""What "worse since the last visit" means, as data: one :class:`WorseRule` per question step.

The briefing compares a borrower's last two completed visits step by step, with the parsed answers
(the same step id in every script that asks it: the question bank of ``scripts/fragments`` is shared
by the phone, on-site and self-service scripts). A rule says how a step's answer gets worse:

- ``scale``: a choice whose options run from best to worst (``good`` → ``fair`` → ``poor``); a later
  option is worse; options not on the scale (``no_collateral``) compare with nothing.
- ``less``: a number that falls by at least ``by`` of what it was (staff 10 → 8 with ``by`` 0.2);
  ``per_month``: a year-to-date figure (revenue so far this year), divided by the months of the
  year gone at each visit before comparing, so January's figure is not "less" than December's.
- ``more``: a number that rises by at least ``by`` (another debt, a guarantee).
- ``became_yes``: a yes/no that was no and is now yes (other borrowing, guarantees given).

Adding a step to compare is a line in :data:`WORSE_RULES`, no code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

__all__ = ["WORSE_RULES", "WorseRule", "got_worse"]

Kind = Literal["scale", "less", "more", "became_yes"]


@dataclass(frozen=True)
class WorseRule:
    """How one step's answer gets worse (see the module's docstring)."""

    step: str
    kind: Kind
    scale: tuple[str, ...] = ()
    """``scale``: the options from best to worst."""
    by: Decimal = Decimal("0.2")
    """``less`` / ``more``: the share of the previous figure the change must reach."""
    per_month: bool = False
    """``less`` / ``more``: the figure is year-to-date; compare it per month of the year gone."""


WORSE_RULES: tuple[WorseRule, ...] = (
    WorseRule("business_status", "scale", ("good", "fair", "poor")),
    WorseRule("repayment_pressure", "scale", ("none", "some", "heavy")),
    WorseRule("repayment_source", "scale", ("business_income", "other_income", "asset_sale", "new_borrowing")),
    WorseRule("loan_use", "scale", ("as_stated", "partly_elsewhere", "elsewhere")),
    WorseRule("collateral", "scale", ("good", "damaged", "disposed")),
    WorseRule("can_pay", "scale", ("within_week", "later", "cannot")),
    WorseRule("other_borrowing", "became_yes"),
    WorseRule("guarantees", "became_yes"),
    WorseRule("staff_total", "less"),
    WorseRule("staff_on_site", "less"),
    WorseRule("revenue_this_year", "less", per_month=True),
    WorseRule("cash_on_hand", "less"),
    WorseRule("gross_margin", "less"),
    WorseRule("collateral_value", "less"),
    WorseRule("other_borrowing_amount", "more"),
    WorseRule("guarantees_amount", "more"),
)
"""The steps compared, and what worse means for each."""


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def got_worse(rule: WorseRule, before: Any, after: Any, *, before_at: datetime, after_at: datetime) -> bool:
    """True when ``after`` (the last visit's parsed answer) is worse than ``before`` by ``rule``.

    ``before_at`` and ``after_at`` are when the visits ended (in the deployment's zone), for ``per_month``.
    """
    if rule.kind == "scale":
        if before not in rule.scale or after not in rule.scale:
            return False
        return rule.scale.index(after) > rule.scale.index(before)
    if rule.kind == "became_yes":
        return before is False and after is True
    old, new = _number(before), _number(after)
    if old is None or new is None:
        return False
    if rule.per_month:
        old, new = old / before_at.month, new / after_at.month
    if rule.kind == "less":
        return new < old and old - new >= abs(old) * rule.by
    return new > old and new - old >= abs(old) * rule.by
