"""Risk that remembers, on site (现场回访): two finished on-site visits of the same borrower a month apart, walked
through the desk; staff and stock halved or worse raise ``staff_collapse`` and ``stock_collapse`` with both values
and both visits in the visit record and in ``visitbot visits show --json``; the same counts raise neither."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.desk import Actor, FixedClock, VisitDesk
from bot.desk.evidence import evidence_lines
from bot.desk.files import keep
from bot.desk.records import visit_record
from dialogs.answers import Reply
from dialogs.engine import Event, Skip, Submit
from dialogs.schema import AnswerKind
from storage import repositories as repo
from tests.desks import demo_desk

WANG = Actor("officer", 1)  # 王磊: B001 is his
NOW = "2026-10-05T10:00:00+08:00"
HOME = (31.2304, 121.4737)
ONSITE = {  # the on-site visit answered as in tests/bot/test_quality.py
    AnswerKind.CHOICE: "2",
    AnswerKind.MULTI: "1,2",
    AnswerKind.YESNO: "否",
    AnswerKind.INTEGER: "6",
    AnswerKind.MONEY: "20000",
    AnswerKind.PERCENT: "15",
    AnswerKind.TEXT: "门店正常营业，库存充足",
}
COLLAPSES = ("staff_collapse", "stock_collapse")


@pytest.fixture
async def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
async def desk(database_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[VisitDesk]:
    async with demo_desk(database_url, clock=clock, files_dir=str(tmp_path / "kept")) as made:
        yield made


async def onsite(desk: VisitDesk, clock: FixedClock, code: str, *, staff: int, stock: int) -> int:
    """An on-site visit a month after the last, ``staff`` employees and stock worth ``stock`` yuan; its id."""
    clock.advance(days=30)
    reply = await desk.begin(code, actor=WANG, officer_id=1, script_id="onsite_visit", channel="onsite")
    while not reply.turn.finished:
        prompt = reply.turn.prompt
        assert prompt is not None
        clock.advance(seconds=8)
        kept = None
        if prompt.kind is AnswerKind.PHOTO:
            if prompt.can_skip:
                event: Event = Skip()
            else:
                kept = await keep(desk.files, b"\xff\xd8 shop front", f"{prompt.step}.jpg")
                event = Submit(Reply(photo=kept.key))
        elif prompt.kind is AnswerKind.LOCATION:
            event = Submit(Reply(location=HOME))
        elif prompt.step == "pre_check_licence":
            event = Submit(Reply(text="是"))
        elif prompt.step in ("staff_total", "staff_on_site"):
            event = Submit(Reply(text=str(staff)))
        elif prompt.step == "stock_value":
            event = Submit(Reply(text=str(stock)))
        else:
            event = Submit(Reply(text=ONSITE[prompt.kind]))
        reply = await desk.act(reply.visit_id, event, actor=WANG, said="…", attachment=kept)
        assert reply.turn.error is None, (prompt.step, reply.turn.error)
    return reply.visit_id


async def history_flags(desk: VisitDesk, visit_id: int) -> dict[str, dict[str, Any]]:
    """The visit's live history flags by code (their visit record entries)."""
    async with desk.sessions() as session:
        visit = await repo.load_visit(session, visit_id)
        assert visit is not None
        record = await visit_record(session, visit)
    return {f["code"]: f for f in record["flags"] if f["kind"] == "history"}


def check_collapse(flags: dict[str, dict[str, Any]], first: int, second: int) -> None:
    """Both collapse flags raised, high, each with this visit's and the earlier visit's value and id."""
    assert set(COLLAPSES) <= set(flags), flags
    staff, stock = flags["staff_collapse"], flags["stock_collapse"]
    for flag in (staff, stock):
        assert flag["kind"] == "history" and flag["severity"] == "high"
        assert flag["evidence"]["now"]["visit"] == second
        assert [b["visit"] for b in flag["evidence"]["before"]] == [first]
    assert staff["evidence"]["rule"] == "staff_collapse"
    assert staff["evidence"]["before"][0]["values"] == {"staff": 6}
    assert staff["evidence"]["now"]["values"] == {"staff": 3}
    assert stock["evidence"]["rule"] == "stock_collapse"
    assert stock["evidence"]["before"][0]["values"] == {"stock": 20000}
    assert stock["evidence"]["now"]["values"] == {"stock": 8000}


async def test_staff_and_stock_halved_raise_both_collapses(desk: VisitDesk, clock: FixedClock) -> None:
    first = await onsite(desk, clock, "B001", staff=6, stock=20000)
    assert await history_flags(desk, first) == {}
    second = await onsite(desk, clock, "B001", staff=3, stock=8000)
    flags = await history_flags(desk, second)
    check_collapse(flags, first, second)
    assert "员工人数" in flags["staff_collapse"]["note"] and "库存价值" in flags["stock_collapse"]["note"]
    staff = evidence_lines("history", "staff_collapse", flags["staff_collapse"]["evidence"], "zh-CN")
    assert staff == [f"员工人数：#{first}（2026-11-04）6 → 本次 3"]
    stock = evidence_lines("history", "stock_collapse", flags["stock_collapse"]["evidence"], "en")
    assert stock == [f"Stock value: #{first} (2026-11-04) 20000 → this visit 8000"]


async def test_the_same_staff_and_stock_raise_neither(desk: VisitDesk, clock: FixedClock) -> None:
    first = await onsite(desk, clock, "B001", staff=6, stock=20000)
    second = await onsite(desk, clock, "B001", staff=6, stock=20000)
    flags = await history_flags(desk, second)
    assert not set(COLLAPSES) & set(flags), flags
    assert await history_flags(desk, first) == {}


def test_visits_show_json_holds_both_collapses(database_url: str, tmp_path: Path) -> None:
    from bot.cli import app

    async def plant() -> tuple[int, int]:
        clock = FixedClock(NOW)
        async with demo_desk(database_url, clock=clock, files_dir=str(tmp_path / "kept")) as made:
            first = await onsite(made, clock, "B001", staff=6, stock=20000)
            return first, await onsite(made, clock, "B001", staff=3, stock=8000)

    first, second = asyncio.run(plant())
    env = {"VISITBOT_DATABASE_URL": database_url, "VISITBOT_LOCALE": "zh-CN", "VISITBOT_FILES_DIR": str(tmp_path)}
    shown = CliRunner().invoke(app, ["visits", "show", str(second), "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    record = json.loads(shown.stdout)
    flags = {f["code"]: f for f in record["flags"] if f["kind"] == "history"}
    check_collapse(flags, first, second)
