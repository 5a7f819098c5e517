"""Per-chat order and time limits for updates; retries and per-chat flood waits for Bot API calls."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from telegram import CallbackQuery, Chat, Message, Update, User
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.telegram.delivery import ChatOrderedProcessor, ChatPacedLimiter
from bot.telegram.render import parse_callback, record_id

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2")  # PTB's own RetryAfter()


def update(update_id: int, chat_id: int) -> Update:
    chat = Chat(id=chat_id, type="private")
    return Update(update_id, message=Message(update_id, datetime.now(UTC), chat, text=str(update_id)))


async def nothing(_update: object) -> None:
    return None


async def test_a_flooding_chat_keeps_its_order_and_delays_no_other_chat() -> None:
    """300 updates of one chat run one by one, in order; another chat's update is done at once."""
    processor = ChatOrderedProcessor(workers=4, timeout=10, on_timeout=nothing)
    seen: list[int] = []
    loop = asyncio.get_running_loop()
    done_at: dict[str, float] = {}

    async def handle(u: Update, work: float) -> None:
        await asyncio.sleep(work)
        seen.append(u.update_id)

    flood = [update(i, 1) for i in range(300)]
    tasks = [asyncio.create_task(processor.process_update(u, handle(u, 0.002))) for u in flood]
    await asyncio.sleep(0.01)
    start = loop.time()
    other = update(1000, 2)
    await processor.process_update(other, handle(other, 0.0))
    done_at["other"] = loop.time() - start
    await asyncio.gather(*tasks)
    done_at["flood"] = loop.time() - start
    assert [i for i in seen if i < 1000] == list(range(300)), "one chat's updates stay in order"
    assert done_at["other"] < 0.1 < done_at["flood"], done_at


async def test_an_update_over_its_time_limit_is_abandoned_and_reported() -> None:
    """A hung handler is cut off; the chat's next update runs, and the timeout is reported once."""
    reported: list[int] = []

    async def report(u: object) -> None:
        assert isinstance(u, Update)
        reported.append(u.update_id)

    processor = ChatOrderedProcessor(workers=2, timeout=0.2, on_timeout=report)
    ran: list[int] = []

    async def hang() -> None:
        await asyncio.sleep(60)

    async def quick() -> None:
        ran.append(2)

    await asyncio.wait_for(
        asyncio.gather(processor.process_update(update(1, 5), hang()), processor.process_update(update(2, 5), quick())),
        timeout=5,
    )
    assert reported == [1] and ran == [2]


def press(update_id: int, chat_id: int) -> Update:
    chat = Chat(id=chat_id, type="private")
    shown = Message(1, datetime.now(UTC), chat, text="?")
    user = User(chat_id, "x", is_bot=False)
    return Update(update_id, callback_query=CallbackQuery(str(update_id), user, "ci", message=shown, data="a:1:s:v"))


async def test_a_press_waiting_behind_its_chat_is_answered_in_time() -> None:
    """A press queued behind a slow update of its chat gets its 'working on it' answer at the deadline."""
    answered: list[tuple[int, float]] = []
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def working(u: object) -> None:
        assert isinstance(u, Update)
        answered.append((u.update_id, loop.time() - start))

    processor = ChatOrderedProcessor(
        workers=2, timeout=10, on_timeout=nothing, on_slow_press=working, press_deadline=0.2
    )
    await asyncio.gather(
        processor.process_update(update(1, 9), asyncio.sleep(0.6)),
        processor.process_update(press(2, 9), asyncio.sleep(0)),
        processor.process_update(press(3, 8), asyncio.sleep(0)),
    )
    assert [u for u, _ in answered] == [2], "only the press that waited"
    assert 0.2 <= answered[0][1] < 0.5, answered


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="workers"):
        ChatOrderedProcessor(workers=0, timeout=1, on_timeout=nothing)
    with pytest.raises(ValueError, match="attempts"):
        ChatPacedLimiter(attempts=0)


class FlakyApi:
    """A Bot API call that fails with the given errors first, then succeeds."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self, *_args: Any, **_kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {"ok": True}


async def call(limiter: ChatPacedLimiter, api: FlakyApi, chat_id: int | None) -> object:
    data: dict[str, Any] = {} if chat_id is None else {"chat_id": chat_id}
    return await limiter.process_request(api, (), {}, "sendMessage", data, None)


async def test_a_flood_wait_pauses_only_its_chat() -> None:
    """A 429 retry_after=1 for chat 1: chat 1's call succeeds after ~1 s, chat 2's goes through at once."""
    limiter = ChatPacedLimiter(backoff=0.01)
    loop = asyncio.get_running_loop()
    flooded, other = FlakyApi(RetryAfter(1)), FlakyApi()
    start = loop.time()
    waiting = asyncio.create_task(call(limiter, flooded, 1))
    await asyncio.sleep(0.05)
    assert await call(limiter, other, 2) == {"ok": True}
    other_took = loop.time() - start
    assert await waiting == {"ok": True}
    flooded_took = loop.time() - start
    assert other_took < 0.3 and flooded_took >= 1.0, (other_took, flooded_took)
    assert flooded.calls == 2


async def test_failures_on_the_way_are_retried_refusals_are_not() -> None:
    limiter = ChatPacedLimiter(backoff=0.01)
    api = FlakyApi(NetworkError("Bad Gateway"), TimedOut())
    assert await call(limiter, api, 3) == {"ok": True} and api.calls == 3
    refused = FlakyApi(BadRequest("Message is not modified"))
    with pytest.raises(BadRequest):
        await call(limiter, refused, 3)
    assert refused.calls == 1
    broken = FlakyApi(*[NetworkError("Bad Gateway")] * 10)
    with pytest.raises(NetworkError):
        await call(limiter, broken, None)
    assert broken.calls == limiter.attempts
    too_long = FlakyApi(RetryAfter(3600))
    with pytest.raises(RetryAfter):
        await call(limiter, too_long, 4)
    assert too_long.calls == 1


@pytest.mark.parametrize("data", ["a:²:identity:self", "a:1" + "0" * 40 + ":x:y", "a:abc:x:y", "a:1:x", "zz", ""])
def test_garbled_callback_data_is_no_button(data: str) -> None:
    """Forged ids (non-ASCII digits, beyond BIGINT, words) never reach int() or the database."""
    assert parse_callback(data) is None


def test_record_ids() -> None:
    assert record_id("42") == 42
    assert record_id("²") is None and record_id("٣") is None and record_id("9" * 19) is None
