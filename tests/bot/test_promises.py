"""Promises to pay, closed loop (seed 004), on SQLite and PostgreSQL, with a frozen clock.

Two overdue calls end with a promise each (B007: 3000 by 3 December; B008: 4500 by 3 December). On
the day, inside the borrower's contact window, B008 (on Telegram) gets the promise check-in and says
"paid"; B007's officer gets a task. Then a repayments file comes in through ``visitbot import
repayments``: B007 paid, B008 did not — one promise kept, one broken (despite the borrower's word),
with its flag, evidence, alert, the next month's plan and the visit's page on the web desk.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import time_machine
from sqlalchemy import select
from starlette.testclient import TestClient
from typer.testing import CliRunner

from bot.app import make_services
from bot.cli import app
from bot.desk import Actor, FixedClock, VisitDesk, planning
from bot.desk.digest import build_digests, digest_payload
from bot.desk.evidence import evidence_lines
from bot.desk.outbox import render
from bot.desk.promises import check_promises
from bot.desk.weblogin import WebLogins
from bot.settings import Settings
from bot.web import build_app
from dialogs.answers import Reply
from dialogs.catalog import ScriptCatalog
from dialogs.engine import Submit
from storage.db import make_engine, make_sessionmaker
from storage.demo import load_demo
from storage.models import Borrower, Loan, OutboxMessage, Promise, RiskFlag, Task, User, Visit

CALLED = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
"""Tuesday 1 December, 10:00 in Shanghai: the overdue calls."""
DAY_BEFORE = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
EARLY = datetime(2026, 12, 2, 23, 0, tzinfo=UTC)
"""3 December, 07:00 in Shanghai: the promised day, before the contact window opens."""
ON_THE_DAY = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
"""3 December, 10:00 in Shanghai: inside the window."""
AFTER_GRACE = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
"""5 December: 3 December plus the one grace day has passed."""
WINDOW = {"contact_window_start": "08:00", "contact_window_end": "21:00"}
BORROWER_CHAT = 880008
SUPERVISOR_CHAT = 990003
PROMISES = {"B007": ("2026-12-03", "3000"), "B008": ("2026-12-03", "4500")}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def _settings(url: str, tmp: Path) -> Settings:
    return Settings(database_url=url, files_dir=str(tmp / "files"), web_url="http://testserver", **WINDOW)


def _env(url: str) -> dict[str, str]:
    return {
        "VISITBOT_DATABASE_URL": url,
        "VISITBOT_LOCALE": "en",
        "VISITBOT_CONTACT_WINDOW_START": "08:00",
        "VISITBOT_CONTACT_WINDOW_END": "21:00",
        "COLUMNS": "250",
    }


def _write(path: Path, rows: list[tuple[str, str, str, str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["contract_no", "due_on", "amount_due", "amount_paid", "paid_on"])
        out.writerows(rows)
    return path


def _import(url: str, path: Path, at: datetime, *extra: str) -> str:
    with time_machine.travel(at, tick=False):
        result = CliRunner().invoke(app, ["import", "repayments", str(path), *extra], env=_env(url))
    assert result.exit_code == 0, result.output
    return result.output


async def _prepare(settings: Settings) -> dict[str, str]:
    """The demo; B008 on Telegram; 刘主管 on Telegram (for the web desk); the loans' contract numbers."""
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await load_demo(session)
            b008 = await session.scalar(select(Borrower).where(Borrower.code == "B008"))
            assert b008 is not None
            b008.telegram_id = BORROWER_CHAT
            boss = await session.scalar(select(User).where(User.role == "supervisor"))
            assert boss is not None
            boss.telegram_id = SUPERVISOR_CHAT
            rows = await session.execute(
                select(Borrower.code, Loan.contract_no).join(Loan, Loan.borrower_id == Borrower.id)
            )
            return {code: number for code, number in rows.all() if code in PROMISES}
    finally:
        await engine.dispose()


async def _call(desk: VisitDesk, code: str) -> int:
    """An overdue reminder that ends with the borrower's promise (cash flow, within a week, date, amount)."""
    day, amount = PROMISES[code]
    async with desk.sessions() as session:
        borrower = await session.scalar(select(Borrower).where(Borrower.code == code))
        assert borrower is not None and borrower.officer_id is not None
    actor = Actor("officer", borrower.officer_id)
    started = await desk.begin(code, actor=actor, officer_id=None, script_id="overdue_reminder")
    for text in ["1", "2", "1", day, amount]:
        reply = await desk.act(started.visit_id, Submit(Reply(text=text)), actor=actor, said=text)
        assert reply.turn.error is None, reply.turn.error
    assert reply.turn.finished
    return started.visit_id


