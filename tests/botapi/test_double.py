"""The Bot API double against a real python-telegram-bot Application: polling, errors, webhooks."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from . import BotApiDouble, ButtonNotFound, WaitTimeout

TOKEN = "123:ABC"


@pytest.fixture
async def double() -> AsyncIterator[BotApiDouble]:
    async with BotApiDouble(token=TOKEN) as running:
        yield running


def build_app(double: BotApiDouble, seen: list[int] | None = None) -> Application:
    """A small bot: echo, /start with a deep-link payload, an inline menu, photos, locations."""
    builder = ApplicationBuilder().token(TOKEN).base_url(double.base_url)
    app = builder.base_file_url(double.base_file_url).build()
    seen_updates = seen if seen is not None else []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Greet, naming the deep-link payload."""
        await update.effective_message.reply_text(f"started: {' '.join(context.args or []) or '-'}")

    async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Offer two buttons."""
        buttons = [
            [
                InlineKeyboardButton("Yes", callback_data="answer:yes"),
                InlineKeyboardButton("No", callback_data="answer:no"),
            ]
        ]
        await update.effective_message.reply_text("Choose:", reply_markup=InlineKeyboardMarkup(buttons))

    async def chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer the query, edit the menu in place, then try answering again."""
        query = update.callback_query
        await query.answer("Noted")
        await query.edit_message_text(f"You chose {query.data.split(':')[1]}")
        try:
            await query.answer("again")
        except BadRequest as exc:
            await context.bot.send_message(query.message.chat.id, f"second answer: {exc}")

    async def too_long(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Send more than Telegram allows."""
        await update.effective_message.reply_text("长" * 4097)

    async def photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Download the photo and send it back as a document."""
        data = await (await update.message.photo[-1].get_file()).download_as_bytearray()
        caption = f"photo: {len(data)} bytes"
        await update.message.reply_document(bytes(data), filename="copy.png", caption=caption)

    async def location(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Repeat the coordinates."""
        where = update.message.location
        await update.message.reply_text(f"at {where.latitude},{where.longitude}")

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Repeat the text, remembering which update carried it."""
        seen_updates.append(update.update_id)
        await update.message.reply_text(update.message.text)

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Tell the user which Telegram error the bot hit."""
        if isinstance(update, Update) and update.effective_chat:
            problem = f"error: {type(context.error).__name__}: {context.error}"
            await context.bot.send_message(update.effective_chat.id, problem)

    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("menu", menu))
    app.add_handler(CommandHandler("long", too_long))
    app.add_handler(CallbackQueryHandler(chosen, pattern=r"^answer:"))
    app.add_handler(MessageHandler(filters.PHOTO, photo))
    app.add_handler(MessageHandler(filters.LOCATION, location))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_error_handler(on_error)
    return app


@contextlib.asynccontextmanager
async def polling(app: Application) -> AsyncIterator[Application]:
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_echo_deep_link_button_edit_and_answers(double: BotApiDouble) -> None:
    user = double.user(user_id=1001, first_name="王", language_code="zh-hans")
    async with polling(build_app(double)) as app:
        await app.bot.set_my_commands([BotCommand("start", "开始回访")])
        await app.bot.set_my_commands([BotCommand("menu", "菜单")], scope=BotCommandScopeChat(1001))

        await user.send("/start visit-42")
        assert (await user.wait_for_message()).text == "started: visit-42"
        await user.send("你好 👋")
        assert (await user.wait_for_message("你好")).text == "你好 👋"

        await user.send("/menu")
        menu = await user.wait_for_message("Choose")
        assert menu.buttons == [[("Yes", "answer:yes"), ("No", "answer:no")]]
        query_id = await user.press("Yes")
        edited = await user.wait_for_message("You chose yes")
        answer = await user.wait_for_answer(query_id)
        second = await user.wait_for_message("second answer")

    assert edited.message_id == menu.message_id
    assert [v.text for v in edited.versions] == ["Choose:", "You chose yes"]
    assert edited.buttons == []  # editMessageText without reply_markup drops the keyboard
    assert [m.text for m in user.messages] == ["started: visit-42", "你好 👋", "You chose yes", second.text]
    assert (answer.text, answer.show_alert) == ("Noted", False)
    assert "query is too old" in (second.text or "").lower()
    assert [r.status for r in double.calls("answerCallbackQuery")] == [200, 400]
    assert double.commands() == [("start", "开始回访")]
    assert double.commands({"type": "chat", "chat_id": 1001}) == [("menu", "菜单")]


async def test_stale_button_and_readable_failures(double: BotApiDouble) -> None:
    user = double.user()
    async with polling(build_app(double)):
        query_id = await user.press_data("answer:yes", message_id=77)  # a message the bot never sent
        report = await user.wait_for_message("error:")
        assert (await user.wait_for_answer(query_id)).text == "Noted"
        with pytest.raises(ButtonNotFound, match="no inline button 'Maybe'"):
            await user.press("Maybe")
        with pytest.raises(WaitTimeout, match=r"(?s)no bot message matching 'never'.*#1 text"):
            await user.wait_for_message("never", timeout=0.05)
    assert report.text == "error: BadRequest: Message to edit not found"


async def test_too_long_message_reaches_the_bot_as_bad_request(double: BotApiDouble) -> None:
    user = double.user()
    async with polling(build_app(double)):
        await user.send("/long")
        report = await user.wait_for_message("error:")
    assert report.text == "error: BadRequest: Message is too long"


async def test_errors_map_to_ptb_exceptions(double: BotApiDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    user = double.user(user_id=1001)
    async with Bot(TOKEN, base_url=double.base_url) as bot:
        double.fail_next("sendMessage", status=429, retry_after=1)
        with pytest.raises(RetryAfter) as flood:
            await bot.send_message(1001, "hi")
        assert flood.value.retry_after == dtm.timedelta(seconds=1)
        sent = await bot.send_message(1001, "<b>贷款</b> &amp; co", parse_mode="HTML")
        assert user.messages[-1].text == "贷款 & co"

        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await bot.edit_message_text("<b>贷款</b> &amp; co", 1001, sent.message_id, parse_mode="HTML")
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await bot.edit_message_text("x", 1001, 999)
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.send_message(999, "hi")
        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
            await bot.send_message(
                1001, "menu", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
            )
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(1001, "a < b", parse_mode="HTML")
        user.blocked = True
        with pytest.raises(Forbidden, match="blocked"):
            await bot.send_message(1001, "hi")
    wrong = Bot("123:WRONG", base_url=double.base_url)
    with pytest.raises(InvalidToken):
        await wrong.initialize()
    await wrong.shutdown()
    assert double.calls("getMe")[-1].status == 401


async def test_raw_http_accepts_json_form_and_get(double: BotApiDouble) -> None:
    user = double.user()
    url = f"{double.base_url}{TOKEN}"
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    async with aiohttp.ClientSession() as http:
        as_json = {"chat_id": 1001, "text": "json", "reply_markup": markup}
        async with http.post(f"{url}/sendMessage", json=as_json):
            pass
        async with http.post(f"{url}/sendmessage", data={"chat_id": "1001", "text": "form"}):
            pass
        async with http.get(f"{url}/getMe") as response:
            assert (await response.json())["result"]["username"] == "visitbot_test_bot"
        async with http.post(f"{url}/noSuchMethod") as response:
            assert (response.status, await response.json()) == (
                404,
                {"ok": False, "error_code": 404, "description": "Not Found"},
            )
    assert [(m.text, m.buttons) for m in user.messages] == [("json", [[("Go", "go")]]), ("form", [])]


async def test_photo_download_document_upload_and_location(double: BotApiDouble) -> None:
    user = double.user()
    picture = b"\x89PNG\r\n\x1a\n fake site photo"
    async with polling(build_app(double)):
        await user.send_photo(picture)
        reply = await user.wait_for_message("photo:")
        await user.send_location(31.2304, 121.4737)
        await user.wait_for_message("at 31.2304,121.4737")
    assert reply.kind == "document" and reply.text == f"photo: {len(picture)} bytes"
    [document] = user.documents
    assert (document.file_name, document.data) == ("copy.png", picture)


async def test_restart_gets_the_updates_it_never_confirmed(double: BotApiDouble) -> None:
    user = double.user()
    first_run: list[int] = []
    async with polling(build_app(double, first_run)):
        await double.wait_for_request("getUpdates")  # the first long poll is open
        double.fail_next("getUpdates", status=502, times=50)  # from now on it cannot confirm anything
        update_id = await user.send("one")
        await user.wait_for_message("one")
    assert double.pending_updates == 1
    double.clear_failures()

    second_run: list[int] = []
    async with polling(build_app(double, second_run)):
        await user.wait_for_message("one")
        await double.wait_for_request("getUpdates", lambda r: r.params.get("offset") == update_id + 1)
    assert first_run == second_run == [update_id]
    assert double.pending_updates == 0


async def test_two_pollers_conflict(double: BotApiDouble) -> None:
    async with Bot(TOKEN, base_url=double.base_url) as first, Bot(TOKEN, base_url=double.base_url) as second:
        since = len(double.requests)
        waiting = asyncio.create_task(first.get_updates(timeout=5))
        await double.wait_for_request("getUpdates", since=since)
        assert await second.get_updates(timeout=0) == ()
        with pytest.raises(Conflict, match="terminated by other getUpdates"):
            await waiting


async def test_webhook_delivery_secret_round_robin_and_retry(double: BotApiDouble) -> None:
    user = double.user()
    seen_a: list[int] = []
    seen_b: list[int] = []
    app_a, app_b = build_app(double, seen_a), build_app(double, seen_b)
    urls = []
    for app in (app_a, app_b):
        port = free_port()
        urls.append(f"http://127.0.0.1:{port}/hook")
        await app.initialize()
        await app.start()
        await app.updater.start_webhook(
            listen="127.0.0.1", port=port, url_path="hook", webhook_url=urls[-1], secret_token="s3cret"
        )
    try:
        assert (double.webhook_url, double.webhook_secret) == (urls[1], "s3cret")
        with pytest.raises(Conflict):
            await app_a.bot.get_updates()
        first = await user.send("via webhook")
        await user.wait_for_message("via webhook")
        chat = {"id": 1001, "type": "private"}
        update = {"update_id": 999, "message": {"message_id": 99, "date": 0, "chat": chat, "text": "forged"}}
        assert await double.post_raw(urls[1], update) == 403
        assert await double.post_raw(urls[1], update, secret="wrong") == 403

        double.deliver_to(["http://127.0.0.1:9/dead", urls[0], urls[1]])
        retried = await user.send("after outage")  # the dead url fails; the retry goes to app A
        next_one = await user.send("round robin")  # then app B
        await user.wait_for_message("after outage")
        await user.wait_for_message("round robin")
        info = await app_a.bot.get_webhook_info()
    finally:
        for app in (app_a, app_b):
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
    assert seen_a == [retried] and seen_b == [first, next_one]
    assert "Connection failed" in (info.last_error_message or "")
    assert double.pending_updates == 0
