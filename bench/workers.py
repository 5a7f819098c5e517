"""Two webhook workers vs one on one PostgreSQL, and a worker killed with SIGKILL under load.

Each worker is a process serving the project's application in webhook mode, as ``visitbot bot --webhook``
runs it (``build_application`` + :func:`bot.telegram.webhook.serve_webhook` behind its own port, the
secret token checked, HTTP 200 only once the update was handled; ``--server ptb``: PTB's
``Application.run_webhook`` instead, which answers 200 before, for comparison), with the flood limiter
off (``per_bot=0``: the 30 messages/s of one bot token would cap both runs alike; this measures what the
workers and the database carry). The workers talk to :class:`StubBotApi`, a small local Bot API (aiohttp)
answering every method with canned valid JSON and telling a conversation when the bot showed its next
question. ``--conversations`` officer chats (fresh officers, each with one borrower) each run one phone
visit of the default script to its end: ``/visit <code>``, then the answers (a button of the question
shown, or a typed answer), each posted as Telegram posts a webhook update (JSON, the secret header) — to
the one worker, or round-robin per update over the two (as a load balancer would).

Printed: answers/s with one worker and with two, and the ratio (goal ≥ 1.7×), with the CPU per answer of
the workers and of this process (the updates posted and the stub Bot API: on 2 cores, what this process
takes the workers cannot have); then the kill: two
workers under the same load, one SIGKILLed a third of the way through (a post that failed — the connection
lost, or any status but 200 — is posted again, to the other worker, as Telegram posts an update again
until it gets a 2xx). Counted there: answers acknowledged with HTTP 200 (Telegram would not post them
again), answers the officer saw confirmed (the next question shown), and the answers stored in the
database: an acknowledged answer missing from the database is lost.

``python -m bench.workers [--conversations N] [--skip-kill] [--server ours|ptb]`` (PostgreSQL at
VISITBOT_BENCH_POSTGRES_URL)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import func, insert, select

from bench.chat_double import FAILED, FINISHED, step_of
from bench.postgres import scratch_database
from storage.db import make_engine, make_sessionmaker
from storage.models import Answer, Borrower, Loan, User, Visit

__all__ = ["StubBotApi", "main"]

BOT_ID = 4_244_000
TOKEN = f"{BOT_ID}:benchTOKEN"
SECRET = "bench-webhook-secret"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Visit bench", "username": "visit_bench_bot"}
FIRST_OFFICER = 920_000_000
PRESSES = {
    "identity": "self", "introduction": "remembers", "business_status": "good", "other_borrowing": "yes",
    "other_borrowing_lender": "bank", "changes": "no", "loan_use": "as_stated", "renewal": "yes",
    "referral": "no", "rapport": "no",
}  # fmt: skip
"""The button pressed at each step (a step not named: its first option)."""
TYPED = {"other_borrowing_amount": "5万", "products": "经营贷和信用贷", "needs": "想要续贷"}
DEFAULT_TEXT = "好的"
SHOWN_WAIT = 20.0
"""Seconds a conversation waits for its next question before it counts as stuck."""
BATCH = 500
UPDATE_IDS = itertools.count(1)
"""Update ids, unique across the phases of a run (the bot drops an update id it has processed)."""


@dataclass
class Shown:
    """A question on a chat's screen (``step`` None: the visit ended)."""

    message_id: int
    text: str
    markup: dict[str, Any] | None
    step: str | None
    finished: bool = False
    failed: bool = False


class StubBotApi:
    """The Bot API the workers call: canned valid JSON; a chat waiting for its next question is told."""

    def __init__(self) -> None:
        self.calls = 0
        self.last: dict[int, str] = {}
        """The last text sent or edited per chat (what a stuck conversation shows)."""
        self.waiting: dict[int, tuple[str | None, asyncio.Future[Shown]]] = {}
        self._ids = itertools.count(1_000_000)
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        """Listen on a free local port."""
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            if request.content_type == "application/json":
                params = dict(await request.json())
            else:
                params = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        except ConnectionResetError:  # a worker killed mid-request
            return web.Response(status=499)
        self.calls += 1
        result: object = True
        if method == "getMe":
            result = BOT_USER
        elif method in ("getUpdates", "getMyCommands"):
            result = []
        elif method.startswith("send") or (method.startswith("edit") and "chat_id" in params):
            markup = params.get("reply_markup")
            keyboard = json.loads(markup) if isinstance(markup, str) else markup
            sent: dict[str, Any] = {
                "message_id": next(self._ids) if method.startswith("send") else int(params["message_id"]),
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "from": BOT_USER,
                "text": str(params.get("text", "")),
            }
            if keyboard:
                sent["reply_markup"] = keyboard
            self._seen(sent)
            result = sent
        return web.json_response({"ok": True, "result": result})

    def _seen(self, sent: dict[str, Any]) -> None:
        chat = sent["chat"]["id"]
        self.last[chat] = sent["text"]
        entry = self.waiting.get(chat)
        if entry is None or entry[1].done():
            return
        answered, future = entry
        text, step = sent["text"], step_of(sent.get("reply_markup"))
        shown = Shown(sent["message_id"], text, sent.get("reply_markup"), step)
        if FINISHED in text:
            shown.finished = True
        elif text.startswith(FAILED):
            shown.failed = True
        elif step is None or step == answered:
            return  # the answered question edited, a notice: not the next question yet
        del self.waiting[chat]
        future.set_result(shown)


