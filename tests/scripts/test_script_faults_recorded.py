"""A script condition that fails at run time is kept in the visit's record, and the visit goes on."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.desk import Actor
from dialogs.answers import Reply
from dialogs.engine import Submit
from storage import repositories as repo
from storage.demo import load_demo
from tests.scripts.test_script_pins import desk_for
from tests.scripts.test_script_safety import script

OFFICER = Actor("officer", None)


def test_a_failing_condition_is_noted_in_the_transcript_and_the_visit_finishes(tmp_path: Path, sqlite_url: str) -> None:
    folder = tmp_path / "scripts"
    folder.mkdir()
    (folder / "safety.yaml").write_text(script("100 / answer > 5", kind="integer"), encoding="utf-8")

    async def run() -> tuple[bool, list[tuple[str, str, str]]]:
        desk = desk_for(sqlite_url, folder)
        async with desk.sessions() as session, session.begin():
            await load_demo(session)
        reply = await desk.begin("B001", actor=OFFICER, officer_id=None, script_id="safety", locale="en")
        reply = await desk.act(reply.visit_id, Submit(Reply(text="0")), actor=OFFICER, said="0")
        async with desk.sessions() as session:
            rows = await repo.visit_transcript(session, reply.visit_id)
        return reply.turn.finished, [(r.direction, r.actor, r.text) for r in rows]

    finished, rows = asyncio.run(run())
    assert finished
    notes = [(actor, text) for direction, actor, text in rows if direction == "note"]
    assert len(notes) == 1 and notes[0][0] == "system"
    assert "'100 / answer > 5'" in notes[0][1] and "taken as false" in notes[0][1]
