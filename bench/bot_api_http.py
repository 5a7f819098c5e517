"""What one Bot API call costs the bot process over HTTP, by the request it goes through.

``bench.telegram_path`` hands the bot a network-free request, so it leaves out what every real call costs
the process: building the HTTP request, the connection pool, reading the answer. This bench measures that
part alone: ``editMessageText`` and ``answerCallbackQuery`` (half each) on a local Bot API stub
(:class:`bench.workers.StubBotApi`, aiohttp in this process: its CPU is counted too, the same in every
row), one call at a time and as many at once as the bot's update workers (16: what a busy bot process
reaches), through three requests in one run:

- **aiohttp** — :class:`bot.telegram.http.AiohttpRequest` as the bot builds it
  (:func:`bot.telegram.app.bot_api_request`): every call since 2026-12-03;
- **httpx** — PTB's :class:`~telegram.request.HTTPXRequest` with the same pool and timeouts (what every
  call went through before; long polling's ``getUpdates`` still does);
- **httpx, no sniffio** — the same as it ran before ``sniffio`` was a dependency: httpcore asks
  ``import sniffio`` several times per call, and with anyio ≥ 4.10 no longer installing it each ask
  searched every ``sys.path`` entry and failed. Simulated by a finder that makes that search and fails.

Printed: µs and CPU µs per call one at a time, calls/s and CPU µs per call at 16 at once, each request
twice (alternating), and the CPU ratios of the best runs against aiohttp.

``python -m bench.bot_api_http [--calls N]``
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.abc
import importlib.machinery
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from telegram.ext import ExtBot
from telegram.request import BaseRequest, HTTPXRequest

from bench.workers import TOKEN, StubBotApi
from bot.settings import Settings
from bot.telegram.app import bot_api_request

CHAT = 930_000_001
WAYS = ("aiohttp", "httpx", "httpx, no sniffio")


class _Missing(importlib.abc.MetaPathFinder):
    """``import sniffio`` as without it installed: the whole ``sys.path`` searched for it, then ImportError."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "sniffio":
            return None
        importlib.machinery.PathFinder.find_spec("sniffio_not_installed", path)  # the search it made
        raise ModuleNotFoundError("No module named 'sniffio'", name=fullname)


@contextmanager
def sniffio_missing() -> Iterator[None]:
    """Within: ``import sniffio`` searches and fails, as before it was a dependency."""
    saved = sys.modules.pop("sniffio", None)
    finder = _Missing()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        if saved is not None:
            sys.modules["sniffio"] = saved


@dataclass
class Figures:
    """One run of one request."""

    way: str
    us: float
    cpu_us: float
    rps_at_once: float
    """Calls/s with the update workers' number of calls at once."""
    cpu_us_at_once: float


async def calls(bot: ExtBot[Any], count: int, *, at_once: int) -> tuple[float, float]:
    """``count`` calls, half edits and half answered presses: (seconds, CPU seconds)."""
    gate = asyncio.Semaphore(at_once)

    async def one(n: int) -> None:
        async with gate:
            if n % 2:
                await bot.edit_message_text(f"问题 {n}", chat_id=CHAT, message_id=7)
            else:
                await bot.answer_callback_query(f"q{n}")

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(n) for n in range(count)))
    return time.perf_counter() - started, time.process_time() - cpu


def request_of(way: str, settings: Settings) -> BaseRequest:
    if way == "aiohttp":
        return bot_api_request(settings)
    wait = settings.telegram_timeout
    return HTTPXRequest(
        max(settings.update_workers * 2, 8),
        read_timeout=wait,
        write_timeout=wait,
        connect_timeout=wait,
        pool_timeout=wait,
        media_write_timeout=max(wait, 30.0),
    )  # fmt: skip (as build_application built it before)


async def measure(count: int) -> list[Figures]:
    stub = StubBotApi()
    await stub.start()
    settings = Settings(telegram_token=TOKEN, telegram_api_url=stub.base_url)
    bots = {way: ExtBot(TOKEN, base_url=stub.base_url, request=request_of(way, settings)) for way in WAYS}
    figures = []
    try:
        for bot in bots.values():
            await bot.initialize()
            await calls(bot, 200, at_once=1)  # warm: the pool's connections, the code paths
        for way in WAYS * 2:
            with sniffio_missing() if way.endswith("no sniffio") else nullcontext():
                seconds, cpu = await calls(bots[way], count, at_once=1)
                many, many_cpu = await calls(bots[way], count, at_once=settings.update_workers)
            figures.append(Figures(way, seconds / count * 1e6, cpu / count * 1e6, count / many, many_cpu / count * 1e6))
    finally:
        for bot in bots.values():
            await bot.shutdown()
        await stub.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    figures = asyncio.run(measure(args.calls))
    print(f"\nBot API calls over HTTP to a local stub, {args.calls} calls per row (the stub's CPU included)")
    print(f"  {'request':<18} {'µs/call':>8} {'CPU µs':>8}   {'calls/s at 16':>13} {'CPU µs':>8}")
    for f in figures:
        print(f"  {f.way:<18} {f.us:>8.0f} {f.cpu_us:>8.0f}   {f.rps_at_once:>13.0f} {f.cpu_us_at_once:>8.0f}")
    best = {way: min(f.cpu_us for f in figures if f.way == way) for way in WAYS}
    many = {way: min(f.cpu_us_at_once for f in figures if f.way == way) for way in WAYS}
    for way in WAYS[1:]:
        print(
            f"  CPU per call, {way} ÷ aiohttp (best of two): one at a time {best[way] / best['aiohttp']:.2f}×,"
            f" 16 at once {many[way] / many['aiohttp']:.2f}×"
        )


if __name__ == "__main__":
    main()
