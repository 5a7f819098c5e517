"""Fixtures for end-to-end Telegram tests: the Bot API double and a prepared database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.bot.telegram.harness import TOKEN, bot_env, prepare
from tests.botapi import BotApiDouble


@pytest.fixture
async def double() -> AsyncIterator[BotApiDouble]:
    async with BotApiDouble(token=TOKEN, bot_username="visit_test_bot") as server:
        yield server


@pytest.fixture
def env(tmp_path: Path, double: BotApiDouble) -> dict[str, str]:
    environ = bot_env(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", double.base_url)
    prepare(environ)
    return environ
