"""bench.telegram_path drives real visits through the application: every answer answered, every visit ended."""

from __future__ import annotations

from sqlalchemy import func, select

from bench.telegram_path import FIRST_OFFICER, Plan, measure
from storage.db import make_engine, make_sessionmaker
from storage.models import Visit


async def test_each_conversation_runs_its_visit_to_the_end(database_url: str) -> None:
    plan = Plan(sequential=1, at_once=(3,), shipped_answers=1)
    sequential, together = await measure(database_url, limited=False, first=FIRST_OFFICER, plan=plan)
    for phase in (sequential, together):
        assert phase.failed == 0 and phase.stuck == 0
        assert phase.finished == phase.at_once  # each conversation saw its visit end
        assert len(phase.latencies) == phase.answers > 0  # each answer was followed by the next question
        assert phase.db["commit"] > 0 and phase.calls["sendMessage"] > 0  # the counters see the engine and the API
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            ended = await session.scalar(
                select(func.count()).where(Visit.status == "finished", Visit.outcome == "completed")
            )
            total = await session.scalar(select(func.count()).select_from(Visit))
    finally:
        await engine.dispose()
    assert ended == total == 1 + 1 + 3  # the warm-up's, the sequential one's and the three at once
