"""The core: every domain decision, once, for every front-end (console, CLI, Telegram, web desk).

Visits (:mod:`bot.desk.visits`), the rules of contact (:mod:`bot.desk.contact`), the review workflow
(:mod:`bot.desk.review`), who may see what (:mod:`bot.desk.access`), alerts and reminders as an
outbox any process delivers (:mod:`bot.desk.outbox`), the audit log (:mod:`bot.desk.audit`), records,
reports and exports. It takes an injected clock (:mod:`bot.desk.clock`) and imports no front-end
library: an import-linter contract in ``pyproject.toml`` keeps telegram, typer, rich and web
frameworks out. Front-ends translate people's input into calls here and results into messages.
"""

from bot.desk.clock import Clock, FixedClock, SystemClock
from bot.desk.facts import VisitFacts
from bot.desk.visits import Actor, DeskReply, NotFound, VisitDesk, cancel_outcomes, turn_lines

__all__ = [
    "Actor",
    "Clock",
    "DeskReply",
    "FixedClock",
    "NotFound",
    "SystemClock",
    "VisitDesk",
    "VisitFacts",
    "cancel_outcomes",
    "turn_lines",
]
