"""The anchors of issue 13: the peers visitbot is compared against, measured in their own virtualenv.

Run by ``.venv-anchors/bin/python`` (``python -m bench.anchors`` makes that venv and runs this file); it
imports none of the project's packages. Every anchor runs the same 10-question dialog: answers 1, 3, 5 …
press the first button of the question shown (a callback query on that message), answers 2, 4 … are typed
text. Each conversation is one private chat: ``/start`` (not timed) shows the first question, then the 10
answers, each sent as soon as the reply to the previous one came. Updates go through the library's real
dispatch with a network-free bot — a fake request (PTB ``BaseRequest``) or session (aiogram
``BaseSession``) answering every Bot API call with canned valid JSON, parsed by the library as a real
answer would be:

- ``ptb_echo``: PTB ``Application`` started as in production (no updater), the ``Update`` made with
  ``Update.de_json`` and put into ``update_queue`` (as the updater does; PTB's default sequential
  processing); one handler for every message and callback query calls ``reply_text``.
- ``ptb_conversation_memory``: the same application with a ``ConversationHandler`` of 10 states (button
  states answer the callback query and edit the question into the next one; text states reply with the
  next one), in memory (not durable).
- ``aiogram_dialog_memory`` / ``aiogram_dialog_redis``: aiogram 3 ``Dispatcher`` + aiogram-dialog, one
  ``Dialog`` of 10 windows and a final one (``Button`` / ``MessageInput`` → ``manager.next()``), the
  update made with ``Update.model_validate`` and fed with ``Dispatcher.feed_update`` in the
  conversation's task (as polling does with ``handle_as_tasks``); ``MemoryStorage`` or ``RedisStorage``
  (127.0.0.1:6379 db ``REDIS_DB``, keys under a per-run prefix, deleted at the end).
- ``echo_commit_sqlite`` / ``echo_commit_postgres``: ``ptb_echo`` plus one bare Core INSERT and COMMIT
  (SQLAlchemy async) per update before the reply; SQLite in a temp file with WAL and
  ``synchronous=FULL`` (aiosqlite), PostgreSQL through asyncpg into a scratch table dropped after.

Per anchor: µs per answer with one conversation at a time (the median of a few rounds), answers/s with
200 and 1,000 conversations at once (concurrent tasks in one process; the median of the rounds), and the
p50 / p99 reply latency in ms at 200 and 1,000 (update in, before it is parsed → the Bot API call showing
the reply made). Also in each row: ``cpu_us_per_answer`` (this process's CPU time per answer, sequentially:
steadier than wall time on a busy machine) and ``loadavg_1m`` (when the anchor started). ``--quick`` runs
fewer rounds (a smoke run); ``--json PATH`` writes the rows; ``--only NAME`` (repeatable) measures only those
anchors. Exit status 1 if a conversation got stuck (a reply never came).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.metadata
import itertools
import json
import logging
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ANSWERS = 10
"""Questions per dialog (answers per conversation)."""
BOT_ID = 4_243_000
TOKEN = f"{BOT_ID}:anchorsTOKEN"
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Anchor bench", "username": "anchor_bench_bot"}
FIRST_CHAT = 800_000_000
REDIS_URL = "redis://127.0.0.1:6379"
REDIS_DB = 13
REDIS_CONNECTIONS = 100
"""The Redis client's pool (a ``BlockingConnectionPool``: past this many commands at once, they wait)."""
"""A Redis database the project does not use; only this run's keys (its prefix) are deleted."""
POSTGRES_URL = os.environ.get("VISITBOT_ANCHORS_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REPLY_WAIT = 300.0
"""Seconds a phase may take before the conversations still waiting for a reply count as stuck."""
NAMES = (
    "ptb_echo",
    "ptb_conversation_memory",
    "aiogram_dialog_memory",
    "aiogram_dialog_redis",
    "echo_commit_sqlite",
    "echo_commit_postgres",
)


def marker(index: int) -> str:
    """The tag in the text of question ``index`` (``ANSWERS``: the closing message)."""
    return "[done]" if index >= ANSWERS else f"[q{index}]"


def question_text(index: int) -> str:
    """What question ``index`` says (even questions have buttons, odd ones want a typed answer)."""
    if index >= ANSWERS:
        return f"回访结束，谢谢 {marker(index)}"
    kind = "请选择" if index % 2 == 0 else "请输入"
    return f"第 {index + 1} 题：{kind} {marker(index)}"


def typed_text(index: int) -> str:
    return f"第 {index + 1} 题的回答：压力很大，有 5 万的民间借贷"


# --------------------------------------------------------------------------------------------------
# The conversations and what the fake Bot API tells them
# --------------------------------------------------------------------------------------------------


@dataclass
class Shown:
    """The last message the bot showed in a chat: its id, text and first button's callback data."""

    message_id: int
    text: str
    button: str | None
    at: float


@dataclass
class Waiting:
    """A chat waiting for the message tagged ``expected`` (None: any message)."""

    expected: str | None
    future: asyncio.Future[Shown]


class Screens:
    """What each chat was last shown, and the chats waiting for their next reply (fed by the fake APIs)."""

    def __init__(self) -> None:
        self.shown: dict[int, Shown] = {}
        self.waiting: dict[int, Waiting] = {}
        self.calls = 0
        self.ids = itertools.count(1_000)

    def seen(self, chat: int, message_id: int, text: str, markup: Any) -> None:
        """The bot sent or edited a message in ``chat``: remember it, wake the chat if it is the reply."""
        at = time.perf_counter()
        shown = Shown(message_id, text, first_button(markup), at)
        self.shown[chat] = shown
        waiting = self.waiting.get(chat)
        if waiting is None or waiting.future.done():
            return
        if waiting.expected is not None and waiting.expected not in text:
            return
        del self.waiting[chat]
        waiting.future.set_result(shown)


def first_button(markup: Any) -> str | None:
    if isinstance(markup, str):
        markup = json.loads(markup)
    if not isinstance(markup, dict):
        return None
    for row in markup.get("inline_keyboard") or ():
        for button in row:
            data = button.get("callback_data")
            if data:
                return str(data)
    return None


def canned_result(screens: Screens, endpoint: str, params: dict[str, Any]) -> object:
    """The JSON ``result`` a Bot API method answers (a Message for sends and chat edits, else ``true``)."""
    if endpoint == "getMe":
        return BOT_USER
    if endpoint == "getUpdates":
        return []
    chat_id = params.get("chat_id")
    if chat_id is not None and (endpoint.startswith("send") or endpoint.startswith("edit")):
        new = endpoint.startswith("send")
        message_id = next(screens.ids) if new else int(params["message_id"])
        now = int(time.time())
        sent: dict[str, Any] = {
            "message_id": message_id,
            "date": now,
            "chat": {"id": int(chat_id), "type": "private"},
            "from": BOT_USER,
            "text": str(params.get("text", "")),
        }
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        if markup:
            sent["reply_markup"] = markup
        if not new:
            sent["edit_date"] = now
        if "text" in params:
            screens.seen(int(chat_id), message_id, sent["text"], markup)
        return sent
    return True  # answerCallbackQuery, deleteMessage, setMyCommands …


@dataclass
class Conversation:
    """One private chat answering the dialog; its reply latencies in seconds."""

    chat: int
    latencies: list[float] = field(default_factory=list)
    stuck: bool = False


class Driver:
    """One anchor: how an update goes in, how the bot is started and stopped."""

    name = ""
    exact_replies = True
    """True: a reply counts only if it shows the next question (False: the first message to the chat)."""

    def __init__(self) -> None:
        self.screens = Screens()
        self.update_ids = itertools.count(1)

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def feed(self, payload: dict[str, Any]) -> None:
        """Hand one update (its JSON as ``getUpdates`` returns it) to the library's dispatch."""
        raise NotImplementedError

    def versions(self) -> dict[str, str]:
        raise NotImplementedError

    # the dialog, as an officer's client would drive it

    def message(self, chat: int, text: str) -> dict[str, Any]:
        user = {"id": chat, "is_bot": False, "first_name": "Officer", "language_code": "zh-hans"}
        message: dict[str, Any] = {
            "message_id": next(self.screens.ids),
            "date": int(time.time()),
            "chat": {"id": chat, "type": "private", "first_name": "Officer"},
            "from": user,
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return {"update_id": next(self.update_ids), "message": message}

    def press(self, chat: int) -> dict[str, Any]:
        shown = self.screens.shown.get(chat)
        user = {"id": chat, "is_bot": False, "first_name": "Officer", "language_code": "zh-hans"}
        query: dict[str, Any] = {
            "id": str(next(self.screens.ids)),
            "from": user,
            "chat_instance": str(chat),
            "data": (shown.button if shown else None) or "press",
        }
        if shown is not None:
            query["message"] = {
                "message_id": shown.message_id,
                "date": int(time.time()),
                "chat": {"id": chat, "type": "private", "first_name": "Officer"},
                "from": BOT_USER,
                "text": shown.text,
            }
        return {"update_id": next(self.update_ids), "callback_query": query}

    async def ask(self, conversation: Conversation, payload: dict[str, Any], expected: str) -> None:
        """Send one update, wait for its reply (the message tagged ``expected``); the latency is kept."""
        future: asyncio.Future[Shown] = asyncio.get_running_loop().create_future()
        self.screens.waiting[conversation.chat] = Waiting(expected if self.exact_replies else None, future)
        started = time.perf_counter()
        await self.feed(payload)
        shown = await future  # no per-answer timeout (it would cost a good part of an echo): run_phase has one
        conversation.latencies.append(shown.at - started)

    async def open(self, conversation: Conversation) -> None:
        """``/start``: the first question is shown (not timed)."""
        await self.ask(conversation, self.message(conversation.chat, "/start"), marker(0))
        conversation.latencies.clear()

    async def answer(self, conversation: Conversation) -> None:
        """Answer the 10 questions in order, each as soon as the previous reply came."""
        chat = conversation.chat
        for index in range(ANSWERS):
            payload = self.press(chat) if index % 2 == 0 else self.message(chat, typed_text(index))
            await self.ask(conversation, payload, marker(index + 1))

    async def settle(self) -> None:
        """Wait until nothing is left to handle."""
        await asyncio.sleep(0)


@dataclass
class Run:
    """One timed phase: conversations at once, answers given, seconds, latencies."""

    at_once: int
    answers: int
    seconds: float
    cpu_seconds: float
    """CPU time of this process (not of Redis or the database server)."""
    latencies: list[float]
    stuck: int


async def run_phase(driver: Driver, chats: list[int], *, sequential: bool) -> Run:
    """Open every conversation (not timed), then answer: one conversation at a time or all at once."""
    conversations = [Conversation(chat) for chat in chats]
    gate = asyncio.Semaphore(50)

    async def opened(conversation: Conversation) -> None:
        async with gate:
            await driver.open(conversation)

    async def answered() -> None:
        if sequential:
            for conversation in conversations:
                await driver.answer(conversation)
        else:
            await asyncio.gather(*(driver.answer(c) for c in conversations))

    await within(asyncio.gather(*(opened(c) for c in conversations)), conversations, driver)
    await driver.settle()
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    await within(answered(), conversations, driver)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    await driver.settle()
    latencies = [x for c in conversations for x in c.latencies]
    return Run(
        at_once=1 if sequential else len(conversations),
        answers=len(latencies),
        seconds=seconds,
        cpu_seconds=cpu,
        latencies=latencies,
        stuck=sum(c.stuck for c in conversations),
    )


async def within(work: Awaitable[Any], conversations: list[Conversation], driver: Driver) -> None:
    """Await ``work``; after ``REPLY_WAIT`` seconds, give up: the conversations still waiting are stuck."""
    try:
        await asyncio.wait_for(work, REPLY_WAIT)
    except TimeoutError:
        for conversation in conversations:
            if conversation.chat in driver.screens.waiting:
                conversation.stuck = True
        driver.screens.waiting.clear()


def percentile_ms(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] * 1000


# --------------------------------------------------------------------------------------------------
# python-telegram-bot
# --------------------------------------------------------------------------------------------------


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "?"


class PtbDriver(Driver):
    """A PTB Application with a network-free Bot, fed through its ``update_queue``."""

    def __init__(self) -> None:
        super().__init__()
        from telegram.ext import Application

        self.app: Any = Application.builder().token(TOKEN).request(self.request()).updater(None).build()
        self.add_handlers()

    def request(self) -> Any:
        from telegram.request import BaseRequest, RequestData

        screens = self.screens

        class CannedBotApi(BaseRequest):
            """A Bot API without a network: canned valid JSON for every method (HTTP 200, ``ok``)."""

            @property
            def read_timeout(self) -> float | None:
                return None

            async def initialize(self) -> None:
                pass

            async def shutdown(self) -> None:
                pass

            async def do_request(
                self,
                url: str,
                method: str,
                request_data: RequestData | None = None,
                read_timeout: Any = None,
                write_timeout: Any = None,
                connect_timeout: Any = None,
                pool_timeout: Any = None,
            ) -> tuple[int, bytes]:
                screens.calls += 1
                endpoint = url.rsplit("/", 1)[-1]
                params = request_data.parameters if request_data is not None else {}
                result = canned_result(screens, endpoint, dict(params))
                return 200, json.dumps({"ok": True, "result": result}, ensure_ascii=False).encode()

        return CannedBotApi()

    def add_handlers(self) -> None:
        from telegram.ext import CallbackQueryHandler, MessageHandler, filters

        async def echo(update: Any, context: Any) -> None:
            await update.effective_message.reply_text(f"收到 {marker(0)}")

        self.app.add_handler(MessageHandler(filters.ALL, echo))
        self.app.add_handler(CallbackQueryHandler(echo))

    async def start(self) -> None:
        await self.app.initialize()
        await self.app.start()

    async def stop(self) -> None:
        await self.app.stop()
        await self.app.shutdown()

    async def feed(self, payload: dict[str, Any]) -> None:
        from telegram import Update

        await self.app.update_queue.put(Update.de_json(payload, self.app.bot))

    async def settle(self) -> None:
        quiet = 0
        while quiet < 3:
            busy = self.app.update_queue.qsize() or self.app.update_processor.current_concurrent_updates
            quiet = 0 if busy else quiet + 1
            await asyncio.sleep(0.002)

    def versions(self) -> dict[str, str]:
        return {"python": platform.python_version(), "python-telegram-bot": version("python-telegram-bot")}


class PtbEcho(PtbDriver):
    name = "ptb_echo"
    exact_replies = False


class PtbConversation(PtbDriver):
    """A ConversationHandler of 10 states; even states want a button, odd ones typed text."""

    name = "ptb_conversation_memory"

    def add_handlers(self) -> None:
        from telegram import InlineKeyboardButton, InlineKeyboardMarkup
        from telegram.ext import CallbackQueryHandler, CommandHandler, ConversationHandler, MessageHandler, filters

        keyboards = {
            index: InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton("是", callback_data=f"q{index}:yes"),
                        InlineKeyboardButton("否", callback_data=f"q{index}:no"),
                    ]
                ]
            )
            for index in range(0, ANSWERS, 2)
        }

        def shows(index: int) -> tuple[str, Any]:
            return question_text(index), keyboards.get(index)

        async def begin(update: Any, context: Any) -> int:
            text, keyboard = shows(0)
            await update.message.reply_text(text, reply_markup=keyboard)
            return 0

        def pressed(index: int) -> Callable[[Any, Any], Coroutine[Any, Any, int]]:
            async def handle(update: Any, context: Any) -> int:
                query = update.callback_query
                context.user_data[f"q{index}"] = query.data
                await query.answer()
                text, keyboard = shows(index + 1)
                await query.edit_message_text(text, reply_markup=keyboard)
                return ConversationHandler.END if index + 1 >= ANSWERS else index + 1

            return handle

        def typed(index: int) -> Callable[[Any, Any], Coroutine[Any, Any, int]]:
            async def handle(update: Any, context: Any) -> int:
                context.user_data[f"q{index}"] = update.message.text
                text, keyboard = shows(index + 1)
                await update.message.reply_text(text, reply_markup=keyboard)
                return ConversationHandler.END if index + 1 >= ANSWERS else index + 1

            return handle

        states: dict[object, list[Any]] = {}
        for index in range(ANSWERS):
            if index % 2 == 0:
                states[index] = [CallbackQueryHandler(pressed(index))]
            else:
                states[index] = [MessageHandler(filters.TEXT & ~filters.COMMAND, typed(index))]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # per_message=False with CallbackQueryHandlers: PTB warns, as designed
            handler = ConversationHandler(
                entry_points=[CommandHandler("start", begin)],
                states=states,
                fallbacks=[CommandHandler("start", begin)],
                per_message=False,
            )
        self.app.add_handler(handler)