@dataclass
class Conversation:
    """One officer's private chat running one visit; what was acknowledged and confirmed."""

    telegram_id: int
    code: str
    shown: Shown | None = None
    accepted: list[str] = field(default_factory=list)
    """Steps whose answer a worker acknowledged (HTTP 200)."""
    confirmed: list[str] = field(default_factory=list)
    """Steps whose answer was followed by the next question (the officer saw it recorded)."""
    finished: bool = False
    stuck: bool = False
    failed: bool = False
    _messages: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _user(self) -> dict[str, Any]:
        return {"id": self.telegram_id, "is_bot": False, "first_name": "信贷员", "language_code": "zh-hans"}

    def typed(self, update_id: int, text: str) -> dict[str, Any]:
        """A text message (a command gets its entity)."""
        message: dict[str, Any] = {
            "message_id": next(self._messages), "date": int(time.time()), "from": self._user(), "text": text,
            "chat": {"id": self.telegram_id, "type": "private", "first_name": "信贷员"},
        }  # fmt: skip
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return {"update_id": update_id, "message": message}

    def press(self, update_id: int, data: str) -> dict[str, Any]:
        """A press on a button of the question shown."""
        assert self.shown is not None
        message: dict[str, Any] = {
            "message_id": self.shown.message_id, "date": int(time.time()), "from": BOT_USER,
            "chat": {"id": self.telegram_id, "type": "private"}, "text": self.shown.text,
        }  # fmt: skip
        if self.shown.markup is not None:
            message["reply_markup"] = self.shown.markup
        query = {"id": f"q{update_id}", "from": self._user(), "chat_instance": "1", "data": data, "message": message}
        return {"update_id": update_id, "callback_query": query}


