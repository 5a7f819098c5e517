"""``python -m bot`` runs the ``visitbot`` command line."""

from bot.cli import app

app()
