"""What every ``visitbot`` command shares: settings, the job runner, output consoles, the error handler.

Commands raise; :class:`VisitbotGroup` (the root command group) turns every expected error into one
line on stderr, in the user's language, and a non-zero exit: 2 for a wrong setting or argument, 1
when something could not be done, 130 when interrupted. Anything else is a bug: its traceback is
printed masked, then one line. The CLI's language (VISITBOT_LOCALE, typer's own words) is
:mod:`bot.cli_locale`'s.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import sys
import traceback
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import DBAPIError
from typer.core import TyperGroup

import bot.cli_help  # noqa: F401  (registers the help texts h() looks up)
from bot.app import Services, services
from bot.cli_locale import cli_locale, configured_locale, localize_typer
from bot.console import ConsoleStopped, UnknownLocale
from bot.desk import NotFound
from bot.logs import install_masking, mask, setup_logging
from bot.settings import Settings
from dialogs.errors import DialogError, InvalidAnswer
from dialogs.i18n import LOCALES, message, register
from storage.db import DatabaseUnavailable, check_connection, database_problem, is_sqlite, make_engine
from storage.migrate import upgrade

__all__ = [
    "CommandError",
    "VisitbotGroup",
    "check_locale",
    "cli_locale",
    "emit_json",
    "err",
    "h",
    "out",
    "print_table",
    "read_utf8",
    "ready_to_serve",
    "report_error",
    "run",
    "settings_or_exit",
    "writable",
]

T = TypeVar("T")


def ready_to_serve(url: str) -> None:
    """Before a server starts (the bot, the web desk): logs on, an SQLite file migrated, and the database
    reached once, so a wrong URL or a server that is down is one clear line, not a stack of them later."""
    setup_logging(logging.INFO)
    if is_sqlite(url):
        upgrade(url)
    asyncio.run(_probe(url))


async def _probe(url: str) -> None:
    engine = make_engine(url)
    try:
        await check_connection(engine, url)
    finally:
        await engine.dispose()


out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False)

register(
    {
        "cli_setting": {"zh-CN": "设置有误：{name}：{problem}", "en": "Setting {name}: {problem}"},
        "db_bad_url": {
            "zh-CN": "VISITBOT_DATABASE_URL 不是数据库地址（例如 sqlite+aiosqlite:///./visitbot.db 或 "
            "postgresql+asyncpg://用户@主机/库名）。",
            "en": "VISITBOT_DATABASE_URL is not a database URL (like sqlite+aiosqlite:///./visitbot.db or "
            "postgresql+asyncpg://user@host/name).",
        },
        "db_driver": {
            "zh-CN": "VISITBOT_DATABASE_URL 的驱动 {detail} 不存在或未安装{hint}。",
            "en": "VISITBOT_DATABASE_URL: the driver {detail} is unknown or not installed{hint}.",
        },
        "db_sync_driver": {
            "zh-CN": "VISITBOT_DATABASE_URL 的驱动 {detail} 不是异步驱动{hint}。",
            "en": "VISITBOT_DATABASE_URL: the driver {detail} is not an async driver{hint}.",
        },
        "db_use_driver": {"zh-CN": "，请改用 {hint}://…", "en": "; use {hint}://…"},
        "db_unreachable": {
            "zh-CN": "连不上数据库 {target}（{detail}）。请检查主机、端口和 VISITBOT_DATABASE_URL。",
            "en": "Cannot reach the database {target} ({detail}). Check the host, port and VISITBOT_DATABASE_URL.",
        },
        "db_auth": {
            "zh-CN": "数据库 {target} 拒绝登录（{detail}）。请检查 VISITBOT_DATABASE_URL 中的用户名和密码。",
            "en": "The database {target} refused the login ({detail}). Check the user and password in "
            "VISITBOT_DATABASE_URL.",
        },
        "db_missing": {
            "zh-CN": "数据库 {target} 不存在。请先运行 visitbot db upgrade（或：{hint}）。",
            "en": "The database {target} does not exist. Run visitbot db upgrade first (or: {hint}).",
        },
        "db_unmigrated": {
            "zh-CN": "数据库 {target} 的表结构不是最新的（{detail}）：请运行 visitbot db upgrade。",
            "en": "The database {target} lacks its current schema ({detail}): run visitbot db upgrade.",
        },
        "db_file": {
            "zh-CN": "打不开 SQLite 数据库文件 {detail}：它所在的文件夹存在吗？可写吗？",
            "en": "Cannot open the SQLite database file {detail}: does its folder exist, and may we write there?",
        },
        "file_problem": {"zh-CN": "{file}：{reason}", "en": "{file}: {reason}"},
        "file_missing": {"zh-CN": "文件或文件夹不存在", "en": "no such file or folder"},
        "file_denied": {"zh-CN": "没有权限", "en": "permission denied"},
        "file_is_dir": {"zh-CN": "这是一个文件夹，不是文件", "en": "this is a folder, not a file"},
        "file_not_dir": {"zh-CN": "路径中有一段不是文件夹", "en": "part of the path is not a folder"},
        "file_no_space": {"zh-CN": "磁盘已满", "en": "the disk is full"},
        "file_no_folder": {
            "zh-CN": "无法写入 {file}：文件夹 {folder} 不存在。",
            "en": "Cannot write {file}: the folder {folder} does not exist.",
        },
        "file_not_utf8": {
            "zh-CN": "{file} 不是 UTF-8 编码（第 {line} 行；也许是 GBK）：请用 UTF-8 另存后再试。",
            "en": "{file} is not UTF-8 (line {line}; GBK perhaps?): save it as UTF-8 and try again.",
        },
        "cli_interrupted": {
            "zh-CN": "已中断。已记录的回答都已保存；再次运行同一命令即可继续。",
            "en": "Interrupted. Every recorded answer is saved; run the same command again to resume.",
        },
        "cli_unknown_locale": {
            "zh-CN": "VISITBOT_LOCALE“{value}”不是已提供的语言，请设为 {locales} 之一。",
            "en": "VISITBOT_LOCALE '{value}' is not a shipped locale; set it to one of {locales}.",
        },
        "cli_unexpected": {
            "zh-CN": "意外错误：{error}（详情见上，请报告）。已记录的回答都已保存。",
            "en": "Unexpected error: {error} (details above; please report it). Every recorded answer is saved.",
        },
    }
)


class CommandError(Exception):
    """An expected failure of a command: ``text`` is ready to show (in the user's language), ``code`` is the exit."""

    def __init__(self, text: str, *, code: int = 1) -> None:
        """Say what went wrong and how the command should exit."""
        self.text = text
        self.code = code
        super().__init__(text)


def check_locale() -> None:
    """Refuse an unknown VISITBOT_LOCALE, in every shipped language (we cannot know the user's), exit 2."""
    value = configured_locale()
    if value in LOCALES:
        return
    text = " / ".join(
        message("cli_unknown_locale", locale, value=value, locales=("、" if locale == "zh-CN" else ", ").join(LOCALES))
        for locale in LOCALES
    )
    err.print(text, style="red", markup=False, soft_wrap=True)
    raise SystemExit(2)


_help_locale: list[str] = []
"""The language help texts are declared in, read once: typer reads ``help=`` as commands are declared."""


def h(key: str, **params: object) -> str:
    """A help text (or other text fixed at import) in the user's language."""
    if not _help_locale:
        _help_locale.append(cli_locale())
        localize_typer(_help_locale[0])
    return message(key, _help_locale[0], **params)


def _database(problem: DatabaseUnavailable, locale: str) -> str:
    """One line saying what is wrong with the database and what to do."""
    hint = problem.hint
    if problem.kind in ("driver", "sync_driver"):
        hint = message("db_use_driver", locale, hint=hint) if hint else ""
    detail = problem.detail or "-"
    return message(f"db_{problem.kind}", locale, target=problem.target, detail=detail, hint=hint)


def _file(exc: OSError, locale: str) -> str:
    """One line naming the file and the reason it could not be used."""
    reasons = {
        errno.ENOENT: "file_missing",
        errno.EACCES: "file_denied",
        errno.EPERM: "file_denied",
        errno.EISDIR: "file_is_dir",
        errno.ENOTDIR: "file_not_dir",
        errno.ENOSPC: "file_no_space",
    }
    key = reasons.get(exc.errno or 0)
    reason = message(key, locale) if key else (exc.strerror or str(exc))
    return message("file_problem", locale, file=exc.filename, reason=reason)


def _settings(exc: ValidationError, locale: str) -> list[str]:
    """One line per wrong setting, naming its environment variable (never its value: it may hold a password)."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        cause = getattr((error.get("ctx") or {}).get("error"), "__cause__", None)
        if isinstance(cause, DatabaseUnavailable):
            lines.append(_database(cause, locale))
            continue
        name = "VISITBOT_" + "_".join(str(part) for part in error["loc"]).upper()
        problem = str(error["msg"]).removeprefix("Value error, ")
        lines.append(message("cli_setting", locale, name=name, problem=problem))
    return lines


def _explain(exc: BaseException, locale: str) -> tuple[list[str], int] | None:
    """The lines to print and the exit code for an expected error; None for a bug."""
    if isinstance(exc, CommandError):
        return [exc.text], exc.code
    if isinstance(exc, UnknownLocale):
        return [exc.text], 2
    if isinstance(exc, ConsoleStopped):
        return [], 130  # the console has said what is saved and how to resume
    if isinstance(exc, KeyboardInterrupt):
        return [message("cli_interrupted", locale)], 130
    if isinstance(exc, ValidationError):
        return _settings(exc, locale), 2
    if isinstance(exc, DatabaseUnavailable):
        return [_database(exc, locale)], 2 if exc.kind in ("bad_url", "driver", "sync_driver") else 1
    if isinstance(exc, NotFound):
        return [exc.text], 1
    if isinstance(exc, InvalidAnswer):
        return [message(exc.key, locale, **exc.params)], 1
    if isinstance(exc, DialogError):
        return [str(exc)], 1
    if isinstance(exc, OSError) and exc.filename is not None:
        return [_file(exc, locale)], 1
    return None


def report_error(exc: BaseException) -> int:
    """Print an error as one line on stderr (a bug: its masked traceback first); returns the exit code."""
    locale = cli_locale()
    explained = _explain(exc, locale)
    if explained is None:
        sys.stderr.write(mask("".join(traceback.format_exception(exc))))
        first = (str(exc).strip().splitlines() or [""])[0]
        explained = [message("cli_unexpected", locale, error=mask(f"{type(exc).__name__}: {first}"))], 1
    lines, code = explained
    for line in lines:
        err.print(line, style="red", markup=False, soft_wrap=True)
    return code


class VisitbotGroup(TyperGroup):
    """The root command group: checks VISITBOT_LOCALE, masks logs, turns every error into one line and an exit code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Refuse an unknown VISITBOT_LOCALE before anything, even ``--help``, is shown."""
        check_locale()
        return super().main(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click.Context
        """Run the command; report what it raises."""
        install_masking()
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except (Exception, KeyboardInterrupt) as exc:
            raise typer.Exit(report_error(exc)) from exc


def settings_or_exit() -> Settings:
    """The settings; a wrong one is reported (one line each) and the command exits with code 2."""
    try:
        return Settings()
    except ValidationError as exc:
        raise typer.Exit(report_error(exc)) from exc


def read_utf8(path: Path) -> str:
    """A text file's content; one clear error naming the file (and line) when it is missing or not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise CommandError(message("file_not_utf8", cli_locale(), file=path, line=line)) from exc


def writable(path: Path) -> Path:
    """``path`` if its folder exists, else a clear error (before any work is done)."""
    folder = path.parent
    if not folder.is_dir():
        raise CommandError(message("file_no_folder", cli_locale(), file=path, folder=folder))
    return path


def run(job: Callable[[Services], Awaitable[T]], *, migrate: bool = True) -> T:
    """Run an async job with fresh services; the embedded SQLite database is migrated first.

    The database is tried once before the job, so a wrong URL or a server that is down is one clear error.
    """
    settings = settings_or_exit()
    if migrate and is_sqlite(settings.database_url):
        upgrade(settings.database_url)

    async def main() -> T:
        async with services(settings) as svc:
            await check_connection(svc.engine, settings.database_url)
            for problem in svc.catalog.errors:  # a bad script file is skipped; the others still serve
                err.print(message("cli_skipped_script", settings.locale, problem=problem), style="yellow", markup=False)
            return await job(svc)

    try:
        return asyncio.run(main())
    except DBAPIError as exc:
        problem = database_problem(exc, settings.database_url)
        if problem is None:
            raise
        raise problem from exc


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, empty: str) -> None:
    """Rows as a table on stdout, every cell plain text (never rich markup); ``empty`` alone when there are none."""
    if not rows:
        out.print(empty, markup=False)
        return
    table = Table(*headers)
    for row in rows:
        table.add_row(*(Text(str(cell)) for cell in row))
    out.print(table)


def emit_json(data: Any) -> None:
    """Print data as indented JSON (Chinese kept readable)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
