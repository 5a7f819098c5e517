"""What one answer costs the database through the real Telegram path (counts, not times): it reads the
sender and the chat together, records the answer and points the chat in one transaction, and notes the
delivered question in a second (16 statements over 5.7 transactions and 3 commits before issue 13)."""

from __future__ import annotations

from bench.telegram_path import FIRST_OFFICER, Plan, measure


async def test_an_answer_costs_three_transactions_and_two_commits(database_url: str) -> None:
    plan = Plan(sequential=2, at_once=(1,), shipped_answers=1)
    sequential, _ = await measure(database_url, limited=False, first=FIRST_OFFICER, plan=plan)
    assert sequential.failed == 0 and sequential.answers > 10
    assert sequential.per_answer(sequential.db["commit"]) <= 2.0  # the answer's, the delivered question's
    assert sequential.per_answer(sequential.db["begin"]) <= 3.0  # and the read of who is answering
    assert sequential.per_answer(sequential.db["sql"]) <= 10.5  # the visit's last answer judges it whole
