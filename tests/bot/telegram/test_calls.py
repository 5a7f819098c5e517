"""Sends and edits without a Message built from Telegram's answer (bot.telegram.calls): what reaches the
Bot API is what PTB's typed methods send, the rate limiter sees every call, Telegram's errors are PTB's
exceptions, and the application's bot is a VisitBot."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, cast

import pytest
from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import BaseRateLimiter, ContextTypes
from telegram.request import BaseRequest, RequestData

from bot.app import make_services
from bot.settings import Settings
from bot.telegram.app import build_application
from bot.telegram.calls import VisitBot, answer_in_response, edit_text, send_text
from bot.telegram.common import answer_query, edit_or_send

TOKEN = "123456:testTOKEN"
ME = {"id": 123456, "is_bot": True, "first_name": "Visit", "username": "visit_bot"}


class Recorded(BaseRequest):
    """A Bot API answering sendMessage with message 77 and editMessageText with the edited message (or
    with ``fail``'s description), recording each call's method and parameters."""

    def __init__(self, fail: str | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None, **_: Any) -> Any:
        endpoint = url.rsplit("/", 1)[-1]
        params = json.loads(request_data.json_payload) if request_data is not None else {}
        if "reply_markup" in params:  # sent as a JSON string, as Telegram takes it
            params["reply_markup"] = json.loads(params["reply_markup"])
        self.calls.append((endpoint, params))
        if endpoint == "getMe":
            return 200, json.dumps({"ok": True, "result": ME}).encode()
        if self.fail is not None:
            return 400, json.dumps({"ok": False, "error_code": 400, "description": self.fail}).encode()
        message = {
            "message_id": params.get("message_id", 77), "date": 0, "text": params.get("text", ""),
            "chat": {"id": params["chat_id"], "type": "private"}, "from": ME,
        }  # fmt: skip
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        return 200, json.dumps({"ok": True, "result": message}).encode()


class Counting(BaseRateLimiter[None]):
    """A rate limiter that lets every call through at once, counting them by endpoint."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def initialize(self) -> None:
        """Nothing to start."""

    async def shutdown(self) -> None:
        """Nothing to stop."""

    async def process_request(
        self, callback: Any, args: Any, kwargs: Any, endpoint: str, data: Any, rate_limit_args: Any
    ) -> Any:  # type: ignore[override]
        self.seen.append(endpoint)
        return await callback(*args, **kwargs)


MARKUP = InlineKeyboardMarkup([[InlineKeyboardButton("是", callback_data="a:1:s:y")]])


@pytest.fixture
def no_messages_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building a Message from an answer fails the test."""

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("a Message was built from Telegram's answer")

    monkeypatch.setattr(Message, "de_json", refuse)


async def test_a_send_and_an_edit_reach_the_bot_api_as_the_typed_methods_send_them(no_messages_built: None) -> None:
    lean = Recorded()
    limiter = Counting()
    bot = VisitBot(TOKEN, request=lean, get_updates_request=lean, rate_limiter=limiter)
    await bot.initialize()
    assert await send_text(bot, 5, "<b>问题</b>", MARKUP) == 77
    await edit_text(bot, 5, 77, "已记录")
    assert limiter.seen == ["getMe", "sendMessage", "editMessageText"], "every call passes the rate limiter"

    sent, edited = lean.calls[1][1], lean.calls[2][1]  # numbers go as text, as PTB sends them
    assert sent == {
        "chat_id": "5", "text": "<b>问题</b>", "parse_mode": "HTML",
        "reply_markup": {"inline_keyboard": [[{"text": "是", "callback_data": "a:1:s:y"}]]},
    }  # fmt: skip
    assert edited == {"chat_id": "5", "message_id": "77", "text": "已记录", "parse_mode": "HTML"}, (
        "no keyboard: none sent"
    )


async def test_the_typed_methods_send_the_same() -> None:
    lean, typed = Recorded(), Recorded()
    bot = VisitBot(TOKEN, request=lean, get_updates_request=lean)
    plain = Bot(TOKEN, request=typed, get_updates_request=typed)
    for each in (bot, plain):
        await each.initialize()
        assert await send_text(each, 5, "<b>问题</b>", MARKUP) == 77
        await edit_text(each, 5, 77, "已记录", MARKUP)
    assert lean.calls == typed.calls


async def test_what_ptb_would_convert_goes_ptbs_way() -> None:
    """A parameter that is no plain JSON value (PTB's keyboard object, its ParseMode enum) is converted as
    PTB converts it; plain ones are sent the same either way (``test_the_typed_methods_send_the_same``)."""
    lean, typed = Recorded(), Recorded()
    bot = VisitBot(TOKEN, request=lean, get_updates_request=lean)
    await bot.initialize()
    await bot.call("sendMessage", chat_id=5, text="问题", reply_markup=MARKUP, parse_mode=ParseMode.HTML)
    plain = Bot(TOKEN, request=typed, get_updates_request=typed)
    await plain.initialize()
    await plain.send_message(5, "问题", reply_markup=MARKUP, parse_mode=ParseMode.HTML)
    assert lean.calls == typed.calls


async def test_telegrams_refusal_is_ptbs_exception(no_messages_built: None) -> None:
    refusing = Recorded(fail="Bad Request: message to edit not found")
    bot = VisitBot(TOKEN, request=refusing, get_updates_request=refusing)
    await bot.initialize()
    with pytest.raises(BadRequest, match="not found"):
        await edit_text(bot, 5, 77, "已记录")


@pytest.mark.parametrize(
    ("refusal", "shown", "sends"),
    [
        ("Bad Request: message is not modified", 77, 0),  # it shows that already
        ("Bad Request: message to edit not found", 78, 1),  # deleted: the same in a new message
    ],
)
async def test_an_edit_telegram_refuses(refusal: str, shown: int, sends: int, no_messages_built: None) -> None:
    class Refusing(Recorded):
        async def do_request(self, url: str, method: str, request_data: RequestData | None = None, **kw: Any) -> Any:
            if url.endswith("editMessageText"):
                self.calls.append(("editMessageText", {}))
                return 400, json.dumps({"ok": False, "error_code": 400, "description": refusal}).encode()
            if url.endswith("sendMessage"):
                self.calls.append(("sendMessage", {}))
                body = {"message_id": 78, "date": 0, "chat": {"id": 5, "type": "private"}}
                return 200, json.dumps({"ok": True, "result": body}).encode()
            return await super().do_request(url, method, request_data, **kw)

    api = Refusing()
    bot = VisitBot(TOKEN, request=api, get_updates_request=api)
    await bot.initialize()
    context = cast("ContextTypes.DEFAULT_TYPE", SimpleNamespace(bot=bot))
    assert await edit_or_send(context, 5, 77, "下一个问题", MARKUP) == shown
    assert [method for method, _ in api.calls].count("sendMessage") == sends


async def test_the_application_bot_is_a_visit_bot(tmp_path: Any) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'v.db'}", telegram_token=TOKEN)
    application = build_application(make_services(settings))
    assert isinstance(application.bot, VisitBot)
    assert application.bot.rate_limiter is not None


def pressed(bot: Bot, query_id: str) -> CallbackQuery:
    """A press as Telegram posts it, for this bot."""
    user = {"id": 5, "is_bot": False, "first_name": "王磊"}
    message = {"message_id": 77, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "?"}
    body = {"id": query_id, "from": user, "message": message, "chat_instance": "1", "data": "a:1:s:y"}
    return CallbackQuery.de_json(body, bot)


async def test_a_press_by_webhook_is_answered_in_the_response_unless_it_is_slow() -> None:
    """Held for the webhook's 200; a slow handler's 'working on it' (at_once) sends the held answer now
    instead, and the response then carries none; a press that came by polling is answered by a call."""
    api = Recorded()
    bot = VisitBot(TOKEN, request=api, get_updates_request=api)
    await bot.initialize()
    with answer_in_response("q1") as held:
        assert await answer_query(pressed(bot, "q1"), "已记录")
        assert held.call == {"method": "answerCallbackQuery", "callback_query_id": "q1", "text": "已记录"}
        assert [m for m, _ in api.calls] == ["getMe"]
        assert not await answer_query(pressed(bot, "q1"), "处理中", at_once=True), "answered once"
        assert held.call is None
    assert [(m, p.get("text")) for m, p in api.calls[1:]] == [("answerCallbackQuery", "已记录")]
    assert await answer_query(pressed(bot, "q2"), "已记录")  # not by webhook
    assert [p.get("callback_query_id") for _, p in api.calls[2:]] == ["q2"]
