"""The webhook receiver in process (bot.telegram.webhook.WebhookReceiver): what Telegram is answered for an
update handled, one that could not be recorded, one that always fails, one that ran out of time; the secret."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.telegram.common import answer_query
from bot.telegram.delivery import ChatOrderedProcessor
from bot.telegram.webhook import ATTEMPTS, SECRET_HEADER, WebhookReceiver
from tests.bot.telegram.harness import TOKEN
from tests.botapi import BotApiDouble

SECRET = "s3cret-Token_for-tests"
TIMEOUT = 0.5  # seconds one update may take here
_ids = itertools.count(1)


class Chats:
    """The handlers' side: what each update did, and what the chat was told after a failure."""

    def __init__(self) -> None:
        self.done: list[str] = []
        self.told: list[str] = []
        self.error: Exception = ValueError("no such option")
        """What an update ``raise`` raises."""

    async def handle(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        text = update.message.text
        if text == "locked":  # the database busy: nothing recorded
            raise OperationalError("INSERT INTO answers", {}, sqlite3.OperationalError("database is locked"))
        if text == "raise":
            raise self.error
        if text.startswith("slow"):
            await asyncio.sleep(float(text.split()[1]))
        self.done.append(text)

    async def press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A press answered as the bot answers one: ``now`` at once, ``locked`` and then not recorded."""
        query = update.callback_query
        assert query is not None
        await answer_query(query, f"已记录 {query.data}", at_once=query.data == "now")
        if query.data == "locked":
            raise OperationalError("INSERT INTO answers", {}, sqlite3.OperationalError("database is locked"))
        self.done.append(f"press {query.data}")

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if isinstance(update, Update) and update.message is not None:
            self.told.append(update.message.text or "")


async def _quiet(update: object) -> None:
    """No timeout notice here."""


@pytest.fixture
async def chats() -> Chats:
    return Chats()


@pytest.fixture
async def receiver(double: BotApiDouble, chats: Chats) -> AsyncIterator[WebhookReceiver]:
    processor = ChatOrderedProcessor(workers=4, timeout=TIMEOUT, on_timeout=_quiet)
    application: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder().token(TOKEN).base_url(double.base_url).updater(None).concurrent_updates(processor).build()
    )
    application.add_handler(MessageHandler(filters.TEXT, chats.handle))
    application.add_handler(CallbackQueryHandler(chats.press))
    application.add_error_handler(chats.on_error)
    await application.initialize()
    await application.start()
    try:
        yield WebhookReceiver(application, secret_token=SECRET, url_path="/telegram/")
    finally:
        await application.stop()
        await application.shutdown()


@pytest.fixture
async def client(receiver: WebhookReceiver) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=receiver.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://worker") as http:
        yield http


def update(text: str, chat: int = 5001, update_id: int | None = None) -> dict[str, object]:
    """A text message as Telegram posts it."""
    user = {"id": chat, "is_bot": False, "first_name": "王磊"}
    message = {"message_id": next(_ids), "date": 1_700_000_000, "from": user, "chat": {**user, "type": "private"}}
    return {"update_id": update_id if update_id is not None else next(_ids), "message": {**message, "text": text}}


async def post(client: httpx.AsyncClient, body: dict[str, object], secret: str | None = SECRET) -> int:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    return (await client.post("/telegram", json=body, headers=headers)).status_code


async def test_an_update_is_answered_200_once_its_handler_has_finished(client: httpx.AsyncClient, chats: Chats) -> None:
    assert await post(client, update("slow 0.2")) == 200
    assert chats.done == ["slow 0.2"], "answered before the handler was done"


async def test_posts_without_the_secret_token_are_refused(client: httpx.AsyncClient, chats: Chats) -> None:
    assert await post(client, update("hello"), secret=None) == 403
    assert await post(client, update("hello"), secret="wrong") == 403
    assert await post(client, update("hello"), secret=SECRET.upper()) == 403
    plain = await client.post("/telegram", content=b'{"update_id": 1}', headers={SECRET_HEADER: SECRET})
    assert plain.status_code == 403, "not JSON"
    assert chats.done == []
    assert await post(client, update("hello")) == 200
    assert chats.done == ["hello"]


async def test_a_body_that_is_no_update_gets_400(client: httpx.AsyncClient) -> None:
    headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
    assert (await client.post("/telegram", content=b"{not json", headers=headers)).status_code == 400


async def test_an_update_the_database_could_not_record_gets_503_until_it_gives_up(
    client: httpx.AsyncClient, chats: Chats
) -> None:
    """Telegram posts it again after a non-2xx; one that keeps failing is acknowledged after ATTEMPTS posts,
    so it is not posted forever."""
    body = update("locked")
    statuses = [await post(client, body) for _ in range(ATTEMPTS)]
    assert statuses == [503] * (ATTEMPTS - 1) + [200]
    assert chats.told == ["locked"] * ATTEMPTS, "the chat is told each time (its answers are safe)"
    assert await post(client, body) == 503, "counted afresh after it was acknowledged"


class PostgresError(Exception):
    """What asyncpg's errors look like through SQLAlchemy: a SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def dbapi_error(sqlstate: str) -> DBAPIError:
    return DBAPIError("SELECT 1", {}, PostgresError(sqlstate))


@pytest.mark.parametrize(
    ("error", "status"),
    [
        pytest.param(dbapi_error("55000"), 503, id="postgresql-not-accepting-connections"),
        pytest.param(dbapi_error("57P03"), 503, id="postgresql-starting-up"),
        pytest.param(dbapi_error("53300"), 503, id="postgresql-too-many-connections"),
        pytest.param(dbapi_error("40P01"), 503, id="deadlock"),
        pytest.param(ConnectionRefusedError(111, "Connection refused"), 503, id="connection-refused"),
        pytest.param(IntegrityError("INSERT", {}, PostgresError("23505")), 200, id="unique-violation"),
        pytest.param(dbapi_error("22P02"), 200, id="invalid-text"),
        pytest.param(ValueError("no such option"), 200, id="bad-data"),
    ],
)
async def test_a_failure_that_would_repeat_is_acknowledged_one_that_may_not_is_posted_again(
    client: httpx.AsyncClient, chats: Chats, error: Exception, status: int
) -> None:
    """Either way the chat was told (the application's error handler)."""
    chats.error = error
    assert await post(client, update("raise")) == status
    assert chats.told == ["raise"]


def press(data: str, chat: int = 5002) -> dict[str, object]:
    """A press of a button with this callback data, as Telegram posts it."""
    user = {"id": chat, "is_bot": False, "first_name": "王磊"}
    message = {"message_id": next(_ids), "date": 1_700_000_000, "chat": {**user, "type": "private"}, "text": "?"}
    query = {"id": str(next(_ids)), "from": user, "message": message, "chat_instance": "1", "data": data}
    return {"update_id": next(_ids), "callback_query": query}


async def test_a_press_is_answered_in_the_webhook_s_response(
    client: httpx.AsyncClient, chats: Chats, double: BotApiDouble
) -> None:
    """One Bot API call fewer per press: Telegram runs the answerCallbackQuery given as the 200's body."""
    body = press("y")
    answer = await client.post("/telegram", json=body, headers={SECRET_HEADER: SECRET})
    assert answer.status_code == 200 and chats.done == ["press y"]
    query_id = body["callback_query"]["id"]  # type: ignore[index]
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"method": "answerCallbackQuery", "callback_query_id": query_id, "text": "已记录 y"}
    assert double.calls("answerCallbackQuery") == [], "no call of its own"


