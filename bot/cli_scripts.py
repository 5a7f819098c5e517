"""``visitbot scripts``: tools for script authors — check (lint), draw (graph), try (dry run)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, cast
from zoneinfo import ZoneInfo

import typer

from bot.app import Services
from bot.cli_base import CommandError, cli_locale, h, out, read_utf8, run, settings_or_exit, writable
from bot.console import ConsoleVisit, known_locale, stdin_reader
from bot.desk import Actor, DeskReply, NotFound, SystemClock, VisitDesk, VisitFacts
from bot.desk.choices import CancelOffer, offered_outcomes
from dialogs.catalog import ScriptCatalog, default_scripts_dir
from dialogs.compiler import compile_script, sample_facts
from dialogs.diagram import FORMATS, draw
from dialogs.engine import Event, VisitEngine, VisitState
from dialogs.i18n import message, register
from dialogs.lint import Problem, has_errors, lint_file
from dialogs.loader import read_script
from dialogs.schema import Script
from storage import repositories as repo

__all__ = ["DryRunDesk", "scripts_app"]

scripts_app = typer.Typer(help=h("cli_help_scripts"), no_args_is_help=True)

register(
    {
        "scripts_dry_run": {
            "zh-CN": "试运行：{script} v{version} · 借款人 {borrower}（不保存任何记录）",
            "en": "Dry run: {script} v{version} · borrower {borrower} (nothing is saved)",
        },
        "scripts_dry_run_over": {"zh-CN": "试运行结束，未保存任何记录。", "en": "Dry run over; nothing was saved."},
        "scripts_not_utf8": {
            "zh-CN": "文件不是 UTF-8 编码（也许是 GBK）",
            "en": "the file is not UTF-8 (GBK perhaps?)",
        },
        "scripts_save_utf8": {"zh-CN": "用 UTF-8 另存此文件", "en": "save the file as UTF-8"},
        "scripts_bad_format": {
            "zh-CN": "--format 须是 {formats} 之一，不是“{fmt}”。",
            "en": "--format must be one of {formats}, not '{fmt}'.",
        },
    }
)


def _folder() -> Path:
    """The scripts folder of this deployment."""
    settings = settings_or_exit()
    return Path(settings.scripts_dir) if settings.scripts_dir else default_scripts_dir()


def _load(script: str) -> tuple[Script, str]:
    """A script by file path, or by id from the scripts folder (its latest version)."""
    path = Path(script)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        read_utf8(path)  # one clear error for a file that is missing or not UTF-8
        return read_script(path)
    engine = ScriptCatalog(_folder()).latest(script)
    return engine.script, engine.compiled.source


@scripts_app.command("check", help=h("cli_help_scripts_check"))
def check(paths: Annotated[list[Path] | None, typer.Argument(help=h("cli_help_script_paths"))] = None) -> None:
    """Load, validate and lint scripts; exit non-zero when any has errors."""
    targets = paths or [_folder()]
    problems = [p for t in targets for file in _script_files(t) for p in _lint(file)]
    for problem in problems:
        style = "red" if problem.severity == "error" else "yellow"
        out.print(str(problem), style=style, markup=False)
    files = sum(len(list(t.glob("*.yaml"))) if t.is_dir() else 1 for t in targets)
    errors = sum(p.severity == "error" for p in problems)
    summary = message("cli_checked", cli_locale(), files=files, errors=errors, warnings=len(problems) - errors)
    out.print(summary, style="bold red" if errors else "bold green", markup=False)
    if has_errors(problems):
        raise typer.Exit(1)


def _script_files(target: Path) -> list[Path]:
    """The scripts a path names: a file, or a folder's ``*.yaml`` (not its fragments)."""
    return sorted(target.glob("*.yaml")) if target.is_dir() else [target]


def _lint(file: Path) -> list[Problem]:
    """Lint one file; a file that is not UTF-8 is one problem naming it and the line, not a crash."""
    try:
        data = file.read_bytes()
    except OSError:
        return lint_file(file)  # says it cannot read the file
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        locale = cli_locale()
        what, fix = message("scripts_not_utf8", locale), message("scripts_save_utf8", locale)
        return [Problem(str(file), line, None, "encoding", what, fix)]
    return lint_file(file)


@scripts_app.command("draw", help=h("cli_help_scripts_draw"))
def draw_command(
    script: Annotated[str, typer.Argument(help=h("cli_help_script_ref"))],
    fmt: Annotated[str, typer.Option("--format", "-f", help=h("cli_help_format"))] = "svg",
    output: Annotated[Path | None, typer.Option("--output", "-o", help=h("cli_help_output"))] = None,
    locale: Annotated[str | None, typer.Option(help=h("cli_help_label_locale"))] = None,
) -> None:
    """Draw a script's graph: steps, branches with their conditions, outcomes.

    Without --output, Mermaid and SVG go to standard output and PNG to <script id>.png.
    """
    if fmt not in FORMATS:
        formats = ", ".join(FORMATS)
        raise CommandError(message("scripts_bad_format", cli_locale(), formats=formats, fmt=fmt), code=2)
    lang = known_locale(locale) if locale is not None else cli_locale()
    if output is not None:
        writable(output)
    model, _ = _load(script)
    data = draw(model, fmt, locale=lang)
    if output is None and fmt != "png":
        sys.stdout.write(data.decode("utf-8"))
        sys.stdout.flush()
        return
    target = writable(output or Path(f"{model.id}.png"))
    target.write_bytes(data)
    out.print(f"{target} ({len(data)} bytes)", markup=False)


