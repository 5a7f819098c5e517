"""Schema migrations through Alembic (``visitbot db upgrade``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from storage.db import check_url, database_problem, sqlite_file_problem

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["alembic_config", "upgrade"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
"""Alembic's environment and versions, shipped inside the package (alembic.ini at the root points here)."""


def alembic_config(database_url: str) -> Config:
    """An Alembic config for this project pointed at ``database_url`` (needs no alembic.ini)."""
    from alembic.config import Config  # Alembic loads when a schema is migrated, not with every command

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database to ``revision`` (synchronous: call it outside a running event loop).

    Raises :class:`storage.db.DatabaseUnavailable` when the database cannot be reached or does not exist.
    """
    check_url(database_url)
    if (problem := sqlite_file_problem(database_url)) is not None:
        raise problem
    from alembic import command

    try:
        command.upgrade(alembic_config(database_url), revision)
    except Exception as exc:
        problem = database_problem(exc, database_url)
        if problem is None:
            raise
        raise problem from exc
