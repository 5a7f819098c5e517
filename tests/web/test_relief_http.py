"""The web desk's hardship requests over HTTP (Starlette's TestClient), on SQLite and PostgreSQL.

陈静's overdue call to B008 asked for an extension: 刘主管 sees it waiting on ``/relief`` and on the
visit's page, approves it with a reason (CSRF checked; an empty reason refused), the officer's and
the borrower's notices are in the outbox; 陈静 reads it without a form; another team's supervisor
sees nothing and is refused a decision.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from storage.models import Borrower, OutboxMessage, ReliefRequest, User

CLOCK_AT = "2026-12-01T10:30:00+08:00"
TELEGRAM = {"王磊": 101, "陈静": 102, "刘主管": 103, "管理员": 104, "赵主管": 105}
HARDSHIP = ["1", "4", "生病住院", "1", "三个月"]
BORROWER_CHAT = 8808


@dataclass
class World:
    client: TestClient
    svc: Services
    clock: FixedClock
    visit_id: int
    request_id: int

    def run(self, fn: Any, *args: Any) -> Any:
        """Run a coroutine function in the app's event loop (the engine lives there)."""
        return self.client.portal.call(fn, *args)

    def sign_in(self, name: str) -> None:
        async def issue() -> str:
            logins = WebLogins(self.svc.sessions, self.svc.settings, self.clock)
            return await logins.link_for_telegram_id(TELEGRAM[name])

        self.client.cookies.clear()
        link = str(self.run(issue)).removeprefix("http://testserver")
        assert self.client.get(link, follow_redirects=False).status_code == 303

    def csrf(self, path: str) -> str:
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', self.client.get(path).text)
        assert found, "no csrf field"
        return found.group(1)

    def request_row(self) -> ReliefRequest:
        async def read() -> ReliefRequest | None:
            async with self.svc.sessions() as session:
                return await session.get(ReliefRequest, self.request_id)

        row = self.run(read)
        assert isinstance(row, ReliefRequest)
        return row

    def outbox(self, key: str) -> list[OutboxMessage]:
        async def read() -> list[OutboxMessage]:
            async with self.svc.sessions() as session:
                rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
            return [row for row in rows if row.payload["key"] == key]

        return list(self.run(read))


async def _fill(svc: Services) -> tuple[int, int]:
    async with svc.sessions() as session, session.begin():
        await load_demo(session)
        session.add_all([User(name="管理员", role="admin"), User(name="赵主管", role="supervisor", team="城西支行")])
        await session.flush()
        for user in (await session.scalars(select(User))).all():
            user.telegram_id = TELEGRAM[user.name]
        borrower = await session.scalar(select(Borrower).where(Borrower.code == "B008"))
        assert borrower is not None
        borrower.telegram_id = BORROWER_CHAT
        chen = await session.scalar(select(User).where(User.name == "陈静"))
        assert chen is not None
        actor = Actor("officer", chen.id)
    started = await svc.desk.begin("B008", actor=actor, officer_id=None, script_id="overdue_reminder")
    for text in HARDSHIP:
        await svc.desk.act(started.visit_id, Submit(Reply(text=text)), actor=actor, said=text)
    async with svc.sessions() as session:
        request = await session.scalar(select(ReliefRequest).where(ReliefRequest.visit_id == started.visit_id))
    assert request is not None
    return started.visit_id, request.id


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    settings = Settings(database_url=database_url, files_dir=str(tmp_path / "files"), web_url="http://testserver")
    clock = FixedClock(CLOCK_AT)
    svc = make_services(settings, clock)
    with TestClient(build_app(svc, own_services=True)) as client:
        visit_id, request_id = client.portal.call(_fill, svc)
        yield World(client, svc, clock, visit_id, request_id)


def section(html: str, name: str) -> str:
    found = re.search(rf'<section id="{name}">(.*?)</section>', html, re.S)
    assert found, f"no section {name}"
    return found.group(1)