class DryRunDesk:
    """The part of :class:`VisitDesk` the console uses, run on the engine alone: nothing is stored."""

    def __init__(
        self,
        engine: VisitEngine,
        facts: dict[str, Any],
        *,
        zone: str = "Asia/Shanghai",
        borrower_zone: str | None = None,
    ) -> None:
        """Hold the engine, the facts and the in-memory state; typed times are read in the borrower's zone."""
        self.engine = engine
        self.facts = facts
        self.zone = zone
        self.borrower_zone = borrower_zone or zone
        self.clock = SystemClock()
        self.state: VisitState | None = None
        self.remarks: list[str] = []

    def now(self, zone: str | None = None) -> datetime:
        """The current time in ``zone`` (the deployment's by default)."""
        return self.clock.now().astimezone(ZoneInfo(zone or self.zone))

    async def cancel_offer(self, visit_id: int, actor: Actor) -> CancelOffer:
        """What the dry run may be ended with by hand now (the current step decides, as in a real visit)."""
        offered = offered_outcomes(actor.kind, self.state, self.engine.script)
        return CancelOffer(visit_id, offered, self.borrower_zone, str(self.facts["borrower"]["code"]))

    def begin(self, locale: str) -> DeskReply:
        """Start the visit in memory."""
        turn = self.engine.start(self.facts, locale)
        self.state = turn.state
        return DeskReply(0, turn)

    async def act(
        self,
        visit_id: int,
        event: Event,
        *,
        actor: Actor,
        said: str,
        update_key: str | None = None,
        attachment: object | None = None,
    ) -> DeskReply:
        """Apply one input to the in-memory visit (a dry run keeps no file: ``attachment`` is always None)."""
        assert self.state is not None, "begin() first"
        turn = self.engine.handle(self.state, self.facts, event, now=self.now(self.borrower_zone))
        return DeskReply(visit_id, turn)

    async def remark(self, visit_id: int, text: str, *, actor: Actor) -> None:
        """Keep a remark in memory."""
        self.remarks.append(text)


def _answer_lines(path: Path, then: Callable[[], str | None] | None) -> Callable[[], str | None]:
    """Read answers from a file (one per line; blank lines and # comments skipped), then from ``then``."""
    lines: Iterator[str] = iter(
        line.rstrip("\n") for line in read_utf8(path).splitlines() if line.strip() and not line.lstrip().startswith("#")
    )

    def read() -> str | None:
        """The next answer, or None at the end."""
        line = next(lines, None)
        if line is not None:
            out.print(f"> {line}", markup=False)
            return line
        return then() if then is not None else None

    return read


async def _borrower_facts(svc: Services, code: str) -> tuple[dict[str, Any], str]:
    """The facts a visit to this borrower would use, and their zone; the visit is never added to the database."""
    async with svc.sessions() as session:
        borrower = await repo.borrower_by_code(session, code)
        if borrower is None:
            raise NotFound(message("desk_no_borrower", svc.settings.locale, code=code))
        loan = borrower.loans[-1] if borrower.loans else None
        facts = VisitFacts.of(
            borrower, loan, borrower.officer, institution=svc.settings.institution, now=svc.desk.clock.now()
        ).context()
        zone = borrower.timezone
        await session.rollback()
    return facts, zone


@scripts_app.command("try", help=h("cli_help_scripts_try"))
def try_command(
    script: Annotated[str, typer.Argument(help=h("cli_help_script_ref"))],
    answers: Annotated[Path | None, typer.Option("--answers", "-a", help=h("cli_help_answers"))] = None,
    borrower: Annotated[str | None, typer.Option("--borrower", "-b", help=h("cli_help_try_borrower"))] = None,
    locale: Annotated[str | None, typer.Option(help=h("cli_help_locale"))] = None,
) -> None:
    """Run a script in the console against a sample borrower without writing any visit record."""
    settings = settings_or_exit()
    lang = known_locale(locale) if locale is not None else settings.locale
    model, source = _load(script)
    engine = VisitEngine(compile_script(model, source, source_name=script))
    facts, borrower_zone = sample_facts(), settings.timezone
    if borrower is not None:
        wanted = borrower

        async def job(svc: Services) -> tuple[dict[str, Any], str]:
            """The borrower's facts and zone, read from the database."""
            return await _borrower_facts(svc, wanted)

        facts, borrower_zone = run(job, migrate=False)
    desk = DryRunDesk(engine, facts, zone=settings.timezone, borrower_zone=borrower_zone)
    code = facts["borrower"]["code"]
    stdin = stdin_reader(echo=not sys.stdin.isatty())
    read = _answer_lines(answers, stdin if sys.stdin.isatty() else None) if answers else stdin
    # ConsoleVisit only calls act/remark/now, which DryRunDesk provides with the same signatures.
    visit = ConsoleVisit(
        cast(VisitDesk, desk),
        code=code,
        locale=lang,
        out=out,
        dry_run=True,
        zone=settings.timezone,
        borrower_zone=borrower_zone,
        offers=desk.cancel_offer,
    )
    header = message("scripts_dry_run", lang, script=model.id, version=model.version, borrower=code)
    out.print(header, style="cyan", markup=False)
    asyncio.run(visit.run(desk.begin(lang), None, read))
    if desk.remarks:
        out.print(" / ".join(desk.remarks), style="dim", markup=False)
    out.print(message("scripts_dry_run_over", lang), style="yellow", markup=False)
