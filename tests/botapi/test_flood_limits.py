"""The double's flood control (opt-in): too many calls per bot or per chat within a sliding window are
answered 429 with retry_after, have no effect, and are counted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from telegram import Bot
from telegram.error import RetryAfter

from bot.telegram.delivery import retry_seconds

from . import BotApiDouble

TOKEN = "123:ABC"


@pytest.fixture
async def double() -> AsyncIterator[BotApiDouble]:
    async with BotApiDouble(token=TOKEN) as running:
        yield running


async def went_through(bot: Bot, chat_ids: list[int]) -> list[bool]:
    """Send one message to each chat at once; True for each that was let through."""

    async def one(chat_id: int) -> bool:
        try:
            await bot.send_message(chat_id, "hi")
        except RetryAfter:
            return False
        return True

    return list(await asyncio.gather(*(one(chat_id) for chat_id in chat_ids)))


async def test_off_by_default(double: BotApiDouble) -> None:
    user = double.user(1001)
    async with Bot(TOKEN, base_url=double.base_url) as bot:
        assert await went_through(bot, [user.chat_id] * 5) == [True] * 5


async def test_a_chat_over_its_limit_gets_429_with_retry_after_and_nothing_sent(double: BotApiDouble) -> None:
    user = double.user(1001)
    tally = double.flood_limits(per_bot=30, per_chat=1, window=1.0)
    async with Bot(TOKEN, base_url=double.base_url) as bot:
        await bot.send_message(user.chat_id, "first")
        with pytest.raises(RetryAfter) as refused:
            await bot.send_message(user.chat_id, "too soon")
        assert retry_seconds(refused.value) == 1
        await bot.get_me()  # a call about no chat is not counted
    assert [m.text for m in user.messages] == ["first"]
    assert tally.refused == 1 and len(tally.calls) == 2
    assert [f.fault for f in double.faults_fired] == ["429"]


async def test_the_bots_limit_spans_chats_and_the_window_slides(double: BotApiDouble) -> None:
    users = [double.user(2000 + n) for n in range(8)]
    tally = double.flood_limits(per_bot=5, per_chat=5, window=0.5)
    async with Bot(TOKEN, base_url=double.base_url) as bot:
        first = await went_through(bot, [u.chat_id for u in users])
        assert first.count(True) == 5 and tally.refused == 3
        await asyncio.sleep(0.6)  # the first calls have left the window
        assert await went_through(bot, [u.chat_id for u in users[:5]]) == [True] * 5
    assert tally.busiest_window() == 8  # what the bot tried, refused calls included
    assert sum(len(u.messages) for u in users) == 10


async def test_the_tally_reports_the_closest_calls_to_one_chat(double: BotApiDouble) -> None:
    user, other = double.user(1001), double.user(1002)
    tally = double.flood_limits(per_bot=30, per_chat=1, window=0.2)
    async with Bot(TOKEN, base_url=double.base_url) as bot:
        await bot.send_message(user.chat_id, "a")
        await bot.send_message(other.chat_id, "b")
        await asyncio.sleep(0.3)
        await bot.send_message(user.chat_id, "c")
    closest = tally.closest_in_a_chat()
    assert closest is not None and 0.3 <= closest < 1.0
    assert tally.refused == 0
    double.clear_failures()
    assert double.faults.limits is None
