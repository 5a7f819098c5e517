"""The console front-end: a visit in the terminal (or driven by piped stdin). Input/output only."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TextIO

from rich.console import Console

from bot.desk import Actor, DeskReply, VisitDesk
from bot.desk.choices import CancelOffer, NotOffered, cancel_offer, read_cancel
from bot.desk.files import FileStoreError, KeptFile, keep_path
from bot.desk.labels import outcome_label
from bot.desk.timefmt import shown
from dialogs.answers import Reply, photo_path
from dialogs.engine import Back, Event, Skip, Submit, Turn
from dialogs.i18n import LOCALES, message, register
from dialogs.schema import AnswerKind

__all__ = ["ConsoleStopped", "ConsoleVisit", "UnknownLocale", "known_locale", "stdin_reader"]

register(
    {
        "console_header": {
            "zh-CN": "回访 #{visit} · {borrower} · 话术 {script} v{version}",
            "en": "Visit #{visit} · {borrower} · script {script} v{version}",
        },
        "console_help": {
            "zh-CN": "输入序号、选项文字或回答内容。命令：/back 撤回上一题  /skip 跳过  /note 备注  "
            "/cancel 结果 [时间]（refused 拒绝、unreachable 无法联系、wrong_party 非本人、"
            "callback 约回访 时间）  "
            "/quit 暂停",
            "en": "Type a number, an option or your answer. Commands: /back undo  /skip  /note text  "
            "/cancel outcome [time] (refused, unreachable, wrong_party, callback <time>)  /quit pause",
        },
        "console_paused": {
            "zh-CN": "已暂停，回答都已保存。继续：visitbot console --borrower {code}",
            "en": "Paused; every answer is saved. Resume with: visitbot console --borrower {code}",
        },
        "console_interrupted": {
            "zh-CN": "已中断，回答都已保存。继续：visitbot console --borrower {code}",
            "en": "Interrupted; every answer is saved. Resume with: visitbot console --borrower {code}",
        },
        "console_dry_interrupted": {
            "zh-CN": "试运行已中断（未保存任何内容）。",
            "en": "Dry run interrupted (nothing was saved).",
        },
        "console_dry_paused": {
            "zh-CN": "试运行已停止（未保存任何内容）。",
            "en": "Dry run stopped (nothing was saved).",
        },
        "console_dry_finished": {"zh-CN": "试运行结束：{outcome}", "en": "Dry run ended: {outcome}"},
        "console_finished": {
            "zh-CN": "回访结束：{outcome}（记录 #{visit}）",
            "en": "Visit ended: {outcome} (record #{visit})",
        },
        "console_noted": {"zh-CN": "备注已保存。", "en": "Remark saved."},
        "console_started": {"zh-CN": "开始时间：{at}", "en": "Started: {at}"},
        "console_resumed_at": {
            "zh-CN": "（继续上次未完成的回访）现在：{at}",
            "en": "(resuming the unfinished visit) Now: {at}",
        },
        "console_ended_at": {"zh-CN": "结束时间：{at}", "en": "Ended: {at}"},
        "console_callback_at": {
            "zh-CN": "约定回访：借款人当地时间 {local}（您的时间 {yours}）",
            "en": "Call back: {local} the borrower's time ({yours} yours)",
        },
        "console_callback_same_zone": {"zh-CN": "约定回访：{local}", "en": "Call back: {local}"},
        "console_bad_locale": {
            "zh-CN": "--locale 须是 {locales} 之一，不是“{value}”。",
            "en": "--locale must be one of {locales}, not '{value}'.",
        },
    }
)


class ConsoleStopped(Exception):
    """Ctrl-C in the console: what is saved and how to resume has been said; the command exits with 130."""


class UnknownLocale(ValueError):
    """A ``--locale`` that is not shipped; ``text`` says so in both shipped languages."""

    def __init__(self, value: str) -> None:
        """Name the locale and list the shipped ones."""
        self.text = " / ".join(
            message("console_bad_locale", lang, value=value, locales=", ".join(LOCALES)) for lang in LOCALES
        )
        super().__init__(self.text)


def known_locale(value: str) -> str:
    """``value`` when it is a shipped locale, else :class:`UnknownLocale`."""
    if value not in LOCALES:
        raise UnknownLocale(value)
    return value


class ConsoleVisit:
    """Drives one visit from lines of text, printing what the officer should say."""

    def __init__(
        self,
        desk: VisitDesk,
        *,
        code: str,
        locale: str,
        out: Console | None = None,
        dry_run: bool = False,
        zone: str | None = None,
        borrower_zone: str | None = None,
        offers: Callable[[int, Actor], Awaitable[CancelOffer]] | None = None,
    ) -> None:
        """Drive ``desk``'s visit to ``code``; times shown in ``zone`` (the officer's), call-backs in the borrower's."""
        self.desk = desk
        self.dry_run = dry_run
        self.code = code
        self.locale = locale
        self.out = out or Console(highlight=False)
        self.kind: AnswerKind | None = None
        self.kept: KeptFile | None = None
        """The photo the next input gives, copied into the desk's file store."""
        self.zone = zone or str(desk.now().tzinfo)  # the desk's deployment zone
        self.borrower_zone = borrower_zone or self.zone
        self.offers = offers or (lambda visit_id, actor: cancel_offer(desk, visit_id, actor))

    def _at(self, moment: datetime | str | None = None) -> str:
        """A time (now by default) in the officer's zone, the zone named."""
        return shown(moment if moment is not None else self.desk.now(), self.zone)

    def started(self, *, resumed: bool) -> None:
        """Say when the visit starts (or, resumed, what time it is now), in the officer's zone."""
        key = "console_resumed_at" if resumed else "console_started"
        self.out.print(message(key, self.locale, at=self._at()), style="yellow" if resumed else "dim", markup=False)

    def show(self, turn: Turn) -> None:
        """Print a turn: notices, lines said, the question and its numbered choices."""
        for text, style in ((turn.notice, "green"), (turn.error, "bold red")):
            if text:
                self.out.print(text, style=style, markup=False)
        for line in turn.said:
            self.out.print(f"» {line}", markup=False)
        prompt = turn.prompt
        self.kind = prompt.kind if prompt else None
        if prompt is None:
            return
        self.out.print(f"» {prompt.text}", style="bold", markup=False)
        for number, (_, label) in enumerate(prompt.options, 1):
            self.out.print(f"   {number}. {label}", markup=False)
        hint = message("answer_photo_path", self.locale) if prompt.kind is AnswerKind.PHOTO else prompt.hint
        if hint and prompt.kind not in (AnswerKind.CHOICE,):
            self.out.print(f"   ({hint})", style="dim", markup=False)

    async def run(self, reply: DeskReply, officer_id: int | None, read: Callable[[], str | None]) -> str | None:
        """Loop until the visit ends or input stops; returns the outcome (None when paused)."""
        actor = Actor("officer", officer_id)
        self.show(reply.turn)
        visit_id = reply.visit_id
        while not reply.turn.finished:
            try:
                line = read()
            except KeyboardInterrupt:
                key = "console_dry_interrupted" if self.dry_run else "console_interrupted"
                self.out.print(message(key, self.locale, code=self.code), style="yellow", markup=False)
                raise ConsoleStopped from None
            if line is None or line.strip() in ("/quit", "/pause", "/exit"):
                key = "console_dry_paused" if self.dry_run else "console_paused"
                self.out.print(message(key, self.locale, code=self.code), style="yellow", markup=False)
                return None
            text = line.strip()
            if not text:
                continue
            if text == "/help":
                self.out.print(message("console_help", self.locale), markup=False)
                continue
            if text.startswith("/note"):
                await self.desk.remark(visit_id, text[5:].strip(), actor=actor)
                self.out.print(message("console_noted", self.locale), style="green")
                continue
            event = await self._event(text, visit_id, actor)
            if event is None:
                continue
            kept, self.kept = self.kept, None  # a dry run keeps no file
            reply = await self.desk.act(visit_id, event, actor=actor, said=text, attachment=kept)
            self.show(reply.turn)
        state = reply.turn.state
        outcome = state.outcome or ""
        key = "console_dry_finished" if self.dry_run else "console_finished"
        label = outcome_label(outcome, self.locale)
        self.out.print(message(key, self.locale, outcome=label, visit=visit_id), style="bold green", markup=False)
        self.out.print(message("console_ended_at", self.locale, at=self._at()), style="dim", markup=False)
        if state.callback_at:
            self.out.print(self._callback(state.callback_at), style="bold", markup=False)
        return outcome

    def _callback(self, at: str) -> str:
        """The agreed call-back time: in the borrower's zone, and in the officer's when that differs."""
        local = shown(at, self.borrower_zone)
        if self.borrower_zone == self.zone:
            return message("console_callback_same_zone", self.locale, local=local)
        return message("console_callback_at", self.locale, local=local, yours=self._at(at))

    async def _event(self, text: str, visit_id: int, actor: Actor) -> Event | None:
        """The event a line asks for; None (after saying why) when it asks for nothing the visit can take."""
        if text == "/back":
            return Back()
        if text == "/skip":
            return Skip()
        if text.startswith("/cancel"):
            return await self._cancel(text[7:].strip(), visit_id, actor)
        if self.kind is AnswerKind.PHOTO and (path := photo_path(text)) is not None:
            if self.dry_run:
                return Submit(Reply(photo=path))
            try:  # the photo is copied into the file store, so supervisors see it
                self.kept = keep_path(self.desk.files, path)
            except FileStoreError:
                self.out.print(message("files_not_kept", self.locale), style="red", markup=False)
                return None
            return Submit(Reply(photo=self.kept.key))
        return Submit(Reply(text=text))

    async def _cancel(self, rest: str, visit_id: int, actor: Actor) -> Event | None:
        """``/cancel 拒绝``, ``/cancel callback 明天下午3点``: the core reads the word and the time
        (in the borrower's zone) and refuses, saying what may be chosen, an outcome not offered now."""
        offer = await self.offers(visit_id, actor)
        try:
            return read_cancel(rest, offer, now=self.desk.now(), locale=self.locale)
        except NotOffered as exc:
            self.out.print(exc.text, style="red", markup=False)
            return None


@contextmanager
def interruptible() -> Iterator[None]:
    """Let Ctrl-C raise KeyboardInterrupt at once inside a blocking read.

    ``asyncio.run`` only cancels its task on the first Ctrl-C, which a blocking read never notices:
    the console went on to swallow the next line. Inside this block Python's own handler is back.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def stdin_reader(stream: TextIO | None = None, *, echo: bool) -> Callable[[], str | None]:
    """Read lines from a stream (standard input when None, looked up at each read); echo piped lines.

    Echoing makes piped output read as a chat. Ctrl-C while waiting for a line raises KeyboardInterrupt at once.
    """

    def read() -> str | None:
        """The next line (without its newline), or None at the end of input."""
        source = stream or sys.stdin
        with interruptible():
            if source.isatty():
                try:
                    return input("> ")
                except EOFError:
                    return None
            line = source.readline()
        if not line:
            return None
        if echo:
            print(f"> {line.rstrip()}", flush=True)
        return line.rstrip("\n")

    return read
