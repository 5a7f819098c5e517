"""Webhook mode: two bot processes on one PostgreSQL database behind a load balancer; the secret token."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from storage.db import make_engine
from storage.models import Answer
from tests.bot.telegram.harness import OFFICER_ID, OTHER_BORROWING_TO_END, bot_env, cli, converse, prepare, running
from tests.botapi import BotApiDouble
from tests.conftest import drop_postgres_database, new_postgres_database

SECRET = "s3cret-Token_for-tests"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_update_ids = itertools.count(900_000)


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def webhook_args(port: int) -> tuple[str, ...]:
    return ("--webhook", "--listen", "127.0.0.1", "--port", str(port), "--path", "telegram")


class LoadBalancer:
    """Forwards Telegram's webhook posts to one backend each (the double picks which, round-robin)
    and notes which backend accepted which update."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.backends = [f"http://127.0.0.1:{port}/telegram" for port in ports]
        self.accepted: list[tuple[int, int]] = []  # (backend index, update_id)
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def __aenter__(self) -> LoadBalancer:
        app = web.Application()
        app.router.add_post("/{index}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._session.close()
        assert self._runner is not None
        await self._runner.cleanup()

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{self.port}/{i}" for i in range(len(self.backends))]

    async def _forward(self, request: web.Request) -> web.Response:
        index = int(request.match_info["index"])
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k in ("Content-Type", SECRET_HEADER)}
        try:
            async with self._session.post(self.backends[index], data=body, headers=headers) as response:
                status, answer, kind = response.status, await response.read(), response.content_type
        except aiohttp.ClientError:
            return web.Response(status=502)
        if status == 200:
            self.accepted.append((index, int(json.loads(body)["update_id"])))
        return web.Response(status=status, body=answer, content_type=kind)  # a press's answer rides on it