class EchoCommit(PtbDriver):
    """The echo plus one bare INSERT + COMMIT per update (SQLAlchemy Core, async)."""

    exact_replies = False

    def __init__(self, url: str) -> None:
        self.url = url
        self.table_name = f"anchors_bench_{os.getpid()}"
        self.engine: Any = None
        self.table: Any = None
        self.server = ""
        super().__init__()

    def add_handlers(self) -> None:
        from telegram.ext import CallbackQueryHandler, MessageHandler, filters

        async def echo(update: Any, context: Any) -> None:
            message = update.effective_message
            async with self.engine.begin() as connection:
                await connection.execute(
                    self.table.insert().values(
                        chat=message.chat_id, update_id=update.update_id, body=message.text or ""
                    )
                )
            await message.reply_text(f"收到 {marker(0)}")

        self.app.add_handler(MessageHandler(filters.ALL, echo))
        self.app.add_handler(CallbackQueryHandler(echo))

    async def start(self) -> None:
        from sqlalchemy import BigInteger, Column, Integer, MetaData, Table, Text

        metadata = MetaData()
        self.table = Table(
            self.table_name,
            metadata,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("chat", BigInteger, nullable=False),
            Column("update_id", BigInteger, nullable=False),
            Column("body", Text, nullable=False),
        )
        self.engine = self.make_engine()
        async with self.engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
            await connection.run_sync(metadata.create_all)
        await self.describe()
        await super().start()

    def make_engine(self) -> Any:
        raise NotImplementedError

    async def describe(self) -> None:
        pass

    async def stop(self) -> None:
        await super().stop()
        if self.engine is not None:
            from sqlalchemy import func, select

            try:
                async with self.engine.begin() as connection:
                    rows = (await connection.execute(select(func.count()).select_from(self.table))).scalar()
                    fed = next(self.update_ids) - 1
                    if rows != fed:
                        logging.warning("%s: %s rows committed for %s updates", self.name, rows, fed)
                    await connection.run_sync(self.table.metadata.drop_all)
            finally:
                await self.engine.dispose()