class Driver:
    """Posts the conversations' updates to the workers (round-robin per update; a failed post goes on to
    the next worker, as Telegram retries a failed delivery, for up to ``SHOWN_WAIT`` seconds)."""

    def __init__(self, api: StubBotApi, urls: list[str]) -> None:
        self.api = api
        self.urls = list(urls)
        self.dead: set[str] = set()
        self._rotation = itertools.count()
        self._update_ids = UPDATE_IDS
        self.posted_again = 0
        """Posts that failed (no answer, or not 200) and were posted again."""
        self.in_response = 0
        """Posts answered 200 with a Bot API call as the body (Telegram would run it)."""
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Driver:
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._session is not None
        await self._session.close()

    async def post(self, update: dict[str, Any]) -> bool:
        """Deliver one update; True when a worker acknowledged it (HTTP 200)."""
        assert self._session is not None
        deadline = time.monotonic() + SHOWN_WAIT
        while True:
            live = [u for u in self.urls if u not in self.dead] or self.urls
            url = live[next(self._rotation) % len(live)]
            try:
                async with self._session.post(url, json=update, headers={SECRET_HEADER: SECRET}) as response:
                    body = await response.read()
                    if response.status == 200:
                        if body.startswith(b"{"):  # a Bot API call as the answer (a press's answerCallbackQuery)
                            self.in_response += 1
                        return True
            except aiohttp.ClientError:
                self.dead.add(url)
            if time.monotonic() > deadline:
                return False
            self.posted_again += 1
            await asyncio.sleep(0.05)

    async def ask(self, conversation: Conversation, payload: Any, answered: str | None) -> bool:
        """Post an update, wait for the question after ``answered``; False if none came (stuck)."""
        future: asyncio.Future[Shown] = asyncio.get_running_loop().create_future()
        self.api.waiting[conversation.telegram_id] = (answered, future)
        accepted = await self.post(payload(next(self._update_ids)))
        if accepted and answered is not None:
            conversation.accepted.append(answered)
        try:
            shown = await asyncio.wait_for(future, SHOWN_WAIT)
        except TimeoutError:
            self.api.waiting.pop(conversation.telegram_id, None)
            conversation.stuck = True
            return False
        if answered is not None and not shown.failed:
            conversation.confirmed.append(answered)
        conversation.shown, conversation.finished, conversation.failed = shown, shown.finished, shown.failed
        return True

    async def run(self, conversation: Conversation) -> int:
        """The whole visit: ``/visit <code>``, then every answer; the answers given."""
        c = conversation
        if not await self.ask(c, lambda n: c.typed(n, f"/visit {c.code}"), None):
            return 0
        answers = 0
        while not (c.finished or c.failed or c.stuck):
            assert c.shown is not None
            step = c.shown.step
            rows = (c.shown.markup or {}).get("inline_keyboard", ())
            options = [str(b.get("callback_data", "")) for row in rows for b in row]
            options = [o for o in options if o[:2] in ("a:", "m:")]
            if options and options[0].startswith("m:"):  # multiple choice: tick the first, then done
                await self.post(c.press(next(self._update_ids), options[0]))
                done = options[0].rsplit(":", 1)[0] + ":="
                payload: Any = lambda n, d=done: c.press(n, d)  # noqa: E731
            elif options:
                wanted = PRESSES.get(step or "")
                data = next((o for o in options if o.endswith(f":{wanted}")), options[0])
                payload = lambda n, d=data: c.press(n, d)  # noqa: E731
            else:
                text = TYPED.get(step or "", DEFAULT_TEXT)
                payload = lambda n, t=text: c.typed(n, t)  # noqa: E731
            answers += 1
            await self.ask(c, payload, step)
        return answers


# -- the database ----------------------------------------------------------------------------------------


async def seed(url: str, first: int, count: int) -> list[Conversation]:
    """``count`` officers with Telegram ids from ``first``, each with one borrower and a current loan."""
    engine = make_engine(url)
    try:
        sessions = make_sessionmaker(engine)
        ids = list(range(first, first + count))
        async with sessions() as session, session.begin():
            people = [{"telegram_id": t, "name": f"信贷员{t}", "role": "officer"} for t in ids]
            await session.execute(insert(User), people)
            found_users = await session.execute(select(User.telegram_id, User.id).where(User.telegram_id.in_(ids)))
            officer_of = {telegram: user for telegram, user in found_users.all()}
            rows = [{"code": code_of(t), "name": f"客户{t}", "officer_id": officer_of[t]} for t in ids]
            await session.execute(insert(Borrower), rows)
            codes = {r["code"] for r in rows}
            found = (await session.execute(select(Borrower.id, Borrower.code).where(Borrower.code.in_(codes)))).all()
            loans = [
                {"borrower_id": b, "contract_no": f"WK{code}", "product": "个人经营贷", "amount": Decimal(80_000),
                 "disbursed_on": date(2026, 6, 1), "purpose": "进货备货", "overdue_days": 0, "status": "active"}
                for b, code in found
            ]  # fmt: skip
            await session.execute(insert(Loan), loans)
    finally:
        await engine.dispose()
    return [Conversation(t, code_of(t)) for t in ids]


def code_of(telegram_id: int) -> str:
    """The borrower code of an officer's one borrower."""
    return f"WK{telegram_id - FIRST_OFFICER:06d}"


