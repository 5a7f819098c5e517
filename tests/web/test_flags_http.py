"""Flags on the web desk over HTTP (SQLite and PostgreSQL): a quality flag's evidence and the visit it names
on the visit page, explaining it through the form (CSRF, reason, once, the audit log, the queue's order),
the queue's quality badge and the filter that keeps only visits with unexplained quality flags."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.web import pages
from dialogs.engine import FlagRaised
from dialogs.schema import Severity
from storage import repositories as repo
from storage.models import AuditEntry, RiskFlag, Visit
from storage.web import rank_for_review
from tests.web import test_desk_http as desk
from tests.web.test_desk_http import World, queue_ids

world = desk.world
"""The desk with its three visits (``high``, ``medium``, ``plain``), as test_desk_http's tests have it."""


async def _plant(w: World) -> dict[str, int]:
    """Quality flags: ``too_fast`` (high) on 陈静's calm visit, naming 王磊's high one; ``all_first`` (low) on the
    medium one; both visits ranked again."""
    v, now = w.visits, w.clock.now()
    async with w.svc.sessions() as session, session.begin():
        fast = await repo.add_flag(
            session, v["plain"], FlagRaised("too_fast", Severity.HIGH, "", "回访用时过短"), at=now, kind="quality",
            evidence={"seconds": 40, "least": 180, "previous": {"visit": v["high"], "date": "2026-11-03"}},
        )  # fmt: skip
        first = await repo.add_flag(
            session, v["medium"], FlagRaised("all_first", Severity.LOW, "", "所有选择题都选了第一项"), at=now,
            kind="quality", evidence={"answers": 6},
        )  # fmt: skip
        await session.flush()
        for name in ("plain", "medium"):
            visit = await session.get(Visit, v[name])
            assert visit is not None
            visit.review_rank = await rank_for_review(session, visit.id)
        return {"too_fast": fast.id, "all_first": first.id}


def _flag_block(html: str, flag_id: int) -> str:
    found = re.search(rf'<div class="flag[^"]*" id="flag-{flag_id}".*?</div>', html, re.S)
    assert found, f"no flag {flag_id} on the page"
    return found.group(0)


async def _explained(w: World, flag_id: int) -> tuple[RiskFlag, list[AuditEntry]]:
    async with w.svc.sessions() as session:
        flag = await session.get(RiskFlag, flag_id)
        assert flag is not None
        entries = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "flag_explained"))).all()
        return flag, list(entries)


def test_a_quality_flag_shows_its_evidence_and_the_visit_it_names(world: World) -> None:
    flags = world.run(_plant, world)
    world.sign_in("刘主管")
    page = world.client.get(f"/visits/{world.visits['plain']}")
    block = _flag_block(page.text, flags["too_fast"])
    for part in ('data-kind="quality"', "形式化检查", "用时过短", "回访用时过短", "全程 40 秒",
                 f'href="/visits/{world.visits["high"]}"', f"回访 #{world.visits['high']}",
                 f'action="/visits/{world.visits["plain"]}/flags/{flags["too_fast"]}/explain"', 'name="reason"',
                 'name="csrf"'):  # fmt: skip
        assert part in block, part
    world.client.cookies.clear()
    world.sign_in("陈静")  # the visit's officer: sees the flag, may not explain it
    block = _flag_block(world.client.get(f"/visits/{world.visits['plain']}").text, flags["too_fast"])
    assert "用时过短" in block and 'name="reason"' not in block and "未说明" in block
    english = world.client.get(f"/visits/{world.visits['plain']}", headers={"accept-language": "en"})
    assert "quality (形式化)" in english.text and "implausibly fast" in english.text


