"""Our webhook server: Telegram gets its 200 only once the update was handled, so nothing it posted is lost.

PTB's own server (``Application.run_webhook``) answers 200 as soon as the update is queued; a worker
killed under load has acknowledged updates it never handled, and Telegram posts an update again only
when the webhook did not answer 2xx. Here each post waits for its update: it goes through the
application's update processor (:class:`~bot.telegram.delivery.ChatOrderedProcessor`: concurrent across
chats, in order within one, within the time limit), and the answer is

- **200** once the handlers returned (their answer is committed: handlers commit before they return),
  also when a handler failed for good (bad data, a bug) and the user was told: posting it again would
  fail again. A press's 200 carries its ``answerCallbackQuery`` as the body, which Telegram runs (one
  Bot API call fewer per press; :mod:`bot.telegram.calls`);
- **503** when the answer could not be recorded now — the database unreachable or hung, the update given
  up after its time limit, the worker stopping — so Telegram posts it again (a duplicate is not applied
  twice: the visit desk claims each update once). After :data:`ATTEMPTS` such failures of one update in
  this process it is answered 200 all the same: no update is posted forever;
- **403** without Telegram's secret-token header (or with another), as PTB's server; **400** for a body
  that is no update.

SIGTERM (or SIGINT) stops accepting (new posts get 503, the listening socket closes), lets the updates
in flight finish, then stops the application.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
import socket
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from sqlalchemy import exc as sql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application, ContextTypes, ExtBot

from bot.telegram.calls import answer_in_response
from bot.telegram.common import answer_query

__all__ = ["ATTEMPTS", "SECRET_HEADER", "TRANSIENT_SQLSTATES", "WebhookReceiver", "retry_later", "serve_webhook"]

log = logging.getLogger(__name__)

App = Application[Any, Any, Any, Any, Any, Any]

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ATTEMPTS = 5
"""Posts of one update answered 503 before it is answered 200 all the same (an update that always fails)."""
REMEMBERED = 10_000
"""Updates whose failed attempts are counted at once (the oldest forgotten first)."""
MAX_CONNECTIONS = 40
"""Connections Telegram may open to the webhook at once (setWebhook's default, as PTB's)."""


TRANSIENT_SQLSTATES = ("08", "40", "53", "55", "57", "58")
"""PostgreSQL's classes of errors after which the same statement may go through later: connection
exception, transaction rollback (serialization failure, deadlock), insufficient resources (too many
connections), object not in prerequisite state (a database not accepting connections, a lock not
available), operator intervention (shutting down, starting up), system error."""


def retry_later(error: BaseException) -> bool:
    """Whether a handler's failure means 'not recorded, try again later' (the database unreachable or
    busy, a lost connection, a timeout) rather than a failure that would repeat (bad data, a bug)."""
    if isinstance(error, sql.DBAPIError):
        state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
        if error.connection_invalidated or (isinstance(state, str) and state.startswith(TRANSIENT_SQLSTATES)):
            return True
    transient = (sql.OperationalError, sql.InterfaceError, sql.DisconnectionError, sql.TimeoutError, OSError)
    return isinstance(error, transient)  # OSError: a refused connection, and TimeoutError with it


@dataclass
class Handling:
    """How one posted update went: its handlers returned (``finished``), and the first error they raised."""

    finished: bool = False
    error: BaseException | None = None


class WebhookReceiver:
    """The Starlette app Telegram posts to: checks the secret, hands the update to the application and
    answers once it was handled (see the module's docstring for the statuses)."""

    def __init__(self, application: App, *, secret_token: str, url_path: str, attempts: int = ATTEMPTS) -> None:
        if not secret_token:
            raise ValueError("a webhook needs a secret token")
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.application = application
        self.secret_token = secret_token
        self.path = "/" + url_path.strip("/")
        self.attempts = attempts
        self.closing = False
        """Set on shutdown: new posts get 503 (Telegram posts them again, to another worker or later)."""
        self._handling: dict[int, Handling] = {}
        self._failures: OrderedDict[int, int] = OrderedDict()
        application.add_error_handler(self._note_error)
        self.app = Starlette(routes=[Route(self.path, self.receive, methods=["POST"])])

    async def receive(self, request: Request) -> Response:
        """One post from Telegram."""
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        token = request.headers.get(SECRET_HEADER, "")
        if media_type != "application/json" or not hmac.compare_digest(token.encode(), self.secret_token.encode()):
            return Response(status_code=403)
        if self.closing:
            return Response(status_code=503)
        try:
            update = Update.de_json(json.loads(await request.body()), self.application.bot)
        except Exception:
            log.exception("a webhook post that is no update was refused")
            return Response(status_code=400)
        if isinstance(self.application.bot, ExtBot):
            self.application.bot.insert_callback_data(update)
        query = update.callback_query
        if query is None:
            return Response(status_code=await self.handle(update))
        with answer_in_response(query.id) as held:
            status = await self.handle(update)
            if status != 200 and held.call is not None:  # posted again later: its answer must not wait for that
                await answer_query(query, at_once=True)  # sends the held answer now
        if held.call is None:
            return Response(status_code=status)
        # Telegram runs the call given as the answer: the press stops spinning
        return Response(json.dumps(held.call, ensure_ascii=False), media_type="application/json")

    async def handle(self, update: Update) -> int:
        """Have the application process the update (in its chat's turn) and wait for the end: the status."""
        handling = Handling()
        self._handling[id(update)] = handling
        try:
            await self.application.update_processor.process_update(update, self._process(update, handling))
        finally:
            del self._handling[id(update)]
        return self._status(update, handling)

    async def _process(self, update: Update, handling: Handling) -> None:
        await self.application.process_update(update)
        handling.finished = True  # not reached when the update processor gave it up after its time limit

    async def _note_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An error handler next to the application's own (which logs it and tells the user): note the
        failure for the post waiting on this update."""
        handling = self._handling.get(id(update))
        if handling is not None and handling.error is None and context.error is not None:
            handling.error = context.error

    def _status(self, update: Update, handling: Handling) -> int:
        failed = not handling.finished or (handling.error is not None and retry_later(handling.error))
        if not failed:
            self._failures.pop(update.update_id, None)
            return 200
        attempts = self._failures.pop(update.update_id, 0) + 1
        why = "it ran out of time" if not handling.finished else f"{type(handling.error).__name__}"
        if attempts >= self.attempts:
            log.error(
                "update %s was not recorded %s times (%s): acknowledged all the same", update.update_id, attempts, why
            )
            return 200
        self._failures[update.update_id] = attempts
        while len(self._failures) > REMEMBERED:
            self._failures.popitem(last=False)
        log.warning("update %s was not recorded (%s): answered 503, Telegram posts it again", update.update_id, why)
        return 503


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: :func:`serve_webhook` stops it (and then the application)."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _listening_socket(host: str, port: int) -> socket.socket:
    """Bound here, so an address in use fails with a plain OSError before anything started."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


async def serve_webhook(
    application: App,
    *,
    listen: str,
    port: int,
    url_path: str,
    secret_token: str,
    webhook_url: str | None,
    allowed_updates: Sequence[str] | None,
    drop_pending_updates: bool = False,
    grace: float = 130.0,
) -> None:
    """Serve the webhook until SIGTERM or SIGINT; ``webhook_url`` (None: leave Telegram's setting alone)
    is registered with the secret on start. ``grace``: seconds the updates in flight get to finish on
    shutdown (then they are cancelled, unanswered: Telegram posts them again); a second signal stops at once."""
    receiver = WebhookReceiver(application, secret_token=secret_token, url_path=url_path)
    config = uvicorn.Config(
        receiver.app, lifespan="off", access_log=False, log_config=None, log_level="warning",
        timeout_graceful_shutdown=max(1, round(grace)),
    )  # fmt: skip
    server = _Server(config)
    sock = _listening_socket(listen, port)
    loop = asyncio.get_running_loop()

    def stop() -> None:
        if receiver.closing:
            server.force_exit = True  # a second signal: do not wait for the updates in flight
            log.warning("stopping now: the updates in flight are not waited for (Telegram posts them again)")
        else:
            log.info("stopping: new posts get 503; the updates in flight finish first")
        receiver.closing = True
        server.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    try:
        await application.initialize()
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        if webhook_url or drop_pending_updates:  # as PTB: before serving (a post that comes early is retried)
            await _register(application, webhook_url, allowed_updates, drop_pending_updates, secret_token)
        await server.serve(sockets=[sock])
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        sock.close()
        if application.running:
            await application.stop()
            if application.post_stop is not None:
                await application.post_stop(application)
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)


async def _register(
    application: App, url: str | None, allowed: Sequence[str] | None, drop_pending: bool, secret: str
) -> None:
    """setWebhook as PTB's bootstrap does it (without a URL: only drop the pending updates)."""
    if url is None:
        await application.bot.delete_webhook(drop_pending_updates=drop_pending)
        return
    await application.bot.set_webhook(
        url=url, allowed_updates=allowed, drop_pending_updates=drop_pending, max_connections=MAX_CONNECTIONS,
        secret_token=secret,
    )  # fmt: skip
