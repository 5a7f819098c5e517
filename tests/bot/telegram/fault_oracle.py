"""The database as the oracle of a fault test: what a person was shown and saw acknowledged, held
against the answers that stand; and a database that stops answering, for the hung-database scenarios."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from sqlalchemy import select

from storage.chats import chat_view
from storage.db import make_engine, make_sessionmaker
from storage.models import Answer, Borrower, Visit
from tests.botapi import BotApiDouble, FakeUser
from tests.botapi.people import Intent, Person

ERROR_TEXT = "出了点问题"


@dataclass(frozen=True)
class Recorded:
    """One answer that stands in the record."""

    question: str
    raw: str
    display: str
    skipped: bool


async def answers_of(
    database_url: str, code: str, script_id: str
) -> tuple[tuple[str, str | None] | None, list[Recorded]]:
    """The status and outcome of the borrower's latest visit of this script, and its answers that
    stand (not taken back)."""
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            visit = (
                await conn.execute(
                    select(Visit.id, Visit.status, Visit.outcome)
                    .join(Borrower, Borrower.id == Visit.borrower_id)
                    .where(Borrower.code == code, Visit.script_id == script_id)
                    .order_by(Visit.id.desc())
                    .limit(1)
                )
            ).first()
            if visit is None:
                return None, []
            rows = await conn.execute(
                select(Answer.question, Answer.raw, Answer.display, Answer.skipped).where(
                    Answer.visit_id == visit.id, Answer.undone_at.is_(None)
                )
            )
            return (visit.status, visit.outcome), [Recorded(*row) for row in rows]
    finally:
        await engine.dispose()


def _as_intended(answer: Recorded, intent: Intent) -> bool:
    if intent.label is None:
        return answer.raw == intent.act
    return intent.label in (answer.display, answer.raw)


async def problems_of(
    double: BotApiDouble, database_url: str, person: Person, code: str, script_id: str, *, spin_limit: float
) -> list[str]:
    """Everything the record and the chat got wrong for this person (empty when all is well)."""
    journey = person.journey
    print(f"{person.user!r} on {code}:", journey.explain(), sep="\n")  # shown with -rP, and on failure
    visit, answers = await answers_of(database_url, code, script_id)
    found: list[str] = []
    if not journey.finished or visit is None or visit[0] != "finished":
        found.append(f"stranded: {journey.stranded or 'did not finish'} (visit in the database: {visit})")
    recorded = {a.question: a for a in answers}
    for question, shown in journey.acknowledged.items():
        if question not in recorded:
            found.append(f"lost: {question!r} was acknowledged as {shown!r} but is not in the record")
    for answer in answers:
        if answer.question not in journey.shown:
            found.append(f"misfiled: {answer.raw!r} recorded for {answer.question!r}, never shown as a question")
        intent = next((i for i in person.plan if i.question in answer.question), None)
        if intent is not None and not _as_intended(answer, intent):
            found.append(f"misfiled: {answer.question!r} recorded as {answer.raw!r}, meant {intent.act!r}")
    spinning = set(double.spinning(spin_limit)) & set(journey.queries)
    if spinning:
        waits = [double.press_latency(q) for q in journey.queries if q in spinning]
        shown = ", ".join("never answered" if w is None else f"answered after {w:.1f}s" for w in waits)
        found.append(f"{len(spinning)} of {len(journey.queries)} presses left spinning over {spin_limit}s: {shown}")
    return found


def report(person: Person, problems: list[str], double: BotApiDouble) -> str:
    """A failure message: the problems, the person's journey and the faults that fired."""
    fired = [f"{f.method}:{f.fault}" for f in double.faults_fired]
    return "\n".join([*problems, person.journey.explain(), f"faults fired: {fired}"])


def false_errors(user: FakeUser) -> list[str]:
    """Error messages the user was shown although every fault was Telegram's, not the visit's."""
    return [m.text or "" for m in user.messages if ERROR_TEXT in (m.text or "")]


def hold_write_lock(database_file: str, seconds: float) -> None:
    """Take SQLite's write lock from outside the bot and keep it (a database that stops answering)."""
    db = sqlite3.connect(database_file, timeout=30, isolation_level=None)
    try:
        db.execute("BEGIN EXCLUSIVE")
        time.sleep(seconds)
        db.execute("ROLLBACK")
    finally:
        db.close()


async def chat_shows(database_url: str, chat_id: int, message_id: int) -> bool:
    """Whether the bot has noted that this message shows the chat's question (a read: WAL never waits)."""
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            chat = await chat_view(session, chat_id)
            return chat is not None and chat.message_id == message_id
    finally:
        await engine.dispose()
