"""What one answer costs through the real Telegram path (counts, not times): it reads the sender and the
chat together, and records the answer in one transaction. A press is shown by one edit of the pressed
message, which the visit's own UPDATE says shows its next question: one commit, no chat row written; a
typed answer's next question is a new message, noted in a second commit once sent; a visit's end
detaches the chat in the answer's own transaction (16 statements over 5.7 transactions and 3 commits
before issue 13; 9.9 over 3 and 2 before the edit in place; 8.3 before the answer row claimed its
update; 7.3 before the visit was read with the sender and a visit's end became one UPDATE of it; 5.7
before where the question shows became the visit's). Telegram's ~30 messages a second apply to one Bot
API call per answer (two before). The sender is read on a connection of its own, in no transaction."""

from __future__ import annotations

from bench.telegram_path import FIRST_OFFICER, Plan, measure


async def test_a_press_costs_one_commit_and_an_answer_one_rate_limited_call(database_url: str) -> None:
    plan = Plan(sequential=2, at_once=(20,), shipped_answers=1)
    sequential, together = await measure(database_url, limited=False, first=FIRST_OFFICER, plan=plan)
    assert sequential.failed == 0 and sequential.finished == plan.sequential and sequential.answers > 10
    presses, typed = sequential.calls["editMessageText"], sequential.calls["sendMessage"]
    assert presses + typed == sequential.answers, "each answer shown by one edit or one new message"
    assert sequential.limited == sequential.answers  # the calls Telegram's 30/s applies to: one per answer
    assert presses > 2 * typed, "the bench's visit is mostly presses"
    # one commit per press and per visit's end; a typed answer notes the message sent in a second
    assert sequential.db["commit"] <= presses + 2 * typed
    assert sequential.per_answer(sequential.db["commit"]) <= 1.25
    # a press: the sender with the chat and its visit, the answer (its update's claim), the visit's progress
    # (and where its next question shows), the transcript line; a typed answer notes its next question once
    # sent; the last answer judges the visit and detaches the chat: 4.7 (5.9 before, 7.3 before that)
    assert sequential.per_answer(sequential.db["sql"]) <= 4.8
    if database_url.startswith("sqlite"):  # a write transaction's statements after its first write, and a
        # session that wrote nothing as it ends, cost no hop to the connection's thread: 3.6 (10.5 before)
        assert sequential.per_answer(sequential.db["hops"]) <= 4.0
    # who sent it is read on a connection of its own, in no transaction (autocommit on PostgreSQL): no BEGIN,
    # no ROLLBACK; SQLite's writes roll nothing back either
    assert sequential.db["rollback"] == 0 and sequential.db["autocommit"] == 0
    assert sequential.per_answer(sequential.db["begin"]) <= 1.25, "one transaction per press"
    # 20 at once: answers share commits (group commit), and so do the notes of the message a typed answer's
    # next question went out in and of a visit's end (0.5 commits per answer when those had their own)
    assert together.failed == 0 and together.finished == 20
    if database_url.startswith("sqlite"):  # one writer (PostgreSQL runs four batches at once: smaller ones)
        assert together.per_answer(together.db["commit"]) <= 0.35