def test_a_supervisor_approves_on_the_relief_page_with_a_reason(world: World) -> None:
    world.sign_in("刘主管")
    page = world.client.get("/relief")
    assert page.status_code == 200 and 'id="nav-relief"' in page.text
    waiting = section(page.text, "relief-pending")
    assert f'data-relief-id="{world.request_id}"' in waiting and "B008" in waiting and "展期（三个月）" in waiting
    assert f'action="/relief/{world.request_id}/decide"' in waiting and "还没有处理过的申请" in page.text

    path = f"/relief/{world.request_id}/decide"
    forged = world.client.post(path, data={"decision": "approve", "reason": "同意"}, follow_redirects=False)
    assert forged.status_code == 403 and world.request_row().status == "pending"
    csrf = world.csrf("/relief")
    empty = world.client.post(path, data={"csrf": csrf, "decision": "approve", "reason": "  "})
    assert "请写明审批理由" in empty.text and world.request_row().status == "pending"

    done = world.client.post(
        path, data={"csrf": csrf, "decision": "approve", "reason": "住院证明已核实", "back": "/relief"},
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == "/relief"
    shown = world.client.get("/relief").text
    assert f"申请 #{world.request_id} 已批准" in shown  # the flash
    decided = section(shown, "relief-decided")
    assert "刘主管 于 2026-12-01 10:30 已批准。理由：住院证明已核实" in decided and "<form" not in decided
    assert "没有待审批的申请" in section(shown, "relief-pending")
    row = world.request_row()
    assert (row.status, row.reason) == ("approved", "住院证明已核实")
    (officer_notice,) = world.outbox("relief_decided_approved")
    (borrower_notice,) = world.outbox("relief_borrower_approved")
    assert officer_notice.payload["params"]["reason"] == "住院证明已核实" and borrower_notice.chat_id == BORROWER_CHAT

    again = world.client.post(path, data={"csrf": csrf, "decision": "decline", "reason": "改主意"})
    assert "不能再次审批" in again.text and world.request_row().status == "approved"

    visit = world.client.get(f"/visits/{world.visit_id}").text
    relief = section(visit, "relief")
    assert "已批准" in relief and "住院证明已核实" in relief and "<form" not in relief


def test_the_visit_page_decides_and_who_may_not_is_refused(world: World) -> None:
    world.sign_in("陈静")  # the officer reads her request, without a form
    own = world.client.get("/relief").text
    assert f'data-relief-id="{world.request_id}"' in own and 'class="relief-decide"' not in own
    csrf = world.csrf("/relief")
    path = f"/relief/{world.request_id}/decide"
    refused = world.client.post(path, data={"csrf": csrf, "decision": "approve", "reason": "同意"})
    assert "只有该团队的主管或管理员" in refused.text and world.request_row().status == "pending"

    world.sign_in("赵主管")  # another team's supervisor
    assert f'data-relief-id="{world.request_id}"' not in world.client.get("/relief").text
    csrf = world.csrf("/relief")
    missing = world.client.post(path, data={"csrf": csrf, "decision": "approve", "reason": "同意"})
    assert missing.status_code == 404 and world.request_row().status == "pending"

    world.sign_in("管理员")
    visit_path = f"/visits/{world.visit_id}"
    relief = section(world.client.get(visit_path).text, "relief")
    assert f'action="{path}"' in relief and f'name="back" value="{visit_path}"' in relief
    csrf = world.csrf(visit_path)
    done = world.client.post(
        path, data={"csrf": csrf, "decision": "decline", "reason": "已有两次展期记录", "back": visit_path},
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == visit_path
    page = world.client.get(visit_path).text
    assert f"申请 #{world.request_id} 未批准" in page
    assert "管理员 于 2026-12-01 10:30 未批准。理由：已有两次展期记录" in page
    assert world.request_row().status == "declined"
    english = world.client.get("/relief", headers={"Accept-Language": "en"}).text
    assert "Hardship requests" in english and "declined by 管理员" in english
