"""Corrections on the web desk over HTTP (Starlette's TestClient), on SQLite and PostgreSQL.

A supervisor corrects an answer through the form (CSRF like every POST): the answers table shows old →
new, who, when and why, the record's version and the history; a bad value gets the parser's message
and changes nothing; the officer has the form until the visit is approved, then not.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.app import Services, make_services
from bot.desk import Actor, FixedClock
from bot.desk.weblogin import WebLogins
from bot.settings import Settings
from bot.web import build_app
from dialogs.answers import Reply
from dialogs.engine import Submit
from storage.demo import load_demo
from storage.models import User
from tests.desks import RISKY

CLOCK_AT = "2026-12-01T10:30:00+08:00"
TELEGRAM = {"王磊": 101, "陈静": 102, "刘主管": 103}


@dataclass
class Desk:
    client: TestClient
    svc: Services
    clock: FixedClock
    visit_id: int

    def sign_in(self, name: str) -> None:
        async def issue() -> str:
            logins = WebLogins(self.svc.sessions, self.svc.settings, self.clock)
            return await logins.link_for_telegram_id(TELEGRAM[name])

        self.client.cookies.clear()
        assert self.client.portal is not None
        link = str(self.client.portal.call(issue))
        response = self.client.get(link.removeprefix("http://testserver"), follow_redirects=False)
        assert response.status_code == 303, response.text

    def page(self) -> str:
        response = self.client.get(f"/visits/{self.visit_id}")
        assert response.status_code == 200, response.text
        return html.unescape(response.text)

    def csrf(self) -> str:
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', self.client.get(f"/visits/{self.visit_id}").text)
        assert found, "no csrf field"
        return found.group(1)

    def correct(self, step: str, value: str, reason: str, *, csrf: str | None = None) -> str:
        form = {"csrf": self.csrf() if csrf is None else csrf, "step": step, "value": value, "reason": reason}
        response = self.client.post(f"/visits/{self.visit_id}/correct", data=form)
        assert response.status_code == 200, response.text
        return html.unescape(response.text)


async def _fill(svc: Services) -> int:
    async with svc.sessions() as session, session.begin():
        await load_demo(session)
        for user in (await session.scalars(select(User))).all():
            user.telegram_id = TELEGRAM.get(user.name)
    actor = Actor("officer", 1)  # 王磊, B001's officer
    reply = await svc.desk.begin("B001", actor=actor, officer_id=None)
    for text in RISKY:
        reply = await svc.desk.act(reply.visit_id, Submit(Reply(text=text)), actor=actor, said=text)
    assert reply.turn.finished
    return reply.visit_id


@pytest.fixture
def desk(database_url: str, tmp_path: Path) -> Iterator[Desk]:
    settings = Settings(database_url=database_url, files_dir=str(tmp_path / "files"), web_url="http://testserver")
    clock = FixedClock(CLOCK_AT)
    svc = make_services(settings, clock)
    with TestClient(build_app(svc, own_services=True)) as client:
        assert client.portal is not None
        yield Desk(client, svc, clock, client.portal.call(_fill, svc))


def test_a_supervisor_corrects_an_answer_and_the_page_shows_old_new_who_when_why(desk: Desk) -> None:
    desk.sign_in("刘主管")
    before = desk.page()
    assert 'id="correct"' in before and "记录版本：第 1 版" in before
    assert '<option value="repayment_pressure">' in before
    assert "还款压力大" in before or "repayment_pressure_high" in before  # the high flag, before

    desk.clock.advance(minutes=5)
    after = desk.correct("repayment_pressure", "有点压力", "回听录音：客户说有点压力")
    assert "已更正（第 2 版）" in after  # the flash
    assert "记录版本：第 2 版" in after
    assert "原为“压力很大”→ 现为“有点压力”；刘主管，2026-12-01 10:35；原因：回听录音：客户说有点压力" in after
    entry = re.search(r'class="correction-entry" data-version="2" data-step="repayment_pressure">([^<]*)</li>', after)
    assert entry and "“压力很大”→“有点压力”" in entry.group(1) and "刘主管" in entry.group(1)
    assert "更正（第 2 版）" in after  # the transcript's note

    bad = desk.correct("repayment_pressure", "天晓得", "x")
    assert "新的回答无效：没有这个选项" in bad and "记录版本：第 2 版" in bad  # nothing changed

    forged = desk.client.post(
        f"/visits/{desk.visit_id}/correct", data={"csrf": "0" * 32, "step": "rapport", "value": "是", "reason": "x"}
    )
    assert forged.status_code == 403
    assert "记录版本：第 2 版" in desk.page()


def test_the_officer_has_the_form_until_the_visit_is_approved(desk: Desk) -> None:
    desk.sign_in("王磊")
    assert 'id="correct"' in desk.page()
    done = desk.correct("rapport", "是", "记错了")
    assert "已更正（第 2 版）" in done and "王磊" in done

    desk.sign_in("刘主管")
    approved = desk.client.post(f"/visits/{desk.visit_id}/approve", data={"csrf": desk.csrf()})
    assert approved.status_code == 200

    desk.sign_in("王磊")
    page = desk.page()
    assert 'id="correct"' not in page and "记录版本：第 2 版" in page
    refused = desk.correct("rapport", "否", "再改", csrf=None)
    assert "审核通过前" in refused and "记录版本：第 2 版" in refused

    desk.sign_in("陈静")  # another officer: not theirs to see, nor to correct
    assert desk.client.get(f"/visits/{desk.visit_id}").status_code == 404