class EchoCommitSqlite(EchoCommit):
    name = "echo_commit_sqlite"

    def __init__(self) -> None:
        self.folder = tempfile.TemporaryDirectory(prefix="anchors-")
        super().__init__(f"sqlite+aiosqlite:///{self.folder.name}/anchors.db")

    def make_engine(self) -> Any:
        from sqlalchemy import event
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(self.url)

        @event.listens_for(engine.sync_engine, "connect")
        def durable(dbapi_connection: Any, record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        return engine

    async def describe(self) -> None:
        from sqlalchemy import text

        async with self.engine.connect() as connection:
            mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar()
            sync = (await connection.execute(text("PRAGMA synchronous"))).scalar()
        if mode != "wal" or sync != 2:
            raise RuntimeError(f"SQLite is not WAL + synchronous=FULL: {mode}, {sync}")

    async def stop(self) -> None:
        await super().stop()
        self.folder.cleanup()

    def versions(self) -> dict[str, str]:
        return {
            **super().versions(),
            "SQLAlchemy": version("SQLAlchemy"),
            "aiosqlite": version("aiosqlite"),
            "sqlite": sqlite3.sqlite_version,
            "pragmas": "journal_mode=WAL, synchronous=FULL",
        }


class EchoCommitPostgres(EchoCommit):
    name = "echo_commit_postgres"

    def __init__(self) -> None:
        super().__init__(POSTGRES_URL)

    def make_engine(self) -> Any:
        from sqlalchemy.ext.asyncio import create_async_engine

        return create_async_engine(self.url)

    async def describe(self) -> None:
        from sqlalchemy import text

        async with self.engine.connect() as connection:
            self.server = str((await connection.execute(text("SHOW server_version"))).scalar())

    def versions(self) -> dict[str, str]:
        return {
            **super().versions(),
            "SQLAlchemy": version("SQLAlchemy"),
            "asyncpg": version("asyncpg"),
            "postgresql": self.server,
        }


# --------------------------------------------------------------------------------------------------
# aiogram + aiogram-dialog
# --------------------------------------------------------------------------------------------------


class DialogDriver(Driver):
    """aiogram's Dispatcher with one aiogram-dialog Dialog, a network-free session, a chosen FSM storage."""

    def __init__(self) -> None:
        super().__init__()
        self.bot: Any = None
        self.dp: Any = None
        self.redis_server = ""

    def session(self) -> Any:
        from aiogram.client.session.base import BaseSession

        screens = self.screens

        class CannedSession(BaseSession):
            """A Bot API without a network: the method's fields prepared as for a request, canned valid JSON
            checked and parsed by aiogram as a real answer."""

            async def close(self) -> None:
                pass

            async def make_request(self, bot: Any, method: Any, timeout: int | None = None) -> Any:  # noqa: ASYNC109
                screens.calls += 1
                files: dict[str, Any] = {}
                params = {}
                for key, value in method.model_dump(warnings=False).items():
                    prepared = self.prepare_value(value, bot=bot, files=files)
                    if prepared is not None:
                        params[key] = prepared
                result = canned_result(screens, method.__api_method__, params)
                content = json.dumps({"ok": True, "result": result}, ensure_ascii=False)
                return self.check_response(bot=bot, method=method, status_code=200, content=content).result

            async def stream_content(self, *args: Any, **kwargs: Any) -> AsyncIterator[bytes]:
                yield b""

        return CannedSession()

    def storage(self) -> Any:
        from aiogram.fsm.storage.memory import MemoryStorage

        return MemoryStorage()

    def build(self) -> None:
        from aiogram import Bot, Dispatcher
        from aiogram.filters import CommandStart
        from aiogram.fsm.state import State, StatesGroup
        from aiogram_dialog import Dialog, DialogManager, StartMode, Window, setup_dialogs
        from aiogram_dialog.widgets.input import MessageInput
        from aiogram_dialog.widgets.kbd import Button, Row
        from aiogram_dialog.widgets.text import Const

        class Visit(StatesGroup):
            """The 10 questions and the closing message."""

            q0, q1, q2, q3, q4, q5, q6, q7, q8, q9, q10 = (State() for _ in range(ANSWERS + 1))

        async def on_press(callback: Any, button: Any, manager: DialogManager) -> None:
            manager.dialog_data[str(manager.current_context().state)] = button.widget_id
            await manager.next()

        async def on_text(message: Any, widget: Any, manager: DialogManager) -> None:
            manager.dialog_data[str(manager.current_context().state)] = message.text
            await manager.next()

        windows = []
        for index in range(ANSWERS + 1):
            state = getattr(Visit, f"q{index}")
            if index >= ANSWERS:
                windows.append(Window(Const(question_text(index)), state=state))
            elif index % 2 == 0:
                windows.append(
                    Window(
                        Const(question_text(index)),
                        Row(
                            Button(Const("是"), id="yes", on_click=on_press),
                            Button(Const("否"), id="no", on_click=on_press),
                        ),
                        state=state,
                    )
                )
            else:
                windows.append(
                    Window(Const(question_text(index)), MessageInput(on_text, content_types=["text"]), state=state)
                )

        bot = Bot(TOKEN, session=self.session())
        dp = Dispatcher(storage=self.storage())

        async def begin(message: Any, dialog_manager: DialogManager) -> None:
            await dialog_manager.start(Visit.q0, mode=StartMode.RESET_STACK)

        dp.message.register(begin, CommandStart())
        dp.include_router(Dialog(*windows))
        setup_dialogs(dp)
        self.bot, self.dp = bot, dp

    async def start(self) -> None:
        self.build()
        await self.dp.emit_startup(bot=self.bot)

    async def stop(self) -> None:
        await self.dp.emit_shutdown(bot=self.bot)
        await self.dp.storage.close()
        await self.bot.session.close()

    async def feed(self, payload: dict[str, Any]) -> None:
        from aiogram.types import Update

        await self.dp.feed_update(self.bot, Update.model_validate(payload, context={"bot": self.bot}))

    def versions(self) -> dict[str, str]:
        return {
            "python": platform.python_version(),
            "aiogram": version("aiogram"),
            "aiogram-dialog": version("aiogram-dialog"),
        }


class DialogMemory(DialogDriver):
    name = "aiogram_dialog_memory"


class DialogRedis(DialogDriver):
    name = "aiogram_dialog_redis"

    def __init__(self) -> None:
        super().__init__()
        self.prefix = f"visitbot-anchors-{os.getpid()}"
        self.redis: Any = None

    def storage(self) -> Any:
        from aiogram.fsm.storage.base import DefaultKeyBuilder
        from aiogram.fsm.storage.redis import RedisStorage

        return RedisStorage(self.redis, key_builder=DefaultKeyBuilder(with_destiny=True, prefix=self.prefix))

    async def start(self) -> None:
        from redis.asyncio import BlockingConnectionPool, Redis

        # redis-py 8's default pool raises past 100 connections in use; a blocking pool of that size waits instead
        pool = BlockingConnectionPool.from_url(REDIS_URL, db=REDIS_DB, max_connections=REDIS_CONNECTIONS, timeout=None)
        self.redis = Redis(connection_pool=pool)
        self.redis_server = str((await self.redis.info("server")).get("redis_version", "?"))
        await self.clean()
        await super().start()

    async def clean(self) -> None:
        keys = [key async for key in self.redis.scan_iter(match=f"{self.prefix}:*", count=1000)]
        for at in range(0, len(keys), 1000):
            await self.redis.delete(*keys[at : at + 1000])

    async def stop(self) -> None:
        await self.clean()
        await super().stop()  # closes the storage, and so the client

    def versions(self) -> dict[str, str]:
        return {
            **super().versions(),
            "redis-py": version("redis"),
            "redis": self.redis_server,
            "redis_db": str(REDIS_DB),
            "redis_pool": f"BlockingConnectionPool({REDIS_CONNECTIONS})",
        }


DRIVERS: dict[str, Callable[[], Driver]] = {
    "ptb_echo": PtbEcho,
    "ptb_conversation_memory": PtbConversation,
    "aiogram_dialog_memory": DialogMemory,
    "aiogram_dialog_redis": DialogRedis,
    "echo_commit_sqlite": EchoCommitSqlite,
    "echo_commit_postgres": EchoCommitPostgres,
}


# --------------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------------


@dataclass
class Plan:
    sequential_rounds: int
    sequential_conversations: int
    concurrent_rounds: int
    at_once: tuple[int, ...] = (200, 1000)


async def measure(name: str, plan: Plan) -> dict[str, Any]:
    """One anchor's row: µs per answer, answers/s and p50/p99 at 200 and 1,000 conversations."""
    driver = DRIVERS[name]()
    chats = itertools.count(FIRST_CHAT)
    await driver.start()
    try:
        await run_phase(driver, [next(chats) for _ in range(3)], sequential=True)  # warm up
        samples, cpu = [], []
        load = os.getloadavg()[0]
        for _ in range(plan.sequential_rounds):
            run = await run_phase(driver, [next(chats) for _ in range(plan.sequential_conversations)], sequential=True)
            samples.append(run.seconds / run.answers * 1e6)
            cpu.append(run.cpu_seconds / run.answers * 1e6)
        row: dict[str, Any] = {"name": name, "us_per_answer": round(statistics.median(samples), 1)}
        stuck = 0
        for at_once in plan.at_once:
            runs = []
            for _ in range(plan.concurrent_rounds):
                runs.append(await run_phase(driver, [next(chats) for _ in range(at_once)], sequential=False))
            rates = [run.answers / run.seconds for run in runs]
            latencies = [x for run in runs for x in run.latencies]
            stuck += sum(run.stuck for run in runs)
            row[f"rps_{at_once}"] = round(statistics.median(rates), 1)
            row[f"p50_ms_{at_once}"] = round(percentile_ms(latencies, 0.50), 2)
            row[f"p99_ms_{at_once}"] = round(percentile_ms(latencies, 0.99), 2)
        row["versions"] = driver.versions()
        row["cpu_us_per_answer"] = round(statistics.median(cpu), 1)  # this process only: robust to a busy machine
        row["loadavg_1m"] = round(load, 2)
        if stuck:
            row["stuck"] = stuck
        return row
    finally:
        try:
            await driver.stop()
        except Exception:
            logging.exception("%s: stopping failed", name)


def print_table(rows: list[dict[str, Any]]) -> None:
    echo = next((r["us_per_answer"] for r in rows if r["name"] == "ptb_echo"), None)
    print(
        f"{'anchor':<26} {'µs/answer':>9} {'× echo':>7} {'cpu µs':>7} {'ans/s@200':>9} {'p50@200':>8} {'p99@200':>8}"
        f" {'ans/s@1000':>10} {'p50@1000':>9} {'p99@1000':>9} {'load':>5}"
    )
    for row in rows:
        ratio = f"{row['us_per_answer'] / echo:7.2f}" if echo else f"{'-':>7}"
        print(
            f"{row['name']:<26} {row['us_per_answer']:9.0f} {ratio} {row['cpu_us_per_answer']:7.0f}"
            f" {row['rps_200']:9.0f} {row['p50_ms_200']:8.1f} {row['p99_ms_200']:8.1f} {row['rps_1000']:10.0f}"
            f" {row['p50_ms_1000']:9.1f} {row['p99_ms_1000']:9.1f} {row['loadavg_1m']:5.1f}"
            + (f"  ({row['stuck']} stuck)" if row.get("stuck") else "")
        )
    print(
        "µs/answer: wall time, one conversation at a time (median of rounds); cpu µs: this process's CPU time per"
        " answer then (Redis and the database server not included); ans/s: conversations at once; p50/p99: reply"
        " latency in ms; load: the 1-minute load average when the anchor started (this machine has"
        f" {os.cpu_count()} CPUs: far above that, trust the ratios and cpu µs more than the wall times)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds: a smoke run")
    parser.add_argument("--json", type=Path, default=None, help="write the rows to this JSON file")
    parser.add_argument("--only", action="append", choices=NAMES, help="measure only this anchor (repeatable)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiogram").setLevel(logging.WARNING)
    plan = Plan(2, 5, 1) if args.quick else Plan(5, 20, 3)
    names = [n for n in NAMES if not args.only or n in args.only]
    print(
        f"anchors of issue 13 — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()},"
        f" Python {platform.python_version()}, {os.cpu_count()} CPUs, {ANSWERS} answers per conversation"
        f"{' (quick)' if args.quick else ''}",
        flush=True,
    )
    rows = []
    for name in names:
        started = time.perf_counter()
        row = asyncio.run(measure(name, plan))
        rows.append(row)
        print(f"  {name}: {row['us_per_answer']:.0f} µs/answer ({time.perf_counter() - started:.0f} s)", flush=True)
    print()
    print_table(rows)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        print(f"wrote {args.json}")
    if any(row.get("stuck") for row in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
