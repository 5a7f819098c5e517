"""The limiter's queue is per chat fair: one busy chat never delays the others.

Counted in limiter turns (the order calls went out), not in seconds: one chat has 100 calls queued
(replies, or outbox sends), then another chat's single call comes, and it goes within two turns: the busy
chat's turn already handed out when it came, and at most one more (the chats take turns)."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.telegram.delivery import ChatPace, ChatPacedLimiter
from bot.telegram.turns import FairTurns

BUSY, QUIET = 1, 2


class Recorder:
    """A Bot API call that succeeds at once, keeping the order chats were called in."""

    def __init__(self) -> None:
        self.chats: list[int] = []

    async def __call__(self, chat: int) -> dict[str, Any]:
        self.chats.append(chat)
        return {"ok": True}


async def through(limiter: ChatPacedLimiter, api: Recorder, chat: int, pace: ChatPace | None) -> object:
    return await limiter.process_request(api, (chat,), {}, "sendMessage", {"chat_id": chat}, pace)


async def until(condition: Any) -> None:
    """Let the other tasks run until ``condition()`` holds (no clock involved)."""
    for _ in range(100_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


async def turns_until_quiet(pace: ChatPace | None) -> tuple[int, Recorder]:
    """100 calls of the busy chat queued, the quiet chat's one after them: the calls that went before it."""
    limiter, api = ChatPacedLimiter(per_bot=400, margin=0), Recorder()
    busy = [asyncio.ensure_future(through(limiter, api, BUSY, pace)) for _ in range(100)]
    await until(lambda: len(api.chats) >= 2)  # the busy chat's backlog is queued and going out
    quiet = asyncio.ensure_future(through(limiter, api, QUIET, None))
    before = len(api.chats)
    await quiet
    position = api.chats.index(QUIET)
    await asyncio.gather(*busy)
    await limiter.shutdown()
    assert api.chats.count(BUSY) == 100
    assert api.chats[:position] == [BUSY] * position, "the busy chat's calls keep going in order"
    return position - before, api


async def test_a_chat_with_100_replies_queued_delays_another_chats_reply_two_turns_at_most() -> None:
    waited, _ = await turns_until_quiet(None)
    assert waited <= 2, f"the quiet chat waited {waited} turns behind the busy chat's backlog"


async def test_a_chat_with_100_outbox_sends_queued_delays_another_chats_reply_two_turns_at_most() -> None:
    waited, _ = await turns_until_quiet(ChatPace(every=0.0))  # paced sends, their 1 s per chat left out
    assert waited <= 2, f"the quiet chat waited {waited} turns behind the busy chat's outbox sends"


async def test_turns_go_round_robin_over_the_chats_waiting_each_chats_in_order() -> None:
    """Turns handed out one by one by the test: three chats with 3, 2 and 1 calls queued take turns
    A B C A B A; a call given up while it waited is skipped, not handed a turn."""
    tokens: asyncio.Queue[None] = asyncio.Queue()
    turns = FairTurns(tokens.get)
    order: list[str] = []

    async def call(chat: str, n: int) -> None:
        await turns.turn(chat)
        order.append(f"{chat}{n}")

    calls = [
        asyncio.ensure_future(call(chat, n)) for chat, count in (("A", 3), ("B", 2), ("C", 1)) for n in range(count)
    ]
    given_up = asyncio.ensure_future(call("D", 0))
    await until(lambda: turns.waiting == 7)
    given_up.cancel()
    for expected in range(1, 7):
        tokens.put_nowait(None)
        await until(lambda n=expected: len(order) == n)
    await asyncio.gather(*calls)
    assert order == ["A0", "B0", "C0", "A1", "B1", "A2"]
    assert turns.turns == 6 and turns.waiting == 0
    await turns.close()