async def test_a_press_answered_at_once_or_not_recorded_is_answered_by_a_call(
    client: httpx.AsyncClient, chats: Chats, double: BotApiDouble
) -> None:
    """'Working on it' cannot wait for the end; an update answered 503 is posted again later, and its
    press must not spin till then."""
    at_once = await client.post("/telegram", json=press("now"), headers={SECRET_HEADER: SECRET})
    assert at_once.status_code == 200 and at_once.content == b""
    locked = await client.post("/telegram", json=press("locked"), headers={SECRET_HEADER: SECRET})
    assert locked.status_code == 503 and locked.content == b""
    assert [r.params["text"] for r in double.calls("answerCallbackQuery")] == ["已记录 now", "已记录 locked"]


async def test_an_update_given_up_after_its_time_limit_gets_503(client: httpx.AsyncClient, chats: Chats) -> None:
    assert await post(client, update(f"slow {TIMEOUT * 4}")) == 503
    assert chats.done == []


async def test_a_chat_s_updates_keep_their_order_and_other_chats_do_not_wait(
    client: httpx.AsyncClient, chats: Chats
) -> None:
    first = asyncio.create_task(post(client, update("slow 0.3", chat=1)))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(post(client, update("next", chat=1)))
    other = asyncio.create_task(post(client, update("other", chat=2)))
    assert await other == 200
    assert chats.done == ["other"], "another chat's update waited behind a slow one"
    assert [await first, await second] == [200, 200]
    assert chats.done == ["other", "slow 0.3", "next"]


async def test_a_stopping_worker_answers_503(
    client: httpx.AsyncClient, receiver: WebhookReceiver, chats: Chats
) -> None:
    receiver.closing = True
    assert await post(client, update("hello")) == 503
    assert chats.done == []
