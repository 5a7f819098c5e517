"""The web desk in headless chromium, end to end: a supervisor signs in with the link the bot sends, reviews
the queue, opens a transcript with its photo, sends a visit back (the officer's Telegram chat gets it at
once), approves another; team walls, spent links, CSRF, keyboard shortcuts and the language switch.

The tests run in order on one stack (``desk``): what one does to a visit, the next can see.
"""

from __future__ import annotations

import asyncio
import io
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from playwright.async_api import BrowserContext, Page

from tests.botapi import WaitTimeout
from tests.web.stack import OFFICER_ID, OTHER_SUPERVISOR_ID, SUPERVISOR_ID, WebStack

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXPIRED = ("链接已失效", "This link has expired or was used")


async def sign_in(context: BrowserContext, link: str) -> Page:
    """Open a login link in this browser profile; it lands on the queue."""
    page = await context.new_page()
    response = await page.goto(link)
    assert response is not None and response.ok, (link, response and response.status)
    assert page.url.endswith("/queue"), page.url
    return page


async def queue_ids(page: Page) -> list[int]:
    """The visits listed in the queue, top to bottom."""
    rows = await page.locator("#queue tr[data-visit-id]").all()
    return [int(await row.get_attribute("data-visit-id") or 0) for row in rows]


async def set_filter(page: Page, name: str, value: str) -> None:
    """Set one input of ``#filters`` (a select or a text/date input) as a person would."""
    field = page.locator(f"#filters [name={name}]")
    if await field.evaluate("e => e.tagName") == "SELECT":
        await field.select_option(value)
    else:
        await field.fill(value)


async def apply_filters(page: Page, **values: str) -> list[int]:
    """Fill the filter form and apply it; the visits then listed."""
    for name, value in values.items():
        await set_filter(page, name, value)
    async with page.expect_navigation():
        await page.click("#apply")
    return await queue_ids(page)