def test_explaining_through_the_form(world: World) -> None:
    flags = world.run(_plant, world)
    plain, flag = world.visits["plain"], flags["too_fast"]
    path = f"/visits/{plain}/flags/{flag}/explain"
    world.sign_in("陈静")  # the visit's officer: refused, told why
    refused = world.client.post(path, data={"csrf": world.csrf("/queue"), "reason": "我没作假"})
    assert refused.status_code == 200 and "只有主管或管理员可以说明预警" in refused.text
    world.sign_in("刘主管")
    assert queue_ids(world.client.get("/queue").text) == [world.visits["high"], plain, world.visits["medium"]]
    assert world.client.post(path, data={"reason": "已核实"}).status_code == 403, "no CSRF token"
    csrf = world.csrf(f"/visits/{plain}")
    empty = world.client.post(path, data={"csrf": csrf, "reason": "  "})
    assert empty.status_code == 200 and "请写明原因" in empty.text
    assert world.run(_explained, world, flag)[0].explained_at is None

    done = world.client.post(path, data={"csrf": csrf, "reason": "已回电核实：借款人当时在店，回答很快"},
                             follow_redirects=False)  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == f"/visits/{plain}#flag-{flag}"
    page = world.client.get(done.headers["location"])
    assert "不再计入排序" in page.text  # the flash
    block = _flag_block(page.text, flag)
    assert (
        "刘主管 于 2026-12-01 10:30 说明：已回电核实：借款人当时在店，回答很快" in block
        and 'name="reason"' not in block
    )
    stored, [entry] = world.run(_explained, world, flag)
    assert stored.explanation == "已回电核实：借款人当时在店，回答很快" and entry.visit_id == plain
    assert entry.detail["flag_id"] == flag and entry.detail["code"] == "too_fast"
    assert queue_ids(world.client.get("/queue").text) == [world.visits["high"], world.visits["medium"], plain]

    again = world.client.post(path, data={"csrf": csrf, "reason": "再说一次"})
    assert "已由 刘主管" in again.text and len(world.run(_explained, world, flag)[1]) == 1
    world.sign_in("赵主管")  # another team's supervisor: no such flag for them
    other = world.client.post(f"/visits/{world.visits['medium']}/flags/{flags['all_first']}/explain",
                              data={"csrf": world.csrf("/queue"), "reason": "看过了"})  # fmt: skip
    assert other.status_code == 404
    world.sign_in("刘主管")
    wrong = world.client.post(f"/visits/{plain}/flags/{flags['all_first']}/explain",
                              data={"csrf": world.csrf("/queue"), "reason": "看过了"})  # fmt: skip
    assert wrong.status_code == 404, "a flag of another visit than the URL's is not found"


def test_the_queue_badges_quality_flags_and_keeps_only_them(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    flags = world.run(_plant, world)
    v = world.visits
    world.sign_in("刘主管")
    page = world.client.get("/queue").text
    row = re.search(rf'<tr data-visit-id="{v["plain"]}".*?</tr>', page, re.S)
    assert (
        row and 'class="quality-badge" data-codes="too_fast"' in row.group(0) and "形式化 1：用时过短" in row.group(0)
    )
    high = re.search(rf'<tr data-visit-id="{v["high"]}".*?</tr>', page, re.S)
    assert high and "quality-badge" not in high.group(0)
    assert 'name="quality" value="1"' in page

    assert queue_ids(world.client.get("/queue?quality=1").text) == [v["plain"], v["medium"]]
    assert world.client.get("/queue?quality=yes").status_code == 400
    monkeypatch.setattr(pages, "PAGE_SIZE", 1)
    first = world.client.get("/queue?quality=1")
    assert queue_ids(first.text) == [v["plain"]] and "checked" in first.text
    found = re.search(r'id="next-page" href="([^"]+)"', first.text)
    assert found and "quality=1" in found.group(1)
    second = world.client.get(found.group(1).replace("&amp;", "&"))
    assert queue_ids(second.text) == [v["medium"]]

    csrf = world.csrf(f"/visits/{v['plain']}")
    world.client.post(
        f"/visits/{v['plain']}/flags/{flags['too_fast']}/explain", data={"csrf": csrf, "reason": "已核实"}
    )
    assert queue_ids(world.client.get("/queue?quality=1").text) == [v["medium"]], "an explained flag leaves the filter"
