"""The web desk over HTTP, in process (Starlette's TestClient), on SQLite and PostgreSQL.

Login links (valid, reused, expired), the session cookie, CSRF, who sees what, approve, send back
(the officer's notice in the outbox), the queue's filters and pages, both languages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.app import Services, make_services
from bot.desk import Actor, FixedClock
from bot.desk.files import keep
from bot.desk.weblogin import LoginRefused, WebLogins, key_hash
from bot.settings import Settings
from bot.web import build_app, pages
from dialogs.engine import Cancel
from dialogs.schema import Outcome
from storage.attachments import add_attachment
from storage.demo import load_demo
from storage.models import OutboxMessage, RiskFlag, User, Visit, WebLogin, WebSession
from storage.web import rank_for_review

CLOCK_AT = "2026-12-01T10:30:00+08:00"
JPEG = b"\xff\xd8\xff\xe0" + b"visit photo" * 10 + b"\xff\xd9"
TELEGRAM = {"王磊": 101, "陈静": 102, "刘主管": 103, "管理员": 104, "赵主管": 105}


@dataclass
class World:
    client: TestClient
    svc: Services
    clock: FixedClock
    visits: dict[str, int]
    """Visits by name: ``high`` (B001, a high flag and a photo), ``medium`` (B003), ``plain`` (B002, 陈静's)."""

    def run(self, fn, *args):  # type: ignore[no-untyped-def]
        """Run a coroutine function in the app's event loop (the engine lives there)."""
        return self.client.portal.call(fn, *args)

    def link(self, name: str) -> str:
        async def issue() -> str:
            return await WebLogins(self.svc.sessions, self.svc.settings, self.clock).link_for_telegram_id(
                TELEGRAM[name]
            )

        return str(self.run(issue))

    def sign_in(self, name: str) -> None:
        self.client.cookies.clear()
        response = self.client.get(self.link(name).removeprefix("http://testserver"), follow_redirects=False)
        assert response.status_code == 303, response.text

    def csrf(self, path: str) -> str:
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', self.client.get(path).text)
        assert found, "no csrf field"
        return found.group(1)


async def _fill(svc: Services) -> dict[str, int]:
    async with svc.sessions() as session, session.begin():
        await load_demo(session)
        session.add_all([User(name="管理员", role="admin"), User(name="赵主管", role="supervisor", team="城西支行")])
        await session.flush()
        for user in (await session.scalars(select(User))).all():
            user.telegram_id = TELEGRAM[user.name]
    visits = {}
    for name, code, officer in (("high", "B001", 1), ("medium", "B003", 1), ("plain", "B002", 2)):
        actor = Actor("officer", officer)
        started = await svc.desk.begin(code, actor=actor, officer_id=None)
        await svc.desk.act(started.visit_id, Cancel(Outcome.REFUSED), actor=actor, said="/cancel")
        visits[name] = started.visit_id
    kept = await keep(svc.desk.files, JPEG, "site.jpg", content_type="image/jpeg")
    now = svc.clock.now()
    async with svc.sessions() as session, session.begin():
        session.add(RiskFlag(visit_id=visits["high"], code="loan_diverted", severity="high", step_id="use",
                             note="借款用于炒股", raised_at=now))  # fmt: skip
        session.add(RiskFlag(visit_id=visits["medium"], code="business_worse", severity="medium", step_id="status",
                             note="生意变差", raised_at=now))  # fmt: skip
        await session.flush()
        for visit_id in visits.values():
            assert (await session.get(Visit, visit_id)).review_rank == 3999, "the desk ranks a finished visit"  # type: ignore[union-attr]
        for visit_id in visits.values():  # flags planted after the visits ended: their place in the queue again
            visit = await session.get(Visit, visit_id)
            assert visit is not None
            visit.review_rank = await rank_for_review(session, visit_id)
        await add_attachment(session, visits["high"], "site_photo", store_key=kept.key, sha256=kept.sha256,
                             size=kept.size, content_type="image/jpeg", at=now)  # fmt: skip
    return visits


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    settings = Settings(database_url=database_url, files_dir=str(tmp_path / "files"), web_url="http://testserver")
    clock = FixedClock(CLOCK_AT)
    svc = make_services(settings, clock)
    with TestClient(build_app(svc, own_services=True)) as client:
        visits = client.portal.call(_fill, svc)
        yield World(client, svc, clock, visits)


def queue_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-visit-id="(\d+)"', html)]


# -- signing in ---------------------------------------------------------------------------------
def test_a_login_link_works_once_and_sets_a_safe_session_cookie(world: World) -> None:
    link = world.link("刘主管")
    assert link.startswith("http://testserver/login/")
    path = link.removeprefix("http://testserver")
    response = world.client.get(path, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/queue"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("visitbot_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax") and "Max-Age=43200" in cookie
    assert world.client.get("/queue").status_code == 200

    world.client.cookies.clear()
    again = world.client.get(path, follow_redirects=False)
    assert again.status_code == 403 and "链接已失效" in again.text
    assert "visitbot_session" not in again.headers.get("set-cookie", "")


def test_tokens_and_session_keys_are_stored_hashed(world: World) -> None:
    link = world.link("刘主管")
    token = link.rsplit("/", 1)[1]
    response = world.client.get(f"/login/{token}", follow_redirects=False)
    key = response.cookies["visitbot_session"]

    async def stored() -> tuple[list[str], list[str]]:
        async with world.svc.sessions() as session:
            logins = [r.token_hash for r in (await session.scalars(select(WebLogin))).all()]
            keys = [r.key_hash for r in (await session.scalars(select(WebSession))).all()]
        return logins, keys

    logins, keys = world.run(stored)
    assert logins == [key_hash(token)] and keys == [key_hash(key)]
    assert token not in logins and key not in keys


def test_an_expired_link_is_refused_in_english_too(world: World) -> None:
    path = world.link("刘主管").removeprefix("http://testserver")
    world.clock.advance(minutes=16)
    response = world.client.get(path, headers={"Accept-Language": "en-US,en;q=0.9"}, follow_redirects=False)
    assert response.status_code == 403
    assert "This link has expired or was used" in response.text and '<html lang="en">' in response.text


def test_an_expired_session_signs_out(world: World) -> None:
    world.sign_in("刘主管")
    assert world.client.get("/queue").status_code == 200
    world.clock.advance(hours=13)
    assert world.client.get("/queue").status_code == 401


def test_no_link_for_someone_who_is_no_staff(world: World) -> None:
    async def issue() -> str:
        return await WebLogins(world.svc.sessions, world.svc.settings, world.clock).link_for_telegram_id(999)

    with pytest.raises(LoginRefused, match="999"):
        world.run(issue)


# -- who sees what ------------------------------------------------------------------------------
def test_a_stranger_sees_nothing(world: World) -> None:
    assert world.client.get("/queue").status_code == 401
    assert world.client.get(f"/visits/{world.visits['high']}").status_code == 404
    high = world.visits["high"]
    assert world.client.get(f"/visits/{high}/files/1").status_code == 404
    world.client.cookies.set("visitbot_session", "forged")
    assert world.client.get("/queue").status_code == 401


def test_the_supervisor_sees_the_team_highest_risk_first(world: World) -> None:
    world.sign_in("刘主管")
    page = world.client.get("/queue")
    v = world.visits
    assert queue_ids(page.text) == [v["high"], v["medium"], v["plain"]]
    assert '<html lang="zh-CN">' in page.text and 'id="filters"' in page.text and 'id="apply"' in page.text


def test_another_team_supervisor_gets_404(world: World) -> None:
    world.sign_in("赵主管")
    assert queue_ids(world.client.get("/queue").text) == []
    for path in (f"/visits/{world.visits['high']}", f"/visits/{world.visits['high']}/files/1"):
        assert world.client.get(path).status_code == 404
    csrf = world.csrf("/queue")
    response = world.client.post(f"/visits/{world.visits['high']}/approve", data={"csrf": csrf})
    assert response.status_code == 404


def test_an_officer_sees_only_their_own_visits_and_cannot_review(world: World) -> None:
    world.sign_in("王磊")
    assert sorted(queue_ids(world.client.get("/queue").text)) == sorted([world.visits["high"], world.visits["medium"]])
    assert world.client.get(f"/visits/{world.visits['plain']}").status_code == 404
    own = world.client.get(f"/visits/{world.visits['high']}")
    assert own.status_code == 200 and 'id="approve"' not in own.text and 'id="send-back"' not in own.text


def test_an_admin_sees_every_team(world: World) -> None:
    world.sign_in("管理员")
    assert len(queue_ids(world.client.get("/queue").text)) == 3


# -- the transcript -----------------------------------------------------------------------------
def test_the_transcript_shows_steps_flags_photo_and_history(world: World) -> None:
    world.sign_in("刘主管")
    high = world.visits["high"]
    page = world.client.get(f"/visits/{high}")
    assert page.status_code == 200
    for part in ('id="transcript"', 'id="flags"', 'class="flag', "借款用于炒股", 'id="location"', 'id="notes"',
                 'id="review-history"', f'action="/visits/{high}/approve"', f'action="/visits/{high}/return"',
                 'name="comment"', f'id="next-visit" href="/visits/{world.visits["medium"]}"'):  # fmt: skip
        assert part in page.text, part
    photo = re.search(rf'<img class="photo" src="(/visits/{high}/files/\d+)"', page.text)
    assert photo, "no photo"
    image = world.client.get(photo.group(1))
    assert image.status_code == 200 and image.content == JPEG and image.headers["content-type"] == "image/jpeg"
    assert (
        page.headers["cache-control"] == "no-store" and "script-src 'self'" in page.headers["content-security-policy"]
    )


def test_the_keyboard_script_is_served_by_the_app(world: World) -> None:
    script = world.client.get("/static/desk.js")
    assert script.status_code == 200 and "send-back" in script.text and "next-visit" in script.text


# -- review actions -----------------------------------------------------------------------------
def test_a_post_without_or_with_a_wrong_csrf_token_is_refused(world: World) -> None:
    world.sign_in("刘主管")
    high = world.visits["high"]
    assert world.client.post(f"/visits/{high}/approve").status_code == 403
    assert world.client.post(f"/visits/{high}/approve", data={"csrf": "0" * 64}).status_code == 403
    assert world.client.post(f"/visits/{high}/return", data={"comment": "x"}).status_code == 403
    assert world.client.post("/lang", data={"locale": "en"}).status_code == 403
    assert world.run(_review_status, world, high) == "pending"


async def _review_status(world: World, visit_id: int) -> str | None:
    async with world.svc.sessions() as session:
        visit = await session.get(Visit, visit_id)
        assert visit is not None
        return visit.review_status


async def _outbox(world: World, visit_id: int) -> list[OutboxMessage]:
    async with world.svc.sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.visit_id == visit_id, OutboxMessage.kind.like("review_%"))
        return list((await session.scalars(query)).all())


def test_approve(world: World) -> None:
    world.sign_in("刘主管")
    high = world.visits["high"]
    csrf = world.csrf(f"/visits/{high}")
    response = world.client.post(f"/visits/{high}/approve", data={"csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/visits/{high}"
    page = world.client.get(f"/visits/{high}")
    assert 'id="flash"' in page.text and f"回访 #{high} 已审核通过" in page.text
    assert 'id="approve"' not in page.text and "审核通过" in page.text.split('id="review-history"')[1]
    assert world.run(_review_status, world, high) == "approved"
    assert high not in queue_ids(world.client.get("/queue").text)
    assert high in queue_ids(world.client.get("/queue?review=approved").text)
    again = world.client.post(f"/visits/{high}/approve", data={"csrf": csrf})
    assert again.status_code == 200 and "已审核通过，不能再次审核" in again.text


def test_sending_back_queues_the_officers_notice(world: World) -> None:
    world.sign_in("刘主管")
    high = world.visits["high"]
    csrf = world.csrf(f"/visits/{high}")
    empty = world.client.post(f"/visits/{high}/return", data={"csrf": csrf, "comment": "  "})
    assert "需要填写意见" in empty.text and world.run(_review_status, world, high) == "pending"
    response = world.client.post(f"/visits/{high}/return", data={"csrf": csrf, "comment": "请补充经营流水"})
    assert response.status_code == 200 and "已退回" in response.text
    assert world.run(_review_status, world, high) == "returned"
    [notice] = world.run(_outbox, world, high)
    assert notice.kind == "review_send_back" and notice.user_id == 1 and notice.sent_at is None
    assert notice.payload["params"]["comment"] == "请补充经营流水"
    assert "请补充经营流水" in world.client.get(f"/visits/{high}").text.split('id="review-history"')[1]

    async def officer_answers() -> None:
        async with world.svc.sessions() as session:
            officer = await session.get(User, 1)
        assert officer is not None
        await build_reviews(world).reply(high, officer, "已补充流水")

    world.run(officer_answers)
    history = world.client.get(f"/visits/{high}").text.split('id="review-history"')[1]
    assert "已补充流水" in history
    assert high in queue_ids(world.client.get("/queue?review=answered").text)


def test_an_officer_answers_a_returned_visit_on_the_page(world: World) -> None:
    high = world.visits["high"]
    world.sign_in("刘主管")
    csrf = world.csrf(f"/visits/{high}")
    world.client.post(f"/visits/{high}/return", data={"csrf": csrf, "comment": "请补充照片"})
    world.sign_in("王磊")
    page = world.client.get(f"/visits/{high}")
    assert 'id="reply"' in page.text and 'id="approve"' not in page.text
    csrf = world.csrf(f"/visits/{high}")
    assert world.client.post(f"/visits/{high}/reply", data={"text": "已补"}).status_code == 403
    answered = world.client.post(f"/visits/{high}/reply", data={"csrf": csrf, "text": "照片已补拍"})
    assert answered.status_code == 200 and "已发送给主管" in answered.text and 'id="reply"' not in answered.text
    assert world.run(_review_status, world, high) == "answered"
    assert "照片已补拍" in answered.text.split('id="review-history"')[1]
    notices = [m for m in world.run(_outbox, world, high) if m.kind == "review_reply"]
    assert [m.user_id for m in notices] == [3]  # the supervisor who sent it back


def build_reviews(world: World):  # type: ignore[no-untyped-def]
    from bot.desk.review import ReviewDesk

    return ReviewDesk(world.svc.sessions, world.svc.settings, world.clock)


# -- filters, pages, languages ------------------------------------------------------------------
def test_filters(world: World) -> None:
    world.sign_in("刘主管")
    v = world.visits
    assert queue_ids(world.client.get("/queue?risk=high").text) == [v["high"]]
    assert queue_ids(world.client.get("/queue?risk=medium").text) == [v["high"], v["medium"]]
    assert queue_ids(world.client.get("/queue?officer=2").text) == [v["plain"]]
    assert queue_ids(world.client.get("/queue?outcome=completed").text) == []
    assert len(queue_ids(world.client.get("/queue?outcome=refused&script=officer_phone_visit").text)) == 3
    assert queue_ids(world.client.get("/queue?since=2026-12-02").text) == []
    assert len(queue_ids(world.client.get("/queue?since=2026-12-01&until=2026-12-01").text)) == 3
    assert world.client.get("/queue?since=2026-13-01").status_code == 400
    assert world.client.get("/queue?review=bogus").status_code == 400


def test_keyset_pages(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "PAGE_SIZE", 2)
    world.sign_in("刘主管")
    first = world.client.get("/queue?outcome=refused")
    assert queue_ids(first.text) == [world.visits["high"], world.visits["medium"]]
    found = re.search(r'id="next-page" href="([^"]+)"', first.text)
    assert found
    second = world.client.get(found.group(1).replace("&amp;", "&"))
    assert queue_ids(second.text) == [world.visits["plain"]] and 'id="next-page"' not in second.text
    assert "outcome=refused" in found.group(1)


def test_both_languages_by_browser_and_by_switch(world: World) -> None:
    world.sign_in("刘主管")
    zh = world.client.get("/queue")
    assert '<html lang="zh-CN">' in zh.text and "审核队列" in zh.text and 'id="lang"' in zh.text
    en = world.client.get("/queue", headers={"Accept-Language": "en-GB,en;q=0.8,zh;q=0.5"})
    assert '<html lang="en">' in en.text and "Review queue" in en.text
    csrf = world.csrf("/queue")
    switched = world.client.post("/lang", data={"csrf": csrf, "locale": "en", "next": "/queue"}, follow_redirects=False)
    assert switched.status_code == 303 and "visitbot_lang=en" in switched.headers["set-cookie"]
    page = world.client.get(f"/visits/{world.visits['high']}", headers={"Accept-Language": "zh-CN"})
    assert '<html lang="en">' in page.text and "Risk flags" in page.text and "Approve" in page.text


# -- the month's pages --------------------------------------------------------------------------
def test_the_overview_draws_the_weeks_and_lists_the_month(world: World) -> None:
    world.sign_in("刘主管")
    page = world.client.get("/overview?month=2026-12")
    assert page.status_code == 200, page.text
    for part in ('id="plan"', 'id="weeks"', "<svg", 'class="outcome-refused"', 'id="overdue"', 'id="opt-outs"',
                 'id="month-form"', "2026-W49"):  # fmt: skip
        assert part in page.text, part
    assert "<script" not in page.text.split("</head>")[1]  # charts are drawn by the template, no script, no CDN
    assert world.client.get("/overview").status_code == 200  # this month by default
    assert world.client.get("/overview?month=2026-13").status_code == 400
    english = world.client.get("/overview?month=2026-12", headers={"Accept-Language": "en"})
    assert "Plan vs done" in english.text and '<html lang="en">' in english.text


def test_the_briefing_prints_and_downloads_for_the_team_only(world: World) -> None:
    from io import BytesIO

    from openpyxl import load_workbook

    world.sign_in("刘主管")
    page = world.client.get("/briefing?month=2026-12")
    assert page.status_code == 200 and 'id="xlsx"' in page.text and 'id="sheet-summary"' in page.text
    sheet = world.client.get("/briefing.xlsx?month=2026-12")
    assert sheet.status_code == 200 and "attachment" in sheet.headers["content-disposition"]
    book = load_workbook(BytesIO(sheet.content), read_only=True)
    summary = {row[0]: row[1] for row in book.worksheets[0].iter_rows(values_only=True) if row and row[0]}
    assert summary["本月结束的回访"] == 3 and summary["结果：拒绝"] == 3

    supervisor_id = 3
    world.sign_in("赵主管")
    assert world.client.get(f"/briefing?month=2026-12&team={supervisor_id}").status_code == 404
    assert world.client.get(f"/briefing.xlsx?month=2026-12&team={supervisor_id}").status_code == 404