async def test_a_supervisor_signs_in_filters_opens_a_photo_and_sends_back(
    desk: WebStack, context: BrowserContext, artefacts: Path
) -> None:
    visits = desk.visits
    link = await desk.telegram_link(SUPERVISOR_ID)
    assert link.startswith(desk.base_url + "/login/")
    page = await sign_in(context, link)
    cookie = next(c for c in await context.cookies() if c["name"] == "visitbot_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["expires"] > 0

    listed = await queue_ids(page)
    assert set(listed) == {visits.risky, visits.onsite, visits.calm}, desk.logs()  # not 城西支行's
    assert listed[0] == visits.risky  # highest risk first
    await page.screenshot(path=str(artefacts / "queue.png"), full_page=True)

    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    assert await apply_filters(page, officer=str(visits.user_ids["陈静"])) == [visits.calm]
    assert "officer=" in page.url
    assert await apply_filters(page, officer="", risk="high", since=today, until=today) == [visits.risky]
    assert await apply_filters(page, risk="", since="2020-01-01", until="2020-01-31") == []
    assert set(await apply_filters(page, since="", until="")) == set(listed)

    async with page.expect_navigation():
        await page.click(f'#queue tr[data-visit-id="{visits.onsite}"] a.open')
    assert page.url.endswith(f"/visits/{visits.onsite}")
    assert await page.locator("#transcript .step").count() > 5
    assert await page.locator("#transcript .step .said").first.inner_text()
    photo = page.locator("img.photo").first
    assert re.search(rf"/visits/{visits.onsite}/files/\d+$", await photo.get_attribute("src") or "")
    await photo.scroll_into_view_if_needed()
    assert await photo.evaluate("img => img.complete && img.naturalWidth") == 48  # the PNG kept, decoded
    raws = await page.locator("#transcript .step .raw").all_inner_texts()
    assert "（照片，见下）" in raws and not any(re.fullmatch(r"[0-9a-f/]{40,}\S*", r) for r in raws)  # no store key
    assert await page.locator("#location .coords").count() == 1  # where the on-site visit took place
    await page.screenshot(path=str(artefacts / "transcript.png"), full_page=True)

    officer = desk.user(OFFICER_ID)
    await page.fill("#send-back textarea[name=comment]", "请补拍门头照片，并说明库存情况")
    async with page.expect_navigation():
        await page.click("#send-back [type=submit]")
    assert page.url.split("?")[0].endswith(f"/visits/{visits.onsite}")
    assert await page.locator("#flash").count() == 1
    try:
        returned = await officer.wait_for_message("请补拍门头照片", timeout=15)
    except WaitTimeout as exc:
        raise AssertionError(f"{exc}\n{desk.logs()}") from exc
    assert f"#{visits.onsite}" in (returned.text or ""), returned.text

    side = await context.new_page()
    assert await queue_ids(await _queue(side, desk, "?review=returned")) == [visits.onsite]

    await officer.send(f"/reply {visits.onsite} 已补拍，库存正常")
    await officer.wait_for_message("已发送给主管", timeout=15)
    await page.reload()
    assert "已补拍，库存正常" in await page.locator("#review-history").inner_text()
    assert await queue_ids(await _queue(side, desk, "?review=answered")) == [visits.onsite]


async def _queue(page: Page, desk: WebStack, query: str = "") -> Page:
    await page.goto(f"{desk.base_url}/queue{query}")
    return page


async def test_an_approve(desk: WebStack, context: BrowserContext) -> None:
    page = await sign_in(context, await desk.link(SUPERVISOR_ID))
    await page.goto(f"{desk.base_url}/visits/{desk.visits.calm}")
    async with page.expect_navigation():
        await page.click("#approve [type=submit]")
    assert await page.locator("#flash").count() == 1
    assert "刘主管" in await page.locator("#review-history").inner_text()
    assert desk.visits.calm not in await queue_ids(await _queue(page, desk))
    assert desk.visits.calm in await queue_ids(await _queue(page, desk, "?review=approved"))


async def test_the_other_teams_supervisor_gets_404_and_an_officer_sees_their_own(
    desk: WebStack, browser_context_pair: tuple[BrowserContext, BrowserContext]
) -> None:
    west_context, officer_context = browser_context_pair
    west = await sign_in(west_context, await desk.telegram_link(OTHER_SUPERVISOR_ID))
    assert await queue_ids(west) == [desk.visits.west]
    for path in (f"/visits/{desk.visits.risky}", f"/visits/{desk.visits.onsite}"):
        response = await west.goto(desk.base_url + path)
        assert response is not None and response.status == 404, path
    refused = await west_context.request.post(
        f"{desk.base_url}/visits/{desk.visits.risky}/approve", form={"csrf": "x"}, max_redirects=0
    )
    assert refused.status in (403, 404)

    officer = await sign_in(officer_context, await desk.link(OFFICER_ID))
    listed = set(await queue_ids(await _queue(officer, desk, "?review=all")))
    assert listed == {desk.visits.risky, desk.visits.onsite}  # 王磊's own, not 陈静's
    response = await officer.goto(f"{desk.base_url}/visits/{desk.visits.calm}")
    assert response is not None and response.status == 404


async def test_a_used_or_expired_link_is_refused(
    desk: WebStack, browser_context_pair: tuple[BrowserContext, ...]
) -> None:
    first, second = browser_context_pair
    link = await desk.cli_link(SUPERVISOR_ID)  # visitbot web-link
    await sign_in(first, link)
    for spent in (link, await desk.expired_link(SUPERVISOR_ID), f"{desk.base_url}/login/not-a-token"):
        page = await second.new_page()
        response = await page.goto(spent)
        assert response is not None and response.status == 403, spent
        body = await page.inner_text("body")
        assert any(text in body for text in EXPIRED), body
        assert not [c for c in await second.cookies() if c["name"] == "visitbot_session"]
        await page.close()


async def test_a_form_post_without_the_csrf_token_is_refused(desk: WebStack, context: BrowserContext) -> None:
    page = await sign_in(context, await desk.link(SUPERVISOR_ID))
    await page.goto(f"{desk.base_url}/visits/{desk.visits.risky}")
    await page.eval_on_selector("#approve input[name=csrf]", "input => input.remove()")
    async with page.expect_navigation() as navigation:
        await page.click("#approve [type=submit]")
    response = await navigation.value
    assert response is not None and response.status == 403
    forged = await context.request.post(
        f"{desk.base_url}/visits/{desk.visits.risky}/return", form={"csrf": "0" * 64, "comment": "x"}, max_redirects=0
    )
    assert forged.status == 403
    assert desk.visits.risky in await queue_ids(await _queue(page, desk))  # still pending


async def test_keyboard_shortcuts(desk: WebStack, context: BrowserContext) -> None:
    """On the queue j/k mark a row and Enter opens it; on a transcript r, j (next waiting visit) and a (approve)."""
    page = await sign_in(context, await desk.link(SUPERVISOR_ID))
    waiting = await queue_ids(page)
    assert waiting[0] == desk.visits.risky and len(waiting) >= 2
    for key in ("j", "j", "k"):
        await page.keyboard.press(key)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert page.url.endswith(f"/visits/{waiting[0]}")

    await page.keyboard.press("r")
    assert await page.evaluate("document.activeElement.name") == "comment"
    await page.keyboard.type("ja")  # typed into the comment, not taken as shortcuts
    assert await page.input_value("#send-back textarea[name=comment]") == "ja"
    assert page.url.endswith(f"/visits/{waiting[0]}")
    await page.eval_on_selector("#send-back textarea[name=comment]", "t => { t.value = ''; t.blur(); }")
    async with page.expect_navigation():
        await page.keyboard.press("j")
    assert page.url.endswith(f"/visits/{waiting[1]}")

    await page.goto(f"{desk.base_url}/visits/{desk.visits.risky}")
    async with page.expect_navigation():
        await page.keyboard.press("a")
    assert await page.locator("#flash").count() == 1
    assert desk.visits.risky in await queue_ids(await _queue(page, desk, "?review=approved"))


async def test_the_page_switches_language(desk: WebStack, context: BrowserContext, artefacts: Path) -> None:
    page = await sign_in(context, await desk.link(SUPERVISOR_ID))
    assert await page.get_attribute("html", "lang") == "zh-CN"
    before = await page.inner_text("body")
    switch = page.locator("#lang")
    async with page.expect_navigation():
        if await switch.locator("[value=en]").count():
            await switch.locator("[value=en]").first.click()
        else:
            await switch.locator("select").select_option("en")
    assert await page.get_attribute("html", "lang") == "en"
    assert await page.inner_text("body") != before
    assert "Review queue" in await page.inner_text("h1"), await page.inner_text("h1")
    await page.goto(f"{desk.base_url}/visits/{desk.visits.onsite}")
    assert await page.get_attribute("html", "lang") == "en"  # the choice is kept (cookie visitbot_lang)
    await page.screenshot(path=str(artefacts / "transcript-en.png"), full_page=True)


async def test_the_overview_draws_its_charts(desk: WebStack, context: BrowserContext, artefacts: Path) -> None:
    page = await sign_in(context, await desk.link(SUPERVISOR_ID))
    async with page.expect_navigation():
        await page.click("#nav-overview")
    assert page.url.split("?")[0].endswith("/overview")
    assert await page.locator("#weeks svg.bars").count() == 2  # drawn on the page, no CDN
    assert await page.locator("#weeks svg.bars rect").count() > 0
    year, number, _ = datetime.now(ZoneInfo("Asia/Shanghai")).isocalendar()
    week = page.locator(f'#weeks tr.week[data-week="{year}-W{number:02d}"]')
    assert (await week.locator("td").nth(1).inner_text()).strip() == "3"  # 城东支行's three visits, this week
    assert "B008" in await page.locator("#overdue").inner_text()  # overdue and nobody called
    await page.screenshot(path=str(artefacts / "overview.png"), full_page=True)


async def _summary(data: bytes) -> dict[str, object]:
    book = await asyncio.to_thread(load_workbook, io.BytesIO(data))
    return {str(row[0]): row[1] for row in book.worksheets[0].iter_rows(min_row=2, values_only=True)}


async def test_the_briefing_downloads_and_reads_back(
    desk: WebStack, browser_context_pair: tuple[BrowserContext, BrowserContext]
) -> None:
    """The team's briefing, downloaded from its page, holds the month's figures; the other team's holds theirs."""
    mine, theirs = browser_context_pair
    page = await sign_in(mine, await desk.link(SUPERVISOR_ID))
    await page.goto(f"{desk.base_url}/overview")
    total = page.locator("#plan tr.plan-row.total").last
    planned = int(await total.locator("td.planned").inner_text())
    done = int(await total.locator("td.done").inner_text())
    async with page.expect_navigation():
        await page.click("#nav-briefing")
    async with page.expect_download() as waiting:
        await page.click("a#xlsx")
    download = await waiting.value
    assert download.suggested_filename.endswith(".xlsx")
    data = await asyncio.to_thread(Path(await download.path()).read_bytes)
    book = await asyncio.to_thread(load_workbook, io.BytesIO(data))
    assert book.sheetnames == ["汇总", "信贷员", "风险预警", "情况变差", "采取措施"]
    summary = await _summary(data)
    assert summary["范围"] == "城东支行团队（主管：刘主管）"
    assert (summary["计划回访"], summary["计划已完成"]) == (planned, done) and planned > 0 and done == 3
    assert summary["本月结束的回访"] == 3 and summary["结果：已完成"] == 3
    assert (summary["风险预警"], summary["有预警的借款人"]) == (2, 1)  # B001: business worse, repayment pressure
    assert (summary["措施：退回补充"], summary["措施：信贷员已答复"], summary["措施：审核通过"]) == (1, 1, 2)
    officers = {row[0]: row[3] for row in book["信贷员"].iter_rows(min_row=2, values_only=True)}
    assert officers == {"王磊": 2, "陈静": 1}
    flags = {(row[1], row[3]) for row in book["风险预警"].iter_rows(min_row=2, values_only=True)}
    assert flags == {("repayment_pressure_high", "B001"), ("business_worse", "B001")}
    actions = [row for row in book["采取措施"].iter_rows(min_row=2, values_only=True)]
    assert any(row[0] == "退回补充" and "请补拍门头照片" in str(row[7]) for row in actions)

    other = await sign_in(theirs, await desk.telegram_link(OTHER_SUPERVISOR_ID))
    month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    west = await theirs.request.get(f"{desk.base_url}/briefing.xlsx?month={month}")
    assert west.ok and (await _summary(await west.body()))["本月结束的回访"] == 1  # 孙平's only
    walled = await other.goto(f"{desk.base_url}/briefing?month={month}&team={desk.visits.user_ids['刘主管']}")
    assert walled is not None and walled.status == 404
