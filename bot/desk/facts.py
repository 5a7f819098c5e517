"""The facts a script sees about a visit, as one typed model (built once, here, for every path)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from storage.models import Borrower, Loan, User

__all__ = ["BorrowerFacts", "LoanFacts", "OfficerFacts", "VisitFacts", "VisitRef"]


class _Facts(BaseModel):
    model_config = ConfigDict(frozen=True)


class BorrowerFacts(_Facts):
    """What a script may say about the borrower."""

    code: str
    name: str
    phone: str = ""
    business: str = ""
    risk_tier: str = "low"


class LoanFacts(_Facts):
    """The loan the visit is about (zeros when the borrower has none on file)."""

    amount: Decimal = Decimal(0)
    disbursed_on: date | None = None
    purpose: str = ""
    product: str = ""
    overdue_amount: Decimal = Decimal(0)
    overdue_days: int = 0


class OfficerFacts(_Facts):
    """The officer making the visit."""

    name: str = ""
    phone: str = ""


class VisitRef(_Facts):
    """The visit itself (id 0 in a dry run)."""

    id: int = 0
    channel: str = "phone"


class VisitFacts(_Facts):
    """Everything a script's lines and conditions can read (``{{ borrower.name }}``, ``loan.amount`` …)."""

    borrower: BorrowerFacts
    loan: LoanFacts
    officer: OfficerFacts
    institution: str
    today: date
    visit: VisitRef

    @classmethod
    def of(
        cls,
        borrower: Borrower,
        loan: Loan | None,
        officer: User | None,
        *,
        institution: str,
        now: datetime,
        visit_id: int = 0,
        channel: str = "phone",
    ) -> VisitFacts:
        """The facts of a visit to ``borrower``; ``today`` is the borrower's own date at ``now``."""
        return cls(
            borrower=BorrowerFacts(
                code=borrower.code,
                name=borrower.name,
                phone=borrower.phone or "",
                business=borrower.business or "",
                risk_tier=borrower.risk_tier or "low",
            ),
            loan=LoanFacts(
                amount=loan.amount,
                disbursed_on=loan.disbursed_on,
                purpose=loan.purpose,
                product=loan.product,
                overdue_amount=loan.overdue_amount or Decimal(0),
                overdue_days=loan.overdue_days or 0,
            )
            if loan is not None
            else LoanFacts(),
            officer=OfficerFacts(name=officer.name, phone=officer.phone or "") if officer else OfficerFacts(),
            institution=institution,
            today=now.astimezone(ZoneInfo(borrower.timezone or "Asia/Shanghai")).date(),
            visit=VisitRef(id=visit_id, channel=channel),
        )

    def context(self) -> dict[str, Any]:
        """The facts as the plain mapping the engine renders scripts with."""
        return self.model_dump()