async def stored_steps(url: str, codes: list[str]) -> dict[str, set[str]]:
    """Per borrower code: the steps with an answer stored (not taken back)."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(Borrower.code, Answer.step_id)
                .join(Visit, Visit.id == Answer.visit_id)
                .join(Borrower, Borrower.id == Visit.borrower_id)
                .where(Borrower.code.in_(codes), Answer.undone_at.is_(None))
            )
            found: dict[str, set[str]] = {code: set() for code in codes}
            for code, step in rows.all():
                found[code].add(step)
            total = await conn.scalar(select(func.count()).select_from(Answer))
            del total
    finally:
        await engine.dispose()
    return found


# -- the workers -----------------------------------------------------------------------------------------


def free_port() -> int:
    """A port nobody listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Worker:
    """One webhook worker process (``--worker``), its log in a file."""

    def __init__(self, url: str, api: StubBotApi, log: Path, server: str = "ours") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/telegram"
        env = dict(os.environ)
        env.update(
            VISITBOT_DATABASE_URL=url, VISITBOT_TELEGRAM_TOKEN=TOKEN, VISITBOT_TELEGRAM_API_URL=api.base_url,
            VISITBOT_WEBHOOK_SECRET=SECRET, VISITBOT_LOCALE="zh-CN", VISITBOT_DIGEST="false",
            VISITBOT_CONTACT_WINDOW_START="00:00", VISITBOT_CONTACT_WINDOW_END="00:00", PYTHONUNBUFFERED="1",
        )  # fmt: skip
        self.log = log
        self._out = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.workers", "--worker", str(self.port), "--server", server],
            env=env, stdout=self._out, stderr=subprocess.STDOUT,
        )  # fmt: skip

    async def ready(self, session: aiohttp.ClientSession) -> None:
        """Wait until it answers (a post without the secret is refused once it listens)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log.read_text(errors='replace')[-2000:]}")
            try:
                async with session.post(self.url, json={"update_id": 0}) as response:
                    if response.status == 403:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError(f"worker on {self.url} never listened")

    def cpu_seconds(self) -> float:
        """The process's CPU time so far (user + system, from /proc; 0 once it is gone)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime

    def kill(self) -> None:
        """SIGKILL: no clean shutdown."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._out.close()


def serve(port: int, server: str) -> None:
    """The worker: the project's application in webhook mode on the project's webhook server (as ``visitbot
    bot --webhook``: 200 once the update was handled; ``server="ptb"``: PTB's, 200 at once), limiter off."""
    from telegram import Update

    from bot.app import make_services
    from bot.settings import Settings
    from bot.telegram.app import build_application
    from bot.telegram.delivery import ChatPacedLimiter
    from bot.telegram.webhook import serve_webhook

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings()
    assert settings.webhook_secret is not None
    application = build_application(make_services(settings))
    application.bot._rate_limiter = ChatPacedLimiter(per_bot=0)  # the workers measured, not the token's 30/s
    if server == "ptb":
        application.run_webhook(
            listen="127.0.0.1", port=port, url_path="telegram", secret_token=settings.webhook_secret,
            webhook_url=None, allowed_updates=Update.ALL_TYPES, drop_pending_updates=False,
        )  # fmt: skip
        return
    webhook = serve_webhook(
        application, listen="127.0.0.1", port=port, url_path="telegram", secret_token=settings.webhook_secret,
        webhook_url=None, allowed_updates=Update.ALL_TYPES,
    )  # fmt: skip
    asyncio.run(webhook)


# -- the runs --------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One phase: workers, answers given, seconds, what was acknowledged, confirmed and stored."""

    workers: int
    answers: int
    seconds: float
    finished: int
    stuck: int
    failed: int
    accepted: int = 0
    posted_again: int = 0
    confirmed: int = 0
    lost_accepted: int = 0
    lost_confirmed: int = 0
    worker_cpu: float = 0.0
    """CPU seconds of the workers (all of them) over the timed part."""
    bench_cpu: float = 0.0
    """CPU seconds of this process (the updates posted, the stub Bot API) over the timed part."""
    calls: int = 0
    """Bot API calls the workers made over the timed part."""
    in_response: int = 0
    """Bot API calls the workers gave as a webhook post's answer over the timed part."""

    @property
    def rate(self) -> float:
        return self.answers / self.seconds if self.seconds else 0.0

    def ms_per_answer(self, cpu: float) -> float:
        return cpu / self.answers * 1000 if self.answers else 0.0


async def phase(
    url: str, first: int, count: int, workers: int, tmp: Path, *, kill_after: float | None, server: str
) -> Run:
    """``count`` conversations through ``workers`` worker processes (one SIGKILLed ``kill_after`` s in)."""
    conversations = await seed(url, first, count)
    api = StubBotApi()
    await api.start()
    procs = [Worker(url, api, tmp / f"worker{first}-{n}.log", server) for n in range(workers)]
    try:
        async with aiohttp.ClientSession() as session:
            for proc in procs:
                await proc.ready(session)
        async with Driver(api, [p.url for p in procs]) as driver:
            warm = conversations[: max(2, count // 20)]
            await asyncio.gather(*(driver.run(c) for c in warm))  # warm-up: pools filled, code paths loaded
            timed = conversations[len(warm) :]
            killer = None
            if kill_after is not None:

                async def kill_one() -> None:
                    await asyncio.sleep(kill_after)
                    await asyncio.to_thread(procs[-1].kill)

                killer = asyncio.ensure_future(kill_one())
            started, cpu, worker_cpu = time.perf_counter(), time.process_time(), sum(p.cpu_seconds() for p in procs)
            calls, in_response = api.calls, driver.in_response
            answers = await asyncio.gather(*(driver.run(c) for c in timed))
            seconds = time.perf_counter() - started
            cpu, worker_cpu = time.process_time() - cpu, sum(p.cpu_seconds() for p in procs) - worker_cpu
            calls, in_response = api.calls - calls, driver.in_response - in_response
            if killer is not None:
                await killer
        run = Run(
            workers, sum(answers), seconds, sum(c.finished for c in timed), sum(c.stuck for c in timed),
            sum(c.failed for c in timed), worker_cpu=worker_cpu, bench_cpu=cpu, calls=calls, in_response=in_response,
        )  # fmt: skip
        if kill_after is not None:
            stored = await stored_steps(url, [c.code for c in timed])
            run.accepted = sum(len(c.accepted) for c in timed)
            run.posted_again = driver.posted_again
            run.confirmed = sum(len(c.confirmed) for c in timed)
            run.lost_accepted = sum(len(set(c.accepted) - stored[c.code]) for c in timed)
            run.lost_confirmed = sum(len(set(c.confirmed) - stored[c.code]) for c in timed)
    finally:
        for proc in procs:
            await asyncio.to_thread(proc.stop)
        await api.stop()
    return run


def print_run(label: str, run: Run) -> None:
    """One line."""
    print(
        f"  {label:<34} {run.answers:>6} answers {run.seconds:>6.1f} s {run.rate:>7.1f} answers/s"
        f"  finished {run.finished}, stuck {run.stuck}, failed {run.failed};"
        f" CPU ms/answer: workers {run.ms_per_answer(run.worker_cpu):.1f},"
        f" bench {run.ms_per_answer(run.bench_cpu):.1f};"
        f" Bot API calls/answer {run.calls / max(run.answers, 1):.2f}"
        f" (+ {run.in_response / max(run.answers, 1):.2f} in the webhook's answer)"
    )


async def measure(url: str, count: int, kill: bool, tmp: Path, server: str = "ours") -> None:
    """One worker, two workers, the ratio; then the kill."""
    which = "PTB's webhook server (200 at once)" if server == "ptb" else "200 once handled"
    print(f"\nwebhook workers on one PostgreSQL, {count} conversations at once (limiter off; {which})")
    one = await phase(url, FIRST_OFFICER, count, 1, tmp, kill_after=None, server=server)
    print_run("one worker", one)
    two = await phase(url, FIRST_OFFICER + count, count, 2, tmp, kill_after=None, server=server)
    print_run("two workers (round-robin per update)", two)
    ratio = two.rate / one.rate if one.rate else float("nan")
    print(f"  two ÷ one: {ratio:.2f}×  {'met' if ratio >= 1.7 else 'UNMET'} (≥ 1.7×)")
    if not kill:
        return
    after = max(0.5, one.seconds / 3 / 2)
    killed = await phase(url, FIRST_OFFICER + 2 * count, count, 2, tmp, kill_after=after, server=server)
    print(f"\none of two workers SIGKILLed {after:.1f} s into the load")
    print_run("two workers, one killed", killed)
    print(
        f"  acknowledged (HTTP 200) {killed.accepted}, confirmed to the officer {killed.confirmed},"
        f" posts that failed and were posted again {killed.posted_again};"
        f" lost: acknowledged but not stored {killed.lost_accepted}"
        f" ({'met' if killed.lost_accepted == 0 else 'UNMET'}: none),"
        f" confirmed but not stored {killed.lost_confirmed} ({'met' if killed.lost_confirmed == 0 else 'UNMET'})"
    )


def main(argv: list[str] | None = None) -> None:
    """Measure and print (or serve as one worker)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--skip-kill", action="store_true")
    parser.add_argument("--server", choices=("ours", "ptb"), default="ours", help="the workers' webhook server")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        serve(args.worker, args.server)
        return
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            with scratch_database() as url:
                asyncio.run(measure(url, args.conversations, not args.skip_kill, Path(tmp), args.server))
        except OSError as exc:
            print(f"postgresql: skipped ({exc})")


if __name__ == "__main__":
    main()
