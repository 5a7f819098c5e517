"""The double's fault injection against a real PTB Bot: seeded 5xx rates, per-chat flood waits,
hung calls, and the count of buttons left spinning."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from telegram import Bot
from telegram.error import NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from . import BotApiDouble

TOKEN = "123:ABC"


@pytest.fixture
async def double() -> AsyncIterator[BotApiDouble]:
    async with BotApiDouble(token=TOKEN) as running:
        yield running


async def outcomes(bot: Bot, chat_id: int, count: int) -> list[bool]:
    """Send `count` messages; True for each that went through."""
    results = []
    for index in range(count):
        try:
            await bot.send_message(chat_id, f"m{index}")
            results.append(True)
        except NetworkError:
            results.append(False)
    return results


async def test_a_seeded_failure_rate_fails_the_same_calls_every_run(double: BotApiDouble) -> None:
    user = double.user(1001)
    runs = []
    async with Bot(TOKEN, base_url=double.base_url) as bot:
        for _ in range(2):
            double.clear_failures()
            double.fail_rate("sendMessage", 0.3, 502, seed=4)
            runs.append(await outcomes(bot, user.chat_id, 40))
    assert runs[0] == runs[1]
    assert 4 <= runs[0].count(False) <= 20
    assert len(user.messages) == 2 * runs[0].count(True), "a failed call has no effect"
    assert {f.fault for f in double.faults_fired} == {"502"}


async def test_fail_next_for_one_chat_and_a_predicate(double: BotApiDouble) -> None:
    first, second = double.user(1001), double.user(1002)
    double.fail_next("sendMessage", status=500, chat_id=first.chat_id, when=lambda p: p.get("text") == "b")
    async with Bot(TOKEN, base_url=double.base_url) as bot:
        await bot.send_message(second.chat_id, "b")
        await bot.send_message(first.chat_id, "a")
        with pytest.raises(NetworkError):
            await bot.send_message(first.chat_id, "b")
        await bot.send_message(first.chat_id, "b")
    assert [m.text for m in first.messages] == ["a", "b"]


async def test_flood_wait_limits_one_chat_with_the_time_left(double: BotApiDouble) -> None:
    limited, other = double.user(1001), double.user(1002)
    double.flood_wait(limited.chat_id, 3.0)
    async with Bot(TOKEN, base_url=double.base_url) as bot:
        with pytest.raises(RetryAfter):
            await bot.send_message(limited.chat_id, "x")
        await bot.send_message(other.chat_id, "y")
        await asyncio.sleep(1.1)
        with pytest.raises(RetryAfter):
            await bot.send_message(limited.chat_id, "x")
    refused = [r.error for r in double.calls("sendMessage") if r.status == 429]
    assert refused == ["Too Many Requests: retry after 3", "Too Many Requests: retry after 2"]
    assert [m.text for m in other.messages] == ["y"] and not limited.messages


async def test_a_hung_call_times_out_and_is_lost_unless_applied(double: BotApiDouble) -> None:
    user = double.user(1001)
    request = HTTPXRequest(read_timeout=0.3)
    double.hang("sendMessage", 0.8, chat_id=user.chat_id)
    double.hang("sendMessage", 0.8, apply=True, when=lambda p: p.get("text") == "applied")
    async with Bot(TOKEN, base_url=double.base_url, request=request) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(user.chat_id, "lost")
        with pytest.raises(TimedOut):
            await bot.send_message(user.chat_id, "applied")
        await user.wait_for_message("applied", timeout=3)
    assert [m.text for m in user.messages] == ["applied"]
    assert [f.fault for f in double.faults_fired] == ["hang", "hang"]


async def test_spinning_counts_presses_not_answered_in_time(double: BotApiDouble) -> None:
    user = double.user(1001)
    async with Bot(TOKEN, base_url=double.base_url) as bot:
        sent = await bot.send_message(user.chat_id, "q", reply_markup=None)
        answered = await user.press_data("x", sent.message_id)
        ignored = await user.press_data("y", sent.message_id)
        double.fail_next("answerCallbackQuery", status=502)
        with pytest.raises(NetworkError):
            await bot.answer_callback_query(answered)
        assert double.spinning(within=0.0) == [answered, ignored]
        await bot.answer_callback_query(answered)
    latency = double.press_latency(answered)
    assert latency is not None and latency < 5
    assert double.spinning(within=5.0) == []
    assert double.callback_tally() == {"answered": 1, "unanswered": 1}
    assert double.spinning(within=0.0) == [answered, ignored]
    assert user.pressed == [answered, ignored] and set(user.callback_answers) == {answered}