async def _checkin(desk: VisitDesk, code: str, answers: list[str]) -> int:
    """The borrower's own promise check-in, as the Telegram front-end runs it after the invite."""
    started = await desk.begin(
        code, actor=Actor("borrower"), officer_id=None, script_id="promise_checkin", channel="self"
    )
    for text in answers:
        reply = await desk.act(started.visit_id, Submit(Reply(text=text)), actor=Actor("borrower"), said=text)
        assert reply.turn.error is None, reply.turn.error
    assert reply.turn.finished
    return started.visit_id


async def _rows(desk: VisitDesk, model: Any, *where: Any) -> list[Any]:
    async with desk.sessions() as session:
        return list((await session.scalars(select(model).where(*where).order_by(model.id))).unique().all())


async def _promise(desk: VisitDesk, code: str) -> Promise:
    [promise] = await _rows(desk, Promise, Promise.borrower_id == Borrower.id, Borrower.code == code)
    return promise


def test_a_promise_kept_and_one_broken_from_an_imported_repayments_file(database_url: str, tmp_path: Path) -> None:
    settings = _settings(database_url, tmp_path)
    contracts = run(_prepare(settings))
    due = _write(tmp_path / "due.csv", [(contracts[c], "2026-11-25", PROMISES[c][1], "0", "") for c in PROMISES])
    assert "0 kept, 0 broken" in _import(database_url, due, CALLED)  # both loans overdue now, nothing promised
    clock = FixedClock(CALLED)

    async def calls_and_follow_ups() -> dict[str, int]:
        engine = make_engine(database_url)
        desk = VisitDesk(make_sessionmaker(engine), ScriptCatalog(), settings, clock)
        try:
            visits = {code: await _call(desk, code) for code in PROMISES}
            for code, (day, amount) in PROMISES.items():  # kept as the call recorded it
                promise = await _promise(desk, code)
                assert (promise.visit_id, promise.promised_on.isoformat()) == (visits[code], day)
                assert (promise.amount, promise.status, promise.made_at) == (Decimal(amount), "pending", CALLED)
                [visit] = await _rows(desk, Visit, Visit.id == visits[code])
                assert promise.officer_id == visit.officer_id and promise.loan_id == visit.loan_id
            for at in (DAY_BEFORE, EARLY):  # not before the day, nor outside the borrower's window
                clock.set(at)
                done = await check_promises(desk.sessions, settings, clock=clock)
                assert done.invited == done.tasked == [], at
            clock.set(ON_THE_DAY)
            first, second = await asyncio.gather(  # two bot processes' passes at once: one follow-up each
                check_promises(desk.sessions, settings, clock=clock),
                check_promises(desk.sessions, settings, clock=clock),
            )
            b007, b008 = await _promise(desk, "B007"), await _promise(desk, "B008")
            assert sorted(first.invited + second.invited) == [b008.id]
            assert sorted(first.tasked + second.tasked) == [b007.id]
            again = await check_promises(desk.sessions, settings, clock=clock)
            assert again.invited == again.tasked == []  # once only
            assert b007.followed_up_at == b008.followed_up_at == ON_THE_DAY
            invites = await _rows(desk, OutboxMessage, OutboxMessage.kind == "invite")
            assert [(m.chat_id, m.payload["key"]) for m in invites] == [(BORROWER_CHAT, "promise_checkin_invite")]
            assert invites[0].payload["params"]["amount"] == "4,500元"
            [task] = await _rows(desk, Task, Task.kind == "promise")
            assert (task.borrower_id, task.visit_id, task.id) == (
                b007.borrower_id,
                visits["B007"],
                b007.follow_up_task_id,
            )
            [notice] = await _rows(desk, OutboxMessage, OutboxMessage.task_id == task.id)
            assert notice.user_id == b007.officer_id and notice.payload["key"] == "promise_task_notice"
            async with desk.sessions() as session:  # the officer's morning digest lists it with the call-backs
                [digest] = await build_digests(session, [task.officer_id], "Asia/Shanghai", date(2026, 12, 3), settings)
            text = render(digest_payload(digest), "zh-CN", "Asia/Shanghai").text
            assert "承诺 2026-12-03 还款 3000.00 元：请核实是否到账" in text
            checkin = await _checkin(desk, "B008", ["1", "1"])  # agrees, "paid"
            b008 = await _promise(desk, "B008")
            assert (b008.claimed_paid_at, b008.claim_visit_id, b008.status) == (ON_THE_DAY, checkin, "pending")
            return visits
        finally:
            await engine.dispose()

    visits = run(calls_and_follow_ups())
    listed = CliRunner().invoke(app, ["promises", "--json"], env=_env(database_url))
    assert listed.exit_code == 0, listed.output
    claims = {p["borrower"]["code"]: p["claim"] for p in json.loads(listed.output)}
    assert claims == {"B007": None, "B008": "unverified"}
    tasks = CliRunner().invoke(app, ["tasks"], env=_env(database_url))
    assert "promise to pay: follow up" in tasks.output and "promised 3000.00 yuan by 2026-12-03" in tasks.output

    paid = _write(
        tmp_path / "paid.csv",
        [
            (contracts["B007"], "2026-11-25", "3000", "3000", "2026-12-03"),
            (contracts["B008"], "2026-11-25", "4500", "0", ""),
        ],
    )
    assert "Promises to pay" not in _import(database_url, paid, AFTER_GRACE, "--dry-run")  # decides nothing
    said = _import(database_url, paid, AFTER_GRACE)
    assert "Promises to pay: 1 kept, 1 broken" in said

    async def decided() -> None:
        engine = make_engine(database_url)
        desk = VisitDesk(make_sessionmaker(engine), ScriptCatalog(), settings, FixedClock(AFTER_GRACE))
        try:
            kept, broken = await _promise(desk, "B007"), await _promise(desk, "B008")
            assert (kept.status, kept.paid_amount, kept.decided_at) == ("kept", Decimal(3000), AFTER_GRACE)
            assert (broken.status, broken.paid_amount) == ("broken", Decimal(0))
            assert await _rows(desk, RiskFlag, RiskFlag.visit_id == visits["B007"], RiskFlag.kind == "promise") == []
            [flag] = await _rows(desk, RiskFlag, RiskFlag.visit_id == visits["B008"], RiskFlag.kind == "promise")
            assert (flag.code, flag.severity) == ("broken_promise", "high")
            assert flag.evidence is not None
            assert {k: flag.evidence[k] for k in ("promise", "visit", "promised_on", "amount", "paid")} == {
                "promise": broken.id, "visit": visits["B008"], "promised_on": "2026-12-03", "amount": "4500.00",
                "paid": "0",
            }  # fmt: skip
            lines = evidence_lines("promise", flag.code, flag.evidence, "zh-CN")
            assert lines[0] == f"承诺 #{broken.id}：2026-12-03 前还款 4,500元（回访 #{visits['B008']} 中约定）"
            assert "2026-12-01 至 2026-12-04（含宽限 1 天）还款记录显示已还 0元" in lines[1]
            assert "借款人曾自称已还款（2026-12-03），还款记录未能证实" in lines[2]
            [visit] = await _rows(desk, Visit, Visit.id == visits["B008"])
            assert visit.review_rank is not None and visit.review_rank < 1000  # high first
            boss = (await _rows(desk, User, User.role == "supervisor"))[0]
            alerts = await _rows(desk, OutboxMessage, OutboxMessage.kind == "alert", OutboxMessage.visit_id == visit.id)
            assert [(a.user_id, a.payload["params"]["flag"]["code"]) for a in alerts] == [(boss.id, "broken_promise")]
            again = await check_promises(desk.sessions, settings, clock=desk.clock)
            assert again.kept == again.broken == []  # decided once
            # the next plan: B008 is in it for the broken promise, B007 is not
            await planning.make_plan(desk.sessions, settings, desk.clock, "2027-01", seed=1)
            lines_ = {line.borrower_code: line for line in await planning.plan_lines(desk.sessions, "2027-01")}
            assert "broken_promise" in lines_["B008"].reasons
            assert "B007" not in lines_ or "broken_promise" not in lines_["B007"].reasons
        finally:
            await engine.dispose()

    run(decided())
    listed = CliRunner().invoke(app, ["promises", "list", "--status", "broken"], env=_env(database_url))
    assert listed.exit_code == 0 and "B008" in listed.output and "B007" not in listed.output
    assert "broken (borrower says paid (unverified))" in listed.output

    # the web desk: the supervisor reads both visits' promises
    svc = make_services(settings, FixedClock(AFTER_GRACE))
    with TestClient(build_app(svc, own_services=True)) as client:

        async def link() -> str:
            return await WebLogins(svc.sessions, svc.settings, svc.clock).link_for_telegram_id(SUPERVISOR_CHAT)

        signed = client.get(str(client.portal.call(link)).removeprefix("http://testserver"), follow_redirects=False)
        assert signed.status_code == 303
        page = client.get(f"/visits/{visits['B008']}").text
        [section] = re.findall(r'<section id="promises">(.*?)</section>', page, re.S)
        assert "承诺 2026年12月3日 前还款 4,500元" in section
        assert "未履行" in section and "借款人称已还款（未核实）" in section and "期间已还 0元" in section
        kept_page = client.get(f"/visits/{visits['B007']}").text
        [kept_section] = re.findall(r'<section id="promises">(.*?)</section>', kept_page, re.S)
        assert "已履行" in kept_section and "未核实" not in kept_section
        english = client.get(f"/visits/{visits['B008']}", headers={"Accept-Language": "en"}).text
        [english_section] = re.findall(r'<section id="promises">(.*?)</section>', english, re.S)
        assert "¥4,500 promised by 3 Dec 2026" in english_section and "broken" in english_section
        assert "borrower says paid (unverified)" in english_section


def test_bad_status_is_one_clear_message(database_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["promises", "--status", "late"], env=_env(database_url))
    assert result.exit_code == 2 and "No status 'late'" in result.output
