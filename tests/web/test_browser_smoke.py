"""Debian's chromium starts under playwright and renders a page: Chinese text, a PNG, a keypress."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext

from tests.web.visits import PHOTO

pytestmark = pytest.mark.asyncio(loop_scope="module")

PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>回访</title></head>
<body><h1 id="title">贷后回访 · Loan visits</h1><img class="photo" src="data:image/png;base64,{png}">
<script>document.addEventListener("keydown", e => {{ document.body.dataset.key = e.key; }});</script></body></html>"""


async def test_chromium_renders_a_local_page(context: BrowserContext, artefacts: Path) -> None:
    page = await context.new_page()
    await page.set_content(PAGE.format(png=base64.b64encode(PHOTO).decode()))
    assert await page.inner_text("#title") == "贷后回访 · Loan visits"
    assert await page.eval_on_selector("img.photo", "img => img.complete && img.naturalWidth") == 48
    await page.keyboard.press("a")
    assert await page.get_attribute("body", "data-key") == "a"
    shot = artefacts / "smoke.png"
    await page.screenshot(path=str(shot))
    assert shot.stat().st_size > 1000
