"""Sending and editing the bot's messages without turning Telegram's answer into objects.

``Bot.send_message`` and ``Bot.edit_message_text`` build a :class:`~telegram.Message` from what
Telegram answers — the whole message back, its chat, its sender, its keyboard button by button — and
the bot needs only the message's id. Building it was about a fifth of PTB's share of an answer
(``Message.de_json`` and ``TelegramObject.__setattr__`` under every send and edit, py-spy,
2026-12-04). :class:`VisitBot` is PTB's :class:`~telegram.ext.ExtBot` with one method more,
:meth:`VisitBot.call`: the same way in as every one of its methods (defaults, the rate limiter, the
request, the Bot API's errors as PTB's exceptions), Telegram's answer handed back as the JSON it was.
:func:`send_text` and :func:`edit_text` use it when the application's bot is a :class:`VisitBot`
(``build_application`` builds one) and the typed methods on any other bot.

A press is answered (``answerCallbackQuery``, the spinner stops) in the webhook's HTTP response when
the update came by webhook (:func:`answer_in_response`): Telegram runs a Bot API method given as the
answer to its post, one call fewer per press. The answer then goes once the update was handled (its
answer committed, the next question shown); a press still waiting for its answer after a few seconds
gets it at once instead (``at_once``: its held answer, or "working on it"), and an update the webhook
answers other than 200 has its held answer sent as a call of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.ext import ExtBot
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.telegram.render import Keyboard, as_markup

HTML = ParseMode.HTML.value
"""``parse_mode`` as the Bot API spells it (a plain str: sent as it is, see :meth:`VisitBot.call`)."""
Markup = InlineKeyboardMarkup | Keyboard | None
"""A message's buttons: PTB's object, or the Bot API's JSON (:func:`bot.telegram.render.keyboard`)."""

__all__ = [
    "HeldAnswer",
    "Markup",
    "VisitBot",
    "answer_in_response",
    "edit_text",
    "hold_answer",
    "release_answer",
    "send_text",
]


_PLAIN = (str, int, bool, float, dict)
"""The types of a parameter PTB sends as it is (it converts neither these nor what a dict holds): anything
else (a file, a date, a Telegram object, one of its string enums, a list of any of them) takes PTB's way."""


class VisitBot(ExtBot[None]):
    """PTB's ExtBot plus :meth:`call`, a Bot API method whose answer stays JSON."""

    async def call(self, endpoint: str, **data: object) -> Any:
        """Call ``endpoint`` (``sendMessage``…) with ``data`` as its parameters; Telegram's ``result``,
        not parsed (a dict for a message, True for an edit Telegram did not echo). Arguments left None
        are not sent, the call passes the bot's rate limiter.

        Parameters that are all plain JSON values (str, int, bool, float, dict: what the bot's own calls
        send) go the short way: the same rate limiter and the same request, without PTB's conversion of
        each value (``RequestParameter.from_input``'s dozen type checks), its defaults pass (which fills in
        only PTB's ``DEFAULT_*`` placeholders: not plain, so they take PTB's way) and its debug logging,
        about a fifth of a call (py-spy, 2026-12-06)."""
        params = {key: value for key, value in data.items() if value is not None}
        if any(type(value) not in _PLAIN for value in params.values()):
            return await self._post(endpoint, dict(data))
        limiter = self.rate_limiter
        if limiter is None:
            return await self._post_plain(endpoint, params)
        return await limiter.process_request(
            callback=self._post_plain, args=(endpoint, params), kwargs={}, endpoint=endpoint, data=params,
            rate_limit_args=None,
        )  # fmt: skip

    async def _post_plain(self, endpoint: str, params: dict[str, Any]) -> Any:
        """What ``Bot._do_post`` does with parameters that need no conversion: post them, Telegram's
        ``result`` back (its errors raised as PTB raises them, by the request's own ``post``)."""
        request_data = RequestData([RequestParameter(key, value, None) for key, value in params.items()])
        return await self._request[1].post(url=f"{self._base_url}/{endpoint}", request_data=request_data)


async def send_text(bot: Bot, chat_id: int, text: str, markup: Markup = None) -> int:
    """Send one HTML message (within Telegram's length limit); its message id."""
    if isinstance(bot, VisitBot):
        sent = await bot.call("sendMessage", chat_id=chat_id, text=text, parse_mode=HTML, reply_markup=markup)
        return int(sent["message_id"])
    shown = as_markup(markup)
    return (await bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, reply_markup=shown)).message_id


async def edit_text(bot: Bot, chat_id: int, message_id: int, text: str, markup: Markup = None) -> None:
    """Replace the text (and the buttons: none if ``markup`` is None) of message ``message_id``."""
    if isinstance(bot, VisitBot):
        await bot.call(
            "editMessageText", chat_id=chat_id, message_id=message_id, text=text,
            parse_mode=HTML, reply_markup=markup,
        )  # fmt: skip
        return
    await bot.edit_message_text(
        text, chat_id=chat_id, message_id=message_id, parse_mode=ParseMode.HTML, reply_markup=as_markup(markup)
    )


async def answer_callback(bot: Bot, query_id: str, text: str | None, *, show_alert: bool = False) -> None:
    """Answer a press (``answerCallbackQuery``): the button stops spinning, ``text`` shows as a toast or an alert."""
    if isinstance(bot, VisitBot):
        await bot.call("answerCallbackQuery", callback_query_id=query_id, text=text, show_alert=show_alert or None)
        return
    await bot.answer_callback_query(query_id, text, show_alert=show_alert)


@dataclass
class HeldAnswer:
    """A press's answer kept for the webhook's response: the Bot API call, once the handler made it."""

    query_id: str
    call: dict[str, Any] | None = None


_HELD: dict[str, HeldAnswer] = {}
"""Presses being handled for a webhook post right now, by callback query id (Telegram's, unique)."""


@contextmanager
def answer_in_response(query_id: str) -> Iterator[HeldAnswer]:
    """While the webhook handles this press, :func:`hold_answer` keeps its answer for the response."""
    held = _HELD[query_id] = HeldAnswer(query_id)
    try:
        yield held
    finally:
        if _HELD.get(query_id) is held:
            del _HELD[query_id]


def release_answer(query_id: str) -> dict[str, Any] | None:
    """Take a press's held answer back out of the webhook's response (to send it now); None if none is held."""
    held = _HELD.get(query_id)
    if held is None or held.call is None:
        return None
    call, held.call = held.call, None
    return call


def hold_answer(query_id: str, text: str | None, *, show_alert: bool) -> bool:
    """Keep a press's answer for the webhook's response; False when the press came otherwise (polling)."""
    held = _HELD.get(query_id)
    if held is None:
        return False
    held.call = {"method": "answerCallbackQuery", "callback_query_id": query_id}
    if text:
        held.call["text"] = text
    if show_alert:
        held.call["show_alert"] = True
    return True
