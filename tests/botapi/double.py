"""A local Telegram Bot API server for tests: real HTTP on 127.0.0.1 with Telegram's answers and errors.

Point a bot at `double.base_url` / `double.base_file_url` (in-process PTB or a subprocess), act as
users through `double.user(...)`, and assert on what the bot sent.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from aiohttp import web

from .faults import FaultPlan, Fired, FloodLimits, Match, api_error, for_chat
from .feed import UpdateFeed
from .markup import coerce_params
from .records import JSON, ApiError, ApiRequest, DoubleError, Signal, Upload, WaitTimeout
from .state import TelegramState
from .users import FakeUser

_LOGGER = logging.getLogger(__name__)


def _dumps(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False)


class BotApiDouble:
    """A fake Bot API server for one bot token; use as `async with BotApiDouble() as double:`."""

    def __init__(
        self,
        token: str = "123:ABC",
        *,
        bot_username: str = "visitbot_test_bot",
        webhook_retry_delay: float = 0.2,
    ) -> None:
        if not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token):
            raise ValueError(f"token must look like '123:ABC', got {token!r}")
        self.token = token
        self.requests: list[ApiRequest] = []
        self._signal = Signal()
        self._feed = UpdateFeed(self._signal, webhook_retry_delay=webhook_retry_delay)
        bot_user = {
            "id": int(token.split(":")[0]),
            "is_bot": True,
            "first_name": "VisitBot (test)",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self._state = TelegramState(bot_user, self._signal, self._feed)
        self._methods = self._state.methods()
        self.faults = FaultPlan()
        self._users: dict[int, FakeUser] = {}
        self._crashes: list[str] = []
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._feed.on_reply = self._run_in_response

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on an ephemeral port of 127.0.0.1."""
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        await self._feed.start()

    async def close(self) -> None:
        """Stop serving; open long polls end with no updates."""
        await self._feed.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiDouble:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
        if exc_type is None and self._crashes:
            raise DoubleError("the Bot API double itself failed:\n" + "\n".join(self._crashes))

    @property
    def base_url(self) -> str:
        """For `ApplicationBuilder().base_url(...)` / VISITBOT_TELEGRAM_API_URL (the token is appended)."""
        return f"{self._root()}/bot"

    @property
    def base_file_url(self) -> str:
        """For `ApplicationBuilder().base_file_url(...)`."""
        return f"{self._root()}/file/bot"

    def _root(self) -> str:
        if not self._port:
            raise RuntimeError("the double is not started; use `async with BotApiDouble() as double`")
        return f"http://127.0.0.1:{self._port}"

    # -- the test's side -----------------------------------------------------------------------

    @property
    def bot_user(self) -> JSON:
        """What getMe answers."""
        return dict(self._state.bot_user)

    def user(
        self,
        user_id: int = 1001,
        first_name: str = "测试",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "zh-hans",
    ) -> FakeUser:
        """The fake user with this id (created with a private chat on first call)."""
        if user_id in self._users:
            return self._users[user_id]
        extra = {k: v for k, v in (("last_name", last_name), ("username", username)) if v is not None}
        profile: JSON = {"id": user_id, "is_bot": False, "first_name": first_name, **extra}
        if language_code is not None:
            profile["language_code"] = language_code
        chat_json = {"id": user_id, "type": "private", "first_name": first_name, **extra}
        chat = self._state.chat_log(user_id, profile, chat_json)
        self._users[user_id] = FakeUser(self._state, chat, self.requests)
        return self._users[user_id]

    def commands(self, scope: JSON | None = None, language_code: str = "") -> list[tuple[str, str]]:
        """Commands set for a scope (default scope if None), as (command, description)."""
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        return [(c["command"], c["description"]) for c in self._state.commands.get(key, [])]

    def calls(self, method: str) -> list[ApiRequest]:
        """Logged requests for one method (case-insensitive)."""
        return [r for r in self.requests if r.method.lower() == method.lower()]

    def chat_calls(self, since: int = 0, until: int | None = None) -> list[ApiRequest]:
        """Logged requests (from index ``since`` of `requests` up to ``until``) that carry a ``chat_id``: the
        calls Telegram's ~30 messages a second per bot applies to (answerCallbackQuery carries none)."""
        return [r for r in self.requests[since:until] if "chat_id" in r.params]

    async def wait_for_request(
        self,
        method: str,
        predicate: Callable[[ApiRequest], bool] | None = None,
        *,
        since: int = 0,
        timeout: float = 10.0,  # noqa: ASYNC109 - a test-facing wait takes its own timeout
    ) -> ApiRequest:
        """The first request for `method` at index >= `since` of `requests` (it may still be open)."""

        def find() -> ApiRequest | None:
            for request in self.requests[since:]:
                if request.method.lower() == method.lower() and (predicate is None or predicate(request)):
                    return request
            return None

        found = await self._signal.wait_until(find, timeout)
        if found is None:
            raise WaitTimeout(f"the bot made no {method} request within {timeout}s")
        return found

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = None,
        description: str | None = None,
        times: int = 1,
        chat_id: int | None = None,
        when: Match | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` (for this chat, and matching `when`) with this
        error (429 gets retry_after, default 1). The failed call has no effect."""
        error = api_error(status, retry_after, description)
        self.faults.fail_next(method, error, times, for_chat(chat_id, when))

    def fail_rate(
        self,
        method: str,
        rate: float,
        status: int = 502,
        seed: int = 0,
        *,
        retry_after: int | None = None,
        chat_id: int | None = None,
        when: Match | None = None,
    ) -> None:
        """Fail each call of `method` with probability `rate` (a seeded RNG per method, so the same
        sequence of calls fails the same way every run); 429 gets retry_after (default 1)."""
        self.faults.fail_rate(method, rate, status, seed, retry_after, for_chat(chat_id, when))

    def hang(
        self,
        method: str,
        seconds: float,
        times: int = 1,
        *,
        apply: bool = False,
        chat_id: int | None = None,
        when: Match | None = None,
    ) -> None:
        """Hold the next `times` matching calls of `method` for `seconds` (longer than the bot's
        timeout to make it give up). Then the call takes effect if `apply`, else it answers 504 and
        does nothing, like a request lost inside Telegram."""
        self.faults.hang(method, seconds, times, apply, for_chat(chat_id, when))

    def flood_wait(self, chat_id: int, seconds: float) -> None:
        """Telegram's flood control for one chat: for `seconds`, every call for it answers 429 with
        retry_after = the seconds left."""
        self.faults.flood_wait(chat_id, seconds)

    def flood_limits(self, per_bot: int = 30, per_chat: int = 1, window: float = 1.0) -> FloodLimits:
        """Telegram's flood control from now on: a call about a chat beyond ``per_bot`` calls in any
        ``window`` seconds, or beyond ``per_chat`` for its chat, answers 429 (retry_after in whole seconds)
        and has no effect. The returned tally counts the 429s (``refused``) and keeps every call about a chat."""
        self.faults.limits = FloodLimits(per_bot, per_chat, window)
        return self.faults.limits

    def clear_failures(self) -> None:
        """Forget every armed fault that has not fired yet (and release hung calls)."""
        self.faults.clear()

    @property
    def faults_fired(self) -> list[Fired]:
        """Every fault that fired, in order."""
        return list(self.faults.fired)

    def spinning(self, within: float = 5.0) -> list[str]:
        """Callback queries the bot did not answer successfully within `within` seconds of the press
        (a button left spinning on the user's screen); unanswered ones count once `within` has passed."""
        return self._state.spinning(within)

    def callback_tally(self) -> dict[str, int]:
        """How many button presses the bot answered successfully, and how many it never answered."""
        answered = sum(1 for q in self._state.pressed_at if q in self._state.answered_at)
        return {"answered": answered, "unanswered": len(self._state.pressed_at) - answered}

    def press_latency(self, callback_query_id: str) -> float | None:
        """Seconds from a press to its successful answerCallbackQuery (None while unanswered)."""
        return self._state.press_latency(callback_query_id)

    @property
    def webhook_url(self) -> str:
        """The url of the last setWebhook ("" when polling)."""
        return self._feed.webhook_url

    @property
    def webhook_secret(self) -> str | None:
        return self._feed.webhook_secret

    @property
    def pending_updates(self) -> int:
        """Updates the bot has not confirmed yet."""
        return self._feed.pending_count

    def deliver_to(self, urls: Sequence[str] | None) -> None:
        """In webhook mode, POST updates round-robin to these urls instead of the setWebhook url
        (None restores it). A failed delivery is retried, in order, on the next url."""
        self._feed.deliver_to(urls)

    async def post_raw(self, url: str, update: JSON, secret: str | None = None) -> int:
        """POST one update to a webhook url with this secret header (none if None); returns the
        HTTP status (0 if the connection failed). Nothing is queued or retried."""
        return await self._feed.post(url, update, secret)

    def redeliver(self, update_id: int) -> None:
        """Queue an update again with the same id, as if the bot had never confirmed it."""
        self._feed.redeliver(update_id)

    # -- HTTP ----------------------------------------------------------------------------------

    async def _handle_method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        record = ApiRequest(method, {})
        self.requests.append(record)
        try:
            record.params = await _read_params(request)
            self._signal.fire()
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
        except ApiError as exc:
            status, body = self._refused(record, exc)
        except Exception as exc:
            status, body = self._crashed(record, exc)
        else:
            status, body = await self._run(record, faults=True)
        return web.json_response(body, status=status, dumps=_dumps)

    async def _run_in_response(self, call: JSON) -> None:
        """A method a webhook gave as its answer to a post, run as Telegram runs it: no faults injected, and
        its outcome is only logged (the bot never learns it)."""
        record = ApiRequest(str(call["method"]), {}, in_response=True)
        self.requests.append(record)
        try:
            record.params = coerce_params({key: value for key, value in call.items() if key != "method"})
        except ApiError as exc:
            self._refused(record, exc)
        else:
            await self._run(record, faults=False)
        self._signal.fire()

    async def _run(self, record: ApiRequest, *, faults: bool) -> tuple[int, JSON]:
        """Run a logged call's method (after the faults planned for it): the HTTP status and body it is
        answered with, also noted on the record."""
        try:
            handler = self._methods.get(record.method.lower())
            if handler is None:
                raise ApiError(404, "Not Found")
            if faults:
                await self.faults.before(record.method, record.params)
            result = await handler(record.params)
        except ApiError as exc:
            return self._refused(record, exc)
        except Exception as exc:
            return self._crashed(record, exc)
        record.status = 200
        self._signal.fire()
        return 200, {"ok": True, "result": result}

    def _refused(self, record: ApiRequest, exc: ApiError) -> tuple[int, JSON]:
        """Telegram's answer to a call it refuses."""
        record.status, record.error = exc.status, exc.description
        self._signal.fire()
        return exc.status, exc.body()

    def _crashed(self, record: ApiRequest, exc: Exception) -> tuple[int, JSON]:
        """A bug in the double: tell the bot, and fail the test on exit."""
        _LOGGER.exception("Bot API double failed on %s", record.method)
        self._crashes.append(f"{record.method}({record.params}): {exc!r}")
        record.status, record.error = 500, f"Internal Server Error: {exc!r}"
        return 500, {"ok": False, "error_code": 500, "description": record.error}

    async def _handle_file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        record = ApiRequest("file", {"file_path": path}, status=404, error="Not Found")
        self.requests.append(record)
        if request.match_info["token"] != self.token:
            record.status, record.error = 401, "Unauthorized"
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        for stored in self._state.files.values():
            if stored.file_path == path:
                record.status, record.error = 200, None
                content_type = stored.mime_type or "application/octet-stream"
                return web.Response(body=stored.data, content_type=content_type)
        return web.json_response(ApiError(404, "Not Found").body(), status=404)


async def _read_params(request: web.Request) -> JSON:
    """Query string plus a JSON, form-encoded or multipart body; file parts become `Upload`s."""
    raw: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.body_exists:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON") from None
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: JSON object expected")
            raw.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    raw[key] = Upload(value.filename, value.content_type, value.file.read())
                else:
                    raw[key] = value
    return coerce_params(raw)