def officer_update(text: str) -> dict[str, object]:
    """An update as Telegram would post it for a command the officer typed."""
    command = text.split()[0]
    return {
        "update_id": next(_update_ids),
        "message": {
            "message_id": next(_update_ids),
            "date": 1_700_000_000,
            "from": {"id": OFFICER_ID, "is_bot": False, "first_name": "王磊", "language_code": "zh-hans"},
            "chat": {"id": OFFICER_ID, "type": "private", "first_name": "王磊"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        },
    }


async def listening(double: BotApiDouble, url: str) -> None:
    """Wait until a webhook server answers (a post without the secret is refused once it is up)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while await double.post_raw(url, {"update_id": 0}, None) == 0:
        assert loop.time() < deadline, f"nothing listens on {url}"
        await asyncio.sleep(0.1)


async def visits_json(env: dict[str, str]) -> list[dict[str, object]]:
    return list(json.loads(await asyncio.to_thread(cli, env, "visits", "list", "--json")))


@pytest.fixture
def pg_env(postgres_server: str, double: BotApiDouble) -> Iterator[dict[str, str]]:
    """A fresh PostgreSQL database with the demo data, dropped after the test."""
    name, url = new_postgres_database(postgres_server)
    try:
        environ = bot_env(url, double.base_url, VISITBOT_WEBHOOK_SECRET=SECRET)
        prepare(environ)
        yield environ
    finally:
        drop_postgres_database(name)


@pytest.fixture
async def balancer() -> AsyncIterator[LoadBalancer]:
    async with LoadBalancer([free_port(), free_port()]) as lb:
        yield lb


async def test_two_processes_on_one_postgres_serve_one_conversation(
    double: BotApiDouble, pg_env: dict[str, str], balancer: LoadBalancer, tmp_path: Path
) -> None:
    officer = double.user(OFFICER_ID, "王磊")
    async with (
        running(pg_env, tmp_path / "a.log", *webhook_args(balancer.ports[0])) as first,
        running(pg_env, tmp_path / "b.log", *webhook_args(balancer.ports[1])) as second,
    ):
        for url in balancer.backends:
            await listening(double, url)
        assert double.webhook_secret == SECRET
        double.deliver_to(balancer.urls)
        await officer.send("/visit B001")
        await officer.wait_for_message("请问您是", timeout=30)
        await officer.press("是本人")
        await officer.wait_for_message("还记得吗")
        await officer.press("记得")
        business = await officer.wait_for_message("经营状况")
        # A double tap: the two presses reach different processes at once; the visit's row lock
        # lets one record and the other find the question answered.
        taps = [await officer.press("好", business), await officer.press("好", business)]
        texts = [(await officer.wait_for_answer(tap)).text or "" for tap in taps]
        assert sorted("未重复记录" in text for text in texts) == [False, True] and "已记录" in texts, texts
        press = await converse(officer, OTHER_BORROWING_TO_END)
        await officer.wait_for_message("回访结束")
        assert press is not None
        await officer.wait_for_answer(press)
        await asyncio.to_thread(first.stop)
        await asyncio.to_thread(second.stop)
    for process in (first, second):
        assert "Traceback" not in process.output(), process.output()

    # Both processes served the conversation, and every update reached exactly one of them.
    served = {index for index, _ in balancer.accepted}
    assert served == {0, 1}, balancer.accepted
    update_ids = [update_id for _, update_id in balancer.accepted]
    assert len(update_ids) == len(set(update_ids)) == 16

    record = json.loads(await asyncio.to_thread(cli, pg_env, "visits", "show", "1", "--json"))
    assert record["status"] == "finished" and record["outcome"] == "completed"
    steps = [a["step"] for a in record["answers"]]
    assert steps == [
        "identity", "introduction", "business_status", "other_borrowing", "other_borrowing_amount",
        "other_borrowing_lender", "changes", "loan_use", "products", "needs", "renewal", "referral", "rapport",
    ]  # fmt: skip
    amount = record["answers"][4]
    assert amount["raw"] == "5万" and amount["value"] == "50000"
    engine = make_engine(pg_env["VISITBOT_DATABASE_URL"])
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(func.count()).select_from(Answer))).scalar_one()
    finally:
        await engine.dispose()
    assert rows == len(steps), "no answer row stored twice, not even a taken-back one"
    answered = {r.params["callback_query_id"] for r in double.calls("answerCallbackQuery") if r.status == 200}
    assert len(answered) == 11
    in_response = [r for r in double.calls("answerCallbackQuery") if r.in_response]
    assert in_response, "presses are answered in the webhook's 200, through the load balancer"


async def test_webhook_refuses_requests_without_the_secret_token(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    environ = {**env, "VISITBOT_WEBHOOK_SECRET": SECRET}
    officer = double.user(OFFICER_ID, "王磊")
    async with running(environ, tmp_path / "bot.log", *webhook_args(port)) as bot:
        await listening(double, url)
        assert await double.post_raw(url, officer_update("/visit B001"), None) == 403
        assert await double.post_raw(url, officer_update("/visit B001"), "wrong-token") == 403
        assert await double.post_raw(url, officer_update("/visit B001"), SECRET.upper()) == 403
        # The same request with the right token goes through: the refusals were about the token.
        assert await double.post_raw(url, officer_update("/help"), SECRET) == 200
        await officer.wait_for_message("/visit", timeout=15)
        await asyncio.to_thread(bot.stop)
    assert [m.text for m in officer.messages if "请问您是" in (m.text or "")] == []
    assert await visits_json(env) == []


async def test_no_set_webhook_leaves_telegram_s_setting_alone(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    """``--no-set-webhook`` (the URL registered by hand, or by another worker): no setWebhook on start, and
    the webhook serves all the same."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    environ = {**env, "VISITBOT_WEBHOOK_SECRET": SECRET}
    officer = double.user(OFFICER_ID, "王磊")
    async with running(environ, tmp_path / "bot.log", *webhook_args(port), "--no-set-webhook") as bot:
        await listening(double, url)
        assert await double.post_raw(url, officer_update("/help"), SECRET) == 200
        await officer.wait_for_message("/visit", timeout=15)
        await asyncio.to_thread(bot.stop)
    assert double.calls("setWebhook") == [] and double.webhook_url == ""
