"""Phone and ID numbers are masked by the viewer's role (the matrix in bot/desk/access.py), every cell."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from bot.cli import app
from bot.desk.access import RELATIONS, SEES_NUMBERS, relation, sees_numbers
from bot.desk.records import view_record
from storage.models import Borrower, User
from tests.bot import planted

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
FINISHED = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
EXPECTED = {
    ("admin", "own"): True, ("admin", "team"): True, ("admin", "other"): True,
    ("supervisor", "own"): True, ("supervisor", "team"): True, ("supervisor", "other"): False,
    ("officer", "own"): True, ("officer", "team"): False, ("officer", "other"): False,
}  # fmt: skip
"""The decided matrix, written out again: a change to access.SEES_NUMBERS must change this test too."""


def test_the_matrix_has_every_role_and_relation_and_says_what_was_decided() -> None:
    assert {(role, r) for role, cells in SEES_NUMBERS.items() for r in cells} == set(EXPECTED)
    assert {role: dict(cells) for role, cells in SEES_NUMBERS.items()} == {
        role: {r: EXPECTED[(role, r)] for r in RELATIONS} for role in ("admin", "supervisor", "officer")
    }


def _people() -> tuple[dict[str, User], dict[str, Borrower]]:
    """Viewers of each role in team 东 and borrowers standing to them as own, team and other (not stored)."""
    viewers = {
        "admin": User(id=1, name="管理员", role="admin", team="东"),
        "supervisor": User(id=2, name="主管", role="supervisor", team="东"),
        "officer": User(id=3, name="信贷员甲", role="officer", team="东"),
    }
    colleague = User(id=4, name="信贷员乙", role="officer", team="东")
    stranger = User(id=5, name="信贷员丙", role="officer", team="西")
    borrowers = {f"own:{role}": Borrower(code=role, officer_id=v.id, officer=v) for role, v in viewers.items()}
    borrowers["team"] = Borrower(code="T", officer_id=colleague.id, officer=colleague)
    borrowers["other"] = Borrower(code="O", officer_id=stranger.id, officer=stranger)
    return viewers, borrowers


@pytest.mark.parametrize(("role", "rel"), sorted(EXPECTED))
def test_sees_numbers_cell(role: str, rel: str) -> None:
    viewers, borrowers = _people()
    viewer = viewers[role]
    borrower = borrowers[f"own:{role}"] if rel == "own" else borrowers[rel]
    assert relation(viewer, borrower) == rel
    assert sees_numbers(viewer, borrower) is EXPECTED[(role, rel)]


def test_unknown_roles_and_nobodys_borrowers_are_masked() -> None:
    viewers, _ = _people()
    assert not sees_numbers(User(id=9, name="?", role="auditor", team="东"), Borrower(code="X", officer_id=9))
    orphan = Borrower(code="N", officer_id=None, officer=None)
    assert relation(viewers["supervisor"], orphan) == "other" and not sees_numbers(viewers["officer"], orphan)
    assert relation(User(id=7, name="无组", role="officer", team=None), Borrower(code="Y", officer_id=8)) == "other"


def _shows_numbers(record: dict[str, object]) -> bool:
    """True when the record holds the borrower's phone, the phone answer or the ID number in full."""
    text = json.dumps(record, ensure_ascii=False)
    full = [planted.PHONE[3:], "1234 5678", planted.ID_NUMBER, "13900001111"]
    if any(number in text for number in full):
        assert all(number in text for number in full), "masked in some places only"
        return True
    assert "138****5678" in text and "**************1234" in text
    return False


async def test_view_record_masks_every_cell_of_the_matrix(
    sessions: async_sessionmaker[AsyncSession], staff: dict[str, User]
) -> None:
    officer, colleague, stranger = staff["officer"], staff["colleague"], staff["stranger"]
    owners = {role: staff[role] for role in ("admin", "supervisor", "officer")}
    async with sessions() as session, session.begin():
        visits = {}  # every visit recorded by the officer, so every viewer may see it
        for name, owner in [*owners.items(), ("team", colleague), ("other", stranger)]:
            borrower = await planted.borrower(session, f"M-{name}", owner)
            visits[name] = (await planted.visit(session, borrower, officer, finished_at=FINISHED)).id
    for (role, rel), full in sorted(EXPECTED.items()):
        async with sessions() as session:
            viewer = await session.get(User, owners[role].id)
            assert viewer is not None
            record = await view_record(session, viewer, visits[role if rel == "own" else rel], now=NOW)
        assert record is not None, (role, rel)
        assert _shows_numbers(record) is full, (role, rel)
        assert record["masked"] is not full
    async with sessions() as session:  # a visit the viewer may not see: nothing, and nothing audited
        other_officer = await session.get(User, stranger.id)
        assert other_officer is not None
        assert await view_record(session, other_officer, visits["other"], now=NOW) is None


def test_cli_show_and_export_mask_for_an_officer_given_with_as(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    env = {"VISITBOT_DATABASE_URL": url, "VISITBOT_LOCALE": "en", "VISITBOT_FILES_DIR": str(tmp_path / "files")}
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0

    async def plant() -> None:
        async with planted.transaction(url) as session:
            officer = await planted.user(session, "信贷员甲", "officer", "东", telegram_id=1001)
            colleague = await planted.user(session, "信贷员乙", "officer", "东", telegram_id=1002)
            await planted.visit(session, await planted.borrower(session, "B1", officer), officer, finished_at=FINISHED)
            await planted.visit(
                session, await planted.borrower(session, "B2", colleague), officer, finished_at=FINISHED
            )

    asyncio.run(plant())
    shown = {}
    for who in ([], ["--as", "1001"], ["--as", "1002"]):
        for visit in ("1", "2"):
            result = runner.invoke(app, ["visits", "show", visit, "--json", *who], env=env)
            shown[(tuple(who), visit)] = result
    as_admin = json.loads(shown[((), "2")].stdout)
    assert as_admin["borrower"]["phone"] == "+8613900001111" and not as_admin["masked"]
    own = json.loads(shown[(("--as", "1001"), "1")].stdout)
    assert not own["masked"] and planted.ID_NUMBER in json.dumps(own, ensure_ascii=False)
    colleagues = json.loads(shown[(("--as", "1001"), "2")].stdout)
    assert colleagues["masked"] and colleagues["borrower"]["phone"] == "+86 139****1111"
    assert planted.ID_NUMBER not in json.dumps(colleagues, ensure_ascii=False)
    human = runner.invoke(app, ["visits", "show", "2", "--as", "1001"], env=env)
    assert human.exit_code == 0 and "138****5678" in human.stdout and "13812345678" not in human.stdout
    assert shown[(("--as", "1002"), "1")].exit_code == 1  # not the colleague's visit to see at all
    unknown = runner.invoke(app, ["visits", "show", "1", "--as", "4242"], env=env)
    assert unknown.exit_code == 2 and "4242" in unknown.stderr

    sheet = tmp_path / "officer.xlsx"
    assert runner.invoke(app, ["export", "-o", str(sheet), "--as", "1001"], env=env).exit_code == 0
    rows = list(load_workbook(sheet)["visits"].iter_rows(values_only=True))
    by_code = {row[1]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert by_code["B1"]["needs"] == f"身份证{planted.ID_NUMBER}"
    assert by_code["B2"]["needs"] == "身份证**************1234" and by_code["B2"]["new_phone"] == "138****5678"
