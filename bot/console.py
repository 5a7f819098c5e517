"""The console front-end: a visit in the terminal (or driven by piped stdin). Input/output only."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TextIO

from rich.console import Console

from bot.desk import Actor, DeskReply, VisitDesk
from bot.desk.files import FileStoreError, KeptFile, keep_path
from dialogs.answers import Reply, parse_answer, photo_path
from dialogs.engine import Back, Cancel, Event, Skip, Submit, Turn
from dialogs.errors import InvalidAnswer
from dialogs.i18n import message, register
from dialogs.schema import AnswerKind, Outcome, Question

__all__ = ["ConsoleStopped", "ConsoleVisit", "stdin_reader"]

register(
    {
        "console_header": {
            "zh-CN": "回访 #{visit} · {borrower} · 话术 {script} v{version}",
            "en": "Visit #{visit} · {borrower} · script {script} v{version}",
        },
        "console_resumed": {"zh-CN": "（继续上次未完成的回访）", "en": "(resuming the unfinished visit)"},
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
    }
)

OUTCOME_WORDS = {
    "拒绝": Outcome.REFUSED,
    "无法联系": Outcome.UNREACHABLE,
    "非本人": Outcome.WRONG_PARTY,
    "约回访": Outcome.CALLBACK,
    "回电": Outcome.CALLBACK,
}


class ConsoleStopped(Exception):
    """Ctrl-C in the console: what is saved and how to resume has been said; the command exits with 130."""


class ConsoleVisit:
    """Drives one visit from lines of text, printing what the officer should say."""

    def __init__(
        self, desk: VisitDesk, *, code: str, locale: str, out: Console | None = None, dry_run: bool = False
    ) -> None:
        self.desk = desk
        self.dry_run = dry_run
        self.code = code
        self.locale = locale
        self.out = out or Console(highlight=False)
        self.kind: AnswerKind | None = None
        self.kept: KeptFile | None = None
        """The photo the next input gives, copied into the desk's file store."""

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
            event = self._event(text)
            if event is None:
                continue
            kept, self.kept = self.kept, None
            if kept is None:  # a dry run's desk takes no attachment (it keeps no file)
                reply = await self.desk.act(visit_id, event, actor=actor, said=text)
            else:
                reply = await self.desk.act(visit_id, event, actor=actor, said=text, attachment=kept)
            self.show(reply.turn)
        outcome = reply.turn.state.outcome or ""
        label = message(f"outcome_{outcome}", self.locale)
        key = "console_dry_finished" if self.dry_run else "console_finished"
        self.out.print(message(key, self.locale, outcome=label, visit=visit_id), style="bold green", markup=False)
        return outcome

    def _event(self, text: str) -> Event | None:
        if text == "/back":
            return Back()
        if text == "/skip":
            return Skip()
        if text.startswith("/cancel"):
            return self._cancel(text[7:].strip())
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

    def _cancel(self, rest: str) -> Event | None:
        word, _, when = rest.partition(" ")
        outcome = OUTCOME_WORDS.get(word)
        if outcome is None:
            try:
                outcome = Outcome(word)
            except ValueError:
                self.out.print(message("unknown_outcome", self.locale, text=word), style="red", markup=False)
                return None
        if outcome is not Outcome.CALLBACK or not when.strip():
            return Cancel(outcome)
        try:
            at = parse_answer(
                Question(kind=AnswerKind.DATETIME), Reply(text=when), locale=self.locale, now=self.desk.now()
            )
        except InvalidAnswer as exc:
            self.out.print(message(exc.key, self.locale, **exc.params), style="red", markup=False)
            return None
        return Cancel(outcome, datetime.fromisoformat(str(at)))


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
