"""Fixtures for the web desk's browser tests: Debian's chromium under playwright, the running desk, artefacts.

Chromium is never downloaded: playwright drives ``/usr/bin/chromium`` (``make test`` installs it as
root, or prints the one command; ``VISITBOT_TEST_CHROMIUM`` names another build). A missing browser is
a failure, not a skip — in CI and on a laptop alike, as for PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, async_playwright

from tests.web.stack import WebStack, desk_stack

CHROMIUM = os.environ.get("VISITBOT_TEST_CHROMIUM", "/usr/bin/chromium")
INSTALL = "sudo apt-get install -y chromium fonts-wqy-microhei  (or: make test, as root)"
ARTEFACTS = Path(os.environ.get("VISITBOT_TEST_ARTEFACTS", Path(__file__).resolve().parents[2] / "artefacts" / "web"))
"""Screenshots the browser tests leave for a person to look at (git-ignored, never committed)."""


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium; absent is a failure with the command that installs it (CI must run these tests)."""
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).is_file()):
        where = " (CI=true: the browser tests must run here)" if os.environ.get("CI") == "true" else ""
        pytest.fail(f"the browser tests need chromium at {CHROMIUM}{where}; install it: {INSTALL}", pytrace=False)
    return CHROMIUM


@pytest.fixture(scope="session")
def artefacts() -> Path:
    """The folder screenshots go to (``artefacts/web/`` at the repository root unless VISITBOT_TEST_ARTEFACTS)."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    return ARTEFACTS


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    """One headless chromium per module; each test opens its own context (cookies of its own)."""
    async with async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=chromium_path, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile in Chinese (cookies, language), closed after the test."""
    profile = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    profile.set_default_timeout(10_000)
    try:
        yield profile
    finally:
        await profile.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def desk(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WebStack]:
    """The running desk (database, Bot API double, ``visitbot bot``, ``visitbot web``), one per module."""
    async with desk_stack(tmp_path_factory.mktemp("desk")) as stack:
        yield stack


@pytest_asyncio.fixture(loop_scope="module")
async def browser_context_pair(browser: Browser) -> AsyncIterator[tuple[BrowserContext, BrowserContext]]:
    """Two fresh browser profiles (two people, or one person on two machines), closed after the test."""
    first = await browser.new_context(locale="zh-CN")
    second = await browser.new_context(locale="zh-CN")
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()
