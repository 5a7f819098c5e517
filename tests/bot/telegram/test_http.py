"""The bot's Bot API calls over aiohttp (bot.telegram.http): what reaches the server, uploads, timeouts,
a server that cannot be reached, a proxy from the environment; and no import searched at each call."""

from __future__ import annotations

import asyncio
import importlib.abc
import importlib.machinery
import json
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import Bot
from telegram.error import BadRequest, NetworkError, TimedOut
from telegram.request import HTTPXRequest

from bot.app import make_services
from bot.settings import Settings
from bot.telegram.app import build_application
from bot.telegram.http import AiohttpRequest

TOKEN = "123456:testTOKEN"
ME = {"id": 123456, "is_bot": True, "first_name": "Visit", "username": "visit_bot"}


@dataclass
class Seen:
    """What the stub Bot API was sent."""

    calls: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    """(method, fields, User-Agent) per call; an uploaded file as (filename, content type, bytes)."""
    hanging: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once a call to ``hang`` came in."""
    hang: asyncio.Event = field(default_factory=asyncio.Event)
    """Set to let ``hang`` answer."""


@pytest.fixture
async def api() -> AsyncIterator[tuple[str, Seen]]:
    """A Bot API on a local port: getMe, sendMessage, sendDocument; ``hang`` answers nothing till set."""
    seen = Seen()

    async def handle(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        fields: dict[str, Any] = {}
        if request.content_type == "multipart/form-data":
            async for part in await request.multipart():
                if isinstance(part, aiohttp.BodyPartReader) and part.name:
                    data = await part.read()
                    fields[part.name] = (
                        (part.filename, part.headers.get("Content-Type"), bytes(data))
                        if part.filename
                        else data.decode()
                    )
        else:
            fields = dict(await request.post())
        seen.calls.append((method, fields, request.headers.get("User-Agent", "")))
        if method == "hang":
            seen.hanging.set()
            await seen.hang.wait()
        if method == "getMe":
            return web.json_response({"ok": True, "result": ME})
        if method == "sendMessage" and fields.get("text") == "":
            return web.json_response(
                {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"}, status=400
            )
        message = {"message_id": 7, "date": 0, "chat": {"id": int(fields.get("chat_id", 1)), "type": "private"}}
        return web.json_response({"ok": True, "result": message | {"text": "x"}})

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/bot", seen
    finally:
        seen.hang.set()
        await runner.cleanup()


async def test_a_call_posts_its_fields_and_returns_what_telegram_said(api: tuple[str, Seen]) -> None:
    url, seen = api
    async with Bot(TOKEN, base_url=url, request=AiohttpRequest()) as bot:
        sent = await bot.send_message(42, "您好 <b>张健</b>", parse_mode="HTML")
        assert sent.message_id == 7 and sent.chat.id == 42
        with pytest.raises(BadRequest, match="Message text is empty"):  # Telegram's error, as PTB's own request
            await bot.send_message(42, "")
    method, fields, agent = seen.calls[-2]
    assert method == "sendMessage" and fields["text"] == "您好 <b>张健</b>" and fields["parse_mode"] == "HTML"
    assert agent.startswith("python-telegram-bot")


async def test_an_upload_sends_the_file_with_its_name_type_and_the_other_fields(api: tuple[str, Seen]) -> None:
    url, seen = api
    report = "回访记录,张健\n".encode()
    async with Bot(TOKEN, base_url=url, request=AiohttpRequest()) as bot:
        await bot.send_document(42, report, filename="回访.csv", caption="本周回访")
    method, fields, _ = seen.calls[-1]
    assert method == "sendDocument" and fields["chat_id"] == "42" and fields["caption"] == "本周回访"
    [name] = [k for k, v in fields.items() if isinstance(v, tuple)]
    filename, content_type, content = fields[name]
    assert filename == "回访.csv" and content == report and content_type and content_type.startswith("text/csv")


async def test_a_bot_api_that_does_not_answer_in_time_is_a_timeout(api: tuple[str, Seen]) -> None:
    url, _ = api
    async with Bot(TOKEN, base_url=url, request=AiohttpRequest(read_timeout=0.3)) as bot:
        with pytest.raises(TimedOut):
            await bot.do_api_request("hang")


async def test_a_full_pool_is_a_timeout_and_the_call_was_not_sent(api: tuple[str, Seen]) -> None:
    """One connection, held by a call that hangs: the next waits its pool timeout and gives up unsent."""
    url, seen = api
    async with Bot(TOKEN, base_url=url, request=AiohttpRequest(1, read_timeout=5, pool_timeout=0.2)) as bot:
        hung = asyncio.create_task(bot.do_api_request("hang"))
        await asyncio.wait_for(seen.hanging.wait(), 5)
        with pytest.raises(TimedOut):
            await bot.send_message(42, "next", pool_timeout=0.2)
        assert [m for m, _, _ in seen.calls].count("sendMessage") == 0
        seen.hang.set()
        await hung


async def test_a_bot_api_that_cannot_be_reached_is_a_network_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()  # nothing listens on that port now
    bot = Bot(TOKEN, base_url=f"http://127.0.0.1:{port}/bot", request=AiohttpRequest())
    with pytest.raises(NetworkError, match="aiohttp"):
        await bot.initialize()  # (its getMe)
    await bot.shutdown()


async def test_a_proxy_from_the_environment_is_used_unless_no_proxy_names_the_host(
    api: tuple[str, Seen], monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY points at a local proxy that answers itself; NO_PROXY=127.0.0.1 sends calls straight."""
    url, seen = api
    asked: list[str] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while head := await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b"":  # each request, till closed
            lines = head.split(b"\r\n")
            length = next((int(x.split(b":")[1]) for x in lines if x.lower().startswith(b"content-length")), 0)
            await reader.readexactly(length)
            asked.append(lines[0].split(b" ")[1].decode())  # a proxy is asked for the absolute URL
            body = json.dumps({"ok": True, "result": ME}).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
            writer.write(body)
            await writer.drain()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    for name in ("HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{port}")
    try:
        async with Bot(TOKEN, base_url=url, request=AiohttpRequest()) as bot:
            assert (await bot.get_me()).username == "visit_bot"
        assert asked == [f"{url}{TOKEN}/getMe"] * 2 and not seen.calls  # (initialize's getMe, then ours)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        async with Bot(TOKEN, base_url=url, request=AiohttpRequest()) as bot:
            await bot.get_me()
        assert len(asked) == 2 and [m for m, _, _ in seen.calls] == ["getMe"] * 2
    finally:
        server.close()
        await server.wait_closed()


def test_the_bot_makes_its_calls_through_aiohttp(tmp_path: Any) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", telegram_token=TOKEN)
    app = build_application(make_services(settings))
    assert isinstance(app.bot.request, AiohttpRequest)


class _Recorder(importlib.abc.MetaPathFinder):
    """Records every module an import looks for (one not yet imported, or not installed)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        self.names.append(fullname)
        return None


@pytest.mark.parametrize("kind", ["aiohttp", "httpx"])
async def test_a_call_looks_for_no_module(api: tuple[str, Seen], kind: str) -> None:
    """Before sniffio was a dependency, httpcore looked for it (every sys.path entry) several times a call;
    PTB's httpx request still makes long polling's getUpdates."""
    url, _ = api
    request = AiohttpRequest() if kind == "aiohttp" else HTTPXRequest()
    async with Bot(TOKEN, base_url=url, request=request) as bot:
        await bot.get_me()  # the first call may import what it needs once
        recorder = _Recorder()
        sys.meta_path.insert(0, recorder)
        try:
            for _ in range(3):
                await bot.get_me()
        finally:
            sys.meta_path.remove(recorder)
    assert recorder.names == []
