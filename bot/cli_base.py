"""What every ``visitbot`` command shares: settings, the job runner, output consoles."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from bot.app import Services, services
from bot.desk import NotFound
from bot.settings import Settings
from dialogs.errors import DialogError
from storage.db import is_sqlite
from storage.migrate import upgrade

__all__ = ["emit_json", "err", "out", "run", "settings_or_exit"]

T = TypeVar("T")

out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False)


def settings_or_exit() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        err.print(f"[red]Settings:[/red] {exc}")
        raise typer.Exit(2) from exc


def run(job: Callable[[Services], Awaitable[T]], *, migrate: bool = True) -> T:
    """Run an async job with fresh services; the embedded SQLite database is migrated first."""
    settings = settings_or_exit()
    if migrate and is_sqlite(settings.database_url):
        upgrade(settings.database_url)

    async def main() -> T:
        async with services(settings) as svc:
            return await job(svc)

    try:
        return asyncio.run(main())
    except NotFound as exc:
        err.print(f"[red]{exc.text}[/red]")
        raise typer.Exit(1) from exc
    except DialogError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
